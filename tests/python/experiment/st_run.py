"""Run 4 of the issue-15 experiment: sentence-transformers' CrossEncoder trained with the settings of run 3, and the
scoring of any model folder through sentence-transformers (run 2's cross-check, run 4, and the export check of run 3).

  st_run.py train --base DIR --steps steps.json --lists val.lists.json --out DIR [settings]
  st_run.py score --job MODEL_DIR PAIRS.jsonl OUT.jsonl [--job …] [--max-length N]

Same recipe as `rerank-lab train` (scripts/experiment/run.ts resolves it once with the trainer's own rule and passes
every value to both): the very groups of every epoch in the very steps the trainer forms (src/train/batches.ts, one
JSON file of steps), fed in that order by a batch sampler that does not shuffle; learning rate with transformers'
linear warmup/decay (the same schedule the engine copies), AdamW (torch, eps 1e-8) with weight decay off for biases and
LayerNorm, gradient clipping, fp32; hidden, attention and classifier dropout as given (set through the model's config,
then read back from its Dropout modules: a mismatch stops the run).
Losses: `bce` is sentence-transformers' BinaryCrossEntropyLoss with pos_weight as given (the experiment passes the
negatives per group, sentence-transformers v4's reranker recipe and the trainer's default: torch's mean over pairs,
positives weighted); `listwise` is FlagEmbedding's softmax cross-entropy over each group (the positive first) on raw
logits — sentence-transformers' MultipleNegativesRankingLoss with no in-batch negatives, scale 1 and no activation,
written here to score a step's pairs in one forward as the engine does.
Validation: the lists the experiment exported from src/eval/candidates.ts (val.lists.json, the lists the trainer
validates on), scored with `rerank_metrics` below — the definitions of src/eval/ranking.ts rerankMetrics (ties
pessimistic: a negative that ties a positive ranks above it), cross-checked against it by check_experiment.py.
The kept model is the epoch (0 = the base) with the best NDCG@10, the trainer's --select-by default (a tie keeps the
earlier epoch; the trainer breaks it by validation loss, which this side does not compute — real-valued scores
practically never tie).
Writes DIR/model (a CrossEncoder folder) and DIR/train.json (times, pairs/s, per-epoch metrics, the kept epoch, the
dropout read back from the model).
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


METRICS = ('ndcg10', 'mrr10', 'hit1', 'recall10')


def rerank_metrics(scores: list[float], relevant: list[bool]) -> dict[str, float]:
    """NDCG@10 (binary gains, log2 discount), MRR@10, Hit@1 and Recall@10 of one list, as src/eval/ranking.ts defines
    them: the order is by score, a negative that ties a positive ranks above it (then list order)."""
    order = sorted(range(len(scores)), key=lambda i: (-scores[i], relevant[i], i))
    top = [bool(relevant[i]) for i in order[:10]]
    n_rel = sum(1 for r in relevant if r)
    first = next((r for r, rel in enumerate(top) if rel), None)
    dcg = sum(1 / math.log2(r + 2) for r, rel in enumerate(top) if rel)
    ideal = sum(1 / math.log2(r + 2) for r in range(min(10, n_rel)))
    return {'ndcg10': dcg / ideal if ideal else 0.0, 'mrr10': 0.0 if first is None else 1 / (first + 1),
            'hit1': float(first == 0), 'recall10': sum(top) / n_rel if n_rel else 0.0}


def mean_metrics(lists: list[dict], flat: list[float]) -> dict[str, float]:
    """The four metrics averaged over the lists that hold a positive (flat: one score per list entry, in list order)."""
    at, n, acc = 0, 0, {k: 0.0 for k in METRICS}
    for l in lists:
        k = len(l['docs'])
        if any(l['relevant']):
            n += 1
            for name, v in rerank_metrics(flat[at:at + k], l['relevant']).items():
                acc[name] += v
        at += k
    if at != len(flat):
        raise ValueError(f'{len(flat)} scores for {at} list entries')
    return {'queries': n, **{k: (v / n if n else float('nan')) for k, v in acc.items()}}


def load_ce(path: str, max_length: int, dropout: dict[str, float] | None = None):
    """A CrossEncoder; with `dropout` ({hidden, attention, classifier}) its config's rates are set before the model is
    built (BERT/XLM-R: hidden_dropout_prob, attention_probs_dropout_prob, classifier_dropout)."""
    from sentence_transformers import CrossEncoder
    kw = {}
    if dropout is not None:
        kw['config_kwargs'] = {'hidden_dropout_prob': dropout['hidden'], 'attention_probs_dropout_prob': dropout['attention'],
                               'classifier_dropout': dropout['classifier']}
    try:
        return CrossEncoder(path, num_labels=1, max_length=max_length, device='cuda' if torch.cuda.is_available() else 'cpu', **kw)
    except TypeError as e:
        if 'config_kwargs' in str(e):
            raise SystemExit(f'this sentence-transformers cannot set the model\'s dropout (no config_kwargs: {e}); version 4 or later is needed')
        raise


def dropout_rates(model) -> dict[str, list[float]]:
    """The rates of the model's Dropout modules by role, Hugging Face's placement: attention probabilities
    (attention.self), hidden (embeddings and every other encoder site), classifier (the head)."""
    roles: dict[str, set[float]] = {'hidden': set(), 'attention': set(), 'classifier': set()}
    for name, m in model.named_modules():
        if not isinstance(m, nn.Dropout):
            continue
        role = 'attention' if '.attention.self.' in f'.{name}.' else 'hidden' if ('.encoder.' in f'.{name}.' or '.embeddings.' in f'.{name}.') else 'classifier'
        roles[role].add(float(m.p))
    return {k: sorted(v) for k, v in roles.items()}


@torch.no_grad()
def logits_of(model, pairs: list[tuple[str, str]], batch: int) -> list[float]:
    was = model.training
    model.eval()
    out = model.predict(pairs, batch_size=batch, activation_fn=nn.Identity(), show_progress_bar=False, convert_to_numpy=True)
    if was:
        model.train()
    return [float(x) for x in out.reshape(-1)]


def val_metrics(model, lists: list[dict], batch: int) -> dict[str, float]:
    pairs = [(l['query'], d) for l in lists for d in l['docs']]
    return mean_metrics(lists, logits_of(model, pairs, batch))


def ce_logits(model, pairs: list[tuple[str, str]]) -> torch.Tensor:
    """Raw logits [len(pairs)] with autograd, in any sentence-transformers from v4: v6's modular CrossEncoder
    (preprocess + forward) or v4/v5's wrapper around a transformers model and tokenizer."""
    from sentence_transformers.util import batch_to_device
    if hasattr(model, 'preprocess'):
        return model(batch_to_device(model.preprocess(pairs), model.device))['scores'].view(-1)
    tokens = model.tokenizer([p[0] for p in pairs], [p[1] for p in pairs], padding=True, truncation='longest_first',
                             max_length=model.max_length, return_tensors='pt').to(model.device)
    return model.model(**tokens, return_dict=True).logits.view(-1)


