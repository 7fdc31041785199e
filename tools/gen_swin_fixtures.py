#!/usr/bin/env python3
"""Golden fixtures for the Swin backbones of TV3S (Swin-T / Swin-S + the TV3S head).

This is the independent reference for the C++ runtime's Swin backbone. The backbone is
written here in plain PyTorch from the formulas of the official code (github
Ashesham/TV3S, `utils/models/swin2.py`: `D2SwinTransformer`, registered `d2_Swint` /
`d2_Swins`; model-spec §9), float64, module and parameter names as in the official code:

- PatchEmbed: zero-pad the *normalised* image on the right/bottom to a multiple of 4,
  Conv2d(3, C, 4, stride 4), LayerNorm(C).
- Block: x + WMSA(LN1(x)), then x + MLP(LN2(x)) (exact GELU). WMSA pads the normed map
  with zeros on the right/bottom to a multiple of the window (padded tokens are not
  masked: their q, k, v are the qkv bias), rolls by (−s, −s) in every odd block — also
  when the map is no larger than the window — attends inside windows with the relative
  position bias (table ((2w−1)², heads), the standard index as an int64 buffer) and, for
  shifted blocks, the −100 mask that `BasicLayer.forward` builds on the padded size; then
  rolls back and crops. q is scaled by head_dim^−½ before q·kᵀ.
- PatchMerging after stages 0–2: pad odd H/W by one (bottom/right), concat the sub-grids
  (0::2, 0::2), (1::2, 0::2), (0::2, 1::2), (1::2, 1::2), LayerNorm(4C), Linear(4C → 2C,
  no bias). Stage outputs are `norm0..3` of the stage output before merging.
- All LayerNorms eps 1e-5; DropPath/dropout off (eval; the gradient fixture uses rate 0).

The TV3S head, Mamba, clip/stream logic, weight pools, checkpoint meta and PNG writing are
reused from gen_tv3s_fixtures.py (`TV3SHead` with in_channels = the Swin widths).

Self-tests (asserts): the roll-based shifted window attention equals a direct per-cell
computation without roll (cells of the grid cut at s, s + w, …, masked pairs left out) on
small maps, padded and unpadded, map ≤ window included; the backbone equals Hugging Face
`SwinBackbone` loaded from the HF-named file on an input where both agree (every map
larger than the window and a multiple of it); streaming at frame t == a clip over frames
0..t (small config); the gradient fixture against a central finite difference.

Output: tests/data/swin/ (see tools/README.md and manifest.json). Stage outputs and logits
are float32 [C, h, w] (NCHW without N) like tests/data/segformer/*_c1.npy.

Usage: python3 tools/gen_swin_fixtures.py [--out DIR] [--check] [--only NAME]
  --check  regenerate into a temporary directory and compare byte-for-byte with the
           committed fixtures (exit 1 on any difference).
"""
import copy
import json
import math
import os
import re
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_segformer_fixtures as sf  # noqa: E402
import gen_tv3s_fixtures as tv  # noqa: E402

GENERATOR = "tools/gen_swin_fixtures.py"
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "swin")
LN_EPS = 1e-5
MASK_VALUE = -100.0

# Backbone shapes of the official registrations (swin2.py) and the small test config.
ARCHS = {
    "swin_t": dict(embed=96, depths=[2, 2, 6, 2], heads=[3, 6, 12, 24], window=7),
    "swin_s": dict(embed=96, depths=[2, 2, 18, 2], heads=[3, 6, 12, 24], window=7),
    "small": dict(embed=8, depths=[2, 2, 2, 2], heads=[1, 2, 2, 4], window=4),
}

CONFIGS = [
    # Swin-T + the released head (E 256, window 20, shift 10) with the `_city` head type
    # like the released Swin-T VSPW config. Sizes: c1 42×49 (multiples of 7) and 43×47
    # (neither; odd PatchEmbed padding and odd merges). The TV3S grid needs c1 ≥ 42 per side
    # (grid ≥ 2 windows of 20, model-spec §4), hence not smaller.
    dict(name="swint", arch="swin_t", head_type="VSFMHead_shift_city", E=256, window=20, shift=10,
         K=4, seed=8004, frames=10, sizes=[(168, 196), (170, 186)], stored=[2, 5, 9],
         check_stream=False, pool=8192),
    # A small custom Swin (window 4, non-uniform head dims 8, 8, 16, 16) + a small head.
    dict(name="small", arch="small", head_type="VSFMHead_shift", E=32, window=4, shift=2, K=5,
         seed=8006, frames=12, sizes=[(64, 96)], stored=list(range(12)), check_stream=True, pool=4096),
]
PRETRAIN_IMG_SIZE = 128  # the small config's "ImageNet-22K" checkpoint (see pretrained_22k)
GRAD_INPUT = (2, 66, 90)  # N, H, W of the gradient fixture (odd padding and merges)


# --------------------------------------------------------------------------------------
# The Swin backbone (swin2.py), official module names and registration order
# --------------------------------------------------------------------------------------

def relative_position_index(w):
    """WindowAttention.__init__: index[i, j] = (dy + w − 1)·(2w − 1) + (dx + w − 1) with
    (dy, dx) = coords(i) − coords(j), tokens in raster order inside the window."""
    coords = torch.stack(torch.meshgrid(torch.arange(w), torch.arange(w), indexing="ij")).flatten(1)
    rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0)
    return (rel[..., 0] + w - 1) * (2 * w - 1) + (rel[..., 1] + w - 1)


