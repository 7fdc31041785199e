#!/usr/bin/env python3
"""Golden values for window_attention (Swin's shifted-window attention), computed by PyTorch.

Writes tests/data/swin/window_attention_golden.json, read by tests/ops/test_window_attention.cpp.

The computation is a literal transcription of the official Swin code as used by TV3S
(Ashesham/TV3S utils/models/swin2.py): SwinTransformerBlock.forward from the normed map
to the attention output before `proj` (pad right/bottom to multiples of the window, roll
by (−s, −s), window_partition, WindowAttention.forward, window_reverse, roll back, crop),
the relative position index of WindowAttention.__init__, and the mask of BasicLayer.forward.
One step is re-ordered, and checked equal to the official order: the qkv Linear is applied
to the padded map before the roll and partition (it acts on each position alone, so this
is the same), so that its output at the real positions is the op's `qkv`, its value at a
padded position is the Linear's bias (the op's `pad_qkv`), and PyTorch gives the gradient of
every position's qkv.

Each case records: the parameters (heads, window, shift, scale), the op's inputs (qkv
[N, H, W, 3C] at the real positions, pad_qkv = the qkv bias [3C], the bias table), a weight
W, the output [N, H, W, C], and the gradients of sum(output * W): dqkv (real positions),
dpad (the sum of the padded positions' qkv gradients: what the op returns for pad_qkv), and
dbias (the Linear bias's gradient, = dpad + the sum of dqkv over the real positions).
All float64.

Usage:  pip install torch numpy   (only needed here, never to build or test tv3s)
        python3 tools/gen_window_attention_fixtures.py
"""
import json
import os

import numpy as np
import torch
import torch.nn.functional as F

torch.manual_seed(20261207)
torch.set_default_dtype(torch.float64)
OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "data", "swin",
                   "window_attention_golden.json")


# --- official code (swin2.py), verbatim where it is used --------------------------------------

