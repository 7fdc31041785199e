#!/usr/bin/env python3
"""Golden fixture for the AdamW op (tests/ops/test_optim.cpp): torch.optim.AdamW's
single-tensor path (foreach=False, fused=False) on a few small parameters, several steps
with a different learning rate each, in three configurations:

  decay    betas (0.9, 0.999), eps 1e-8, weight_decay 0.01 (the recipe's)
  no_decay same betas, weight_decay 0, gradients given ×3000 and unscaled as
           torch.amp.GradScaler does (g · f32(1/3000)) — tv3s's grad_scale
  betas    betas (0.3, 0.99), eps 1e-6, weight_decay 0.05 (1 − β1 ≥ 0.5: lerp's other branch)

Parameters: [64] (whole AVX2 vectors), [7, 5] (a vector tail), [3, 16, 4] with tiny
gradients (~1e-7, so eps matters in the denominator).

Writes tests/data/optim/adamw_golden.safetensors (f32):
  <case>/<param>/init, and per step s = 1..5: <case>/<param>/grad/<s> (as tv3s gets it,
  i.e. still scaled), <case>/<param>/{param,m,v}/<s> after the step;
  __metadata__["cases"] = JSON {case: {lr: [per step], beta1, beta2, eps, weight_decay,
  grad_scale}} with every number as Python's repr (round-trips exactly).

Usage: python3 tools/gen_optim_fixtures.py [--out DIR]
"""
import argparse
import json
import os

import torch
from safetensors.torch import save_file

CASES = {
    "decay": dict(beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.01, scale=1.0),
    "no_decay": dict(beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0, scale=3000.0),
    "betas": dict(beta1=0.3, beta2=0.99, eps=1e-6, weight_decay=0.05, scale=1.0),
}
LRS = [1e-3, 2.5e-3, 6e-4, 6e-5 * 10, 3.3e-4]
SHAPES = {"a": (64,), "b": (7, 5), "c": (3, 16, 4)}
GRAD_SIZE = {"a": 1.0, "b": 10.0, "c": 1e-7}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "tests", "data", "optim"))
    args = parser.parse_args()
    torch.manual_seed(1234)
    tensors, meta = {}, {}
    for case, cfg in CASES.items():
        meta[case] = dict(lr=LRS, beta1=cfg["beta1"], beta2=cfg["beta2"], eps=cfg["eps"],
                          weight_decay=cfg["weight_decay"], grad_scale=1.0 / cfg["scale"])
        # GradScaler multiplies by the f32 reciprocal of the scale (computed in double).
        inv_scale = torch.tensor(1.0 / cfg["scale"], dtype=torch.float64).float()
        for name, shape in SHAPES.items():
            param = torch.randn(shape, dtype=torch.float32).requires_grad_(True)
            tensors[f"{case}/{name}/init"] = param.detach().clone()
            opt = torch.optim.AdamW([param], lr=LRS[0], betas=(cfg["beta1"], cfg["beta2"]), eps=cfg["eps"],
                                    weight_decay=cfg["weight_decay"], foreach=False, fused=False)
            for step, lr in enumerate(LRS, start=1):
                scaled = (torch.randn(shape) * GRAD_SIZE[name] * cfg["scale"]).float()
                tensors[f"{case}/{name}/grad/{step}"] = scaled.clone()
                param.grad = scaled * inv_scale if cfg["scale"] != 1.0 else scaled.clone()
                for group in opt.param_groups:
                    group["lr"] = lr
                opt.step()
                state = opt.state[param]
                tensors[f"{case}/{name}/param/{step}"] = param.detach().clone()
                tensors[f"{case}/{name}/m/{step}"] = state["exp_avg"].clone()
                tensors[f"{case}/{name}/v/{step}"] = state["exp_avg_sq"].clone()
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "adamw_golden.safetensors")
    save_file({k: v.contiguous() for k, v in tensors.items()}, path, metadata={"cases": json.dumps(meta)})
    print(f"wrote {path} ({os.path.getsize(path)} bytes, {len(tensors)} tensors, torch {torch.__version__})")


if __name__ == "__main__":
    main()
