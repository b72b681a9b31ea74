"""Run 4 of the issue-15 experiment: sentence-transformers' CrossEncoder trained with the settings of run 3, and the
scoring of any model folder through sentence-transformers (run 2's cross-check, run 4, and the export check of run 3).

  st_run.py train --base DIR --steps steps.json --lists val.lists.json --out DIR [settings]
  st_run.py score --model DIR --pairs pairs.jsonl --out scores.jsonl [--max-length N]

Same settings as `rerank-lab train` (one JSON file of steps written by scripts/experiment/run.ts): the very groups of
every epoch in the very steps the trainer forms (src/train/batches.ts), fed in that order by a batch sampler that does
not shuffle; learning rate with transformers' linear warmup/decay (the same schedule the engine copies), AdamW
(torch, eps 1e-8) with weight decay off for biases and LayerNorm, gradient clipping, fp32, the model's dropout.
Losses: `listwise` is FlagEmbedding's softmax cross-entropy over each group (the positive first) on raw logits —
sentence-transformers' MultipleNegativesRankingLoss with no in-batch negatives, scale 1 and no activation, written
here to score a step's pairs in one forward as the engine does; `bce` is sentence-transformers' BinaryCrossEntropyLoss.
The kept model is the epoch (0 = the base) with the best NDCG@10 on the validation lists, the rule the engine's trainer
uses once issue 9b lands (ties: a negative that ties a positive ranks first).
Writes DIR/model (a CrossEncoder folder) and DIR/train.json (times, pairs/s, per-epoch NDCG@10, the kept epoch).
"""
from __future__ import annotations

import argparse
import copy
import json
import math
import time
from pathlib import Path

import torch
from torch import nn


def ndcg10(scores: list[float], relevant: list[bool]) -> float:
    order = sorted(range(len(scores)), key=lambda i: (-scores[i], relevant[i], i))
    dcg = sum(1 / math.log2(r + 2) for r, i in enumerate(order[:10]) if relevant[i])
    ideal = sum(1 / math.log2(r + 2) for r in range(min(10, sum(relevant))))
    return dcg / ideal if ideal else 0.0


def load_ce(path: str, max_length: int):
    from sentence_transformers import CrossEncoder
    return CrossEncoder(path, num_labels=1, max_length=max_length, device='cuda' if torch.cuda.is_available() else 'cpu')


@torch.no_grad()
def logits_of(model, pairs: list[tuple[str, str]], batch: int) -> list[float]:
    was = model.training
    model.eval()
    out = model.predict(pairs, batch_size=batch, activation_fn=nn.Identity(), show_progress_bar=False, convert_to_numpy=True)
    if was:
        model.train()
    return [float(x) for x in out.reshape(-1)]


def val_ndcg(model, lists: list[dict], batch: int) -> float:
    pairs = [(l['query'], d) for l in lists for d in l['docs']]
    flat = logits_of(model, pairs, batch)
    at, total = 0, 0.0
    for l in lists:
        n = len(l['docs'])
        total += ndcg10(flat[at:at + n], l['relevant'])
        at += n
    return total / max(len(lists), 1)


class ListwiseLoss(nn.Module):
    """Softmax cross-entropy over each group (column 1 the positive, then the negatives) on raw logits, all of a
    step's pairs in one forward pass (FlagEmbedding's reranker loss)."""

    def __init__(self, model) -> None:
        super().__init__()
        self.model = model
        self.ce = nn.CrossEntropyLoss()

    def forward(self, inputs: list[list[str]], labels=None) -> torch.Tensor:
        queries, columns = inputs[0], inputs[1:]
        pairs = [(q, col[i]) for col in columns for i, q in enumerate(queries)]
        features = self.model.preprocess(pairs)
        features = {k: v.to(self.model.device) for k, v in features.items()}
        logits = self.model(features)['scores'].view(len(columns), len(queries)).T
        return self.ce(logits, torch.zeros(len(queries), dtype=torch.long, device=logits.device))

    def get_config_dict(self) -> dict:
        return {'loss': 'listwise softmax cross-entropy (FlagEmbedding), raw logits'}


