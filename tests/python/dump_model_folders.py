"""Writes tests/fixtures/hf-folders/: tiny random cross-encoders in every folder form a user may bring, each made by
the real libraries (transformers, sentence-transformers, sentencepiece, torch), with the reference token ids and
logits that the TypeScript loader must reproduce.

    bert-vocab/            vocab.txt + tokenizer_config.json only (no tokenizer.json), model.safetensors
    xlmr-spm/              sentencepiece.bpe.model only (no tokenizer.json), model.safetensors
    bert-bin/              pytorch_model.bin (zip format, f32; one tensor a strided view, one a slice of a shared
                           storage, an int64 position_ids buffer like older checkpoints)
    bert-bin-f16/          pytorch_model.bin (zip format, f16)
    bert-bin-bf16-legacy/  pytorch_model.bin (the pre-1.6 legacy format, bf16)
    bert-f16/              model.safetensors in f16
    bert-bf16/             model.safetensors in bf16
    bert-sharded/          model.safetensors.index.json + shards
    bert-2labels/          num_labels = 2 (a softmax pair)
    st-biencoder/          a sentence-transformers bi-encoder (modules.json, 1_Pooling/, README.md, BertModel)
    ce-identity/           a sentence-transformers CrossEncoder saved with an Identity activation
    ../torch-bins/         small checkpoints the PyTorch reader must refuse (code in the pickle, a training
                           checkpoint, complex numbers) or read (f64, int32, legacy f32)
    wordpiece-ids.json     HF fast-tokenizer ids of the texts for five tokenizer_config.json variants of bert-vocab
    sentencepiece-ids.json HF fast-tokenizer ids of the texts for xlmr-spm

Each model folder gets expected.json: the pairs, their token ids, attention masks and transformers' float32 logits.
Run: /work/pyenv/bin/python tests/python/dump_model_folders.py   (deterministic; rewrites the folder)
"""

import json
import os
import shutil
import tempfile

import sentencepiece as spm
import torch
from safetensors.torch import save_file
from tokenizers.normalizers import BertNormalizer
from tokenizers.pre_tokenizers import BertPreTokenizer
from transformers import (
    AutoModelForSequenceClassification,
    AutoTokenizer,
    BertConfig,
    BertForSequenceClassification,
    BertModel,
    XLMRobertaConfig,
    XLMRobertaForSequenceClassification,
)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests", "fixtures", "hf-folders")
MAX_LENGTH = 40

# Chinese, English and mixed texts, with the cases a WordPiece / sentencepiece port gets wrong: accents, case,
# full-width forms, CJK punctuation, control characters and odd spaces, a special token written in the text, a word
# longer than 100 characters, digits, kana and hangul, a character outside the BMP.
TEXTS = [
    "企业研发费用加计扣除申报流程",
    "《高新技术企业认定管理办法》规定，企业近三个会计年度的研究开发费用总额占同期销售收入总额的比例应符合要求。",
    "小规模纳税人月销售额未超过10万元的，免征增值税。",
    "失业保险金领取条件：缴费满一年、非本人意愿中断就业、已办理失业登记。",
    "How do I apply for the R&D super-deduction?",
    "The quick brown fox jumps over the lazy dog.",
    "Café naïve résumé — Ångström, façade, coöperate",
    "UPPER lower MiXeD CaSe WordPiece tokenization",
    "Python 3.11 与 PyTorch 2.5 的 GPU 加速（CUDA 12.4）",
    "BM25 召回的 hard negatives 要过滤 false negatives",
    "ＡＢＣ１２３ 全角字符和半角字符",
    "中文标点：，。！？；“引号”‘单引号’【括号】……——",
    "tabs\tand\nnewlines\r\nand  multiple   spaces",
    "zero\u200bwidth and\u00a0no-break\u3000ideographic space",
    "control\u0007char and \ufeffBOM",
    "a [SEP] inside the text and [CLS] too",
    "supercalifragilisticexpialidocious" * 4,
    "日本語のテキストとカタカナ、한국어 텍스트",
    "罕见字𠮷野家和𡈼",
    "𠮷𡈼连用, a𠮷b 和 x𡈼",
    "ΟΔΟΣ Σίσυφος İstanbul ﬁnance ①②③ ½ ™ ｶﾀｶﾅ ``quoted''",
    "email: someone@example.com, url: https://example.org/a?b=c",
    "数字 1,234.56 元和 50% 的比例",
    "",
]

