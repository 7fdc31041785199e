#!/usr/bin/env python3
"""Golden values for the op families, computed by PyTorch (an independent implementation).

Writes tests/data/ops_golden.json: for each case the op name, its parameters, the input
tensors, a fixed weight tensor W, the output of the op, and the gradient of
sum(output * W) with respect to every floating input. Everything is float64 so that the
test (tests/ops/test_golden.cpp) can compare at ~1e-12 and any disagreement is a
difference in semantics, not in rounding.

Usage:  pip install torch numpy   (only needed here, never to build or test tv3s)
        python3 tools/gen_op_fixtures.py
"""
import json
import os

import torch
import torch.nn.functional as F

torch.manual_seed(20261121)
torch.set_default_dtype(torch.float64)
OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "data", "ops_golden.json")


def rand(*shape, lo=-3.0, hi=3.0):
    return torch.rand(tuple(shape)) * (hi - lo) + lo


def tensor_json(t):
    return {"shape": list(t.shape), "dtype": "i32" if not t.is_floating_point() else "f64",
            "data": [float(v) if t.is_floating_point() else int(v) for v in t.flatten().tolist()]}


cases = []


def case(op, inputs, fn, **params):
    """Run fn(*inputs) in PyTorch, record output and grads of sum(out * W)."""
    leaves = [x.clone().requires_grad_(x.is_floating_point()) for x in inputs]
    out = fn(*leaves)
    w = rand(*out.shape, lo=0.5, hi=1.5)
    (out * w).sum().backward()
    cases.append({
        "op": op, "params": params,
        "inputs": [tensor_json(x) for x in inputs],
        "weight": tensor_json(w),
        "output": tensor_json(out.detach()),
        "grads": [tensor_json(x.grad) if x.grad is not None else None for x in leaves],
    })


# unary: inputs straddle the interesting points (0 for relu, ±20 for softplus)
x = torch.cat([rand(40), torch.tensor([-25.0, -20.5, 19.5, 20.5, 25.0, 0.3, -0.3])])
case("gelu", [x], lambda a: F.gelu(a))  # exact erf form (approximate='none')
case("silu", [x], F.silu)
case("sigmoid", [x], torch.sigmoid)
case("softplus", [x], F.softplus)  # beta=1, threshold=20
case("tanh", [x], torch.tanh)
case("relu", [x], F.relu)
case("exp", [x], torch.exp)
pos = rand(20, lo=0.2, hi=4.0)
case("log", [pos], torch.log)
case("sqrt", [pos], torch.sqrt)
case("rsqrt", [pos], torch.rsqrt)

# binary with broadcasting
case("add", [rand(2, 3, 4), rand(3, 1)], torch.add)
case("mul", [rand(2, 1, 4), rand(3, 4)], torch.mul)
case("div", [rand(2, 3, 4), rand(4, lo=0.5, hi=2.0)], torch.div)
case("sub", [rand(5, 1), rand(1, 6)], torch.sub)

# reductions
r = rand(3, 4, 5)
case("sum", [r], lambda a: a.sum(1), axis=1)
case("mean", [r], lambda a: a.mean(2, keepdim=True), axis=2, keepdim=True)
case("max", [r], lambda a: a.max(0).values, axis=0)

# matmul / linear
case("matmul", [rand(2, 5, 7), rand(7, 3)], torch.matmul)
case("matmul_tt", [rand(7, 5), rand(3, 7)], lambda a, b: a.t() @ b.t(), trans_a=True, trans_b=True)
case("linear", [rand(2, 3, 6), rand(4, 6), rand(4)], F.linear)

# softmax / layer norm
s = rand(2, 5, 3, 4, lo=-8, hi=8)
case("softmax", [s], lambda a: torch.softmax(a, 1), axis=1)
case("log_softmax", [s], lambda a: torch.log_softmax(a, -1), axis=-1)
case("layer_norm", [rand(3, 4, 16) * 2 + 1, rand(16), rand(16)],
     lambda a, g, b: F.layer_norm(a, (16,), g, b, eps=1e-5), eps=1e-5)
case("layer_norm", [rand(5, 8), rand(8), rand(8)],
     lambda a, g, b: F.layer_norm(a, (8,), g, b, eps=1e-6), eps=1e-6)

# cross entropy over [N, C, H, W] with ignored pixels
logits = rand(2, 5, 3, 4, lo=-4, hi=4)
labels = torch.randint(0, 5, (2, 3, 4))
labels[0, 0, :2] = 255
labels[1, 2, 3] = 255
case("cross_entropy_mean_valid", [logits, labels],
     lambda a, t: F.cross_entropy(a, t, ignore_index=255))
case("cross_entropy_mean_all", [logits, labels],  # mmseg 0.11: divide by all pixels
     lambda a, t: F.cross_entropy(a, t, ignore_index=255, reduction="sum") / t.numel())
case("cross_entropy_none", [logits, labels],
     lambda a, t: F.cross_entropy(a, t, ignore_index=255, reduction="none"))

# layout
l = rand(2, 3, 4, 5)
case("permute", [l], lambda a: a.permute(2, 0, 3, 1), dims=[2, 0, 3, 1])
case("roll", [l], lambda a: torch.roll(a, shifts=(-2, 3), dims=(2, 3)), shifts=[-2, 3], axes=[2, 3])
case("pad", [l], lambda a: F.pad(a, (1, 2, 0, 1), value=0.5),
     before=[0, 0, 0, 1], after=[0, 0, 1, 2], value=0.5)
case("slice", [l], lambda a: a[:, :, 1:3], axis=2, begin=1, end=3)
case("concat", [rand(2, 3), rand(2, 4)], lambda a, b: torch.cat([a, b], 1), axis=1)

with open(OUT, "w") as f:
    json.dump({"generator": "tools/gen_op_fixtures.py", "torch": torch.__version__,
               "cases": cases}, f, separators=(",", ":"))
print(f"wrote {len(cases)} cases to {os.path.normpath(OUT)} ({os.path.getsize(OUT)} bytes)")
