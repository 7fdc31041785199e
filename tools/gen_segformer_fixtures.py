#!/usr/bin/env python3
"""Golden fixtures for the per-frame SegFormer model (MiT-B0/B1 + all-MLP head).

The independent implementation is Hugging Face transformers' Segformer in PyTorch
(transformers 4.x: its state dict uses the classic Hub names, `segformer.encoder.block.
0.0.attention.self.query.weight`, ...; transformers 5 renamed the modules). It runs in
float64 with random, seeded, non-trivial weights, BatchNorm running statistics included,
and writes for each case:

  tests/data/segformer/<arch>_official.pth   an mmseg-style checkpoint {state_dict, meta}
                                            with the official names (backbone.*, decode_head.*)
  tests/data/segformer/<arch>_hf.bin         the same weights as a HF `pytorch_model.bin`
  tests/data/segformer/<arch>_<H>x<W>.png    the input image (8-bit RGB)
  tests/data/segformer/<arch>_<H>x<W>_{c1,c2,c3,c4,logits,full}.npy
        backbone stage outputs c1..c4 [C, h, w], head logits at 1/4 resolution [K, h, w],
        and the logits resized to the input size [K, H, W] (what the official
        EncoderDecoder returns before argmax), all float32, NCHW order without N.

Two deviations of HF from the official MiT are undone here so that the reference is the
official model: HF builds every encoder LayerNorm with eps 1e-5, the official block norms
(norm1, norm2) and stage norms (norm1..4) use 1e-6 (model-spec §2.6) — set below; HF splits
the official `attn.kv` Linear into key and value — the files hold kv and key/value as views
of one tensor, so both name schemes carry the same numbers.

Keeping the files small: every weight is a (possibly strided, overlapping) view into a
few small random "pools" of values, one pool per weight scale. torch.save stores each
pool once, so a MiT-B1 checkpoint is ~0.5 MB instead of 55 MB, and the reader has to honour
storage offsets and strides as in any torch checkpoint. Weights stay generic: every
tensor element is a random value, rows are distinct.

Usage: pip install torch numpy "transformers<5"; python3 tools/gen_segformer_fixtures.py
"""
import json
import math
import os
import struct
import zlib

import numpy as np
import torch
import torch.nn.functional as F
import transformers
from transformers import SegformerConfig, SegformerForSemanticSegmentation

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "segformer")
ARCHS = {  # model-spec §2.1
    "b0": dict(hidden_sizes=[32, 64, 160, 256], depths=[2, 2, 2, 2]),
    "b1": dict(hidden_sizes=[64, 128, 320, 512], depths=[2, 2, 2, 2]),
}
SIZES = [(64, 96), (67, 101)]  # divisible by 32, and odd
NUM_CLASSES = 8
MEAN = np.array([123.675, 116.28, 103.53], np.float32)
STD = np.array([58.395, 57.12, 57.375], np.float32)
POOL_SIZE = 8192


class Pools:
    """Random value pools, one per scale, and views into them."""

    def __init__(self, seed):
        self.gen = torch.Generator().manual_seed(seed)
        self.pools = {}

    def pool(self, kind, scale, center=0.0, size=POOL_SIZE):
        key = (kind, scale, center)
        if key not in self.pools:
            u = torch.rand(size, generator=self.gen, dtype=torch.float64) * 2 - 1
            self.pools[key] = (center + scale * u).float()
        return self.pools[key]

    def view(self, pool, shape):
        """A view of `pool` with `shape`: contiguous at a random offset when it fits, else
        dim 0 gets a smaller stride (rows overlap, shifted by the stride)."""
        numel, size = math.prod(shape), pool.numel()
        inner = numel // shape[0]
        if numel <= size // 2:
            offset = int(torch.randint(0, size - numel + 1, (1,), generator=self.gen))
            return pool[offset:offset + numel].view(shape)
        assert inner < size
        row_stride = (size - inner) // (shape[0] - 1)
        strides = [row_stride] + [math.prod(shape[i + 1:]) for i in range(1, len(shape))]
        return pool.as_strided(shape, strides, 0)