PAIRS = [
    ("企业研发费用加计扣除申报流程", "企业开展研发活动中实际发生的研发费用，未形成无形资产计入当期损益的，在按规定据实扣除的基础上，再按照实际发生额的100%在税前加计扣除。"),
    ("企业研发费用加计扣除申报流程", "《高新技术企业认定管理办法》规定，企业近三个会计年度的研究开发费用总额占同期销售收入总额的比例应符合要求。"),
    ("How do I apply for the R&D super-deduction?", "Companies file the R&D expense schedule with their annual corporate income tax return."),
    ("How do I apply for the R&D super-deduction?", "The quick brown fox jumps over the lazy dog."),
    ("GPU 加速怎么配置", "Python 3.11 与 PyTorch 2.5 的 GPU 加速（CUDA 12.4）需要安装对应版本的驱动。"),
    ("失业保险金领取条件", "Café naïve résumé — a text that has nothing to do with unemployment insurance, but is long enough to be cut at the maximum length of forty tokens."),
]

BERT_SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def corpus():
    extra = [d for p in PAIRS for d in p]
    lines = TEXTS + extra
    return lines + [t.lower() for t in lines]


def make_vocab():
    """A cased WordPiece vocabulary (both cases and accented forms present, so the variants differ), built by rule so
    that it is the same on every run (the tokenizers trainer breaks ties differently from run to run): every
    character alone and as a ##continuation, every word of 2-8 characters, and ##endings of the longer words."""
    norm = BertNormalizer(clean_text=True, handle_chinese_chars=True, strip_accents=False, lowercase=False)
    pre = BertPreTokenizer()
    words = set()
    for line in corpus():
        for w, _ in pre.pre_tokenize_str(norm.normalize_str(line)):
            words.add(w)
    chars = sorted({c for w in words for c in w})
    whole = sorted(w for w in words if 2 <= len(w) <= 8)
    endings = sorted({"##" + w[-k:] for w in words if len(w) > 8 for k in (2, 3, 4)})
    vocab = BERT_SPECIALS + [f"[unused{i}]" for i in range(3)] + chars + ["##" + c for c in chars] + whole + endings
    assert len(vocab) == len(set(vocab))
    return vocab


def write_json(path, obj):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False, indent=1)
        f.write("\n")


def bert_config(vocab_size, **kw):
    return BertConfig(
        vocab_size=vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
        max_position_embeddings=64, initializer_range=0.2, **kw,
    )


def xlmr_config(vocab_size, **kw):
    return XLMRobertaConfig(
        vocab_size=vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
        max_position_embeddings=66, initializer_range=0.2, pad_token_id=1, bos_token_id=0, eos_token_id=2, **kw,
    )


def random_biases(model):
    """transformers initialises biases and LayerNorms to 0/1; random ones catch a dropped or mis-named tensor."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("bias") or "LayerNorm" in name:
                p.add_(torch.randn_like(p) * 0.1)
    return model


def encode_pairs(tok):
    enc = tok([q for q, _ in PAIRS], [d for _, d in PAIRS], truncation="only_second", max_length=MAX_LENGTH, padding="longest", return_tensors="pt")
    return enc


def expected_for(folder, tok=None, logits_fn=None):
    """expected.json: pairs, ids and transformers' float32 logits of the folder as saved."""
    tok = tok or AutoTokenizer.from_pretrained(folder)
    assert tok.is_fast, f"{folder}: expected a fast tokenizer"
    enc = encode_pairs(tok)
    out = {
        "max_length": MAX_LENGTH,
        "truncation": "only_second",
        "padding": "longest",
        "pairs": [{"query": q, "document": d} for q, d in PAIRS],
        "input_ids": enc["input_ids"].tolist(),
        "attention_mask": enc["attention_mask"].tolist(),
        "token_type_ids": enc["token_type_ids"].tolist() if "token_type_ids" in enc else None,
    }
    if logits_fn is None:
        model = AutoModelForSequenceClassification.from_pretrained(folder, dtype=torch.float32).eval()
        with torch.no_grad():
            logits = model(**enc).logits
    else:
        logits = logits_fn(enc)
    if logits is not None:
        out["logits"] = logits.tolist()
    write_json(os.path.join(folder, "expected.json"), out)
    return out


