"""Hard AdamW + clipping fixture for `rerank-lab parity` (tests/fixtures/hf-parity/<name>/adamw_hard.*).

The first AdamW dump (expected.json's three steps at lr 1e-3, weight decay 0.01) moves the weights by so little that
a wrong decay group stays inside its bound. This one is built to be seen: six BCE steps on the fixture's batch at
learning rates up to 2e-2 with weight decay 0.5 (each decayed weight shrinks by 1 % per step), and gradients clipped
to a max norm far below their norm at every step, the way transformers' Trainer does it:

  decay groups      Trainer.get_decay_parameter_names (no decay for LayerNorm parameters and biases)
  clipping          torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm) before each optimizer step
  optimizer         torch.optim.AdamW(groups, lr, betas (0.9, 0.999), eps 1e-8); lr set per step

Everything runs in float64 from the fixture's float32 weights, so the dump is the exact answer and the engine's f32
error is what parity measures. Writes, next to the fixture's model:

  adamw_hard.json                per-step lr, BCE loss before the step, global gradient norm before clipping,
                                 clip coefficient; the hyper-parameters; logits after the last step
  after_adamw_hard.safetensors   every parameter after the last step (float64, HF names)

Run from the repository root (needs torch, transformers, safetensors; see requirements.txt):
  /work/pyenv/bin/python tests/python/dump_adamw_fixture.py            # both fixtures
  /work/pyenv/bin/python tests/python/dump_adamw_fixture.py bert-tiny
"""

import json
import sys
from pathlib import Path

import torch
import transformers
from safetensors.torch import save_file
from transformers import AutoModelForSequenceClassification, Trainer

ROOT = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "hf-parity"

LRS = [1e-2, 2e-2, 2e-2, 2e-2, 1.5e-2, 1e-2]
WEIGHT_DECAY = 0.5
MAX_GRAD_NORM = 0.02
BETAS = (0.9, 0.999)
EPS = 1e-8


def dump(name: str) -> None:
    folder = ROOT / name
    batch = json.loads((folder / "batch.json").read_text(encoding="utf-8"))
    model = AutoModelForSequenceClassification.from_pretrained(folder, attn_implementation="eager").double()
    model.train()  # the fixtures' configs set every dropout to 0, so train() and eval() agree
    ids = torch.tensor(batch["input_ids"])
    mask = torch.tensor(batch["attention_mask"])
    types = torch.tensor(batch["token_type_ids"])
    labels = torch.tensor(batch["labels"], dtype=torch.float64)

    # The Trainer's own rule (get_decay_parameter_names does not use `self`).
    decay_names = set(Trainer.get_decay_parameter_names(None, model))
    params = dict(model.named_parameters())
    groups = [
        {"params": [p for n, p in params.items() if n in decay_names], "weight_decay": WEIGHT_DECAY},
        {"params": [p for n, p in params.items() if n not in decay_names], "weight_decay": 0.0},
    ]
    opt = torch.optim.AdamW(groups, lr=LRS[0], betas=BETAS, eps=EPS)

    def forward() -> torch.Tensor:
        kwargs = {"input_ids": ids, "attention_mask": mask}
        if model.config.model_type == "bert":
            kwargs["token_type_ids"] = types
        return model(**kwargs).logits.squeeze(-1)

    steps = []
    for lr in LRS:
        for g in opt.param_groups:
            g["lr"] = lr
        opt.zero_grad(set_to_none=True)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(forward(), labels)
        loss.backward()
        norm = float(torch.nn.utils.clip_grad_norm_(model.parameters(), MAX_GRAD_NORM))
        coef = min(1.0, MAX_GRAD_NORM / (norm + 1e-6))
        if coef >= 1.0:
            raise SystemExit(f"{name}: the gradient norm {norm} is not above max_grad_norm {MAX_GRAD_NORM}: clipping would not be tested")
        opt.step()
        steps.append({"lr": lr, "loss_bce": float(loss.detach()), "grad_norm": norm, "clip_coef": coef})

    with torch.no_grad():
        logits_after = forward().tolist()
    after = {n: p.detach().clone().contiguous() for n, p in model.named_parameters()}
    save_file(after, str(folder / "after_adamw_hard.safetensors"))
    out = {
        "transformers": transformers.__version__,
        "torch": torch.__version__,
        "what": "AdamW with decay groups and gradient clipping as transformers' Trainer, float64, on batch.json with BCE labels",
        "betas": list(BETAS),
        "eps": EPS,
        "weight_decay": WEIGHT_DECAY,
        "max_grad_norm": MAX_GRAD_NORM,
        "no_decay": sorted(n for n in params if n not in decay_names),
        "steps": steps,
        "logits_after": logits_after,
    }
    (folder / "adamw_hard.json").write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
    print(f"{name}: " + ", ".join(f"step {i + 1}: loss {s['loss_bce']:.6f} norm {s['grad_norm']:.4f} clip x{s['clip_coef']:.4f}" for i, s in enumerate(steps)))


if __name__ == "__main__":
    for n in sys.argv[1:] or ["bert-tiny", "xlmr-tiny"]:
        dump(n)