def official_weights(arch, pools):
    """Every official parameter (model-spec §2.5, §12) as a view into a pool."""
    cfg = ARCHS[arch]
    w = {}

    def weight(name, shape, fan_in):
        # Uniform with a std of about 1/sqrt(fan_in), the scale rounded to a power of two
        # so that a few pools serve every layer.
        scale = 2.0 ** round(math.log2(math.sqrt(3.0 / fan_in)))
        w[name] = pools.view(pools.pool("w", scale), shape)

    def bias(name, n):
        w[name] = pools.view(pools.pool("b", 0.1, size=4096), [n])

    def norm(name, n):
        w[name + ".weight"] = pools.view(pools.pool("g", 0.3, 1.0, size=4096), [n])
        bias(name + ".bias", n)

    cin = 3
    for k in range(1, 5):
        C, depth, sr = cfg["hidden_sizes"][k - 1], cfg["depths"][k - 1], [8, 4, 2, 1][k - 1]
        ks = 7 if k == 1 else 3
        p = f"backbone.patch_embed{k}"
        weight(p + ".proj.weight", [C, cin, ks, ks], cin * ks * ks)
        bias(p + ".proj.bias", C)
        norm(p + ".norm", C)
        for j in range(depth):
            b = f"backbone.block{k}.{j}."
            norm(b + "norm1", C)
            weight(b + "attn.q.weight", [C, C], C)
            bias(b + "attn.q.bias", C)
            weight(b + "attn.kv.weight", [2 * C, C], C)
            bias(b + "attn.kv.bias", 2 * C)
            weight(b + "attn.proj.weight", [C, C], C)
            bias(b + "attn.proj.bias", C)
            if sr > 1:
                weight(b + "attn.sr.weight", [C, C, sr, sr], C * sr * sr)
                bias(b + "attn.sr.bias", C)
                norm(b + "attn.norm", C)
            norm(b + "norm2", C)
            weight(b + "mlp.fc1.weight", [4 * C, C], C)
            bias(b + "mlp.fc1.bias", 4 * C)
            weight(b + "mlp.dwconv.dwconv.weight", [4 * C, 1, 3, 3], 9)
            bias(b + "mlp.dwconv.dwconv.bias", 4 * C)
            weight(b + "mlp.fc2.weight", [C, 4 * C], 4 * C)
            bias(b + "mlp.fc2.bias", C)
        norm(f"backbone.norm{k}", C)
        cin = C
    E, K = 256, NUM_CLASSES
    for k in range(1, 5):
        weight(f"decode_head.linear_c{k}.proj.weight", [E, cfg["hidden_sizes"][k - 1]], cfg["hidden_sizes"][k - 1])
        bias(f"decode_head.linear_c{k}.proj.bias", E)
    weight("decode_head.linear_fuse.conv.weight", [E, 4 * E, 1, 1], 4 * E)
    norm("decode_head.linear_fuse.bn", E)
    w["decode_head.linear_fuse.bn.running_mean"] = pools.view(pools.pool("m", 0.2, size=512), [E])
    w["decode_head.linear_fuse.bn.running_var"] = pools.view(pools.pool("v", 0.5, 1.0, size=512), [E])
    w["decode_head.linear_fuse.bn.num_batches_tracked"] = torch.tensor(1234, dtype=torch.int64)
    weight("decode_head.linear_pred.weight", [K, E, 1, 1], E)
    bias("decode_head.linear_pred.bias", K)
    # Unused by the model but present in every official checkpoint (model-spec §3).
    weight("decode_head.conv_seg.weight", [K, 128, 1, 1], 128)
    bias("decode_head.conv_seg.bias", K)
    return w


def hf_weights(official):
    """The same tensors under HF's classic names (model-spec §2.6), key/value as views of kv."""
    hf = {}
    for name, t in official.items():
        if name.startswith("decode_head.conv_seg"):
            continue  # HF has no conv_seg
        if name.startswith("backbone."):
            n = name[len("backbone."):]
            parts = n.split(".")
            if parts[0].startswith("patch_embed"):
                i = int(parts[0][-1]) - 1
                rest = ".".join(parts[1:]).replace("norm.", "layer_norm.")
                hf[f"segformer.encoder.patch_embeddings.{i}.{rest}"] = t
            elif parts[0].startswith("block"):
                i, j = int(parts[0][-1]) - 1, parts[1]
                rest = ".".join(parts[2:])
                prefix = f"segformer.encoder.block.{i}.{j}."
                if rest.startswith("attn.kv."):
                    C = t.shape[0] // 2
                    leaf = rest.split(".")[-1]
                    hf[prefix + "attention.self.key." + leaf] = t[:C]
                    hf[prefix + "attention.self.value." + leaf] = t[C:]
                    continue
                for a, b in [("norm1.", "layer_norm_1."), ("norm2.", "layer_norm_2."),
                             ("attn.q.", "attention.self.query."), ("attn.sr.", "attention.self.sr."),
                             ("attn.norm.", "attention.self.layer_norm."),
                             ("attn.proj.", "attention.output.dense."), ("mlp.fc1.", "mlp.dense1."),
                             ("mlp.fc2.", "mlp.dense2."), ("mlp.dwconv.", "mlp.dwconv.")]:
                    if rest.startswith(a):
                        hf[prefix + b + rest[len(a):]] = t
                        break
                else:
                    raise KeyError(name)
            else:  # norm{k}
                i = int(parts[0][-1]) - 1
                hf[f"segformer.encoder.layer_norm.{i}.{parts[1]}"] = t
        else:
            n = name[len("decode_head."):]
            if n.startswith("linear_c"):
                hf[f"decode_head.linear_c.{int(n[8]) - 1}.{n[10:]}"] = t
            elif n.startswith("linear_fuse.conv."):
                hf["decode_head.linear_fuse." + n[len("linear_fuse.conv."):]] = t
            elif n.startswith("linear_fuse.bn."):
                hf["decode_head.batch_norm." + n[len("linear_fuse.bn."):]] = t
            elif n.startswith("linear_pred."):
                hf["decode_head.classifier." + n[len("linear_pred."):]] = t
            else:
                raise KeyError(name)
    return hf


