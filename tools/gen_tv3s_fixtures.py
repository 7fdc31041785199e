#!/usr/bin/env python3
"""Golden fixtures for the TV3S video model (MiT encoder + SegFormer fuse + TV3S decoder).

This is the independent reference for the C++ runtime. It follows the official code
(github Ashesham/TV3S, `utils/models/tv3s_head.py`: `TV3SHead_shift`, `ShiftedMambaBlocks`,
`VideoMambaBlock`/`create_block`; mamba_ssm: `Mamba.forward`/`step`, `selective_scan_ref`,
`rms_norm_fn`), re-written in plain PyTorch, float64 throughout:

- MiT backbone: Hugging Face transformers' Segformer encoder with the official LayerNorm
  eps, weights mapped from the official names (reused from gen_segformer_fixtures.py).
- TV3S head: an nn.Module whose state_dict has exactly the official names
  (`decode_head.linear_c{1..4}.proj`, `linear_fuse.conv/.bn`, `linear_pred`, `linear_pred2`,
  `conv_seg` (unused), `vs.layers.{0..7}.{norm, mixer}`, `vs.norm_f`). Its SegFormer part
  is cross-checked against HF's SegformerDecodeHead on the same weights.
- Mamba mixer: the reference path of `Mamba.forward` (conv1d with padding d_conv-1 cut
  to L, SiLU, x_proj, dt_proj + softplus, selective_scan_ref recurrence, D skip, SiLU(z)
  gate, out_proj) and a stateful variant that starts from (conv_state = the last
  d_conv-1 pre-conv inputs, ssm_state) and returns the new states; checked against a
  token-by-token `Mamba.step` re-implementation.
- Layer stack: RMSNorm with the fused residual add (layer 0's residual is its input,
  norm_f on r7 + h7), even layers on plain windows, odd layers on the real-shift
  partition done literally as the official code does it (roll by -s, nine slice groups,
  each a separate batched call of the same layer, write back, roll by +s); tokens are
  frame-major, then raster order inside the window.
- Clip mode (model-spec §8.1): clips [i-9, i-6, i-3, i] (special clips for i = 3..8),
  fresh zero state per clip; frames 0-2 return the per-frame SegFormer logits.
- Streaming mode (§8.2): one frame at a time (T = 1), conv/ssm states carried per layer
  and per sequence of each group, zero at video start. For the tiny config the generator
  asserts that streaming at frame t equals a clip over all frames 0..t.

Deviations from the official runtime: BatchNorm in eval mode with the stored statistics;
dropout / DropPath are identity (eval); no mamba_ssm CUDA/Triton kernels (the reference
scan, in float64); no Mamba v1.0.0 first-token cache quirk (model-spec §8.3).

Output: tests/data/tv3s/ (see tools/README.md). Logit files are float32 [K, h, w] at the
c1 size (the head output before the resize to the input size).

Usage: python3 tools/gen_tv3s_fixtures.py [--out DIR] [--check]
  --check  regenerate into a temporary directory and compare byte-for-byte with the
           committed fixtures (exit 1 on any difference).
"""
import argparse
import filecmp
import json
import math
import os
import re
import struct
import sys
import tempfile
import time
import zlib

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_segformer_fixtures as sf  # noqa: E402

GENERATOR = "tools/gen_tv3s_fixtures.py"
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "tv3s")
IN_CHANNELS = {"b0": [32, 64, 160, 256], "b1": [64, 128, 320, 512]}
NUM_CLIPS = 4
D_STATE, D_CONV, EXPAND = 16, 4, 2
N_MAMBAS = 8
SCAN_CHUNK = 64

CONFIGS = [
    dict(name="tiny", arch="b0", E=32, window=4, shift=2, K=5, seed=7001, frames=12,
         sizes=[(90, 130)], stored=list(range(12)), check_stream=True, debug=True, pool=8192),
    dict(name="b1", arch="b1", E=256, window=20, shift=10, K=4, seed=7002, frames=10,
         sizes=[(320, 480), (240, 427)], stored=[2, 5, 9], check_stream=False, debug=False, pool=16384),
]


# --------------------------------------------------------------------------------------
# The TV3S head, official module names
# --------------------------------------------------------------------------------------

class MLP(nn.Module):
    """`linear_ck`: flatten (N, C, H, W) -> tokens, Linear C -> E, back to (N, E, H, W)."""

    def __init__(self, cin, E):
        super().__init__()
        self.proj = nn.Linear(cin, E)

    def forward(self, x):
        n, _, h, w = x.shape
        return self.proj(x.flatten(2).transpose(1, 2)).permute(0, 2, 1).reshape(n, -1, h, w)


class ConvModule(nn.Module):
    """mmcv ConvModule(4E -> E, 1x1, norm SyncBN): conv without bias, BN (eval), ReLU."""

    def __init__(self, cin, cout):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 1, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=1e-5)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)))


class RMSNorm(nn.Module):
    def __init__(self, E, eps=1e-5):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(E))

    def forward(self, x):  # mamba_ssm rms_norm_ref
        rstd = 1.0 / torch.sqrt(x.square().mean(dim=-1, keepdim=True) + self.eps)
        return x * rstd * self.weight