def step_loss(model, kind: str, step: list[dict], pos_weight: float = 1.0) -> torch.Tensor:
    """One step's loss. listwise: softmax cross-entropy over each group (the positive first) on raw logits, all pairs in
    one forward (FlagEmbedding); bce: BCEWithLogits with pos_weight over every pair, mean (sentence-transformers'
    BinaryCrossEntropyLoss)."""
    G = len(step[0]['docs'])
    logits = ce_logits(model, [(g['query'], d) for g in step for d in g['docs']]).view(len(step), G)
    if kind == 'listwise':
        return nn.functional.cross_entropy(logits, torch.zeros(len(step), dtype=torch.long, device=logits.device))
    labels = torch.zeros_like(logits)
    labels[:, 0] = 1
    return nn.functional.binary_cross_entropy_with_logits(logits, labels, pos_weight=torch.tensor(pos_weight, device=logits.device))


class ListwiseLoss(nn.Module):
    """The listwise loss as a sentence-transformers loss module: the dataset's columns are query, positive,
    negative_1…; it is sentence-transformers' MultipleNegativesRankingLoss with no in-batch negatives, scale 1 and no
    activation, scoring a step's pairs in one forward pass as the engine does."""

    def __init__(self, model) -> None:
        super().__init__()
        self.model = model

    def forward(self, inputs: list[list[str]], labels=None, **kwargs) -> torch.Tensor:
        queries, columns = inputs[0], inputs[1:]
        return step_loss(self.model, 'listwise', [{'query': q, 'docs': [c[i] for c in columns]} for i, q in enumerate(queries)])

    def get_config_dict(self) -> dict:
        return {'loss': 'listwise softmax cross-entropy (FlagEmbedding), raw logits'}


