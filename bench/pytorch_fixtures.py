#!/usr/bin/env python3
"""Writes cnn-runtime/tests/fixtures/optimizers.txt: parameters after each of 3 steps of
torch.optim.SGD, Adam and AdamW (single-tensor CPU implementation, float32), from the initial
parameters and per-step gradients written out below. The test
cnn-runtime/tests/optimizers_match_pytorch.rs replays them with the crate's optimisers.

Usage: pip install torch && python3 bench/pytorch_fixtures.py

Format of the output, one record a line, values separated by spaces:
    case NAME
    opt sgd|adam KEY=VALUE ...        hyperparameters, as passed to torch
    init SLOT V...                    initial parameters of tensor SLOT
    step T                            then, for each slot, its gradient and the expected result:
    grad SLOT V...
    want SLOT V...
    end
Lines starting with # are comments.
"""

import os

import torch

# Two parameter tensors (a 2x3 weight and a bias of 3), flattened.
INIT = [
    [0.5, -1.25, 2.0, 0.0, 3.5, -0.75],
    [0.1, -0.2, 1.5],
]

# Gradients of each tensor at steps 1, 2 and 3: mixed signs and magnitudes, an exact zero, a
# gradient far below Adam's eps (1e-9) and a large one (50).
GRADS = [
    [
        [0.3, -0.6, 1e-9, 0.0, 50.0, -2.0],
        [1.0, 0.25, -0.125],
    ],
    [
        [-0.1, -0.5, 2e-9, 0.7, 45.0, 1.5],
        [0.9, -0.25, 0.0],
    ],
    [
        [0.05, 0.4, -1e-9, -0.3, -20.0, 0.5],
        [-1.0, 0.5, 0.375],
    ],
]

CASES = [
    ("sgd_plain", "sgd", dict(lr=0.1)),
    ("sgd_momentum", "sgd", dict(lr=0.1, momentum=0.9)),
    ("sgd_nesterov_weight_decay", "sgd", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)),
    ("sgd_dampening_weight_decay", "sgd", dict(lr=0.05, momentum=0.8, dampening=0.3, weight_decay=0.001)),
    ("adam_default", "adam", dict(lr=1e-3)),
    ("adam_weight_decay", "adam", dict(lr=0.01, weight_decay=0.1)),
    ("adam_custom", "adam", dict(lr=0.1, betas=(0.8, 0.99), eps=1e-6)),
    ("adamw_default", "adamw", dict(lr=1e-3)),
    ("adamw_weight_decay", "adamw", dict(lr=0.05, weight_decay=0.1)),
]


def fmt(values):
    # 9 significant digits round-trip every float32.
    return " ".join("%.9g" % v for v in values)


def opt_line(kind, kw):
    if kind == "sgd":
        fields = dict(lr=kw["lr"], momentum=kw.get("momentum", 0.0), dampening=kw.get("dampening", 0.0),
                      nesterov=int(kw.get("nesterov", False)), weight_decay=kw.get("weight_decay", 0.0))
        return "opt sgd " + " ".join(f"{k}={v!r}" for k, v in fields.items())
    betas = kw.get("betas", (0.9, 0.999))
    default_wd = 0.01 if kind == "adamw" else 0.0
    fields = dict(lr=kw["lr"], beta1=betas[0], beta2=betas[1], eps=kw.get("eps", 1e-8),
                  weight_decay=kw.get("weight_decay", default_wd), decoupled=int(kind == "adamw"))
    return "opt adam " + " ".join(f"{k}={v!r}" for k, v in fields.items())


def run(kind, kw):
    params = [torch.tensor(v, dtype=torch.float32, requires_grad=True) for v in INIT]
    cls = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW}[kind]
    opt = cls(params, foreach=False, **kw)
    lines = []
    for t, grads in enumerate(GRADS, 1):
        for p, g in zip(params, grads):
            p.grad = torch.tensor(g, dtype=torch.float32)
        opt.step()
        lines.append(f"step {t}")
        for slot, (p, g) in enumerate(zip(params, grads)):
            lines.append(f"grad {slot} {fmt(torch.tensor(g, dtype=torch.float32).tolist())}")
            lines.append(f"want {slot} {fmt(p.detach().tolist())}")
    return lines


def main():
    torch.set_num_threads(1)
    out = [f"# Expected parameters from PyTorch {torch.__version__} (torch.optim, foreach=False, float32),",
           "# written by bench/pytorch_fixtures.py: do not edit by hand."]
    for name, kind, kw in CASES:
        out.append(f"case {name}")
        out.append(opt_line(kind, kw))
        for slot, v in enumerate(INIT):
            out.append(f"init {slot} {fmt(torch.tensor(v, dtype=torch.float32).tolist())}")
        out.extend(run(kind, kw))
        out.append("end")
    here = os.path.dirname(os.path.abspath(__file__))
    path = os.path.join(here, "..", "cnn-runtime", "tests", "fixtures", "optimizers.txt")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")
    print(f"wrote {os.path.normpath(path)}: {len(CASES)} cases")


if __name__ == "__main__":
    main()