class Mamba(nn.Module):
    """mamba_ssm Mamba (defaults d_state 16, d_conv 4, expand 2, dt_rank ceil(E/16)),
    reference (non-CUDA) semantics. Parameter registration order as in mamba_ssm."""

    def __init__(self, E):
        super().__init__()
        self.d_inner = EXPAND * E
        self.dt_rank = math.ceil(E / 16)
        self.in_proj = nn.Linear(E, 2 * self.d_inner, bias=False)
        self.conv1d = nn.Conv1d(self.d_inner, self.d_inner, D_CONV, groups=self.d_inner,
                                padding=D_CONV - 1, bias=True)
        self.x_proj = nn.Linear(self.d_inner, self.dt_rank + 2 * D_STATE, bias=False)
        self.dt_proj = nn.Linear(self.dt_rank, self.d_inner, bias=True)
        self.A_log = nn.Parameter(torch.zeros(self.d_inner, D_STATE))
        self.D = nn.Parameter(torch.ones(self.d_inner))
        self.out_proj = nn.Linear(self.d_inner, E, bias=False)

    def forward(self, u, state=None, stats=None):
        """u (n, L, E). state None: zero initial state, conv via conv1d(padding 3)[..., :L]
        (Mamba.forward without cache). Else state = (conv_state (n, d_inner, 3) = the last
        3 pre-conv inputs, ssm_state (n, d_inner, 16)): continue from it.
        Returns (out (n, L, E), new_state or None)."""
        n, L, _ = u.shape
        di = self.d_inner
        xz = (u @ self.in_proj.weight.t()).transpose(1, 2)  # (n, 2di, L)
        x, z = xz[:, :di], xz[:, di:]
        if state is None:  # self.conv1d(x)[..., :L]: zero left padding of 3
            xcat = F.pad(x, (D_CONV - 1, 0))
            h = u.new_zeros(n, di, D_STATE)
        else:
            conv_state, h = state
            xcat = torch.cat([conv_state, x], dim=-1)
            new_conv_state = xcat[..., -(D_CONV - 1):].clone()
        a = F.silu(causal_conv(xcat, self.conv1d.weight, self.conv1d.bias, L))  # (n, di, L)
        x_dbl = a.transpose(1, 2) @ self.x_proj.weight.t()  # (n, L, R + 2N)
        dt, Bm, Cm = torch.split(x_dbl, [self.dt_rank, D_STATE, D_STATE], dim=-1)
        delta = F.softplus((dt @ self.dt_proj.weight.t()).transpose(1, 2) + self.dt_proj.bias[:, None])
        A = -torch.exp(self.A_log)
        # selective_scan_ref: h_t = exp(delta_t A) h_{t-1} + delta_t B_t a_t, y_t = C_t h_t,
        # in chunks of SCAN_CHUNK tokens with the token axis leading (contiguous steps).
        delta_l, a_l = delta.permute(2, 0, 1), a.permute(2, 0, 1)  # (L, n, di)
        B_l, C_l = Bm.transpose(0, 1), Cm.transpose(0, 1)  # (L, n, N)
        h = h.contiguous()
        ys = []
        for c0 in range(0, L, SCAN_CHUNK):
            c1 = min(L, c0 + SCAN_CHUNK)
            dA = torch.exp(delta_l[c0:c1, :, :, None] * A)  # (l, n, di, N)
            dBu = (delta_l[c0:c1] * a_l[c0:c1])[..., None] * B_l[c0:c1, :, None, :]
            hs = torch.empty_like(dA)
            for i in range(c1 - c0):
                torch.mul(dA[i], h, out=hs[i])
                hs[i].add_(dBu[i])
                h = hs[i]
            ys.append(torch.einsum("lbdn,lbn->bdl", hs, C_l[c0:c1]))
        h = h.clone()
        y = torch.cat(ys, dim=2) + a * self.D[:, None]
        y = y * F.silu(z)
        out = y.transpose(1, 2) @ self.out_proj.weight.t()
        if stats is not None:
            stats.setdefault("delta_min", []).append(delta.min().item())
            stats.setdefault("delta_max", []).append(delta.max().item())
        return out, (None if state is None else (new_conv_state, h))

    def step(self, u_t, conv_state, ssm_state):
        """Mamba.step (torch fallback): u_t (n, E); conv_state (n, di, 4) holds the last
        d_conv inputs including the current one. Returns out (n, E), states."""
        di = self.d_inner
        xz = u_t @ self.in_proj.weight.t()
        x, z = xz[:, :di], xz[:, di:]
        conv_state = torch.roll(conv_state, shifts=-1, dims=-1)
        conv_state[:, :, -1] = x
        x = F.silu((conv_state * self.conv1d.weight[:, 0]).sum(-1) + self.conv1d.bias)
        dt, Bm, Cm = torch.split(x @ self.x_proj.weight.t(), [self.dt_rank, D_STATE, D_STATE], dim=-1)
        dt = F.softplus(dt @ self.dt_proj.weight.t() + self.dt_proj.bias)
        A = -torch.exp(self.A_log)
        ssm_state = ssm_state * torch.exp(dt[:, :, None] * A) + x[:, :, None] * dt[:, :, None] * Bm[:, None, :]
        y = torch.einsum("bdn,bn->bd", ssm_state, Cm) + self.D * x
        y = y * F.silu(z)
        return y @ self.out_proj.weight.t(), conv_state, ssm_state


def causal_conv(xcat, weight, bias, L):
    """Depthwise conv1d over xcat (n, d, 3 + L) without padding: out[t] = b + sum_k w[k] x[t + k]
    (PyTorch cross-correlation; the same as nn.Conv1d(groups=d) — written out because the
    float64 depthwise conv1d of PyTorch is slow on CPU)."""
    out = bias[:, None].expand(-1, L).clone()
    for k in range(D_CONV):
        out = out + weight[:, 0, k, None] * xcat[..., k:k + L]
    return out


class Block(nn.Module):
    """VideoMambaBlock with rms_norm, fused_add_norm, residual_in_fp32 (eval: no DropPath)."""

    def __init__(self, E):
        super().__init__()
        self.mixer = Mamba(E)
        self.norm = RMSNorm(E)

    def forward(self, h, r, state=None, stats=None):
        r = h if r is None else r + h  # rms_norm_fn(..., residual=r, prenorm=True)
        out, state = self.mixer(self.norm(r), state, stats)
        return out, r, state