def has_trainer() -> bool:
    try:
        import datasets  # noqa: F401
        from sentence_transformers.cross_encoder import CrossEncoderTrainer  # noqa: F401
        from sentence_transformers.base.sampler import DefaultBatchSampler  # noqa: F401
        return True
    except ImportError:
        return False


def pos_weight(a: argparse.Namespace) -> float:
    """BCE's pos_weight: as given, else the negatives per group (sentence-transformers v4's recipe, the trainer's default)."""
    if a.pos_weight is not None:
        return a.pos_weight
    spec = json.loads(Path(a.steps).read_text(encoding='utf8'))
    return float(len(spec['epochs'][0][0][0]['docs']) - 1)


def train(a: argparse.Namespace) -> None:
    t_start = time.perf_counter()
    torch.manual_seed(a.seed)
    spec = json.loads(Path(a.steps).read_text(encoding='utf8'))
    epochs: list[list[list[dict]]] = spec['epochs']
    lists = json.loads(Path(a.lists).read_text(encoding='utf8'))['lists']
    want = {'hidden': a.dropout, 'attention': a.attention_dropout, 'classifier': a.classifier_dropout}
    model = load_ce(a.base, a.max_length, want)
    rates = dropout_rates(model)
    wrong = {k: v for k, v in rates.items() if v != [want[k]]}
    if wrong:
        raise SystemExit(f'the model\'s dropout is not the recipe\'s: asked {want}, its Dropout modules have {rates}')
    if a.loss != 'bce' and a.pos_weight is not None:
        raise SystemExit('--pos-weight applies to the bce loss only')
    steps = [st for ep in epochs for st in ep][: a.max_steps or None]
    ends = [sum(len(ep) for ep in epochs[:e + 1]) for e in range(len(epochs))]
    pairs_total = sum(len(g['docs']) for st in steps for g in st)
    record = {'epoch_metrics': [], 'eval_seconds': 0.0}
    best = {'value': float('nan'), 'epoch': 0, 'state': None}

    def consider(epoch: int) -> None:
        t0 = time.perf_counter()
        m = val_metrics(model, lists, a.score_batch)
        v = m['ndcg10']
        record['eval_seconds'] += time.perf_counter() - t0
        record['epoch_metrics'].append({'epoch': epoch, **m})
        # strictly better only: a tie keeps the earlier epoch (epoch 0, the base, is a candidate)
        if best['state'] is None or v > best['value']:
            best.update(value=v, epoch=epoch, state=copy.deepcopy({k: t.detach().cpu() for k, t in model.state_dict().items()}))
        print(f'sentence-transformers epoch {epoch}: NDCG@10 {v:.4f}', flush=True)

    def after_step(global_step: int) -> None:
        if global_step in ends or global_step == len(steps):
            consider(sum(1 for e in ends if e <= global_step) or 1)

    consider(0)
    record['eval_seconds'] = 0.0  # only evaluations inside the training loop are taken out of its time
    path = 'plain' if a.plain_torch or not has_trainer() else 'trainer'
    sync = torch.cuda.synchronize if torch.cuda.is_available() else (lambda: None)
    sync()
    t0 = time.perf_counter()
    (train_with_trainer if path == 'trainer' else train_plain)(a, model, steps, after_step)
    sync()
    train_seconds = time.perf_counter() - t0 - record['eval_seconds']
    model.load_state_dict(best['state'])
    out = Path(a.out) / 'model'
    model.save_pretrained(str(out))
    import sentence_transformers
    info = {
        'steps': len(steps), 'pairs': pairs_total, 'train_seconds': train_seconds, 'pairs_per_sec': pairs_total / max(train_seconds, 1e-9),
        'total_seconds': time.perf_counter() - t_start, 'epoch_metrics': record['epoch_metrics'], 'kept_epoch': best['epoch'],
        'device': torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'cpu', 'torch': torch.__version__,
        'sentence_transformers': sentence_transformers.__version__, 'path': path, 'loss': a.loss, 'lr': a.lr,
        'eval_seconds_in_training': record['eval_seconds'], 'pos_weight': pos_weight(a) if a.loss == 'bce' else None,
        'dropout': rates, 'select_by': 'ndcg@10',
    }
    (Path(a.out) / 'train.json').write_text(json.dumps(info, indent=2) + '\n')
    print(json.dumps(info))