def window_partition(x, w):
    """(N, Hp, Wp, C) -> (N·nW, w·w, C), windows row-major, tokens raster inside."""
    N, H, W, C = x.shape
    return x.view(N, H // w, w, W // w, w, C).permute(0, 1, 3, 2, 4, 5).reshape(-1, w * w, C)


def window_reverse(win, w, H, W):
    C = win.shape[-1]
    return win.view(-1, H // w, W // w, w, w, C).permute(0, 1, 3, 2, 4, 5).reshape(-1, H, W, C)


def shift_mask(Hp, Wp, w, s, dtype, device=None):
    """BasicLayer.forward: label the padded map's 3×3 slice regions (0:−w, −w:−s, −s:),
    per window pair −100 where the labels differ, else 0. (nW, w², w²)."""
    img = torch.zeros(1, Hp, Wp, 1, dtype=dtype, device=device)
    cuts = (slice(0, -w), slice(-w, -s), slice(-s, None))
    cnt = 0
    for hs in cuts:
        for ws in cuts:
            img[:, hs, ws, :] = cnt
            cnt += 1
    lab = window_partition(img, w)[..., 0]  # (nW, w²)
    diff = lab[:, None, :] - lab[:, :, None]
    return torch.where(diff != 0, torch.full_like(diff, MASK_VALUE), torch.zeros_like(diff))


class WindowAttention(nn.Module):
    def __init__(self, C, heads, w):
        super().__init__()
        self.heads, self.w = heads, w
        self.scale = (C // heads) ** -0.5
        self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * w - 1) ** 2, heads))
        self.register_buffer("relative_position_index", relative_position_index(w))
        self.qkv = nn.Linear(C, 3 * C)
        self.proj = nn.Linear(C, C)

    def bias(self):
        L = self.w * self.w
        return self.relative_position_bias_table[self.relative_position_index.view(-1)].view(L, L, -1).permute(2, 0, 1)

    def forward(self, x, mask=None):
        """x (B_, L, C) windows; mask (nW, L, L) or None, windows of one image contiguous."""
        B_, L, C = x.shape
        qkv = self.qkv(x).reshape(B_, L, 3, self.heads, C // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0] * self.scale, qkv[1], qkv[2]
        attn = q @ k.transpose(-2, -1) + self.bias()[None]
        if mask is not None:
            nW = mask.shape[0]
            attn = (attn.view(B_ // nW, nW, self.heads, L, L) + mask[None, :, None]).view(B_, self.heads, L, L)
        attn = attn.softmax(dim=-1)
        return self.proj((attn @ v).transpose(1, 2).reshape(B_, L, C))


class Mlp(nn.Module):
    def __init__(self, C, hidden):
        super().__init__()
        self.fc1 = nn.Linear(C, hidden)
        self.fc2 = nn.Linear(hidden, C)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x)))  # exact (erf) GELU


class SwinBlock(nn.Module):
    """SwinTransformerBlock; x and the result are maps (N, H, W, C)."""

    def __init__(self, C, heads, w, shift):
        super().__init__()
        self.w, self.shift = w, shift
        self.norm1 = nn.LayerNorm(C, eps=LN_EPS)
        self.attn = WindowAttention(C, heads, w)
        self.norm2 = nn.LayerNorm(C, eps=LN_EPS)
        self.mlp = Mlp(C, 4 * C)

    def forward(self, x, mask):
        N, H, W, C = x.shape
        w, s = self.w, self.shift
        y = self.norm1(x)
        y = F.pad(y, (0, 0, 0, (w - W % w) % w, 0, (w - H % w) % w))  # zeros after norm1
        Hp, Wp = y.shape[1:3]
        if s > 0:  # always in odd blocks, whatever the map size
            y = torch.roll(y, shifts=(-s, -s), dims=(1, 2))
        y = window_reverse(self.attn(window_partition(y, w), mask if s > 0 else None), w, Hp, Wp)
        if s > 0:
            y = torch.roll(y, shifts=(s, s), dims=(1, 2))
        x = x + y[:, :H, :W, :]
        return x + self.mlp(self.norm2(x))


class PatchMerging(nn.Module):
    def __init__(self, C):
        super().__init__()
        self.reduction = nn.Linear(4 * C, 2 * C, bias=False)  # registered before norm (official)
        self.norm = nn.LayerNorm(4 * C, eps=LN_EPS)

    def forward(self, x):
        H, W = x.shape[1:3]
        x = F.pad(x, (0, 0, 0, W % 2, 0, H % 2))
        x = torch.cat([x[:, 0::2, 0::2], x[:, 1::2, 0::2], x[:, 0::2, 1::2], x[:, 1::2, 1::2]], dim=-1)
        return self.reduction(self.norm(x))