def to_seqs(x, nI, wh, nJ, ww):
    """'b t c (i h) (j w) -> (b i j) (t h w) c' (ShiftedMambaBlocks.flatten)."""
    B, T, C = x.shape[:3]
    return x.reshape(B, T, C, nI, wh, nJ, ww).permute(0, 3, 5, 1, 4, 6, 2).reshape(B * nI * nJ, T * wh * ww, C)


def from_seqs(s, B, T, nI, wh, nJ, ww):
    """'(b i j) (t h w) c -> b t c (i h) (j w)' (ShiftedMambaBlocks.unflatten)."""
    C = s.shape[-1]
    return s.reshape(B, nI, nJ, T, wh, ww, C).permute(0, 3, 6, 1, 4, 2, 5).reshape(B, T, C, nI * wh, nJ * ww)


class ShiftedMambaBlocks(nn.Module):
    def __init__(self, E, window, shift):
        super().__init__()
        assert 0 < shift < window
        self.window, self.shift = window, shift
        self.layers = nn.ModuleList([Block(E) for _ in range(N_MAMBAS)])
        self.norm_f = RMSNorm(E)

    def run(self, li, g, h, r, cache, stats):
        """One batched call of layer li for group g; cache maps (li, g) -> states."""
        state = None
        if cache is not None:
            state = cache.get((li, g))
            if state is None:
                di = self.layers[li].mixer.d_inner
                state = (h.new_zeros(h.shape[0], di, D_CONV - 1), h.new_zeros(h.shape[0], di, D_STATE))
        h, r, state = self.layers[li](h, r, state, stats)
        if cache is not None:
            cache[(li, g)] = state
        return h, r

    def unshifted(self, li, h, r, cache, stats):
        B, T, _, H, W = h.shape
        w = self.window
        p = (H // w, w, W // w, w)
        ho, ro = self.run(li, 0, to_seqs(h, *p), None if r is None else to_seqs(r, *p), cache, stats)
        return from_seqs(ho, B, T, *p), from_seqs(ro, B, T, *p)

    def shifted(self, li, h, r, cache, stats):
        """shifted_process with real_shift (tv3s_head.py): roll, nine groups, roll back."""
        B, T, _, H, W = h.shape
        w, s = self.window, self.shift
        nI, nJ = H // w, W // w
        h = torch.roll(h, shifts=(-s, -s), dims=(-2, -1))
        r = torch.roll(r, shifts=(-s, -s), dims=(-2, -1))
        out_h, out_r = torch.zeros_like(h), torch.zeros_like(r)
        groups = [  # name, rows, cols, (nI, wh, nJ, ww) — order of inference_params[1][0..8]
            ("main", slice(None, -w), slice(None, -w), (nI - 1, w, nJ - 1, w)),
            ("a1", slice(-s, None), slice(-s, None), (1, s, 1, s)),
            ("b3", slice(-w, -s), slice(-s, None), (1, w - s, 1, s)),
            ("c3", slice(-s, None), slice(-w, -s), (1, s, 1, w - s)),
            ("d", slice(-w, -s), slice(-w, -s), (1, w - s, 1, w - s)),
            ("b1", slice(None, -w), slice(-s, None), (nI - 1, w, 1, s)),
            ("b2", slice(None, -w), slice(-w, -s), (nI - 1, w, 1, w - s)),
            ("c1", slice(-s, None), slice(None, -w), (1, s, nJ - 1, w)),
            ("c2", slice(-w, -s), slice(None, -w), (1, w - s, nJ - 1, w)),
        ]
        for g, (_, ys, xs, p) in enumerate(groups):
            ho, ro = self.run(li, g, to_seqs(h[..., ys, xs], *p), to_seqs(r[..., ys, xs], *p), cache, stats)
            out_h[..., ys, xs] = from_seqs(ho, B, T, *p)
            out_r[..., ys, xs] = from_seqs(ro, B, T, *p)
        return (torch.roll(out_h, shifts=(s, s), dims=(-2, -1)),
                torch.roll(out_r, shifts=(s, s), dims=(-2, -1)))

    def forward(self, x, cache=None, record=None):
        B, T, _, H, W = x.shape
        w = self.window
        assert H % w == 0 and W % w == 0 and H // w >= 2 and W // w >= 2
        h, r = x, None
        for li in range(N_MAMBAS):
            stats = {} if record is not None else None
            if li % 2 == 0:
                h, r = self.unshifted(li, h, r, cache, stats)
            else:
                h, r = self.shifted(li, h, r, cache, stats)
            if record is not None:
                record.setdefault("h", []).append(h)
                record.setdefault("r", []).append(r)
                record.setdefault("delta", []).append((min(stats["delta_min"]), max(stats["delta_max"])))
        p = (H // w, w, W // w, w)  # norm_f in the unshifted layout (token-wise anyway)
        y = from_seqs(self.norm_f(to_seqs(r, *p) + to_seqs(h, *p)), B, T, *p)
        if record is not None:
            record["y"] = y
        return y


class TV3SHead(nn.Module):
    """TV3SHead_shift (model_type 0, real_shift), eval. Submodule registration order as in
    the official class: conv_seg (base class), linear_c4..c1, vs, linear_fuse, linear_pred,
    linear_pred2."""

    def __init__(self, in_channels, E, K, window, shift):
        super().__init__()
        self.conv_seg = nn.Conv2d(128, K, 1)  # created by BaseDecodeHead, never used
        self.linear_c4 = MLP(in_channels[3], E)
        self.linear_c3 = MLP(in_channels[2], E)
        self.linear_c2 = MLP(in_channels[1], E)
        self.linear_c1 = MLP(in_channels[0], E)
        self.vs = ShiftedMambaBlocks(E, window, shift)
        self.linear_fuse = ConvModule(4 * E, E)
        self.linear_pred = nn.Conv2d(E, K, 1)
        self.linear_pred2 = nn.Conv2d(E, K, 1)
        self.window = window

    def fuse(self, c1, c2, c3, c4):
        """Per frame: the fused feature _c (N, E, h, w) at the c1 size."""
        size = c1.shape[2:]
        up = lambda t: F.interpolate(t, size=size, mode="bilinear", align_corners=False)  # noqa: E731
        _c4 = up(self.linear_c4(c4))
        _c3 = up(self.linear_c3(c3))
        _c2 = up(self.linear_c2(c2))
        _c1 = self.linear_c1(c1)
        return self.linear_fuse(torch.cat([_c4, _c3, _c2, _c1], dim=1))

    def grid(self, h, w):
        L = math.lcm(self.window, self.window)  # real_shift: window2 == window
        return math.ceil(int(h / 2) / L) * L, math.ceil(int(w / 2) / L) * L

    def tv3s(self, _c, cache=None, record=None):
        """_c (T, E, h, w) of one clip (oldest first) -> TV3S logits (K, h, w) of the last frame."""
        T, E, h, w = _c.shape
        h2, w2 = self.grid(h, w)
        x0 = F.interpolate(_c, size=(h2, w2), mode="bilinear", align_corners=False).reshape(1, T, E, h2, w2)
        if record is not None:
            record["x0"] = x0
        y = self.vs(x0, cache, record)
        x2 = self.linear_pred2(y[:, -1])
        return F.interpolate(x2, size=(h, w), mode="bilinear", align_corners=False)[0]


def clip_indices(i):
    """model-spec §8.1 / utils/datasets/custom.py prepare_test_img2, dilation [-9, -6, -3]."""
    special = {3: [0, 1, 2, 3], 4: [0, 2, 3, 4], 5: [0, 2, 4, 5], 6: [0, 2, 4, 6], 7: [0, 3, 5, 7], 8: [0, 3, 6, 8]}
    if i >= 9:
        return [i - 9, i - 6, i - 3, i]
    return special.get(i, [i])


# --------------------------------------------------------------------------------------
# Weights
# --------------------------------------------------------------------------------------

def pool_view(pools, pool, shape):
    """Like sf.Pools.view, but tensors larger than half the pool get a random row stride
    and offset too, so that same-shaped weights of different layers differ."""
    numel, size = math.prod(shape), pool.numel()
    if numel <= size // 2:
        return pools.view(pool, shape)
    inner = numel // shape[0]
    max_stride = (size - inner) // (shape[0] - 1)
    assert max_stride >= 1
    rnd = lambda lo, hi: int(torch.randint(lo, hi + 1, (1,), generator=pools.gen))  # noqa: E731
    row_stride = rnd(max(1, max_stride // 2), max_stride)
    offset = rnd(0, size - inner - row_stride * (shape[0] - 1))
    strides = [row_stride] + [math.prod(shape[i + 1:]) for i in range(1, len(shape))]
    return pool.as_strided(shape, strides, offset)


def head_weights(cfg, pools):
    """Every official decode_head parameter (model-spec §12) for the config."""
    E, K = cfg["E"], cfg["K"]
    di, R = EXPAND * E, math.ceil(E / 16)
    cin = IN_CHANNELS[cfg["arch"]]
    w = {}

    def uniform(name, shape, scale, center=0.0, kind="hw", size=cfg["pool"]):
        w[name] = pool_view(pools, pools.pool(kind, scale, center, size=size), shape)

    def weight(name, shape, fan_in):  # std ~ 1/sqrt(fan_in), scale a power of two
        uniform(name, shape, 2.0 ** round(math.log2(math.sqrt(3.0 / fan_in))))

    def bias(name, n):
        uniform(name, [n], 0.1, kind="hb", size=4096)

    def gain(name, n):
        uniform(name, [n], 0.3, 1.0, kind="hg", size=4096)

    d = "decode_head."
    weight(d + "conv_seg.weight", [K, 128, 1, 1], 128)
    bias(d + "conv_seg.bias", K)
    for k in (4, 3, 2, 1):
        weight(f"{d}linear_c{k}.proj.weight", [E, cin[k - 1]], cin[k - 1])
        bias(f"{d}linear_c{k}.proj.bias", E)
    # Mamba's initialisation for the SSM-specific parameters (mamba_simple.py __init__):
    # A_log = log(1..16) per channel (S4D real), dt_proj.bias = softplus^-1(dt) with dt
    # log-uniform in [1e-3, 1e-1] (floor 1e-4), D around 1, dt_proj.weight U(+-dt_rank^-0.5).
    A_log = torch.log(torch.arange(1, D_STATE + 1, dtype=torch.float32)).repeat(di, 1).contiguous()
    dt = torch.exp(torch.rand(4096, generator=pools.gen, dtype=torch.float64) * (math.log(0.1) - math.log(1e-3))
                   + math.log(1e-3)).clamp(min=1e-4)
    dt_bias_pool = (dt + torch.log(-torch.expm1(-dt))).float()
    for li in range(N_MAMBAS):
        p = f"{d}vs.layers.{li}."
        w[p + "mixer.A_log"] = A_log  # one tensor, shared by all layers (one storage)
        uniform(p + "mixer.D", [di], 0.5, 1.0, kind="hD", size=4096)
        weight(p + "mixer.in_proj.weight", [2 * di, E], E)
        weight(p + "mixer.conv1d.weight", [di, 1, D_CONV], D_CONV)
        bias(p + "mixer.conv1d.bias", di)
        weight(p + "mixer.x_proj.weight", [R + 2 * D_STATE, di], di)
        uniform(p + "mixer.dt_proj.weight", [di, R], R ** -0.5, kind="hdt", size=4096)
        w[p + "mixer.dt_proj.bias"] = pools.view(dt_bias_pool, [di])
        weight(p + "mixer.out_proj.weight", [E, di], di)
        gain(p + "norm.weight", E)
    gain(d + "vs.norm_f.weight", E)
    weight(d + "linear_fuse.conv.weight", [E, 4 * E, 1, 1], 4 * E)
    gain(d + "linear_fuse.bn.weight", E)
    bias(d + "linear_fuse.bn.bias", E)
    uniform(d + "linear_fuse.bn.running_mean", [E], 0.2, kind="hm", size=1024)
    uniform(d + "linear_fuse.bn.running_var", [E], 0.5, 1.0, kind="hv", size=1024)
    w[d + "linear_fuse.bn.num_batches_tracked"] = torch.tensor(160000, dtype=torch.int64)
    weight(d + "linear_pred.weight", [K, E, 1, 1], E)
    bias(d + "linear_pred.bias", K)
    weight(d + "linear_pred2.weight", [K, E, 1, 1], E)
    bias(d + "linear_pred2.bias", K)
    return w


def config_text(cfg, backbone=None, head_type="TV3SHead_shift", in_channels=None, generator=GENERATOR):
    """The config file text stored in meta['config'], written like the official
    local_configs/tv3s/B1/*.py (decoder_params on one line). `backbone` (the text of the
    backbone=dict(...) entry), `head_type`, `in_channels` and `generator` let other
    generators (gen_swin_fixtures.py) write their own models' configs the same way."""
    E, w, s, K, arch = cfg["E"], cfg["window"], cfg["shift"], cfg["K"], cfg["arch"]
    if backbone is None:
        backbone = f"""backbone=dict(
        type='mit_{arch}',
        style='pytorch'),"""
    if in_channels is None:
        in_channels = IN_CHANNELS[arch]
    return f"""_base_ = [
    '../../_base_/models/segformer.py',
    '../../_base_/datasets/vspw_repeat2.py',
    '../../_base_/default_runtime.py',
    '../../_base_/schedules/schedule_160k_adamw.py'
]

# Fixture written by {generator} (random weights, config '{cfg["name"]}')
# model settings
norm_cfg = dict(type='SyncBN', requires_grad=True)
find_unused_parameters = True
model = dict(
    type='EncoderDecoder_clips',
    pretrained=None,
    {backbone}
    decode_head=dict(
        type='{head_type}',
        in_channels={in_channels},
        in_index=[0, 1, 2, 3],
        feature_strides=[4, 8, 16, 32],
        channels=128,
        dropout_ratio=0.1,
        num_classes={K},
        norm_cfg=norm_cfg,
        align_corners=False,
        decoder_params=dict(embed_dim={E}, window_w={w}, window_h={w}, shift_size={s}, real_shift=True, model_type=0),
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
        num_clips={NUM_CLIPS}),
    # model training and testing settings
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
"""


def checkpoint_meta(cfg):
    """What mmseg's tools/train.py + mmcv's runner put in meta, plain Python types only."""
    K = cfg["K"]
    return {
        "env_info": "sys.platform: linux\nPyTorch: 1.x (fixture)",
        "seed": cfg["seed"],
        "exp_name": f"tv3s_fixture_{cfg['name']}.py",
        "mmseg_version": "0.11.0+fixture",
        "config": config_text(cfg),
        "CLASSES": tuple(f"class{i}" for i in range(K)),
        "PALETTE": [[(37 * i) % 256, (91 * i + 40) % 256, (53 * i + 90) % 256] for i in range(K)],
        "epoch": 1,
        "iter": 160000,
        "mmcv_version": "1.3.0",
        "time": "Thu Jan  1 00:00:00 2025",
    }


# --------------------------------------------------------------------------------------
# Frames
# --------------------------------------------------------------------------------------

def png_bytes_sub(rgb):
    """8-bit RGB PNG, every row with filter 1 (Sub): smooth frames compress well."""
    h, w, _ = rgb.shape
    a = rgb.astype(np.int16).reshape(h, w * 3)
    f = a.copy()
    f[:, 3:] = (a[:, 3:] - a[:, :-3]) % 256
    raw = np.concatenate([np.ones((h, 1), np.uint8), f.astype(np.uint8)], axis=1).tobytes()

    def chunk(tag, data):
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) +
           chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))
    # round trip: inflate and undo the Sub filter
    rows = np.frombuffer(zlib.decompress(png[8 + 12 + 13 + 8:-12 - 4]), np.uint8).reshape(h, 1 + 3 * w)
    assert (rows[:, 0] == 1).all()
    dec = np.cumsum(rows[:, 1:].reshape(h, w, 3).astype(np.int64), axis=1) % 256
    assert np.array_equal(dec.astype(np.uint8), rgb)
    return png


def synth_frames(n, H, W, seed):
    """Smooth RGB frames: a drifting two-axis colour gradient with a slow wave, and five
    flat-coloured shapes (discs, boxes, an ellipse) that move a few pixels per frame."""
    rng = np.random.default_rng(seed)
    yy, xx = np.meshgrid(np.arange(H) / H, np.arange(W) / W, indexing="ij")
    base = rng.uniform(40, 200, 3)
    gx, gy = rng.uniform(-60, 60, 3), rng.uniform(-60, 60, 3)
    fx, fy, amp = rng.uniform(0.5, 1.5), rng.uniform(0.5, 1.5), rng.uniform(10, 25, 3)
    m = min(H, W)
    shapes = []
    for k in range(5):
        shapes.append(dict(kind=["disc", "box", "ellipse", "disc", "box"][k],
                           c=rng.uniform(0, 255, 3), p=rng.uniform(0.15, 0.85, 2) * (H, W),
                           v=rng.uniform(-1, 1, 2) * m * 0.03, r=rng.uniform(0.08, 0.2, 2) * m))
    frames = []
    for t in range(n):
        img = base + gx * xx[..., None] + gy * yy[..., None]
        img = img + amp * np.sin(2 * np.pi * (fx * xx + fy * yy) + 0.3 * t)[..., None]
        for sh in shapes:
            cy, cx = sh["p"] + t * sh["v"]
            ry, rx = sh["r"]
            dy, dx = np.arange(H)[:, None] - cy, np.arange(W)[None, :] - cx
            if sh["kind"] == "disc":
                mask = dy ** 2 + dx ** 2 <= ry ** 2
            elif sh["kind"] == "ellipse":
                mask = (dy / ry) ** 2 + (dx / rx) ** 2 <= 1
            else:
                mask = (np.abs(dy) <= ry) & (np.abs(dx) <= rx)
            img = np.where(mask[..., None], sh["c"] + 0.1 * (img - 128), img)
        frames.append(np.clip(np.round(img), 0, 255).astype(np.uint8))
    return frames


# --------------------------------------------------------------------------------------
# Running a config
# --------------------------------------------------------------------------------------

def rel(a, b):
    return ((a - b).norm() / b.norm()).item()


def rms(t):
    return t.square().mean().sqrt().item()


def self_test_step(head, gen):
    """The stateful chunk forward equals token-by-token Mamba.step, and chunks of a
    sequence fed with carried state equal one stateless pass (layer 0's mixer)."""
    m = head.vs.layers[0].mixer
    E = m.in_proj.weight.shape[1]
    u = torch.randn(3, 11, E, generator=gen, dtype=torch.float64)
    x = torch.randn(3, m.d_inner, 11, generator=gen, dtype=torch.float64)
    d_conv = (causal_conv(F.pad(x, (D_CONV - 1, 0)), m.conv1d.weight, m.conv1d.bias, 11)
              - m.conv1d(x)[..., :11]).abs().max().item()
    assert d_conv < 1e-12, d_conv
    ref, _ = m(u)
    cs4, ss = u.new_zeros(3, m.d_inner, D_CONV), u.new_zeros(3, m.d_inner, D_STATE)
    steps = []
    for t in range(u.shape[1]):
        o, cs4, ss = m.step(u[:, t], cs4, ss)
        steps.append(o)
    d_step = (torch.stack(steps, 1) - ref).abs().max().item()
    state = (u.new_zeros(3, m.d_inner, D_CONV - 1), u.new_zeros(3, m.d_inner, D_STATE))
    parts = []
    for a, b in [(0, 1), (1, 3), (3, 7), (7, 11)]:
        o, state = m(u[:, a:b], state)
        parts.append(o)
    d_chunk = (torch.cat(parts, 1) - ref).abs().max().item()
    print(f"  mixer self-test: step vs forward {d_step:.2e}, chunked-with-state vs forward {d_chunk:.2e}")
    assert d_step < 1e-12 and d_chunk < 1e-12


def self_test_partition(window, shift, H, W, T=2):
    """The roll-based real-shift partition (as coded officially) is the grid of model-spec
    §5.3: cuts at rows s, s+w, ..., H-(w-s) (columns likewise), no wrap-around, tokens of
    every cell frame-major then raster. Feeds coordinates through a recording stand-in."""
    vs = ShiftedMambaBlocks(4, window, shift).double()
    seqs = []

    def record(li, g, h, r, cache, stats):
        seqs.append(h.clone())
        return h, r

    vs.run = record
    t, y, x = torch.meshgrid(torch.arange(T), torch.arange(H), torch.arange(W), indexing="ij")
    coords = torch.stack([t, y, x, torch.zeros_like(t)], 1)[None].double()  # (1, T, 4, H, W)
    out_h, _ = vs.shifted(1, coords, coords.clone(), None, None)
    assert torch.equal(out_h, coords)  # everything written back to where it came from
    s, w = shift, window

    def bands(n):
        cuts = [0] + list(range(s, n - (w - s) + 1, w)) + [n]
        return list(zip(cuts[:-1], cuts[1:]))

    expect = set()
    for y0, y1 in bands(H):
        for x0, x1 in bands(W):
            expect.add(tuple((tt, yy, xx) for tt in range(T) for yy in range(y0, y1) for xx in range(x0, x1)))
    got = {tuple(tuple(int(v) for v in tok[:3]) for tok in seq) for g in seqs for seq in g}
    assert got == expect and sum(g.shape[0] for g in seqs) == len(expect) == (H // w + 1) * (W // w + 1)


def run_config(cfg, out_dir, manifest):
    name, arch, E, K = cfg["name"], cfg["arch"], cfg["E"], cfg["K"]
    print(f"== {name}: MiT-{arch.upper()}, E {E}, window {cfg['window']}, shift {cfg['shift']}, K {K}")
    pools = sf.Pools(cfg["seed"])
    backbone = {k: v for k, v in sf.official_weights(arch, pools).items() if k.startswith("backbone.")}
    head_sd = head_weights(cfg, pools)
    head = TV3SHead(IN_CHANNELS[arch], E, K, cfg["window"], cfg["shift"]).double().eval()
    prefix = "decode_head."
    order = [prefix + k for k in head.state_dict().keys()]
    assert sorted(order) == sorted(head_sd.keys())
    state_dict = dict(backbone)
    state_dict.update((k, head_sd[k]) for k in order)  # the official module order
    head.load_state_dict({k[len(prefix):]: v.double() for k, v in head_sd.items()}, strict=True)
    pth = f"{name}_official.pth"
    torch.save({"state_dict": state_dict, "meta": checkpoint_meta(cfg)}, os.path.join(out_dir, pth))
    back = torch.load(os.path.join(out_dir, pth), weights_only=True)
    assert list(back["state_dict"]) == list(state_dict) and back["meta"] == checkpoint_meta(cfg)
    assert all(torch.equal(back["state_dict"][k], v) for k, v in state_dict.items())

    # HF Segformer for the encoder; its decode head (same weights) cross-checks ours.
    seg_keys = ("linear_c", "linear_fuse.", "linear_pred.")
    hf_in = {k: v for k, v in state_dict.items()
             if k.startswith("backbone.") or k[len(prefix):].startswith(seg_keys)}
    hf = sf.hf_model(arch, sf.hf_weights(hf_in), decoder_hidden_size=E, num_labels=K)

    entry = dict(arch=f"mit_{arch}", embed_dim=E, window=cfg["window"], shift=cfg["shift"],
                 num_classes=K, n_mambas=N_MAMBAS, d_state=D_STATE, d_conv=D_CONV, expand=EXPAND,
                 dt_rank=math.ceil(E / 16), num_clips=NUM_CLIPS, frames=cfg["frames"],
                 stored_frames=cfg["stored"], seed=cfg["seed"], generator=GENERATOR,
                 checkpoint=pth, sequences=[], max_abs_logit={})
    gen = torch.Generator().manual_seed(cfg["seed"] + 1)
    self_test_step(head, gen)
    for H, W in cfg["sizes"]:
        self_test_partition(cfg["window"], cfg["shift"], *head.grid(math.ceil(H / 4), math.ceil(W / 4)))
    print("  real-shift partition == the cut grid of model-spec §5.3 (no wrap, raster order)")
    for si, (H, W) in enumerate(cfg["sizes"]):
        t0 = time.time()
        seq = f"{name}_frames" if name == "tiny" else f"{name}_{H}x{W}"
        stem = "tiny" if name == "tiny" else seq
        os.makedirs(os.path.join(out_dir, seq), exist_ok=True)
        frames = synth_frames(cfg["frames"], H, W, cfg["seed"] * 10 + si)
        cs, seg = [], []
        with torch.no_grad():
            for t, rgb in enumerate(frames):
                with open(os.path.join(out_dir, seq, f"{t:03d}.png"), "wb") as f:
                    f.write(png_bytes_sub(rgb))
                feats = hf.segformer(sf.normalize(rgb), output_hidden_states=True).hidden_states
                _c = head.fuse(*feats)
                cs.append(_c[0])
                seg.append(head.linear_pred(_c)[0])
                if t == 0:
                    d = (hf.decode_head(feats)[0] - seg[0]).abs().max().item()
                    print(f"  {H}x{W}: SegFormer part vs HF SegformerDecodeHead max|diff| {d:.2e}; "
                          f"_c >0: {(_c > 0).double().mean().item():.2f}, rms {rms(_c):.3f}")
                    assert d < 1e-10 * seg[0].abs().max().item()
            cs = torch.stack(cs)  # (N, E, h, w)
            h, w = cs.shape[2:]
            h2, w2 = head.grid(h, w)
            t1 = time.time()

            # Clip mode (§8.1), fresh state per clip.
            clip = {}
            for i in cfg["stored"]:
                idx = clip_indices(i)
                if len(idx) != NUM_CLIPS:
                    clip[i] = seg[i]
                    continue
                record = {} if (i == cfg["stored"][-1]) else None
                clip[i] = head.tv3s(cs[idx], record=record)
                if record is not None:
                    print(f"  clip {idx}: x0 rms {rms(record['x0']):.3f}; per layer rms(r), rms(h), delta range:")
                    for li in range(N_MAMBAS):
                        dmin, dmax = record["delta"][li]
                        print(f"    layer {li} ({'shift' if li % 2 else 'plain'}): r {rms(record['r'][li]):.3f}  "
                              f"h {rms(record['h'][li]):.3f}  delta [{dmin:.1e}, {dmax:.1e}]")
                    print(f"    norm_f y rms {rms(record['y']):.3f}")
                    if cfg["debug"] and si == 0:
                        cl = lambda t: t[0].permute(0, 2, 3, 1).contiguous().float().numpy()  # noqa: E731
                        np.save(os.path.join(out_dir, f"{stem}_debug_x0.npy"), cl(record["x0"]))
                        np.save(os.path.join(out_dir, f"{stem}_debug_h0.npy"), cl(record["h"][0]))
                        np.save(os.path.join(out_dir, f"{stem}_debug_y.npy"), cl(record["y"]))
                        np.save(os.path.join(out_dir, f"{stem}_debug_c.npy"),
                                cs[i].permute(1, 2, 0).contiguous().float().numpy())
                        entry["debug"] = dict(target_frame=i, clip=idx, files={
                            f"{stem}_debug_x0.npy": "layer-stack input x0 [T, h2, w2, E]",
                            f"{stem}_debug_h0.npy": "layer 0 mixer output h0, map layout [T, h2, w2, E]",
                            f"{stem}_debug_y.npy": "norm_f output y [T, h2, w2, E]",
                            f"{stem}_debug_c.npy": f"fused feature _c of frame {i} [h, w, E]"})
            t2 = time.time()

            # Streaming mode (§8.2): T = 1 per call, states carried from frame 0.
            cache, stream = {}, {}
            for t in range(max(cfg["stored"]) + 1):
                out = head.tv3s(cs[t:t + 1], cache=cache)
                if t in cfg["stored"]:
                    stream[t] = out
            n_seq = sum(st[1].shape[0] for st in cache.values())
            t3 = time.time()

            if cfg["check_stream"]:
                worst = 0.0
                for t in cfg["stored"]:
                    full = head.tv3s(cs[:t + 1])
                    worst = max(worst, (full - stream[t]).abs().max().item() / full.abs().max().item())
                print(f"  streaming at t == clip over frames 0..t: max |diff|/max|ref| {worst:.2e} "
                      f"over {len(cfg['stored'])} frames")
                assert worst < 1e-10

            # Temporal context: the TV3S output with T = 1 (no past) differs from both.
            tv3s_targets = [i for i in cfg["stored"] if len(clip_indices(i)) == NUM_CLIPS]
            for i in tv3s_targets:  # clip [0, 1, 2, 3] is the whole past: the same as streaming
                if clip_indices(i) == list(range(i + 1)):
                    d = (clip[i] - stream[i]).abs().max().item() / clip[i].abs().max().item()
                    print(f"  target {i}: clip {clip_indices(i)} == streaming, max|diff|/max|ref| {d:.2e}")
                    assert d < 1e-10
            differ = [i for i in tv3s_targets if clip_indices(i) != list(range(i + 1))]
            r_cs = max(rel(clip[i], stream[i]) for i in differ)
            r_cs_min = min(rel(clip[i], stream[i]) for i in differ)
            r_ts = min(rel(clip[i], seg[i]) for i in tv3s_targets)
            alone = {i: head.tv3s(cs[i:i + 1]) for i in tv3s_targets}  # mode 1 "Frame_1"
            r_alone = min(rel(clip[i], alone[i]) for i in tv3s_targets)
            r_alone_s = min(rel(stream[i], alone[i]) for i in tv3s_targets)
            print(f"  relative L2 differences: clip vs stream over targets {differ} "
                  f"{r_cs_min:.3f}..{r_cs:.3f}; over targets {tv3s_targets}: min TV3S(clip) vs SegFormer {r_ts:.3f}; "
                  f"min clip vs the frame alone (T=1) {r_alone:.3f}, stream vs the frame alone {r_alone_s:.3f}")
            assert r_cs_min > 0.01 and r_ts > 0.01 and r_alone > 0.01 and r_alone_s > 0.01

        for mode, res in (("clip", clip), ("stream", stream)):
            for i in cfg["stored"]:
                fn = f"{stem}_{mode}_{i:03d}.npy"
                arr = res[i].float().numpy()
                assert arr.shape == (K, h, w) and arr.flags.c_contiguous
                np.save(os.path.join(out_dir, fn), arr)
                entry["max_abs_logit"][fn] = round(float(np.abs(arr).max()), 6)
                classes = len(np.unique(arr.argmax(0)))
                assert classes > 1, fn
        used = sorted({len(np.unique(res[i].argmax(0).numpy())) for res in (clip, stream) for i in cfg["stored"]})
        print(f"  classes used per argmax map: {used} of {K}; max|logit| "
              f"{max(entry['max_abs_logit'][f'{stem}_{m}_{i:03d}.npy'] for m in ('clip', 'stream') for i in cfg['stored']):.3f}")
        print(f"  streaming state: {n_seq} sequences over 8 layers; time: backbone+fuse {t1 - t0:.1f}s, "
              f"clip {t2 - t1:.1f}s, stream {t3 - t2:.1f}s, checks {time.time() - t3:.1f}s")
        entry["sequences"].append(dict(
            frames_dir=seq, input=[H, W], c1=[h, w], grid=[h2, w2],
            files={m: [f"{stem}_{m}_{i:03d}.npy" for i in cfg["stored"]] for m in ("clip", "stream")}))
    manifest[name] = entry


def generate(out_dir, only=None):
    torch.set_num_threads(1)  # lean, and the same reduction order on every machine
    torch.set_grad_enabled(False)
    os.makedirs(out_dir, exist_ok=True)
    manifest = {"generator": GENERATOR, "logit_layout": "float32 [K, h, w] at the c1 size (H1, W1)",
                "clip_mode": "model-spec 8.1: [i-9, i-6, i-3, i], special clips for i = 3..8, "
                             "frames 0-2 = SegFormer per-frame logits; fresh zero state per clip",
                "stream_mode": "model-spec 8.2: one frame per call (T = 1), conv/ssm state per layer "
                               "and sequence carried from frame 0 (zero at video start)"}
    t0 = time.time()
    for cfg in CONFIGS:
        if only is None or cfg["name"] == only:
            run_config(cfg, out_dir, manifest)
    write_manifest(out_dir, manifest, t0)


def write_manifest(out_dir, manifest, t0):
    """manifest.json with short lists on one line; prints the folder's size and the time."""
    text = json.dumps(manifest, indent=1)
    # lists of numbers / short strings on one line
    text = re.sub(r"\[\s*([^\[\]{}]*?)\s*\]", lambda m: "[" + re.sub(r"\s*\n\s*", " ", m.group(1)) + "]", text)
    with open(os.path.join(out_dir, "manifest.json"), "w") as f:
        f.write(text + "\n")
    total = 0
    for root, _, files in os.walk(out_dir):
        total += sum(os.path.getsize(os.path.join(root, f)) for f in files)
    print(f"total {total} bytes in {out_dir}; {time.time() - t0:.0f}s")


def fixture_main(doc, default_out, config_names, generate_fn):
    """The command line of a fixture generator: write into --out, or --check that
    regenerating into a temporary folder gives the committed files byte for byte."""
    ap = argparse.ArgumentParser(description=doc.split("\n")[0])
    ap.add_argument("--out", default=default_out)
    ap.add_argument("--check", action="store_true",
                    help="regenerate into a temporary directory, compare with --out byte for byte")
    ap.add_argument("--only", choices=config_names,
                    help="one config only (development; the manifest then lists only it)")
    args = ap.parse_args()
    if not args.check:
        generate_fn(args.out, args.only)
        return
    with tempfile.TemporaryDirectory() as tmp:
        generate_fn(tmp)
        bad = []
        for root, _, files in os.walk(tmp):
            for f in files:
                rel_path = os.path.relpath(os.path.join(root, f), tmp)
                ref = os.path.join(args.out, rel_path)
                if not os.path.exists(ref) or not filecmp.cmp(os.path.join(root, f), ref, shallow=False):
                    bad.append(rel_path)
        print("check:", "all files identical" if not bad else f"{len(bad)} differ: {sorted(bad)}")
        sys.exit(1 if bad else 0)


def main():
    fixture_main(__doc__, OUT, [c["name"] for c in CONFIGS], generate)


if __name__ == "__main__":
    main()
