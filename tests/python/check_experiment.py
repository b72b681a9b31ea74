"""Issue 15's experiment end to end at toy scale (a dry run of what the GPU machine runs at real scale):
prepare (mine the CMRC trial set, validation lists, training steps) → the model's travel form (pack, unpack: the
restored weights must equal the original on every kept row) → runs 1–4 (BM25; the base scored by our engine; `rerank-lab
train` on WebGPU — SwiftShader here; sentence-transformers trained on the same steps on CPU) → the report. Fails when
a step fails or the report misses a field; prints the report's table. About 3–6 minutes on this machine.

The model is the tiny BERT of tests/fixtures/hf-parity (real-scale runs use multilingual-e5-small, see
tests/python/experiment/models.py); the figures of a toy run mean nothing, their presence and agreement do:
the base model scored by our engine and by sentence-transformers must agree (max |Δlogit| < 1e-4), and so must the
exported tuned model loaded in sentence-transformers (the export check); the trainer must have validated on the very
lists the report scores (checked inside run.ts); both trainings must have run the same recipe (loss, pos_weight,
dropout read back from sentence-transformers' model); and the metrics of src/eval/ranking.ts (the report's) must
equal st_run.py's (what picks sentence-transformers' best epoch), on every run's scores and on a set of hand-made
lists with ties.
"""
from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / 'out' / 'experiment' / 'check'
TINY = ROOT / 'tests' / 'fixtures' / 'hf-parity' / 'bert-tiny'
# the tiny model's config has no dropout: 0.1 here, so that the recipe's dropout reaching both trainings is checked
TOY = ['--limit-train', '8', '--limit-val', '4', '--depth', '6', '--batch', '4', '--group-size', '4', '--epochs', '1',
       '--max-length', '64', '--score-batch', '16', '--lr', '1e-3', '--dropout', '0.1', '--attention-dropout', '0.1']
TOLERANCE = 1e-4


def sh(cmd: list[str]) -> str:
    print('$', ' '.join(cmd), flush=True)
    r = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    sys.stdout.write(r.stdout)
    if r.returncode != 0:
        sys.exit(f'FAILED ({r.returncode}): {" ".join(cmd[:6])} …')
    return r.stdout


def fail(msg: str) -> None:
    print(f'FAILED: {msg}')
    sys.exit(1)


def main() -> None:
    shutil.rmtree(OUT, ignore_errors=True)
    node = [shutil.which('node') or 'node', '--import', 'tsx', 'scripts/experiment/run.ts']
    sh(node + ['prepare', '--out', str(OUT), '--eval', 'tests/fixtures/data/cmrc2018-trial.json'] + TOY)
    models = ['tests/python/experiment/models.py']
    sh([sys.executable] + models + ['pack', '--model', str(TINY), '--texts', str(OUT / 'data' / 'texts.jsonl'), '--out', str(OUT / 'model.tar.xz')])
    sh([sys.executable] + models + ['unpack', str(OUT / 'model.tar.xz'), '--out', str(OUT / 'model')])
    check_restored(TINY, OUT / 'model', OUT / 'data' / 'texts.jsonl')
    env_py = ['--python', sys.executable]
    sh(node + ['run', '--dir', str(OUT), '--model', str(OUT / 'model')] + env_py)
    report = json.loads((OUT / 'report.json').read_text())
    check_report(report)
    check_recipe(report)
    check_metrics(report)
    check_metric_definitions(node)
    # the original model scores the validation pairs as the restored one did: the embedding cut kept every token
    orig = OUT / 'runs' / 'original-in-st' / 'val.scores.jsonl'
    sh([sys.executable, 'tests/python/experiment/st_run.py', 'score', '--job', str(TINY), str(OUT / 'data' / 'val.pairs.jsonl'), str(orig),
        '--max-length', str(report['settings']['maxLength'])])
    check_same_scores(orig, OUT / 'runs' / 'base-in-st' / 'val.scores.jsonl', 'original vs restored model (sentence-transformers)')
    print('experiment dry run: report complete, engine and sentence-transformers agree')


def check_same_scores(a: Path, b: Path, what: str) -> None:
    x = [json.loads(l)['logit'] for l in a.read_text().splitlines() if l.strip()]
    y = [json.loads(l)['logit'] for l in b.read_text().splitlines() if l.strip()]
    d = max(abs(p - q) for p, q in zip(x, y)) if len(x) == len(y) and x else float('inf')
    print(f'{what}: max |Δlogit| {d:.2e} over {len(x)} pairs')
    if d > TOLERANCE:
        fail(f'{what}: scores differ by {d}')


