#!/usr/bin/env python3
"""Fine-tune a cross-encoder reranker on FlagEmbedding JSONL with sentence-transformers' CrossEncoderTrainer,
with the hyper-parameters chosen in Rerank Lab (recipe.json next to this script).

    One GPU:          python train_reranker.py
    N GPUs, 1 node:   torchrun --nproc_per_node=N train_reranker.py
    Several nodes:    torchrun --nnodes=M --nproc_per_node=N --rdzv_backend=c10d --rdzv_endpoint=HOST:29500 train_reranker.py
    CPU smoke test:   torchrun --nproc_per_node=2 train_reranker.py --cpu --max-steps 4

Data: one JSON object per line, {"query": str, "pos": [str, ...], "neg": [str, ...]} and optionally
"pos_scores" / "neg_scores" (teacher logits aligned with pos / neg, used by --loss distill).

Losses (recipe.json "loss", or --loss):
  listwise  softmax cross-entropy over each query's group (its positive first, then group_size - 1 hard negatives),
            no in-batch negatives: FlagEmbedding's reranker loss and Rerank Lab's "listwise".
  bce       binary cross-entropy on every (query, document) pair of the groups, labels 1 / 0: Rerank Lab's "bce".
  distill   ListNet on the teacher scores (pos_scores / neg_scores): the student's softmax over a group is pulled
            towards the teacher's.

Batch size: recipe.json's per_device_batch_groups query groups per GPU per micro-batch (what Rerank Lab's batch-size
probe found to fit one card), so the global batch is that times the number of processes times
gradient_accumulation_steps. Outputs (rank 0): OUTPUT/final (the model: sentence-transformers, transformers and
Rerank Lab load it), OUTPUT/train_log.jsonl (loss per logging step), OUTPUT/run_summary.json.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--recipe", default=str(HERE / "recipe.json"), help="hyper-parameters (default: recipe.json here)")
    p.add_argument("--model", help="base model folder or hub id (default: recipe.json base_model)")
    p.add_argument("--train", help="training JSONL (default: recipe.json train_file)")
    p.add_argument("--val", help="validation JSONL (default: recipe.json val_file; 'none' to skip)")
    p.add_argument("--output-dir", help="where checkpoints and the final model go (default: recipe.json output_dir)")
    p.add_argument("--loss", choices=["listwise", "bce", "distill"], help="default: recipe.json loss")
    p.add_argument("--epochs", type=float, help="default: recipe.json epochs")
    p.add_argument("--per-device-batch-groups", type=int, help="query groups per process per micro-batch")
    p.add_argument("--gradient-accumulation-steps", type=int)
    p.add_argument("--learning-rate", type=float)
    p.add_argument("--max-steps", type=int, default=-1, help="stop after this many optimizer steps (smoke tests)")
    p.add_argument("--logging-steps", type=int)
    p.add_argument("--precision", choices=["auto", "fp32", "bf16", "fp16"], default="auto",
                   help="auto: bf16 on GPUs that support it, else fp32")
    p.add_argument("--resume", action="store_true", help="continue from the last checkpoint in the output folder")
    p.add_argument("--cpu", action="store_true", help="train on CPU with the gloo backend (a smoke test, not for real runs)")
    return p.parse_args()


def read_jsonl(path: str) -> list[dict]:
    rows = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                ex = json.loads(line)
            except json.JSONDecodeError as e:
                raise SystemExit(f"{path}:{n}: not valid JSON ({e})")
            if not isinstance(ex.get("query"), str) or not isinstance(ex.get("pos"), list) or not isinstance(ex.get("neg"), list):
                raise SystemExit(f'{path}:{n}: expected {{"query": str, "pos": [str], "neg": [str]}}')
            if ex["pos"]:
                rows.append(ex)
    if not rows:
        raise SystemExit(f"{path}: no example with a positive")
    return rows


def make_groups(examples: list[dict], group_size: int, seed: int, top_up: bool) -> list[dict]:
    """One group per example: a random positive, then group_size - 1 distinct negatives (as Rerank Lab samples them);
    with top_up, an example short of negatives borrows documents of other examples. Keeps teacher scores."""
    rng = random.Random(seed)
    pool = list(dict.fromkeys(d for ex in examples for d in ex["pos"] + ex["neg"]))
    groups = []
    for ex in examples:
        pos_scores = ex.get("pos_scores") or [None] * len(ex["pos"])
        neg_scores = ex.get("neg_scores") or [None] * len(ex["neg"])
        i = rng.randrange(len(ex["pos"]))
        positives = set(ex["pos"])
        negs = [(d, s) for d, s in dict(zip(ex["neg"], neg_scores)).items() if d not in positives]
        chosen = rng.sample(negs, min(len(negs), group_size - 1))
        if top_up and len(chosen) < group_size - 1:
            taken = positives | {d for d, _ in chosen}
            spare = [d for d in pool if d not in taken]
            if len(spare) < group_size - 1 - len(chosen):
                raise SystemExit(f"cannot fill a group of {group_size} for query {ex['query'][:40]!r}: too few documents; lower group_size")
            chosen += [(d, None) for d in rng.sample(spare, group_size - 1 - len(chosen))]
        docs = [(ex["pos"][i], pos_scores[i])] + chosen
        groups.append({"query": ex["query"], "docs": [d for d, _ in docs], "scores": [s for _, s in docs]})
    return groups


def build_dataset(groups: list[dict], loss_name: str, group_size: int):
    from datasets import Dataset

    if loss_name == "listwise":
        cols = {"query": [g["query"] for g in groups], "positive": [g["docs"][0] for g in groups]}
        for j in range(1, group_size):
            cols[f"negative_{j}"] = [g["docs"][j] for g in groups]
        return Dataset.from_dict(cols)
    if loss_name == "bce":
        rows = [(g["query"], d, 1.0 if j == 0 else 0.0) for g in groups for j, d in enumerate(g["docs"])]
        return Dataset.from_dict({"query": [r[0] for r in rows], "document": [r[1] for r in rows], "label": [r[2] for r in rows]})
    # distill: variable-length groups of teacher-scored documents
    scored = [g for g in groups if all(s is not None for s in g["scores"]) and len(g["docs"]) > 1]
    if not scored:
        raise SystemExit("--loss distill needs pos_scores / neg_scores in the data (export it with --teacher-scores)")
    return Dataset.from_dict({"query": [g["query"] for g in scored], "docs": [g["docs"] for g in scored],
                              "labels": [[float(s) for s in g["scores"]] for g in scored]})


def pair_truncation(model, queries: list[str], max_length: int) -> None:
    """Cut the document, never the query, as Rerank Lab does (its training, scoring and teacher scores):
    "only_second" instead of sentence-transformers' "longest_first". The tokenizer refuses "only_second" when a query
    alone leaves no room for the document, so with such queries the default stays (and we say how many)."""
    tok = model.tokenizer
    room = max_length - tok.num_special_tokens_to_add(pair=True) - 1
    long = sum(1 for ids in tok(list(dict.fromkeys(queries)), add_special_tokens=False)["input_ids"] if len(ids) > room)
    if long:
        print(f"{long} query(ies) longer than {room} tokens: pairs are truncated longest-first (sentence-transformers' default), "
              "not document-first as in Rerank Lab", flush=True)
        return
    model[0].processing_kwargs = {**model[0].processing_kwargs, "text": {**model[0].processing_kwargs.get("text", {}), "truncation": "only_second"}}


def make_loss(model, loss_name: str):
    from sentence_transformers.cross_encoder import losses

    if loss_name == "bce":
        return losses.BinaryCrossEntropyLoss(model)
    if loss_name == "distill":
        return losses.ListNetLoss(model)

    class GroupSoftmaxLoss(losses.MultipleNegativesRankingLoss):
        """Softmax cross-entropy over each query's own (positive, hard negatives) group, logits unscaled: the
        multiple-negatives loss with its in-batch negatives switched off."""

        def __init__(self, model):
            super().__init__(model, num_negatives=None, scale=1.0, activation_fn=None)

        def get_in_batch_negatives(self, anchors, candidates):
            return iter(())

    return GroupSoftmaxLoss(model)


def main() -> None:
    args = parse_args()
    recipe = json.loads(Path(args.recipe).read_text(encoding="utf-8"))
    base = Path(args.recipe).resolve().parent
    here = lambda p: str(p if os.path.isabs(p) else base / p)  # noqa: E731 - paths in recipe.json are relative to it
    loss_name = args.loss or recipe["loss"]
    group_size = int(recipe["group_size"])
    groups_per_device = args.per_device_batch_groups or int(recipe["per_device_batch_groups"])
    output_dir = args.output_dir or here(recipe.get("output_dir", "output"))
    model_name = args.model or recipe["base_model"]
    val_file = args.val if args.val is not None else (here(recipe["val_file"]) if recipe.get("val_file") else None)
    if val_file == "none":
        val_file = None

    import torch
    from sentence_transformers.cross_encoder import CrossEncoder, CrossEncoderTrainer, CrossEncoderTrainingArguments
    from transformers import TrainerCallback

    seed = int(recipe.get("seed", 42))
    train_groups = make_groups(read_jsonl(args.train or here(recipe["train_file"])), group_size, seed, top_up=loss_name != "distill")
    train_dataset = build_dataset(train_groups, loss_name, group_size)
    eval_dataset = None
    if val_file:
        val_groups = make_groups(read_jsonl(val_file), group_size, seed + 1, top_up=loss_name != "distill")
        if loss_name == "distill" and not any(all(x is not None for x in g["scores"]) for g in val_groups):
            print(f"{val_file} has no teacher scores: no validation loss for --loss distill", flush=True)
        else:
            eval_dataset = build_dataset(val_groups, loss_name, group_size)

    config_kwargs = {}
    if recipe.get("hidden_dropout_prob") is not None:
        config_kwargs["hidden_dropout_prob"] = float(recipe["hidden_dropout_prob"])
    model = CrossEncoder(model_name, num_labels=1, max_length=int(recipe["max_length"]), config_kwargs=config_kwargs,
                         device="cpu" if args.cpu else None)

    precision = args.precision
    if precision == "auto":
        precision = "bf16" if (not args.cpu and torch.cuda.is_available() and torch.cuda.is_bf16_supported()) else "fp32"
    # bce rows are pairs; the other losses' rows are query groups.
    per_device = groups_per_device * group_size if loss_name == "bce" else groups_per_device
    training_args = CrossEncoderTrainingArguments(
        output_dir=output_dir,
        num_train_epochs=args.epochs or float(recipe["epochs"]),
        max_steps=args.max_steps,
        per_device_train_batch_size=per_device,
        per_device_eval_batch_size=per_device,
        gradient_accumulation_steps=args.gradient_accumulation_steps or int(recipe.get("gradient_accumulation_steps", 1)),
        learning_rate=args.learning_rate or float(recipe["learning_rate"]),
        lr_scheduler_type="linear",
        warmup_ratio=float(recipe.get("warmup_ratio", 0.1)),
        weight_decay=float(recipe.get("weight_decay", 0.01)),
        max_grad_norm=float(recipe.get("max_grad_norm", 1.0)),
        seed=seed,
        bf16=precision == "bf16",
        fp16=precision == "fp16",
        use_cpu=args.cpu,
        ddp_backend="gloo" if args.cpu else None,
        logging_steps=args.logging_steps or int(recipe.get("logging_steps", 10)),
        eval_strategy="epoch" if eval_dataset is not None else "no",
        save_strategy="epoch",
        save_total_limit=2,
        report_to="none",
        dataloader_drop_last=False,
        # Each query group is scored in several forward calls (one per column); DDP must not look for unused
        # parameters after each, or it sees every parameter "ready" twice.
        ddp_find_unused_parameters=False,
    )

    log_rows: list[dict] = []

    class LossLog(TrainerCallback):
        def on_log(self, _args, state, _control, logs=None, **_kw):
            if state.is_world_process_zero and logs:
                log_rows.append({"step": state.global_step, **logs})
                print(json.dumps({"step": state.global_step, **logs}), flush=True)

    trainer = CrossEncoderTrainer(model=model, args=training_args, train_dataset=train_dataset, eval_dataset=eval_dataset,
                                  loss=make_loss(model, loss_name), callbacks=[LossLog()])
    # After the trainer is built: its model card statistics tokenize single columns, which "only_second" refuses.
    pair_truncation(model, [g["query"] for g in train_groups], int(recipe["max_length"]))
    world = training_args.world_size
    if trainer.is_world_process_zero():
        print(f"{len(train_dataset)} training rows ({loss_name}), {world} process(es) x {per_device} rows x "
              f"{training_args.gradient_accumulation_steps} accumulation = {world * per_device * training_args.gradient_accumulation_steps} rows per step, "
              f"precision {precision}", flush=True)
    trainer.train(resume_from_checkpoint=True if args.resume else None)

    # Every replica must hold the same weights after DDP's gradient all-reduce: compare a checksum across processes.
    checksum = torch.tensor([float(sum(p.detach().double().sum() for p in model.parameters()))], dtype=torch.float64)
    in_sync = True
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        lo, hi = checksum.clone(), checksum.clone()
        torch.distributed.all_reduce(lo, op=torch.distributed.ReduceOp.MIN)
        torch.distributed.all_reduce(hi, op=torch.distributed.ReduceOp.MAX)
        in_sync = bool(lo.item() == hi.item())
    trainer.save_model(os.path.join(output_dir, "final"))
    if trainer.is_world_process_zero():
        out = Path(output_dir)
        out.mkdir(parents=True, exist_ok=True)
        with open(out / "train_log.jsonl", "w", encoding="utf-8") as f:
            for r in log_rows:
                f.write(json.dumps(r) + "\n")
        losses_seen = [r["loss"] for r in log_rows if "loss" in r]
        summary = {
            "world_size": world,
            "backend": training_args.ddp_backend or (torch.distributed.get_backend() if torch.distributed.is_initialized() else None),
            "loss": loss_name,
            "rows": len(train_dataset),
            "rows_per_step": world * per_device * training_args.gradient_accumulation_steps,
            "steps": trainer.state.global_step,
            "losses": losses_seen,
            "replicas_in_sync": in_sync,
            "param_checksum": checksum.item(),
            "final_model": str(out / "final"),
        }
        (out / "run_summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
        print(json.dumps(summary), flush=True)
    if not in_sync:
        sys.exit("replicas diverged: the processes ended with different weights")
    if not all(math.isfinite(r["loss"]) for r in log_rows if "loss" in r):
        sys.exit("a logged loss is not finite")


if __name__ == "__main__":
    main()