def window_partition(x, window_size):
    B, H, W, C = x.shape
    x = x.view(B, H // window_size, window_size, W // window_size, window_size, C)
    windows = x.permute(0, 1, 3, 2, 4, 5).contiguous().view(-1, window_size, window_size, C)
    return windows


def window_reverse(windows, window_size, H, W):
    B = int(windows.shape[0] / (H * W / window_size / window_size))
    x = windows.view(B, H // window_size, W // window_size, window_size, window_size, -1)
    x = x.permute(0, 1, 3, 2, 4, 5).contiguous().view(B, H, W, -1)
    return x


def relative_position_index(window_size):
    """WindowAttention.__init__."""
    coords_h = torch.arange(window_size[0])
    coords_w = torch.arange(window_size[1])
    coords = torch.stack(torch.meshgrid([coords_h, coords_w], indexing="ij"))
    coords_flatten = torch.flatten(coords, 1)
    relative_coords = coords_flatten[:, :, None] - coords_flatten[:, None, :]
    relative_coords = relative_coords.permute(1, 2, 0).contiguous()
    relative_coords[:, :, 0] += window_size[0] - 1
    relative_coords[:, :, 1] += window_size[1] - 1
    relative_coords[:, :, 0] *= 2 * window_size[1] - 1
    return relative_coords.sum(-1)


def attention_mask(H, W, window_size, shift_size):
    """BasicLayer.forward."""
    Hp = int(np.ceil(H / window_size)) * window_size
    Wp = int(np.ceil(W / window_size)) * window_size
    img_mask = torch.zeros((1, Hp, Wp, 1))
    h_slices = (slice(0, -window_size), slice(-window_size, -shift_size), slice(-shift_size, None))
    w_slices = (slice(0, -window_size), slice(-window_size, -shift_size), slice(-shift_size, None))
    cnt = 0
    for h in h_slices:
        for w in w_slices:
            img_mask[:, h, w, :] = cnt
            cnt += 1
    mask_windows = window_partition(img_mask, window_size)
    mask_windows = mask_windows.view(-1, window_size * window_size)
    attn_mask = mask_windows.unsqueeze(1) - mask_windows.unsqueeze(2)
    attn_mask = attn_mask.masked_fill(attn_mask != 0, float(-100.0)).masked_fill(attn_mask == 0, float(0.0))
    return attn_mask


def window_attention(qkv_windows, table, index, window, num_heads, scale, mask):
    """WindowAttention.forward from its qkv (the Linear's output), without proj."""
    B_, N, C3 = qkv_windows.shape
    C = C3 // 3
    qkv = qkv_windows.reshape(B_, N, 3, num_heads, C // num_heads).permute(2, 0, 3, 1, 4)
    q, k, v = qkv[0], qkv[1], qkv[2]
    q = q * scale
    attn = q @ k.transpose(-2, -1)
    relative_position_bias = table[index.view(-1)].view(window * window, window * window, -1)
    relative_position_bias = relative_position_bias.permute(2, 0, 1).contiguous()
    attn = attn + relative_position_bias.unsqueeze(0)
    if mask is not None:
        nW = mask.shape[0]
        attn = attn.view(B_ // nW, nW, num_heads, N, N) + mask.unsqueeze(1).unsqueeze(0)
        attn = attn.view(-1, num_heads, N, N)
    attn = torch.softmax(attn, dim=-1)
    return (attn @ v).transpose(1, 2).reshape(B_, N, C)


def block_attention(qkv_padded, H, W, table, window, shift, num_heads, scale):
    """SwinTransformerBlock.forward from the padded map's qkv to the cropped attention output."""
    B, Hp, Wp, C3 = qkv_padded.shape
    if shift > 0:
        shifted = torch.roll(qkv_padded, shifts=(-shift, -shift), dims=(1, 2))
        mask = attention_mask(H, W, window, shift)
    else:
        shifted = qkv_padded
        mask = None
    windows = window_partition(shifted, window).view(-1, window * window, C3)
    out = window_attention(windows, table, relative_position_index((window, window)), window,
                           num_heads, scale, mask)
    out = window_reverse(out.view(-1, window, window, C3 // 3), window, Hp, Wp)
    if shift > 0:
        out = torch.roll(out, shifts=(shift, shift), dims=(1, 2))
    return out[:, :H, :W, :].contiguous()


def official_order(x, weight, bias, H, W, table, window, shift, num_heads, scale):
    """The official order: pad, roll, partition, then the qkv Linear inside WindowAttention."""
    pad_r = (window - W % window) % window
    pad_b = (window - H % window) % window
    x = F.pad(x, (0, 0, 0, pad_r, 0, pad_b))
    _, Hp, Wp, C = x.shape
    if shift > 0:
        x = torch.roll(x, shifts=(-shift, -shift), dims=(1, 2))
        mask = attention_mask(H, W, window, shift)
    else:
        mask = None
    windows = window_partition(x, window).view(-1, window * window, C)
    out = window_attention(F.linear(windows, weight, bias), table,
                           relative_position_index((window, window)), window, num_heads, scale, mask)
    out = window_reverse(out.view(-1, window, window, C), window, Hp, Wp)
    if shift > 0:
        out = torch.roll(out, shifts=(shift, shift), dims=(1, 2))
    return out[:, :H, :W, :].contiguous()


# --- the cases -----------------------------------------------------------------------------

def tensor_json(t):
    return {"shape": list(t.shape), "data": [float(v) for v in t.detach().flatten().tolist()]}


def make_case(N, H, W, C, heads, window, shift):
    scale = (C // heads) ** -0.5
    x = torch.rand(N, H, W, C) * 2 - 1  # the normed map (norm1's output)
    weight = torch.rand(3 * C, C) * 2 - 1
    bias = (torch.rand(3 * C) * 2 - 1).requires_grad_()
    table = (torch.rand((2 * window - 1) ** 2, heads) * 2 - 1).requires_grad_()

    pad_r = (window - W % window) % window
    pad_b = (window - H % window) % window
    qkv_padded = F.linear(F.pad(x, (0, 0, 0, pad_r, 0, pad_b)), weight, bias)
    qkv_padded.retain_grad()
    out = block_attention(qkv_padded, H, W, table, window, shift, heads, scale)
    reference = official_order(x, weight, bias, H, W, table, window, shift, heads, scale)
    assert torch.allclose(out, reference, rtol=0, atol=1e-13), "Linear before/after partition differ"

    w = torch.rand(out.shape) + 0.5
    (out * w).sum().backward()
    grad = qkv_padded.grad
    real = torch.zeros(N, grad.shape[1], grad.shape[2], 1, dtype=torch.bool)
    real[:, :H, :W] = True
    dpad = (grad * ~real).sum(dim=(0, 1, 2))
    assert torch.allclose(dpad + grad[:, :H, :W].sum(dim=(0, 1, 2)), bias.grad, rtol=0, atol=1e-12)
    if pad_r == 0 and pad_b == 0:
        assert float(dpad.abs().max()) == 0.0
    return {
        "N": N, "H": H, "W": W, "C": C, "heads": heads, "window": window, "shift": shift,
        "scale": scale,
        "qkv": tensor_json(qkv_padded[:, :H, :W]), "pad_qkv": tensor_json(bias),
        "bias_table": tensor_json(table), "weight": tensor_json(w), "output": tensor_json(out),
        "dqkv": tensor_json(grad[:, :H, :W]), "dpad": tensor_json(dpad),
        "dbias": tensor_json(bias.grad), "dtable": tensor_json(table.grad),
    }


def main():
    cases = [
        make_case(N=1, H=5, W=6, C=4, heads=2, window=3, shift=0),   # padded rows, W-MSA
        make_case(N=2, H=5, W=4, C=6, heads=3, window=3, shift=1),   # padded both ways, SW-MSA
        make_case(N=1, H=9, W=8, C=4, heads=2, window=7, shift=3),   # Swin's window 7, shift 3
        make_case(N=1, H=7, W=7, C=3, heads=1, window=7, shift=3),   # one window, no padding
    ]
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump({"generator": "tools/gen_window_attention_fixtures.py", "cases": cases}, f)
    print(f"wrote {len(cases)} cases to {os.path.normpath(OUT)} ({os.path.getsize(OUT)} bytes)")


if __name__ == "__main__":
    main()