class BasicLayer(nn.Module):
    def __init__(self, C, depth, heads, w, downsample):
        super().__init__()
        self.w, self.shift = w, w // 2
        self.blocks = nn.ModuleList([SwinBlock(C, heads, w, 0 if i % 2 == 0 else w // 2) for i in range(depth)])
        self.downsample = PatchMerging(C) if downsample else None

    def forward(self, x):
        """x (N, H, W, C) -> (stage output, merged map or None)."""
        H, W = x.shape[1:3]
        w = self.w
        mask = shift_mask(math.ceil(H / w) * w, math.ceil(W / w) * w, w, self.shift, x.dtype, x.device)
        for blk in self.blocks:
            x = blk(x, mask)
        return x, (self.downsample(x) if self.downsample is not None else None)


class PatchEmbed(nn.Module):
    def __init__(self, C):
        super().__init__()
        self.proj = nn.Conv2d(3, C, 4, stride=4)
        self.norm = nn.LayerNorm(C, eps=LN_EPS)

    def forward(self, x):
        H, W = x.shape[2:]
        x = F.pad(x, (0, (4 - W % 4) % 4, 0, (4 - H % 4) % 4))  # zeros in normalised units
        return self.norm(self.proj(x).permute(0, 2, 3, 1))


class SwinBackbone(nn.Module):
    """D2SwinTransformer (no absolute position embedding, patch_norm, out_indices 0..3).
    forward: normalised images (N, 3, H, W) -> [out0..out3], (N, C·2^i, H_i, W_i)."""

    def __init__(self, embed, depths, heads, window):
        super().__init__()
        self.patch_embed = PatchEmbed(embed)
        self.layers = nn.ModuleList([BasicLayer(embed * 2 ** i, depths[i], heads[i], window, i < 3)
                                     for i in range(4)])
        for i in range(4):
            self.add_module(f"norm{i}", nn.LayerNorm(embed * 2 ** i, eps=LN_EPS))

    def forward(self, x):
        x = self.patch_embed(x)
        outs = []
        for i, layer in enumerate(self.layers):
            out, x = layer(x)
            outs.append(getattr(self, f"norm{i}")(out).permute(0, 3, 1, 2).contiguous())
        return outs


def make_backbone(arch):
    a = ARCHS[arch]
    return SwinBackbone(a["embed"], a["depths"], a["heads"], a["window"])


def widths(arch):
    return [ARCHS[arch]["embed"] * 2 ** i for i in range(4)]


def stage_sizes(H, W):
    """model-spec §9: ceil(H/4), then ceil(·/2) per stage."""
    h, w = math.ceil(H / 4), math.ceil(W / 4)
    out = []
    for _ in range(4):
        out.append([h, w])
        h, w = math.ceil(h / 2), math.ceil(w / 2)
    return out


# --------------------------------------------------------------------------------------
# Self-test: shifted window attention without roll
# --------------------------------------------------------------------------------------

def direct_window_attention(attn, y, w, s):
    """The (shifted) window attention of a padded, normed map y (1, Hp, Wp, C) computed
    per cell, without roll, partition or mask: in original coordinates the windows of a
    block with shift s are the cells of the grid cut at rows s, s + w, s + 2w, … (columns
    likewise; s = 0: plain windows). Pairs in different cells of one rolled window get
    −100 in the official code, i.e. weight e^−100 ≈ 4e−44: left out here. The bias of a
    pair is the table entry of its geometric offset (dy, dx)."""
    _, Hp, Wp, C = y.shape
    nh, d = attn.heads, C // attn.heads
    qkv = attn.qkv(y[0])  # (Hp, Wp, 3C)
    out = torch.zeros(Hp, Wp, C, dtype=y.dtype)

    def bands(n):
        cuts = sorted({0, n} | {c for c in range(s % w, n, w)})
        return list(zip(cuts[:-1], cuts[1:]))

    table = attn.relative_position_bias_table
    for y0, y1 in bands(Hp):
        for x0, x1 in bands(Wp):
            pos = [(r, c) for r in range(y0, y1) for c in range(x0, x1)]
            tok = torch.stack([qkv[r, c] for r, c in pos])  # (n, 3C)
            for hd in range(nh):
                q = tok[:, hd * d:(hd + 1) * d] * attn.scale
                k = tok[:, C + hd * d:C + (hd + 1) * d]
                v = tok[:, 2 * C + hd * d:2 * C + (hd + 1) * d]
                b = torch.tensor([[float(table[(pi[0] - pj[0] + w - 1) * (2 * w - 1) + (pi[1] - pj[1] + w - 1), hd])
                                   for pj in pos] for pi in pos], dtype=y.dtype)
                o = torch.softmax(q @ k.t() + b, dim=-1) @ v
                for n, (r, c) in enumerate(pos):
                    out[r, c, hd * d:(hd + 1) * d] = o[n]
    return attn.proj(out)[None]


def self_test_window_attention(gen):
    """The block's roll → partition → masked attention → reverse → roll back equals the
    direct per-cell computation, on maps larger than, equal to and smaller than the window
    (padded), shifted and not."""
    worst = 0.0
    for (H, W, w, heads, C) in [(6, 9, 4, 2, 6), (8, 12, 4, 1, 4), (3, 2, 4, 2, 4), (7, 7, 7, 3, 6), (10, 5, 7, 3, 6)]:
        for s in (0, w // 2):
            blk = SwinBlock(C, heads, w, s).double()
            with torch.no_grad():
                for p in blk.parameters():
                    p.copy_(torch.randn(p.shape, generator=gen, dtype=torch.float64) * 0.5)
            x = torch.randn(1, H, W, C, generator=gen, dtype=torch.float64)
            Hp, Wp = math.ceil(H / w) * w, math.ceil(W / w) * w
            y = blk.norm1(x)
            y = F.pad(y, (0, 0, 0, Wp - W, 0, Hp - H))
            rolled = torch.roll(y, (-s, -s), (1, 2)) if s else y
            official = window_reverse(blk.attn(window_partition(rolled, w),
                                               shift_mask(Hp, Wp, w, s, y.dtype) if s else None), w, Hp, Wp)
            if s:
                official = torch.roll(official, (s, s), (1, 2))
            direct = direct_window_attention(blk.attn, y, w, s)
            d = (official - direct).abs().max().item() / direct.abs().max().item()
            worst = max(worst, d)
            assert d < 1e-12, (H, W, w, s, d)
            # and the whole block uses exactly this attention
            mask = shift_mask(Hp, Wp, w, w // 2, y.dtype)
            full = blk(x, mask)
            ref = x + direct[:, :H, :W]
            ref = ref + blk.mlp(blk.norm2(ref))
            assert (full - ref).abs().max().item() < 1e-12 * ref.abs().max().item()
    print(f"  window attention (roll + partition + −100 mask) == direct per-cell loop: max rel diff {worst:.1e}")


# --------------------------------------------------------------------------------------
# Weights
# --------------------------------------------------------------------------------------

def backbone_weights(arch, pools, pool_size):
    """Every official backbone tensor (model-spec §9), names with `backbone.`, in the
    official state_dict order (module registration order of swin2.py)."""
    a = ARCHS[arch]
    w = {}

    def uniform(name, shape, scale, center=0.0, kind="sw", size=pool_size):
        w[name] = tv.pool_view(pools, pools.pool(kind, scale, center, size=size), shape)

    def weight(name, shape, fan_in):  # std ~ 1/sqrt(fan_in), scale a power of two
        uniform(name, shape, 2.0 ** round(math.log2(math.sqrt(3.0 / fan_in))))

    def bias(name, n):
        uniform(name, [n], 0.1, kind="sb", size=4096)

    def norm(name, n):
        uniform(name + ".weight", [n], 0.3, 1.0, kind="sg", size=4096)
        bias(name + ".bias", n)

    p = "backbone."
    index = relative_position_index(a["window"])  # one tensor (one storage) for every block
    weight(p + "patch_embed.proj.weight", [a["embed"], 3, 4, 4], 48)
    bias(p + "patch_embed.proj.bias", a["embed"])
    norm(p + "patch_embed.norm", a["embed"])
    win = a["window"]
    for i in range(4):
        C, heads = a["embed"] * 2 ** i, a["heads"][i]
        for j in range(a["depths"][i]):
            b = f"{p}layers.{i}.blocks.{j}."
            norm(b + "norm1", C)
            # large enough to matter against q·k ~ O(1)
            uniform(b + "attn.relative_position_bias_table", [(2 * win - 1) ** 2, heads], 0.5, kind="st", size=4096)
            w[b + "attn.relative_position_index"] = index
            weight(b + "attn.qkv.weight", [3 * C, C], C)
            bias(b + "attn.qkv.bias", 3 * C)
            weight(b + "attn.proj.weight", [C, C], C)
            bias(b + "attn.proj.bias", C)
            norm(b + "norm2", C)
            weight(b + "mlp.fc1.weight", [4 * C, C], C)
            bias(b + "mlp.fc1.bias", 4 * C)
            weight(b + "mlp.fc2.weight", [C, 4 * C], 4 * C)
            bias(b + "mlp.fc2.bias", C)
        if i < 3:
            weight(f"{p}layers.{i}.downsample.reduction.weight", [2 * C, 4 * C], 4 * C)
            norm(f"{p}layers.{i}.downsample.norm", 4 * C)
    for i in range(4):
        norm(f"{p}norm{i}", a["embed"] * 2 ** i)
    return w


def load_backbone(arch, weights):
    model = make_backbone(arch).double().eval()
    sd = {k[len("backbone."):]: v for k, v in weights.items() if k.startswith("backbone.")}
    assert list(sd) == list(model.state_dict()), "not the official order"
    model.load_state_dict({k: (v if v.dtype == torch.int64 else v.double()) for k, v in sd.items()}, strict=True)
    return model


# --------------------------------------------------------------------------------------
# Checkpoints
# --------------------------------------------------------------------------------------

def config_text(cfg):
    """meta['config'], written like the released local_configs/tv3s/Swin/*.py."""
    a = ARCHS[cfg["arch"]]
    if cfg["arch"] == "swin_t":
        backbone = """backbone=dict(
        type='d2_Swint',
        style='pytorch'),"""
    elif cfg["arch"] == "swin_s":
        backbone = """backbone=dict(
        type='d2_Swins',
        style='pytorch'),"""
    else:  # not a registered type: the shapes are in the state_dict
        backbone = f"""backbone=dict(
        type='D2SwinTransformer',
        pretrain_img_size={PRETRAIN_IMG_SIZE}, patch_size=4, in_chans=3, embed_dim={a['embed']},
        depths={a['depths']}, num_heads={a['heads']}, window_size={a['window']},
        mlp_ratio=4.0, qkv_bias=True, qk_scale=None, drop_rate=0.0, attn_drop_rate=0.0,
        drop_path_rate=0.0, ape=False, patch_norm=True),"""
    return tv.config_text(cfg, backbone, cfg["head_type"], widths(cfg["arch"]), GENERATOR)


def checkpoint_meta(cfg):
    meta = tv.checkpoint_meta(cfg)
    meta["config"] = config_text(cfg)
    meta["exp_name"] = f"swin_fixture_{cfg['name']}.py"
    return meta


def pretrained_22k(arch, backbone):
    """The backbone as Microsoft's Swin releases it (swin_tiny_patch4_window7_224_22k.pth):
    {'model': state_dict}, names without `backbone.`, no norm0..3; for every block whose
    shift survives at the pretraining resolution the original Swin's `attn_mask` buffer
    (registered by the block itself, so it precedes the block's submodules), then the
    classifier's `norm` and `head`. The original Swin switches shift off (and has no mask)
    where the resolution is ≤ the window and needs every resolution divisible by the
    window; the small config (window 4) is therefore "pretrained" at 128 (resolutions 32,
    16, 8, 4: stage 3 has no mask) — 224 gives 14 and 7, not multiples of 4."""
    a = ARCHS[arch]
    w = a["window"]
    sd = {}
    masks = {}
    for name, t in backbone.items():
        n = name[len("backbone."):]
        if re.fullmatch(r"norm\d\.(weight|bias)", n):
            continue
        m = re.match(r"layers\.(\d+)\.blocks\.(\d+)\.norm1\.weight", n)
        if m:
            i, j = int(m.group(1)), int(m.group(2))
            r = PRETRAIN_IMG_SIZE // 4 // 2 ** i
            if j % 2 == 1 and r > w:
                key = (i, r)
                if key not in masks:  # one mask per stage, every shifted block holds it
                    masks[key] = shift_mask(r, r, w, w // 2, torch.float32)
                sd[f"layers.{i}.blocks.{j}.attn_mask"] = masks[key].clone()
        sd[n] = t
    C4 = a["embed"] * 8
    gen = torch.Generator().manual_seed(9001)
    sd["norm.weight"] = (1.0 + 0.3 * (torch.rand(C4, generator=gen, dtype=torch.float64) * 2 - 1)).float()
    sd["norm.bias"] = (0.1 * (torch.rand(C4, generator=gen, dtype=torch.float64) * 2 - 1)).float()
    sd["head.weight"] = (0.05 * (torch.rand(10, C4, generator=gen, dtype=torch.float64) * 2 - 1)).float()
    sd["head.bias"] = torch.zeros(10)
    return {"model": sd}


HF_RENAMES = [  # official (without `backbone.`) -> transformers 4.x SwinBackbone, applied in order
    (r"^patch_embed\.proj\.", "embeddings.patch_embeddings.projection."),
    (r"^patch_embed\.norm\.", "embeddings.norm."),
    (r"^layers\.(\d+)\.blocks\.(\d+)\.norm1\.", r"encoder.layers.\1.blocks.\2.layernorm_before."),
    (r"^layers\.(\d+)\.blocks\.(\d+)\.attn\.relative_position_bias_table$",
     r"encoder.layers.\1.blocks.\2.attention.self.relative_position_bias_table"),
    (r"^layers\.(\d+)\.blocks\.(\d+)\.attn\.relative_position_index$",
     r"encoder.layers.\1.blocks.\2.attention.self.relative_position_index"),
    (r"^layers\.(\d+)\.blocks\.(\d+)\.attn\.qkv\.", r"encoder.layers.\1.blocks.\2.attention.self.{query,key,value}."),
    (r"^layers\.(\d+)\.blocks\.(\d+)\.attn\.proj\.", r"encoder.layers.\1.blocks.\2.attention.output.dense."),
    (r"^layers\.(\d+)\.blocks\.(\d+)\.norm2\.", r"encoder.layers.\1.blocks.\2.layernorm_after."),
    (r"^layers\.(\d+)\.blocks\.(\d+)\.mlp\.fc1\.", r"encoder.layers.\1.blocks.\2.intermediate.dense."),
    (r"^layers\.(\d+)\.blocks\.(\d+)\.mlp\.fc2\.", r"encoder.layers.\1.blocks.\2.output.dense."),
    (r"^layers\.(\d+)\.downsample\.", r"encoder.layers.\1.downsample."),
    (r"^norm(\d)\.", "hidden_states_norms.stage{i+1}."),
]


HF_MAPPING = [  # the same, as name patterns (manifest.json); i, j = stage, block
    "patch_embed.proj.{weight,bias} -> embeddings.patch_embeddings.projection.{weight,bias}",
    "patch_embed.norm.{weight,bias} -> embeddings.norm.{weight,bias}",
    "layers.i.blocks.j.norm1.* -> encoder.layers.i.blocks.j.layernorm_before.*",
    "layers.i.blocks.j.attn.relative_position_bias_table -> "
    "encoder.layers.i.blocks.j.attention.self.relative_position_bias_table",
    "layers.i.blocks.j.attn.relative_position_index -> "
    "encoder.layers.i.blocks.j.attention.self.relative_position_index (int64 [w*w, w*w])",
    "layers.i.blocks.j.attn.qkv.{weight,bias} rows [0,C) / [C,2C) / [2C,3C) -> "
    "encoder.layers.i.blocks.j.attention.self.{query,key,value}.{weight,bias}",
    "layers.i.blocks.j.attn.proj.* -> encoder.layers.i.blocks.j.attention.output.dense.*",
    "layers.i.blocks.j.norm2.* -> encoder.layers.i.blocks.j.layernorm_after.*",
    "layers.i.blocks.j.mlp.fc1.* -> encoder.layers.i.blocks.j.intermediate.dense.*",
    "layers.i.blocks.j.mlp.fc2.* -> encoder.layers.i.blocks.j.output.dense.*",
    "layers.i.downsample.{reduction.weight,norm.weight,norm.bias} -> encoder.layers.i.downsample.(same)",
    "norm{i}.{weight,bias} -> hidden_states_norms.stage{i+1}.{weight,bias}",
]


def hf_weights(backbone):
    """The backbone in transformers' SwinBackbone names: qkv (3C rows: q, k, v) split into
    query/key/value, norm{i} -> hidden_states_norms.stage{i+1}; materialised contiguous."""
    hf = {}
    for name, t in backbone.items():
        n = name[len("backbone."):]
        for pat, rep in HF_RENAMES:
            if re.search(pat, n):
                if "{query,key,value}" in rep:
                    C = t.shape[0] // 3
                    base = re.sub(pat, rep, n)
                    for k, part in enumerate(("query", "key", "value")):
                        hf[base.replace("{query,key,value}", part)] = t[k * C:(k + 1) * C].clone().contiguous()
                elif "{i+1}" in rep:
                    i = int(re.search(pat, n).group(1))
                    hf[re.sub(pat, rep.replace("{i+1}", str(i + 1)), n)] = t.clone().contiguous()
                else:
                    hf[re.sub(pat, rep, n)] = t.clone().contiguous()
                break
        else:
            raise KeyError(name)
    return hf


def hf_config(arch):
    from transformers import SwinConfig
    a = ARCHS[arch]
    return SwinConfig(image_size=PRETRAIN_IMG_SIZE, patch_size=4, num_channels=3, embed_dim=a["embed"],
                      depths=a["depths"], num_heads=a["heads"], window_size=a["window"], mlp_ratio=4.0,
                      qkv_bias=True, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
                      drop_path_rate=0.0, hidden_act="gelu", use_absolute_embeddings=False,
                      layer_norm_eps=LN_EPS, out_features=["stage1", "stage2", "stage3", "stage4"])


def self_test_hf(arch, hf_state, ours, gen):
    """Hugging Face's SwinBackbone loaded (strict) from the HF-named tensors equals our
    backbone where the two agree: every stage map larger than the window and a multiple
    of it (HF drops the shift where a map is ≤ the window; the official code does not)."""
    from transformers import SwinBackbone
    model = SwinBackbone(hf_config(arch)).double().eval()
    missing, unexpected = model.load_state_dict(
        {k: (v if v.dtype == torch.int64 else v.double()) for k, v in hf_state.items()}, strict=True)
    assert not missing and not unexpected
    side = 4 * 8 * ARCHS[arch]["window"] * 2  # stage 3 map = 2 windows
    x = torch.randn(1, 3, side, side + 32 * ARCHS[arch]["window"], generator=gen, dtype=torch.float64)
    theirs = model(x).feature_maps
    mine = ours(x)
    d = max((a - b).abs().max().item() / b.abs().max().item() for a, b in zip(theirs, mine))
    print(f"  backbone == HF SwinBackbone from the HF-named file at {side}x{side + 32 * ARCHS[arch]['window']}: "
          f"max rel diff {d:.1e}")
    assert d < 1e-12


# --------------------------------------------------------------------------------------
# Running a config
# --------------------------------------------------------------------------------------

def rel(a, b):
    return ((a - b).norm() / b.norm()).item()


def save_npy(out_dir, fn, t, entry):
    arr = t.float().numpy()
    assert arr.flags.c_contiguous
    np.save(os.path.join(out_dir, fn), arr)
    entry["max_abs"][fn] = round(float(np.abs(arr).max()), 6)
    return arr


def float32_deviation(backbone, head, rgb, feats, logits):
    """How far the same model run in float32 lands from this float64 reference (a guide
    for the C++ tolerances): max|diff| / max|ref| per stage output and for the logits."""
    b32, h32 = copy.deepcopy(backbone).float(), copy.deepcopy(head).float()
    f32 = b32(sf.normalize(rgb).float())
    l32 = h32.linear_pred(h32.fuse(*f32))[0]
    dev = [(a.double() - b).abs().max().item() / b.abs().max().item() for a, b in zip(f32, feats)]
    dev.append((l32.double() - logits).abs().max().item() / logits.abs().max().item())
    return [float(f"{d:.2e}") for d in dev]


def run_config(cfg, out_dir, manifest, extra):
    name, arch, E, K = cfg["name"], cfg["arch"], cfg["E"], cfg["K"]
    a = ARCHS[arch]
    print(f"== {name}: {arch} (embed {a['embed']}, depths {a['depths']}, heads {a['heads']}, window {a['window']}), "
          f"head {cfg['head_type']} E {E}, window {cfg['window']}, shift {cfg['shift']}, K {K}")
    pools = sf.Pools(cfg["seed"])
    bb = backbone_weights(arch, pools, cfg["pool"])
    tv.IN_CHANNELS[arch] = widths(arch)  # gen_tv3s_fixtures' head weights look the widths up by arch
    head_sd = tv.head_weights(cfg, pools)
    head = tv.TV3SHead(widths(arch), E, K, cfg["window"], cfg["shift"]).double().eval()
    prefix = "decode_head."
    order = [prefix + k for k in head.state_dict().keys()]
    assert sorted(order) == sorted(head_sd)
    state_dict = dict(bb)
    state_dict.update((k, head_sd[k]) for k in order)
    head.load_state_dict({k[len(prefix):]: v.double() for k, v in head_sd.items()}, strict=True)
    backbone = load_backbone(arch, bb)
    pth = f"{name}_official.pth"
    meta = checkpoint_meta(cfg)
    torch.save({"state_dict": state_dict, "meta": meta}, os.path.join(out_dir, pth))
    back = torch.load(os.path.join(out_dir, pth), weights_only=True)
    assert list(back["state_dict"]) == list(state_dict) and back["meta"] == meta
    assert all(torch.equal(back["state_dict"][k], v) for k, v in state_dict.items())

    entry = dict(arch=arch, backbone_type={"swin_t": "d2_Swint", "swin_s": "d2_Swins"}.get(arch, "D2SwinTransformer"),
                 embed_dim=a["embed"], depths=a["depths"], num_heads=a["heads"], window=a["window"],
                 shift=a["window"] // 2, channels=widths(arch), head_type=cfg["head_type"],
                 tv3s_embed_dim=E, tv3s_window=cfg["window"], tv3s_shift=cfg["shift"], num_classes=K,
                 num_clips=tv.NUM_CLIPS, frames=cfg["frames"], stored_frames=cfg["stored"], seed=cfg["seed"],
                 checkpoint=pth, sequences=[], max_abs={})
    if cfg["head_type"].endswith("_city"):
        entry["note_city_head"] = ("the official TV3SHead_shift_city in test mode answers all-zero logits for "
                                   "frames 0-2 (fewer than num_clips frames); the clip files of frames 0-2 hold "
                                   "the plain head's answer, the per-frame SegFormer logits (linear_pred)")
    for si, (H, W) in enumerate(cfg["sizes"]):
        t0 = time.time()
        seq = f"{name}_frames" if len(cfg["sizes"]) == 1 else f"{name}_{H}x{W}"
        stem = name if len(cfg["sizes"]) == 1 else seq
        os.makedirs(os.path.join(out_dir, seq), exist_ok=True)
        frames = tv.synth_frames(cfg["frames"], H, W, cfg["seed"] * 10 + si)
        cs, seg = [], []
        with torch.no_grad():
            for t, rgb in enumerate(frames):
                with open(os.path.join(out_dir, seq, f"{t:03d}.png"), "wb") as f:
                    f.write(tv.png_bytes_sub(rgb))
                feats = backbone(sf.normalize(rgb))
                _c = head.fuse(*feats)
                cs.append(_c[0])
                seg.append(head.linear_pred(_c)[0])
                if t == 0:
                    f32 = float32_deviation(backbone, head, rgb, feats, seg[0])
                    entry.setdefault("float32_deviation", {})[f"{H}x{W}"] = f32
                    sizes = stage_sizes(H, W)
                    for k in range(4):
                        assert list(feats[k].shape) == [1, widths(arch)[k]] + sizes[k]
                        save_npy(out_dir, f"{stem}_c{k + 1}.npy", feats[k][0], entry)
                    save_npy(out_dir, f"{stem}_logits.npy", seg[0], entry)
                    print(f"  {H}x{W}: stages {sizes}, rms " +
                          ", ".join(f"{f.square().mean().sqrt().item():.2f}" for f in feats) +
                          f"; _c >0 {(_c > 0).double().mean().item():.2f}")
            cs = torch.stack(cs)
            h, w = cs.shape[2:]
            h2, w2 = head.grid(h, w)
            t1 = time.time()
            clip = {}
            for i in cfg["stored"]:
                idx = tv.clip_indices(i)
                clip[i] = seg[i] if len(idx) != tv.NUM_CLIPS else head.tv3s(cs[idx])
            t2 = time.time()
            cache, stream = {}, {}
            for t in range(max(cfg["stored"]) + 1):
                out = head.tv3s(cs[t:t + 1], cache=cache)
                if t in cfg["stored"]:
                    stream[t] = out
            t3 = time.time()
            if cfg["check_stream"]:
                worst = 0.0
                for t in cfg["stored"]:
                    full = head.tv3s(cs[:t + 1])
                    worst = max(worst, (full - stream[t]).abs().max().item() / full.abs().max().item())
                print(f"  streaming at t == clip over frames 0..t: max |diff|/max|ref| {worst:.2e} "
                      f"over {len(cfg['stored'])} frames")
                assert worst < 1e-10
            targets = [i for i in cfg["stored"] if len(tv.clip_indices(i)) == tv.NUM_CLIPS]
            differ = [i for i in targets if tv.clip_indices(i) != list(range(i + 1))]
            r_cs = min(rel(clip[i], stream[i]) for i in differ)
            r_ts = min(rel(clip[i], seg[i]) for i in targets)
            print(f"  min relative L2: clip vs stream {r_cs:.3f} (targets {differ}), TV3S vs SegFormer {r_ts:.3f}")
            assert r_cs > 0.01 and r_ts > 0.01
        for mode, res in (("clip", clip), ("stream", stream)):
            for i in cfg["stored"]:
                arr = save_npy(out_dir, f"{stem}_{mode}_{i:03d}.npy", res[i], entry)
                assert arr.shape == (K, h, w) and len(np.unique(arr.argmax(0))) > 1
        print("  max|logit| " + ", ".join(f"{k} {v:.3f}" for k, v in entry["max_abs"].items() if k.startswith(stem)
                                           and ("clip" in k or "stream" in k or "logits" in k)))
        print(f"  time: backbone+fuse {t1 - t0:.1f}s, clip {t2 - t1:.1f}s, stream {t3 - t2:.1f}s, "
              f"checks {time.time() - t3:.1f}s")
        entry["sequences"].append(dict(
            frames_dir=seq, input=[H, W], stages=stage_sizes(H, W), c1=[h, w], grid=[h2, w2],
            stage_files=[f"{stem}_c{k}.npy" for k in range(1, 5)], segformer_logits=f"{stem}_logits.npy",
            stage_frame=0, files={m: [f"{stem}_{m}_{i:03d}.npy" for i in cfg["stored"]] for m in ("clip", "stream")}))
    manifest["configs"][name] = entry
    extra[name] = (bb, backbone)


def write_small_extras(out_dir, manifest, bb, backbone):
    """22K-style backbone checkpoint (+ a corrupted copy), HF-named backbone, gradients."""
    from safetensors.torch import save_file
    arch = "small"
    gen = torch.Generator().manual_seed(8101)

    ck = pretrained_22k(arch, bb)
    torch.save(ck, os.path.join(out_dir, "small_22k.pth"))
    bad = {"model": dict(ck["model"])}
    key = "layers.1.blocks.0.attn.relative_position_index"
    idx = bad["model"][key].clone()
    idx[3, 5] = idx[3, 5] + 1
    bad["model"][key] = idx
    torch.save(bad, os.path.join(out_dir, "small_22k_bad_index.pth"))
    masks = {k: list(v.shape) for k, v in ck["model"].items() if k.endswith("attn_mask")}
    print(f"  small_22k.pth: {len(ck['model'])} tensors, attn_mask {masks}; bad copy: {key}[3, 5] += 1")

    hf = hf_weights(bb)
    save_file(hf, os.path.join(out_dir, "small_hf_backbone.safetensors"), metadata={"format": "pt"})
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        f.write(json.dumps(hf_config(arch).to_dict(), indent=2, sort_keys=True) + "\n")
    self_test_hf(arch, hf, backbone, gen)

    # Gradient fixture: loss = Σ_k Σ(out_k · R_k), float64, inputs stored as float32.
    N, H, W = GRAD_INPUT
    model = load_backbone(arch, bb).train()
    x = (torch.randn(N, 3, H, W, generator=gen) * 1.0).float()
    sizes = stage_sizes(H, W)
    R = [torch.randn(N, widths(arch)[k], *sizes[k], generator=gen).float() for k in range(4)]
    xd = x.double().requires_grad_(True)

    def loss_fn(m, inp):
        return sum((o * r.double()).sum() for o, r in zip(m(inp), R))

    with torch.enable_grad():
        loss = loss_fn(model, xd)
        loss.backward()
    params = dict(model.named_parameters())
    tensors = {"input": x, "input_grad": xd.grad.float()}
    for k in range(4):
        tensors[f"R{k}"] = R[k]
    for n, p in params.items():
        tensors[f"backbone.{n}"] = p.grad.float()  # d loss / d parameter, official name
    tensors["loss"] = loss.detach().reshape(1)
    # central finite difference along one random direction of all parameters and the input
    dirs = {n: torch.randn(p.shape, generator=gen, dtype=torch.float64) for n, p in params.items()}
    dx = torch.randn(xd.shape, generator=gen, dtype=torch.float64)
    analytic = sum((p.grad * dirs[n]).sum() for n, p in params.items()) + (xd.grad * dx).sum()
    eps = 1e-6
    with torch.no_grad():
        vals = []
        for sgn in (1, -1):
            for n, p in params.items():
                p.add_(sgn * eps * dirs[n])
            vals.append(loss_fn(model, x.double() + sgn * eps * dx))
            for n, p in params.items():
                p.sub_(sgn * eps * dirs[n])
    fd = (vals[0] - vals[1]) / (2 * eps)
    fd_rel = abs(fd.item() - analytic.item()) / abs(analytic.item())
    print(f"  gradient fixture: N {N}, {H}x{W}, stages {sizes}, loss {loss.item():.6f}, "
          f"{len(params)} parameter grads; directional derivative vs central difference rel {fd_rel:.1e}")
    assert fd_rel < 1e-6
    save_file(tensors, os.path.join(out_dir, "small_grad.safetensors"), metadata={"format": "pt"})
    manifest["configs"]["small"]["extras"] = dict(
        pretrained_22k=dict(
            file="small_22k.pth", layout="{'model': state_dict}, Microsoft Swin names without 'backbone.' "
            "(patch_embed.*, layers.{i}.blocks.{j}.*, layers.{i}.downsample.*, norm.*, head.*), no norm0..3",
            pretrain_img_size=PRETRAIN_IMG_SIZE, attn_mask_shapes=masks,
            head_rows=10, same_tensors_as="small_official.pth backbone (minus norm0..3)",
            note="the original Swin: shift 0 and no attn_mask where the pretraining resolution is <= the "
                 "window (stage 3: 4 <= 4); the official D2 model loads this non-strictly: attn_mask, norm, "
                 "head are ignored, norm0..3 keep their default init (weight 1, bias 0)"),
        bad_index=dict(file="small_22k_bad_index.pth", changed=f"{key}[3, 5] += 1", expect="converter refuses"),
        hf_backbone=dict(
            file="small_hf_backbone.safetensors", config="config.json",
            mapping=HF_MAPPING,
            mapping_notes="applied to the official name without 'backbone.'; attn.qkv.{weight,bias} rows "
                          "[0,C) -> query, [C,2C) -> key, [2C,3C) -> value; norm{i} -> "
                          "hidden_states_norms.stage{i+1}; HF relative_position_index (w², w²) int64 is the "
                          "same buffer; HF has no conv_seg/head; verified: HF SwinBackbone loads it strictly "
                          "and equals this backbone where both agree (maps > window, multiples of it)"),
        grad=dict(
            file="small_grad.safetensors", mode="training mode (no dropout/DropPath: rates 0), float64 autograd",
            weights="small_official.pth backbone", input_shape=[N, 3, H, W], stage_sizes=sizes,
            loss="sum_k sum(out_k * R_k), out_k = norm_k output (N, C_k, H_k, W_k)",
            loss_value=loss.item(),
            tensors="input (float32 normalised images [N, 3, H, W]), R0..R3 (float32, the shape of out_k), "
                    "loss (float64 [1]), input_grad (float32), and under every parameter's official name "
                    "backbone.<name> its gradient (float32); relative_position_index is a buffer (no gradient)",
            fd_check_rel=float(f"{fd_rel:.2e}")))


def generate(out_dir, only=None):
    torch.set_num_threads(1)
    torch.set_grad_enabled(False)
    os.makedirs(out_dir, exist_ok=True)
    manifest = {
        "generator": GENERATOR,
        "layouts": {
            "stage outputs": "{stem}_c1..c4.npy float32 [C, H_i, W_i] of frame 0 (norm0..3 outputs)",
            "segformer logits": "{stem}_logits.npy float32 [K, h, w] at the c1 size, frame 0 (linear_pred)",
            "tv3s logits": "{stem}_{clip,stream}_NNN.npy float32 [K, h, w] at the c1 size",
            "frames": "{frames_dir}/NNN.png 8-bit RGB, normalised like the official pipeline",
            "float32_deviation": "per size: max|f32 - f64| / max|f64| of [c1, c2, c3, c4, SegFormer logits] of "
                                 "frame 0 when this same model runs in PyTorch float32"},
        "clip_mode": "model-spec 8.1: [i-9, i-6, i-3, i], special clips for i = 3..8, frames 0-2 = SegFormer "
                     "per-frame logits; fresh zero state per clip",
        "stream_mode": "model-spec 8.2: one frame per call (T = 1), conv/ssm state per layer and sequence "
                       "carried from frame 0",
        "suggested_tolerances": {
            "stage outputs (f32 runtime vs this f64 reference)": "max|diff| <= 1e-4 * max|ref| per stage "
            "(the same model in PyTorch f32 lands within 1.5e-6: float32_deviation per config)",
            "segformer/tv3s logits": "max|diff| <= 1e-4 * max|ref| (as tests/models/test_tv3s_parity.cpp)",
            "grads": "relative L2 <= 1e-3 per tensor, loss <= 1e-5 relative (as the train fixture)"},
        "configs": {},
    }
    t0 = time.time()
    gen = torch.Generator().manual_seed(8000)
    self_test_window_attention(gen)
    extra = {}
    for cfg in CONFIGS:
        if only is None or cfg["name"] == only:
            run_config(cfg, out_dir, manifest, extra)
    if "small" in extra:
        write_small_extras(out_dir, manifest, *extra["small"])
    tv.write_manifest(out_dir, manifest, t0)


def main():
    tv.fixture_main(__doc__, OUT, [c["name"] for c in CONFIGS], generate)


if __name__ == "__main__":
    main()
