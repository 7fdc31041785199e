#!/usr/bin/env python3
"""Golden values for resize_bilinear and batch_norm, computed by PyTorch.

Writes tests/data/resize_bn_golden.json, read by tests/ops/test_resize.cpp and
tests/ops/test_batchnorm.cpp. Tensors are channels-last [N, H, W, C] (or [rows, C]) as in
tv3s; PyTorch runs on the NCHW permutation. Everything is float64, so a disagreement
beyond ~1e-12 is a difference in semantics, not rounding; one resize case also records
PyTorch's float32 output, whose source coordinates are computed in float.

To keep the file small, inputs and upstream gradients are not stored: both sides
regenerate them with pattern() below (exact dyadic values, so C++ gets the same bits),
and large resize outputs are stored at every `stride`-th element (row-major) only.
The gradients are those of sum(out * W), W = pattern(out.shape, seed 99, 0.5, 1.5).

Usage:  pip install torch numpy   (only needed here, never to build or test tv3s)
        python3 tools/gen_resize_bn_fixtures.py
"""
import json
import os

import torch
import torch.nn.functional as F

OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "data", "resize_bn_golden.json")
MAX_STORED = 500  # resize outputs with more elements are stored strided


def pattern(shape, seed, lo, hi):
    """Element i (row-major) = lo + (hi - lo) * k / 65536, k = (7 i² + 31153 i + 12345 seed) mod 65536.

    With hi - lo a power of two every step is exact in f64 (the C++ twin is
    `pattern` in the two test files)."""
    n = 1
    for s in shape:
        n *= s
    values = [lo + (hi - lo) * ((7 * i * i + 31153 * i + 12345 * seed) % 65536) / 65536 for i in range(n)]
    return torch.tensor(values, dtype=torch.float64).reshape(shape)


def stored(t, limit=None):
    """{"stride": s, "data": every s-th element of t (flattened)}: s = 1 (all) unless t has
    more than `limit` elements."""
    flat = t.detach().flatten().tolist()
    stride = max(1, -(-len(flat) // limit)) if limit else 1
    return {"stride": stride, "data": [float(v) for v in flat[::stride]]}


def nchw(t):
    return t.permute(0, 3, 1, 2)


def nhwc(t):
    return t.permute(0, 2, 3, 1)


def resize_case(n, h, w, c, out_h, out_w, with_f32=False):
    x = pattern((n, h, w, c), 1, -1.0, 1.0).requires_grad_()
    y = nhwc(F.interpolate(nchw(x), size=(out_h, out_w), mode="bilinear", align_corners=False))
    (y * pattern(y.shape, 99, 0.5, 1.5)).sum().backward()
    case = {"in": [n, h, w, c], "size": [out_h, out_w], "y": stored(y, MAX_STORED),
            "dx": stored(x.grad)}
    if with_f32:
        y32 = nhwc(F.interpolate(nchw(x.detach().float()), size=(out_h, out_w), mode="bilinear",
                                 align_corners=False))
        case["y_f32"] = stored(y32.double(), MAX_STORED)
    return case


def batch_norm_case(shape, training, affine, momentum=0.1, eps=1e-5):
    """x = pattern(shape, 2, -1, 3) (mean ≈ 1), γ ∈ [0.5, 1.5), β ∈ [-1, 1), running stats
    mean ∈ [-1, 1), var ∈ [0.5, 2.5)."""
    c = shape[-1]
    x = pattern(shape, 2, -1.0, 3.0).requires_grad_()
    weight = pattern((c,), 3, 0.5, 1.5).requires_grad_() if affine else None
    bias = pattern((c,), 4, -1.0, 1.0).requires_grad_() if affine else None
    running_mean = pattern((c,), 5, -1.0, 1.0)
    running_var = pattern((c,), 6, 0.5, 2.5)
    rm, rv = running_mean.clone(), running_var.clone()  # updated in place by PyTorch
    # BatchNorm over channels-last data = BatchNorm over dim 1 of its channels-first view
    x_cf = nchw(x) if x.dim() == 4 else x
    y_cf = F.batch_norm(x_cf, rm, rv, weight, bias, training=training, momentum=momentum, eps=eps)
    y = nhwc(y_cf) if x.dim() == 4 else y_cf
    (y * pattern(y.shape, 99, 0.5, 1.5)).sum().backward()
    return {"shape": list(shape), "training": training, "affine": affine, "momentum": momentum,
            "eps": eps, "y": stored(y), "running_mean": stored(rm), "running_var": stored(rv),
            "dx": stored(x.grad),
            "dweight": stored(weight.grad) if affine else None,
            "dbias": stored(bias.grad) if affine else None}


resize = [
    resize_case(2, 3, 5, 3, 7, 4),              # up in H, down in W
    resize_case(1, 5, 5, 2, 3, 3),              # down, non-integer factor
    resize_case(1, 17, 26, 2, 67, 101, True),   # odd sizes, up ×3.9 (also f32 semantics)
    resize_case(1, 12, 21, 2, 6, 20),           # non-uniform: ×0.5 in H, ×0.95 in W
    resize_case(1, 1, 1, 4, 3, 2),              # a single pixel broadcast
    resize_case(1, 4, 6, 2, 4, 6),              # same size: a copy
    resize_case(1, 4, 6, 2, 4, 9),              # same H (copy branch on one axis), W up
]
batch_norm = [
    batch_norm_case((2, 3, 4, 5), training=False, affine=True),
    batch_norm_case((2, 3, 4, 5), training=True, affine=True),
    batch_norm_case((2, 3, 4, 5), training=True, affine=False, momentum=0.3, eps=1e-3),
    batch_norm_case((7, 3), training=True, affine=True),  # [rows, C] as BatchNorm1d
]

with open(OUT, "w") as f:
    json.dump({"generator": "tools/gen_resize_bn_fixtures.py", "torch": torch.__version__,
               "resize": resize, "batch_norm": batch_norm}, f, separators=(",", ":"))
print(f"wrote {len(resize)} resize and {len(batch_norm)} batch_norm cases to "
      f"{os.path.normpath(OUT)} ({os.path.getsize(OUT)} bytes)")