def check_restored(orig: Path, restored: Path, texts: Path) -> None:
    """The travel form loses nothing the runs read: every tensor equal, the embedding on every id the data uses."""
    import numpy as np
    from safetensors.numpy import load_file
    sys.path.insert(0, str(ROOT / 'tests' / 'python' / 'experiment'))
    from models import used_ids
    a, b = load_file(str(orig / 'model.safetensors')), load_file(str(restored / 'model.safetensors'))
    if set(a) != set(b):
        fail(f'restored tensors differ: {sorted(set(a) ^ set(b))}')
    ids = used_ids(orig, [json.loads(l) for l in texts.read_text(encoding='utf8').splitlines() if l.strip()])
    for k in a:
        x, y = (a[k][ids], b[k][ids]) if k.endswith('word_embeddings.weight') else (a[k], b[k])
        d = float(np.abs(x.astype(np.float32) - y).max())
        if d > 1e-3 * max(1.0, float(np.abs(x).max())):  # f16 for large matrices: relative 1e-3
            fail(f'{k}: restored differs by {d}')
    print(f'travel form: {len(a)} tensors restored, {len(ids)} embedding rows kept')


def st_metrics():
    sys.path.insert(0, str(ROOT / 'tests' / 'python' / 'experiment'))
    from st_run import mean_metrics
    return mean_metrics


def check_metrics(r: dict) -> None:
    """The report's metrics (src/eval/ranking.ts), recomputed from the lists and each run's score file by st_run.py's
    mean_metrics (what picks sentence-transformers' best epoch), must agree."""
    mean_metrics = st_metrics()
    for set_name, got in r['sets'].items():
        lists = json.loads((OUT / 'data' / f'{set_name}.lists.json').read_text(encoding='utf8'))['lists']
        for run, m in got['runs'].items():
            flat = [json.loads(l)['logit'] for l in (OUT / 'runs' / run / f'{set_name}.scores.jsonl').read_text().splitlines() if l.strip()]
            py = mean_metrics(lists, flat)
            for k in ['queries', 'ndcg10', 'mrr10', 'hit1', 'recall10']:
                if abs(py[k] - m[k]) > 1e-12:
                    fail(f'{set_name}/{run}/{k}: the report (src/eval/ranking.ts) says {m[k]}, st_run.py gives {py[k]}')
    print('metrics: the report (src/eval/ranking.ts) and st_run.py agree on every run\'s scores')


# Hand-made lists where the definitions could part: ties between a positive and negatives (pessimistic), every score
# equal, a positive past rank 10, two positives, a list without a positive (not counted), a positive at rank 11 only.
TIE_LISTS = [
    ([1.0, 2.0, 2.0, 0.5], [False, True, False, False]),
    ([0.3] * 5, [True, False, False, True, False]),
    ([float(-i) for i in range(12)], [i in (0, 11) for i in range(12)]),
    ([0.9, 0.1, 0.5], [False, False, False]),
    ([float(-i) for i in range(11)], [i == 10 for i in range(11)]),
    ([2.0, 2.0, 1.0, 2.0], [True, True, False, False]),
]


def check_metric_definitions(node: list[str]) -> None:
    """src/eval/ranking.ts (through run.ts metrics) and st_run.py on the same hand-made scores, ties included."""
    mean_metrics = st_metrics()
    lists = [{'query': f'q{i}', 'docs': [f'd{j}' for j in range(len(sc))], 'relevant': rel} for i, (sc, rel) in enumerate(TIE_LISTS)]
    flat = [x for sc, _ in TIE_LISTS for x in sc]
    d = OUT / 'metric-definitions'
    d.mkdir(parents=True, exist_ok=True)
    (d / 'lists.json').write_text(json.dumps({'lists': lists}), encoding='utf8')
    (d / 'scores.jsonl').write_text(''.join(json.dumps({'logit': x}) + '\n' for x in flat), encoding='utf8')
    ts = json.loads(sh(node + ['metrics', '--lists', str(d / 'lists.json'), '--scores', str(d / 'scores.jsonl')]))
    py = mean_metrics(lists, flat)
    for k in ['queries', 'ndcg10', 'mrr10', 'hit1', 'recall10']:
        if abs(ts[k] - py[k]) > 1e-12:
            fail(f'metric definitions part on hand-made lists with ties: {k} is {ts[k]} in src/eval/ranking.ts, {py[k]} in st_run.py')
    print(f'metric definitions: src/eval/ranking.ts and st_run.py agree on {len(TIE_LISTS)} hand-made lists with ties ({py})')