def train(a: argparse.Namespace) -> None:
    from datasets import Dataset
    from sentence_transformers.base.sampler import DefaultBatchSampler
    from sentence_transformers.cross_encoder import CrossEncoderTrainer, CrossEncoderTrainingArguments
    from sentence_transformers.cross_encoder.losses import BinaryCrossEntropyLoss
    from transformers import TrainerCallback

    t_start = time.perf_counter()
    torch.manual_seed(a.seed)
    spec = json.loads(Path(a.steps).read_text(encoding='utf8'))
    epochs: list[list[list[dict]]] = spec['epochs']
    lists = json.loads(Path(a.lists).read_text(encoding='utf8'))['lists']
    model = load_ce(a.base, a.max_length)
    G = len(epochs[0][0][0]['docs'])

    # rows in step order; each step is a batch of consecutive rows
    rows: dict[str, list] = {}
    batches: list[list[int]] = []
    if a.loss == 'listwise':
        cols = ['query', 'positive'] + [f'negative_{k}' for k in range(1, G)]
        rows = {c: [] for c in cols}
        for ep in epochs:
            for step in ep:
                start = len(rows['query'])
                for g in step:
                    rows['query'].append(g['query'])
                    for c, d in zip(cols[1:], g['docs']):
                        rows[c].append(d)
                batches.append(list(range(start, len(rows['query']))))
        loss = ListwiseLoss(model)
    else:
        rows = {'query': [], 'document': [], 'label': []}
        for ep in epochs:
            for step in ep:
                start = len(rows['query'])
                for g in step:
                    for j, d in enumerate(g['docs']):
                        rows['query'].append(g['query'])
                        rows['document'].append(d)
                        rows['label'].append(1.0 if j == 0 else 0.0)
                batches.append(list(range(start, len(rows['query']))))
        loss = BinaryCrossEntropyLoss(model)
    if a.max_steps:
        batches = batches[:a.max_steps]
    dataset = Dataset.from_dict(rows)
    steps_per_epoch = [len(ep) for ep in epochs]
    pairs_total = sum(len(b) for b in batches) * (G if a.loss == 'listwise' else 1)

    class FixedSteps(DefaultBatchSampler):
        """The engine's steps, in its order (no shuffling)."""

        def __iter__(self):
            return iter([list(b) for b in batches])

        def __len__(self) -> int:
            return len(batches)

    record = {'epoch_ndcg10': [], 'eval_seconds': 0.0}
    best = {'value': float('nan'), 'epoch': 0, 'state': None}

    def consider(epoch: int) -> None:
        t0 = time.perf_counter()
        v = val_ndcg(model, lists, a.score_batch)
        record['eval_seconds'] += time.perf_counter() - t0
        record['epoch_ndcg10'].append(v)
        if best['state'] is None or v > best['value']:
            best.update(value=v, epoch=epoch, state=copy.deepcopy({k: t.detach().cpu() for k, t in model.state_dict().items()}))
        print(f'sentence-transformers epoch {epoch}: NDCG@10 {v:.4f}', flush=True)

    ends = [sum(steps_per_epoch[:e + 1]) for e in range(len(steps_per_epoch))]

    class EpochEnd(TrainerCallback):
        """Evaluates after the last step of each epoch (and after the last step of a cut dry run)."""

        def on_step_end(self, args, state, control, **kw):
            s = state.global_step
            if s in ends or s == len(batches):
                consider(sum(1 for e in ends if e <= s) or 1)

    args = CrossEncoderTrainingArguments(
        output_dir=str(Path(a.out) / 'trainer'), num_train_epochs=1, per_device_train_batch_size=max(len(b) for b in batches),
        learning_rate=a.lr, warmup_ratio=a.warmup_ratio, lr_scheduler_type='linear', weight_decay=a.weight_decay,
        max_grad_norm=a.max_grad_norm, adam_epsilon=1e-8, seed=a.seed, data_seed=a.seed, fp16=False, bf16=False,
        batch_sampler=FixedSteps, dataloader_drop_last=False, save_strategy='no', eval_strategy='no', report_to='none',
        logging_steps=max(1, len(batches) // 20), disable_tqdm=True, dataloader_num_workers=0,
    )
    consider(0)
    record['eval_seconds'] = 0.0  # only evaluations inside the training loop are taken out of its time
    trainer = CrossEncoderTrainer(model=model, args=args, train_dataset=dataset, loss=loss, callbacks=[EpochEnd()])
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    trainer.train()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    train_wall = time.perf_counter() - t0
    train_seconds = train_wall - record['eval_seconds']
    model.load_state_dict(best['state'])
    out = Path(a.out) / 'model'
    model.save_pretrained(str(out))
    info = {
        'steps': len(batches), 'pairs': pairs_total, 'train_seconds': train_seconds, 'pairs_per_sec': pairs_total / max(train_seconds, 1e-9),
        'total_seconds': time.perf_counter() - t_start, 'epoch_ndcg10': record['epoch_ndcg10'], 'kept_epoch': best['epoch'],
        'device': torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'cpu', 'torch': torch.__version__,
        'loss': a.loss, 'lr': a.lr, 'eval_seconds_in_training': record['eval_seconds'],
    }
    (Path(a.out) / 'train.json').write_text(json.dumps(info, indent=2) + '\n')
    print(json.dumps(info))


def score(a: argparse.Namespace) -> None:
    model = load_ce(a.model, a.max_length)
    pairs = [json.loads(l) for l in Path(a.pairs).read_text(encoding='utf8').splitlines() if l.strip()]
    logits = logits_of(model, [(p['query'], p['document']) for p in pairs], a.batch)
    Path(a.out).write_text(''.join(json.dumps({'query': p['query'], 'document': p['document'], 'logit': x}, ensure_ascii=False) + '\n' for p, x in zip(pairs, logits)), encoding='utf8')
    print(f'{len(pairs)} pairs scored by sentence-transformers ({a.model}) → {a.out}')


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest='cmd', required=True)
    t = sub.add_parser('train')
    t.add_argument('--base', required=True)
    t.add_argument('--steps', required=True)
    t.add_argument('--lists', required=True)
    t.add_argument('--out', required=True)
    t.add_argument('--loss', choices=['listwise', 'bce'], default='listwise')
    t.add_argument('--lr', type=float, default=2e-5)
    t.add_argument('--warmup-ratio', type=float, default=0.1)
    t.add_argument('--weight-decay', type=float, default=0.01)
    t.add_argument('--max-grad-norm', type=float, default=1.0)
    t.add_argument('--max-length', type=int, default=256)
    t.add_argument('--seed', type=int, default=42)
    t.add_argument('--max-steps', type=int, default=0, help='stop after N steps (dry runs)')
    t.add_argument('--score-batch', type=int, default=64)
    s = sub.add_parser('score')
    s.add_argument('--model', required=True)
    s.add_argument('--pairs', required=True)
    s.add_argument('--out', required=True)
    s.add_argument('--max-length', type=int, default=256)
    s.add_argument('--batch', type=int, default=64)
    a = ap.parse_args()
    (train if a.cmd == 'train' else score)(a)


if __name__ == '__main__':
    main()