def hf_model(arch, hf_state, decoder_hidden_size=256, num_labels=NUM_CLASSES):
    cfg = ARCHS[arch]
    config = SegformerConfig(
        num_channels=3, num_encoder_blocks=4, depths=cfg["depths"], sr_ratios=[8, 4, 2, 1],
        hidden_sizes=cfg["hidden_sizes"], patch_sizes=[7, 3, 3, 3], strides=[4, 2, 2, 2],
        num_attention_heads=[1, 2, 5, 8], mlp_ratios=[4, 4, 4, 4], hidden_act="gelu",
        hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, classifier_dropout_prob=0.0,
        drop_path_rate=0.0, decoder_hidden_size=decoder_hidden_size, num_labels=num_labels)
    model = SegformerForSemanticSegmentation(config).double().eval()
    missing, unexpected = model.load_state_dict({k: v.double() for k, v in hf_state.items()}, strict=True)
    assert not missing and not unexpected
    enc = model.segformer.encoder
    for i in range(4):  # the official eps (see the module docstring)
        enc.layer_norm[i].eps = 1e-6
        for blk in enc.block[i]:
            blk.layer_norm_1.eps = 1e-6
            blk.layer_norm_2.eps = 1e-6
    return model


def png_bytes(rgb):
    """A minimal 8-bit RGB PNG encoder (stdlib only): filter 0 rows, one IDAT."""
    h, w, _ = rgb.shape
    raw = b"".join(b"\x00" + rgb[y].tobytes() for y in range(h))

    def chunk(tag, data):
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def test_image(h, w, gen):
    """Smooth random colour blobs plus noise, 8-bit RGB."""
    coarse = torch.rand(1, 3, (h + 7) // 8, (w + 7) // 8, generator=gen, dtype=torch.float64)
    smooth = F.interpolate(coarse, size=(h, w), mode="bicubic", align_corners=False)[0]
    noise = torch.rand(3, h, w, generator=gen, dtype=torch.float64) * 0.25
    img = ((smooth * 0.8 + noise).clamp(0, 1) * 255).round().to(torch.uint8)
    return img.permute(1, 2, 0).contiguous().numpy()


def normalize(rgb):
    """The official pipeline (mmcv imnormalize): float32 (v − mean) · (1/std), RGB order."""
    x = (rgb.astype(np.float32) - MEAN) * (1.0 / STD.astype(np.float64)).astype(np.float32)
    return torch.from_numpy(x).permute(2, 0, 1)[None].double()


def main():
    assert transformers.__version__.split(".")[0] == "4", "needs transformers 4.x (classic names)"
    os.makedirs(OUT, exist_ok=True)
    meta = {
        "CLASSES": tuple(f"class{i}" for i in range(NUM_CLASSES)),
        "PALETTE": [[(37 * i) % 256, (91 * i + 40) % 256, (53 * i + 90) % 256] for i in range(NUM_CLASSES)],
        "mmseg_version": "0.11.0", "config": "fixture: tools/gen_segformer_fixtures.py",
    }
    for seed, arch in enumerate(ARCHS, start=1):
        pools = Pools(1000 + seed)
        official = official_weights(arch, pools)
        hf = hf_weights(official)
        torch.save({"state_dict": official, "meta": meta}, os.path.join(OUT, f"{arch}_official.pth"))
        torch.save(hf, os.path.join(OUT, f"{arch}_hf.bin"))
        model = hf_model(arch, hf)
        gen = torch.Generator().manual_seed(2000 + seed)
        for h, w in SIZES:
            rgb = test_image(h, w, gen)
            stem = os.path.join(OUT, f"{arch}_{h}x{w}")
            with open(stem + ".png", "wb") as f:
                f.write(png_bytes(rgb))
            with torch.no_grad():
                out = model.segformer(normalize(rgb), output_hidden_states=True)
                feats = out.hidden_states
                logits = model.decode_head(feats)
                full = F.interpolate(logits, size=(h, w), mode="bilinear", align_corners=False)
            for name, t in [("c1", feats[0]), ("c2", feats[1]), ("c3", feats[2]), ("c4", feats[3]),
                            ("logits", logits), ("full", full)]:
                np.save(f"{stem}_{name}.npy", t[0].float().numpy())
            print(f"{arch} {h}x{w}: c1 {tuple(feats[0].shape)} logits {tuple(logits.shape)} "
                  f"max|full| {full.abs().max().item():.3f} classes used "
                  f"{len(torch.unique(full.argmax(1)))}/{NUM_CLASSES}")
    sizes = {f: os.path.getsize(os.path.join(OUT, f)) for f in sorted(os.listdir(OUT))}
    print(json.dumps(sizes, indent=1))
    print("total", sum(sizes.values()), "bytes")


if __name__ == "__main__":
    main()