def check_recipe(r: dict) -> None:
    """Both trainings ran the recipe the report states: the loss, BCE's pos_weight and the dropout that
    sentence-transformers' model actually has (read back from its Dropout modules by st_run.py)."""
    rec = r.get('recipe')
    if not rec:
        fail('the report states no recipe')
    st = json.loads((OUT / 'runs' / 'st' / 'train.json').read_text())
    if st['loss'] != rec['loss']:
        fail(f"sentence-transformers trained with {st['loss']}, the engine with {rec['loss']}")
    if rec['loss'] == 'bce' and st['pos_weight'] != rec['posWeight']:
        fail(f"BCE pos_weight: sentence-transformers {st['pos_weight']}, the engine {rec['posWeight']}")
    want = {'hidden': rec['dropout'], 'attention': rec['attentionDropout'], 'classifier': rec['classifierDropout']}
    if st['dropout'] != {k: [v] for k, v in want.items()}:
        fail(f"dropout: sentence-transformers' model has {st['dropout']}, the recipe says {want}")
    ours = json.loads((OUT / 'runs' / 'ours' / 'model' / 'rerank_lab_train.json').read_text())['summary']['options']
    for k in ['loss', 'lr', 'epochs', 'batchSize', 'groupSize', 'maxLength', 'posWeight', 'dropout', 'attentionDropout', 'classifierDropout', 'randomNegatives', 'selectBy']:
        if ours.get(k) != rec[k]:
            fail(f'rerank-lab train ran {k} = {ours.get(k)!r}, the recipe says {rec[k]!r}')
    print(f"recipe: both trainings ran loss {rec['loss']} (pos_weight {rec['posWeight']}), dropout {want}")


def check_report(r: dict) -> None:
    runs = ['bm25', 'base', 'ours', 'st']
    metrics = ['ndcg10', 'mrr10', 'hit1', 'recall10']
    for set_name in ['val', 'eval1']:
        got = r['sets'].get(set_name, {}).get('runs', {})
        for run in runs:
            m = got.get(run)
            if not m:
                fail(f'report.sets.{set_name}.runs.{run} is missing')
            for k in metrics:
                v = m.get(k)
                if not isinstance(v, (int, float)) or not (0 <= v <= 1):
                    fail(f'{set_name}/{run}/{k} = {v!r}: expected a number in [0, 1]')
            if m.get('queries', 0) < 1:
                fail(f'{set_name}/{run}: no query was scored')
    for run in ['ours', 'st']:
        t = r['training'].get(run, {})
        for k in ['trainSeconds', 'pairsPerSec', 'pairs']:
            if not isinstance(t.get(k), (int, float)) or not (t[k] > 0 and math.isfinite(t[k])):
                fail(f'training.{run}.{k} = {t.get(k)!r}')
    if r['training']['ours']['pairs'] != r['training']['st']['pairs']:
        fail(f"the two trainings saw {r['training']['ours']['pairs']} and {r['training']['st']['pairs']} pairs: not the same steps")
    if not (isinstance(r.get('pairsPerSecRatio'), (int, float)) and r['pairsPerSecRatio'] > 0):
        fail(f'pairsPerSecRatio = {r.get("pairsPerSecRatio")!r}')
    if len(r['gapTable']) < 1 or any(set(row['tuned']) != {'Rerank Lab', 'sentence-transformers'} for row in r['gapTable']):
        fail('the gap table is empty or lacks a tuned model')
    for name in ['baseEngineVsSt', 'exportInSt']:
        c = r['checks'][name]
        print(f'{name}: max |Δlogit| {c["maxAbsDiff"]:.2e} over {c["pairs"]} pairs')
        if not (c['pairs'] > 0 and c['maxAbsDiff'] < TOLERANCE):
            fail(f'{name}: engine and sentence-transformers differ by {c["maxAbsDiff"]} (bound {TOLERANCE})')
    if r['checks']['bm25AsPrepared']['maxAbsDiff'] != 0:
        fail(f"run 1's figures differ from buildRerankSet's BM25 figures by {r['checks']['bm25AsPrepared']['maxAbsDiff']}")
    seen = r['checks'].get('oursAsTrainerSaw')
    if not seen or abs(seen['ndcg10'] - seen['report']) > 1e-9:
        fail(f'the trainer saw NDCG@10 {seen and seen["ndcg10"]} at its kept epoch, the report measures {seen and seen["report"]} on the export')


if __name__ == '__main__':
    os.environ.setdefault('VK_ICD_FILENAMES', '/usr/lib/chromium/vk_swiftshader_icd.json')
    os.environ.setdefault('XDG_RUNTIME_DIR', '/tmp')
    main()
