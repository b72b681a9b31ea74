"""Loads exported folders the way a user's serving code does and prints what they score, as JSON on stdout.
Run by check_export.py once per Python environment (sentence-transformers v6 / v5 / v4 and their transformers).

    python load_export.py PAIRS_JSON EXPORT_DIR...

For each folder: sentence_transformers.CrossEncoder(dir).predict(pairs) (its own activation and max length), and
transformers.AutoModelForSequenceClassification + AutoTokenizer logits per pair, truncated to the folder's
model_max_length both "only_second" (document first, as Rerank Lab trains and scores) and "longest_first" (what
CrossEncoder.predict does).
"""

import json
import logging
import os
import sys
import warnings

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
warnings.filterwarnings("ignore")
logging.disable(logging.WARNING)

import sentence_transformers  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402
from sentence_transformers import CrossEncoder  # noqa: E402
from transformers import AutoModelForSequenceClassification, AutoTokenizer  # noqa: E402

transformers.utils.logging.set_verbosity_error()
try:
    transformers.utils.logging.disable_progress_bar()
except AttributeError:
    pass


def fullname(o):
    return f"{type(o).__module__}.{type(o).__qualname__}"


def logit(model, tok, q, d, truncation):
    """One pair's logit with the given truncation, or None when the tokenizer refuses (query alone too long)."""
    try:
        enc = tok(q, d, truncation=truncation, max_length=tok.model_max_length, return_tensors="pt")
    except Exception:
        return None, None
    with torch.no_grad():
        return float(model(**enc).logits.reshape(-1)[0]), enc["input_ids"][0].tolist()


def load(folder, pairs):
    ce = CrossEncoder(folder, device="cpu")
    scores = ce.predict(pairs, convert_to_numpy=True, show_progress_bar=False)
    tok = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForSequenceClassification.from_pretrained(folder).eval()
    # Rerank Lab truncates a pair's document first ("only_second", as FlagEmbedding trains); CrossEncoder.predict uses
    # "longest_first". Both are computed so the check compares like with like and says where they differ.
    only_second = [logit(model, tok, q, d, "only_second") for q, d in pairs]
    longest_first = [logit(model, tok, q, d, "longest_first") for q, d in pairs]
    return {
        "st_scores": [float(x) for x in scores.reshape(-1)],
        "st_activation": fullname(ce.activation_fn),
        "st_tokenizer_max_length": int(getattr(ce, "tokenizer", tok).model_max_length),
        "tf_logits": [x for x, _ in only_second],
        "tf_logits_longest_first": [x for x, _ in longest_first],
        "same_truncation": [a[1] is not None and a[1] == b[1] for a, b in zip(only_second, longest_first)],
        "tf_num_labels": int(model.config.num_labels),
        "tf_model_max_length": int(tok.model_max_length),
        "tf_is_fast": bool(tok.is_fast),
    }


def main():
    pairs_file, *folders = sys.argv[1:]
    with open(pairs_file, encoding="utf-8") as f:
        pairs = [(p["query"], p["document"]) for p in json.load(f)]
    out = {"versions": {"sentence_transformers": sentence_transformers.__version__, "transformers": transformers.__version__, "torch": torch.__version__}, "folders": {}}
    for folder in folders:
        try:
            out["folders"][os.path.basename(folder.rstrip("/"))] = load(folder, pairs)
        except Exception as e:  # reported per folder; check_export.py fails the check
            out["folders"][os.path.basename(folder.rstrip("/"))] = {"error": f"{type(e).__name__}: {e}"}
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