def train_with_trainer(a: argparse.Namespace, model, steps: list[list[dict]], after_step) -> None:
    """sentence-transformers' CrossEncoderTrainer fed the engine's steps in order by a batch sampler that yields them."""
    from datasets import Dataset
    from sentence_transformers.base.sampler import DefaultBatchSampler
    from sentence_transformers.cross_encoder import CrossEncoderTrainer, CrossEncoderTrainingArguments
    from sentence_transformers.cross_encoder.losses import BinaryCrossEntropyLoss
    from transformers import TrainerCallback

    G = len(steps[0][0]['docs'])
    batches: list[list[int]] = []
    if a.loss == 'listwise':
        cols = ['query', 'positive'] + [f'negative_{k}' for k in range(1, G)]
        rows: dict[str, list] = {c: [] for c in cols}
        for st in steps:
            start = len(rows['query'])
            for g in st:
                rows['query'].append(g['query'])
                for c, d in zip(cols[1:], g['docs']):
                    rows[c].append(d)
            batches.append(list(range(start, len(rows['query']))))
        loss = ListwiseLoss(model)
    else:
        rows = {'query': [], 'document': [], 'label': []}
        for st in steps:
            start = len(rows['query'])
            for g in st:
                for j, d in enumerate(g['docs']):
                    rows['query'].append(g['query'])
                    rows['document'].append(d)
                    rows['label'].append(1.0 if j == 0 else 0.0)
            batches.append(list(range(start, len(rows['query']))))
        loss = BinaryCrossEntropyLoss(model, pos_weight=torch.tensor(pos_weight(a)))

    class FixedSteps(DefaultBatchSampler):
        """The engine's steps, in its order (no shuffling)."""

        def __iter__(self):
            return iter([list(b) for b in batches])

        def __len__(self) -> int:
            return len(batches)

    class EpochEnd(TrainerCallback):
        def on_step_end(self, args, state, control, **kw):
            after_step(state.global_step)

    args = CrossEncoderTrainingArguments(
        output_dir=str(Path(a.out) / 'trainer'), num_train_epochs=1, per_device_train_batch_size=max(len(b) for b in batches),
        learning_rate=a.lr, warmup_steps=a.warmup_ratio,  # a float < 1 is a ratio: ceil(ratio · steps), as ours
        lr_scheduler_type='linear', weight_decay=a.weight_decay, max_grad_norm=a.max_grad_norm, adam_epsilon=1e-8,
        seed=a.seed, data_seed=a.seed, fp16=False, bf16=False, batch_sampler=FixedSteps, dataloader_drop_last=False,
        save_strategy='no', eval_strategy='no', report_to='none', logging_steps=max(1, len(batches) // 20),
        disable_tqdm=True, dataloader_num_workers=0,
    )
    trainer = CrossEncoderTrainer(model=model, args=args, train_dataset=Dataset.from_dict(rows), loss=loss, callbacks=[EpochEnd()])
    trainer.train()


def train_plain(a: argparse.Namespace, model, steps: list[list[dict]], after_step) -> None:
    """The same recipe in plain PyTorch on the CrossEncoder (for a machine whose sentence-transformers has no
    CrossEncoderTrainer or no `datasets`): transformers' AdamW decay groups (no decay for biases and LayerNorm),
    linear warmup/decay, gradient clipping, the model in train mode (its dropout)."""
    from transformers import get_linear_schedule_with_warmup
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    no_decay = lambda n: n.endswith('.bias') or 'LayerNorm' in n or 'layer_norm' in n
    opt = torch.optim.AdamW([
        {'params': [p for n, p in named if not no_decay(n)], 'weight_decay': a.weight_decay},
        {'params': [p for n, p in named if no_decay(n)], 'weight_decay': 0.0},
    ], lr=a.lr, betas=(0.9, 0.999), eps=1e-8)
    sched = get_linear_schedule_with_warmup(opt, math.ceil(a.warmup_ratio * len(steps)), len(steps))
    model.train()
    for i, st in enumerate(steps):
        loss = step_loss(model, a.loss, st, pos_weight(a) if a.loss == 'bce' else 1.0)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), a.max_grad_norm)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        if (i + 1) % max(1, len(steps) // 20) == 0 or i + 1 == len(steps):
            print(f'step {i + 1}/{len(steps)} loss {loss.item():.4f} lr {sched.get_last_lr()[0]:.2e}', flush=True)
        after_step(i + 1)
    model.eval()


def score(a: argparse.Namespace) -> None:
    """Scores each --job MODEL PAIRS OUT in one process (Python and torch start once)."""
    for model_dir, pairs_file, out in a.job:
        model = load_ce(model_dir, a.max_length)
        pairs = [json.loads(l) for l in Path(pairs_file).read_text(encoding='utf8').splitlines() if l.strip()]
        t0 = time.perf_counter()
        logits = logits_of(model, [(p['query'], p['document']) for p in pairs], a.batch)
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        # one {"logit"} line per pair, in the pairs' order (the score command's field; the texts stay in the pairs file)
        Path(out).write_text(''.join(json.dumps({'logit': x}) + '\n' for x in logits), encoding='utf8')
        print(f'{len(pairs)} pairs scored by sentence-transformers ({model_dir}) in {time.perf_counter() - t0:.1f} s → {out}', flush=True)
        del model


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
    t.add_argument('--pos-weight', type=float, default=None, help='bce: weight of the positive pairs (default: negatives per group)')
    t.add_argument('--dropout', type=float, required=True, help="hidden dropout (the experiment passes the trainer's resolved value)")
    t.add_argument('--attention-dropout', type=float, required=True)
    t.add_argument('--classifier-dropout', type=float, required=True)
    t.add_argument('--max-steps', type=int, default=0, help='stop after N steps (dry runs)')
    t.add_argument('--score-batch', type=int, default=64)
    t.add_argument('--plain-torch', action='store_true', help='train with the plain PyTorch loop even where CrossEncoderTrainer exists')
    s = sub.add_parser('score')
    s.add_argument('--job', nargs=3, action='append', required=True, metavar=('MODEL_DIR', 'PAIRS', 'OUT'))
    s.add_argument('--max-length', type=int, default=256)
    s.add_argument('--batch', type=int, default=64)
    a = ap.parse_args()
    (train if a.cmd == 'train' else score)(a)


if __name__ == '__main__':
    main()