def fresh(name):
    d = os.path.join(OUT, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    return d


def write_bert_tokenizer_files(d, vocab, tokenizer_config):
    with open(os.path.join(d, "vocab.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(vocab) + "\n")
    write_json(os.path.join(d, "tokenizer_config.json"), tokenizer_config)
    write_json(os.path.join(d, "special_tokens_map.json"), {"unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]", "cls_token": "[CLS]", "mask_token": "[MASK]"})


BERT_TOKENIZER_CONFIG = {"do_lower_case": True, "tokenize_chinese_chars": True, "strip_accents": None, "tokenizer_class": "BertTokenizer"}

# tokenizer_config.json variants of the same vocab.txt: Chinese/uncased BERT, cased BERT, lower-case keeping accents,
# cased with accents stripped, and no CJK splitting.
WORDPIECE_VARIANTS = {
    "uncased": {"do_lower_case": True},
    "cased": {"do_lower_case": False},
    "lower-keep-accents": {"do_lower_case": True, "strip_accents": False},
    "cased-strip-accents": {"do_lower_case": False, "strip_accents": True},
    "no-chinese-split": {"do_lower_case": True, "tokenize_chinese_chars": False},
}


def dump_wordpiece_ids(vocab):
    out = {"texts": TEXTS, "pairs": [{"query": q, "document": d} for q, d in PAIRS], "max_length": MAX_LENGTH, "variants": []}
    for name, tc in WORDPIECE_VARIANTS.items():
        with tempfile.TemporaryDirectory() as d:
            write_bert_tokenizer_files(d, vocab, {**tc, "tokenizer_class": "BertTokenizer"})
            tok = AutoTokenizer.from_pretrained(d)
            assert tok.is_fast
            enc = encode_pairs(tok)
            out["variants"].append({
                "name": name,
                "tokenizer_config": tc,
                "ids": [tok(t, add_special_tokens=False)["input_ids"] for t in TEXTS],
                "pair_input_ids": enc["input_ids"].tolist(),
                "pair_token_type_ids": enc["token_type_ids"].tolist(),
                "pair_attention_mask": enc["attention_mask"].tolist(),
            })
    write_json(os.path.join(OUT, "wordpiece-ids.json"), out)


def bert_vocab_folder(vocab):
    d = fresh("bert-vocab")
    torch.manual_seed(1)
    model = random_biases(BertForSequenceClassification(bert_config(len(vocab), num_labels=1)).eval())
    model.save_pretrained(d)
    # An older Chinese BERT folder: no tokenizer.json, no model_max_length.
    write_bert_tokenizer_files(d, vocab, BERT_TOKENIZER_CONFIG)
    assert not os.path.exists(os.path.join(d, "tokenizer.json"))
    expected_for(d)
    return d


def make_spm(d):
    """A tiny unigram sentencepiece model laid out like XLM-R's (unk 0, bos 1, eos 2; fairseq ids added on load)."""
    cwd = os.getcwd()
    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)  # relative paths: the model records its input path, which would differ per run
        try:
            with open("corpus.txt", "w", encoding="utf-8") as f:
                f.write("\n".join(t for t in corpus() if t.strip()) + "\n")
            spm.SentencePieceTrainer.train(
                input="corpus.txt", model_prefix="sp", vocab_size=360, hard_vocab_limit=False, model_type="unigram",
                character_coverage=0.9995, unk_id=0, bos_id=1, eos_id=2, pad_id=-1, num_threads=1, seed_sentencepiece_size=10000,
                minloglevel=2,
            )
        finally:
            os.chdir(cwd)
        shutil.copy(os.path.join(tmp, "sp.model"), os.path.join(d, "sentencepiece.bpe.model"))


XLMR_TOKENIZER_CONFIG = {"tokenizer_class": "XLMRobertaTokenizer", "model_max_length": 64, "bos_token": "<s>", "eos_token": "</s>", "sep_token": "</s>", "cls_token": "<s>", "unk_token": "<unk>", "pad_token": "<pad>", "mask_token": "<mask>"}


def xlmr_spm_folder():
    d = fresh("xlmr-spm")
    make_spm(d)
    write_json(os.path.join(d, "tokenizer_config.json"), XLMR_TOKENIZER_CONFIG)
    write_json(os.path.join(d, "config.json"), {"model_type": "xlm-roberta"})  # lets AutoTokenizer find the class
    tok = AutoTokenizer.from_pretrained(d)
    assert tok.is_fast
    torch.manual_seed(2)
    model = random_biases(XLMRobertaForSequenceClassification(xlmr_config(len(tok), num_labels=1)).eval())
    model.save_pretrained(d)
    assert not os.path.exists(os.path.join(d, "tokenizer.json"))
    expected_for(d)
    write_json(os.path.join(OUT, "sentencepiece-ids.json"), {
        "texts": TEXTS,
        "ids": [tok(t, add_special_tokens=False)["input_ids"] for t in TEXTS],
        "vocab_size": len(tok),
    })
    return d, tok


def save_tokenizer_json(tok, d):
    """tokenizer.json (+ tokenizer_config.json) as transformers saves them."""
    tok.save_pretrained(d)


def bin_folders(vocab_dir):
    tok = AutoTokenizer.from_pretrained(vocab_dir)
    torch.manual_seed(3)
    model = random_biases(BertForSequenceClassification(bert_config(tok.vocab_size, num_labels=1)).eval())
    sd = {k: v.detach().clone() for k, v in model.state_dict().items()}

    # f32, zip format, with the layouts torch.save keeps: a transposed (non-contiguous) view, a slice of a bigger
    # shared storage at an offset, and an int64 buffer.
    d = fresh("bert-bin")
    model.config.save_pretrained(d)
    save_tokenizer_json(tok, d)
    f32 = dict(sd)
    w = sd["bert.pooler.dense.weight"]
    f32["bert.pooler.dense.weight"] = w.t().contiguous().t()
    assert not f32["bert.pooler.dense.weight"].is_contiguous()
    shared = torch.cat([torch.randn(2, w.shape[1]), sd["classifier.weight"], torch.randn(1, w.shape[1])])
    f32["classifier.weight"] = shared[2:3]
    f32["classifier.bias"] = sd["classifier.bias"]
    f32["bert.embeddings.position_ids"] = torch.arange(model.config.max_position_embeddings).unsqueeze(0)
    torch.save(f32, os.path.join(d, "pytorch_model.bin"))
    expected_for(d)

    d = fresh("bert-bin-f16")
    model.config.save_pretrained(d)
    save_tokenizer_json(tok, d)
    torch.save({k: v.half() for k, v in sd.items()}, os.path.join(d, "pytorch_model.bin"))
    expected_for(d)

    d = fresh("bert-bin-bf16-legacy")
    model.config.save_pretrained(d)
    save_tokenizer_json(tok, d)
    torch.save({k: v.bfloat16() for k, v in sd.items()}, os.path.join(d, "pytorch_model.bin"), _use_new_zipfile_serialization=False)
    expected_for(d)

    for name, dtype in (("bert-f16", torch.float16), ("bert-bf16", torch.bfloat16)):
        d = fresh(name)
        model.config.save_pretrained(d)
        save_tokenizer_json(tok, d)
        save_file({k: v.to(dtype).contiguous() for k, v in sd.items()}, os.path.join(d, "model.safetensors"), metadata={"format": "pt"})
        expected_for(d)


def sharded_folder(vocab_dir):
    d = fresh("bert-sharded")
    tok = AutoTokenizer.from_pretrained(vocab_dir)
    save_tokenizer_json(tok, d)
    torch.manual_seed(4)
    model = random_biases(BertForSequenceClassification(bert_config(tok.vocab_size, num_labels=1)).eval())
    model.save_pretrained(d, max_shard_size="40KB")
    assert os.path.exists(os.path.join(d, "model.safetensors.index.json")), os.listdir(d)
    expected_for(d)


def two_label_folder(vocab_dir):
    d = fresh("bert-2labels")
    tok = AutoTokenizer.from_pretrained(vocab_dir)
    torch.manual_seed(5)
    cfg = bert_config(tok.vocab_size, num_labels=2, id2label={0: "irrelevant", 1: "relevant"}, label2id={"irrelevant": 0, "relevant": 1})
    model = random_biases(BertForSequenceClassification(cfg).eval())
    model.save_pretrained(d)
    save_tokenizer_json(tok, d)
    expected_for(d)


def st_biencoder_folder(vocab_dir):
    """A bi-encoder as sentence-transformers saves it: a bare BertModel plus Pooling/Normalize modules and a README."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.models import Normalize, Pooling, Transformer

    d = fresh("st-biencoder")
    tok = AutoTokenizer.from_pretrained(vocab_dir)
    with tempfile.TemporaryDirectory() as tmp:
        torch.manual_seed(6)
        random_biases(BertModel(bert_config(tok.vocab_size)).eval()).save_pretrained(tmp)
        save_tokenizer_json(tok, tmp)
        tr = Transformer(tmp, max_seq_length=MAX_LENGTH)
        st = SentenceTransformer(modules=[tr, Pooling(tr.get_word_embedding_dimension()), Normalize()])
        st.save(d)
    for must in ("modules.json", "README.md", "1_Pooling", "config_sentence_transformers.json"):
        assert os.path.exists(os.path.join(d, must)), f"sentence-transformers did not write {must}: {os.listdir(d)}"
    # No logits: a bi-encoder has no classification head (ours starts from a seeded init).
    expected_for(d, logits_fn=lambda enc: None)


def ce_identity_folder(vocab_dir):
    """A CrossEncoder saved by sentence-transformers with an explicit Identity activation (raw logits as scores)."""
    from sentence_transformers import CrossEncoder

    d = fresh("ce-identity")
    tok = AutoTokenizer.from_pretrained(vocab_dir)
    with tempfile.TemporaryDirectory() as tmp:
        torch.manual_seed(7)
        random_biases(BertForSequenceClassification(bert_config(tok.vocab_size, num_labels=1)).eval()).save_pretrained(tmp)
        save_tokenizer_json(tok, tmp)
        ce = CrossEncoder(tmp, activation_fn=torch.nn.Identity(), max_length=MAX_LENGTH)
        ce.save(d)

    def scores(enc):
        ce = CrossEncoder(d)
        assert isinstance(ce.activation_fn, torch.nn.Identity), ce.activation_fn
        return torch.tensor(ce.predict(PAIRS, convert_to_numpy=True)).reshape(-1, 1)

    expected_for(d, logits_fn=scores)


class RunsCode:
    """What a malicious checkpoint holds: unpickling it in Python would call os.system."""

    def __reduce__(self):
        return (os.system, ("echo this would run",))


def bad_bins():
    """tests/fixtures/torch-bins/: checkpoints the reader must refuse, or read, with a clear message."""
    d = os.path.join(ROOT, "tests", "fixtures", "torch-bins")
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    w = torch.arange(6, dtype=torch.float32).reshape(2, 3)
    torch.save({"w": w, "evil": RunsCode()}, os.path.join(d, "runs-code.bin"))
    torch.save({"epoch": 3, "state_dict": {"w": w}}, os.path.join(d, "training-checkpoint.bin"))
    torch.save({"w": w.to(torch.complex64)}, os.path.join(d, "complex.bin"))
    torch.save({"w": w.double(), "n": torch.tensor([1, 2], dtype=torch.int32)}, os.path.join(d, "f64-and-int.bin"))
    torch.save({"w": w}, os.path.join(d, "legacy-f32.bin"), _use_new_zipfile_serialization=False)


def main():
    os.makedirs(OUT, exist_ok=True)
    vocab = make_vocab()
    dump_wordpiece_ids(vocab)
    vocab_dir = bert_vocab_folder(vocab)
    spm_dir, _ = xlmr_spm_folder()
    bin_folders(vocab_dir)
    sharded_folder(vocab_dir)
    two_label_folder(vocab_dir)
    st_biencoder_folder(vocab_dir)
    ce_identity_folder(vocab_dir)
    bad_bins()
    total = 0
    for base, _, files in os.walk(OUT):
        total += sum(os.path.getsize(os.path.join(base, f)) for f in files)
    print(f"wrote {OUT} ({total / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
