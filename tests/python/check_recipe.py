"""Live check: the multi-GPU recipe that `rerank-lab export --recipe` writes, run for real with torchrun on two CPU
processes (gloo backend), on the tiny BERT fixture.

  1. FlagEmbedding JSONL from the CMRC 2018 trial set (tests/fixtures/data): each question, its own paragraph as the
     positive, three other paragraphs as negatives; a few held out for validation;
  2. `rerank-lab export --recipe TMP --data … --val … --model tests/fixtures/hf-parity/bert-tiny --teacher-scores`
     with small settings; the teacher scores (our engine's logits) are compared with transformers on the same pairs,
     cut document-first as the lab does (within 1e-4);
  3. `torchrun --nproc_per_node=2 train_reranker.py --cpu --max-steps N` for the lab's loss (listwise), then bce and
     distill (the teacher scores); each must log a finite loss at every step, end with both processes holding the
     same weights, and save a model that sentence-transformers loads and whose scores moved from the base's.
Prints the loss at every step; exits 1 on any failure.
"""

from __future__ import annotations

import json
import math
import os
import random
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from sentence_transformers.cross_encoder import CrossEncoder
from transformers import AutoModelForSequenceClassification, AutoTokenizer
from transformers.utils import logging as hf_logging

hf_logging.disable_progress_bar()
ROOT = Path(__file__).resolve().parents[2]
BASE = ROOT / "tests/fixtures/hf-parity/bert-tiny"
MAX_LENGTH = 64
GROUP_SIZE = 4
RUNS = [("listwise", 6), ("bce", 3), ("distill", 3)]


def node(*args: str) -> None:
    r = subprocess.run(["npx", "--no-install", "tsx", "src/cli/main.ts", *args], cwd=ROOT, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"rerank-lab {' '.join(args)} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")


def cmrc_examples(n_train: int, n_val: int) -> tuple[list[dict], list[dict]]:
    d = json.loads((ROOT / "tests/fixtures/data/cmrc2018-trial.json").read_text(encoding="utf-8"))
    paragraphs = [p for a in d["data"] for p in a["paragraphs"]]
    rng = random.Random(5)
    out = []
    for i, p in enumerate(paragraphs[: n_train + n_val]):
        others = [q["context"] for j, q in enumerate(paragraphs) if j != i]
        out.append({"query": p["qas"][0]["question"], "pos": [p["context"]], "neg": rng.sample(others, GROUP_SIZE - 1)})
    return out[:n_train], out[n_train:]


def write_jsonl(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def main() -> int:
    tmp = Path(tempfile.mkdtemp(prefix="rl-check-recipe-"))
    train, val = cmrc_examples(24, 4)
    write_jsonl(tmp / "train.jsonl", train)
    write_jsonl(tmp / "val.jsonl", val)
    recipe = tmp / "recipe"
    node("export", "--recipe", str(recipe), "--data", str(tmp / "train.jsonl"), "--val", str(tmp / "val.jsonl"),
         "--model", str(BASE), "--teacher-scores", "--batch", "2", "--group-size", str(GROUP_SIZE),
         "--max-length", str(MAX_LENGTH), "--epochs", "1", "--lr", "1e-3", "--warmup-ratio", "0")
    failures = []

    # Teacher scores: our engine's logits against transformers on the same pairs, cut document-first as the lab does.
    rows = [json.loads(l) for l in (recipe / "data/train.jsonl").read_text(encoding="utf-8").splitlines()]
    pairs = [(r["query"], d) for r in rows for d in r["pos"] + r["neg"]]
    ours = np.array([s for r in rows for s in r["pos_scores"] + r["neg_scores"]])
    tok = AutoTokenizer.from_pretrained(BASE)
    hf = AutoModelForSequenceClassification.from_pretrained(BASE, dtype=torch.float32).eval()
    enc = tok([q for q, _ in pairs], [d for _, d in pairs], truncation="only_second", max_length=MAX_LENGTH, padding=True, return_tensors="pt")
    with torch.no_grad():
        ref = hf(**enc).logits[:, 0].numpy()
    d_teacher = float(np.max(np.abs(ours - ref)))
    print(f"teacher scores: {len(pairs)} pairs, max |engine - transformers| {d_teacher:.2e}")
    if not d_teacher < 1e-4:
        failures.append(f"teacher scores differ from transformers by {d_teacher:.2e}")
    val_rows = [json.loads(l) for l in (recipe / "data/val.jsonl").read_text(encoding="utf-8").splitlines()]
    if not all("pos_scores" in r and "neg_scores" in r for r in val_rows):
        failures.append("the validation set has no teacher scores")
    base = CrossEncoder(str(BASE), num_labels=1, max_length=MAX_LENGTH, device="cpu")
    probe = pairs[:8]
    base_scores = base.predict(probe, activation_fn=torch.nn.Identity())

    env = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false", "HF_HUB_OFFLINE": "1"}
    torchrun = str(Path(sys.executable).with_name("torchrun"))
    for loss, steps in RUNS:
        out = tmp / f"out-{loss}"
        cmd = [torchrun, "--standalone", "--nproc_per_node=2", "train_reranker.py", "--cpu", "--max-steps", str(steps),
               "--logging-steps", "1", "--loss", loss, "--output-dir", str(out)]
        r = subprocess.run(cmd, cwd=recipe, capture_output=True, text=True, env=env)
        if r.returncode != 0:
            failures.append(f"{loss}: torchrun exited {r.returncode}")
            print(f"{loss}: torchrun failed:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}")
            continue
        summary = json.loads((out / "run_summary.json").read_text())
        log = [json.loads(l) for l in (out / "train_log.jsonl").read_text().splitlines()]
        losses = [(e["step"], e["loss"]) for e in log if "loss" in e]
        tuned = CrossEncoder(str(out / "final"), device="cpu").predict(probe, activation_fn=torch.nn.Identity())
        moved = float(np.max(np.abs(tuned - base_scores)))
        print(f"{loss}: {summary['world_size']} processes ({summary['backend']}), {summary['steps']} steps x "
              f"{summary['rows_per_step']} rows, replicas in sync: {summary['replicas_in_sync']}; loss per step: "
              + ", ".join(f"{s}: {v:.4f}" for s, v in losses) + f"; saved model's scores moved by {moved:.3f}")
        if summary["world_size"] != 2 or summary["backend"] != "gloo":
            failures.append(f"{loss}: ran on {summary['world_size']} process(es) with {summary['backend']}, expected 2 with gloo")
        if [s for s, _ in losses] != list(range(1, steps + 1)):
            failures.append(f"{loss}: logged steps {[s for s, _ in losses]}, expected 1..{steps}")
        if not all(math.isfinite(v) for _, v in losses):
            failures.append(f"{loss}: a loss is not finite")
        if not summary["replicas_in_sync"]:
            failures.append(f"{loss}: the two processes ended with different weights")
        if not moved > 1e-4:
            failures.append(f"{loss}: the saved model scores like the base model (training changed nothing?)")
    shutil.rmtree(tmp, ignore_errors=True)
    for f in failures:
        print(f"FAIL {f}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
