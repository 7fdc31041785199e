#!/usr/bin/env python3
"""Gradient-parity fixture for training: one training step of a tiny TV3S in PyTorch.

The independent reference for `forward_train` + `compute_loss` + backward (training-spec
§5). It reuses gen_tv3s_fixtures.py's independent model — Hugging Face transformers' MiT
encoder with the official LayerNorm eps and the official-structure TV3S head in plain
PyTorch — in float64, switched to training mode the way the official recipe runs it, with
the stochastic layers off (the C++ side runs `Stochastic::off()`):

- BatchNorm (`linear_fuse.bn`) in training mode: normalised with the batch statistics over
  all B·T frames (biased variance), running statistics updated once with momentum 0.1 and
  the unbiased variance (SyncBN over the whole batch == plain BN on one device, §9).
- Dropout2d (both), MiT DropPath and the Mamba DropPath: rate 0, i.e. identity.
- The Mamba scan is the same recurrence as gen_tv3s_fixtures.Mamba but written with
  autograd-friendly ops (that one writes into preallocated buffers); the generator
  asserts that both give the same forward.
- Forward as `EncoderDecoder_clips.forward_train`: images (B·T, 3, H, W) → MiT → fused
  `_c` for every frame → per-frame logits `linear_pred(_c)`; per clip `_c` resized to the
  TV3S grid, the layer stack, `linear_pred2` on the last frame, bilinear to the c1 size.
- Loss (mmseg 0.11 CrossEntropyLoss, ignore 255, mean over ALL pixels incl. ignored):
    vspw        0.5·CE(frame logits↑, every frame's labels) + 1.0·CE(TV3S logit↑, last labels)
    cityscapes  0.5·CE(last frame's SegFormer logit↑, last labels) + CE(TV3S logit↑, last labels)
    per_frame   CE(frame logits↑, every frame's labels)
  with ↑ = bilinear (align_corners False) from the c1 size to the label size.
- Backward of the vspw loss in float64: the gradient of every trainable parameter
  (official names; HF's key/value gradients concatenated into the official kv). Checked
  here against a central finite difference of the loss along one random direction of all
  parameters at once. Five gradients are exactly zero (up to rounding): the biases of
  linear_c1..4 and backbone.norm4.bias only add per-channel constants to linear_fuse's
  input, which training-mode BatchNorm subtracts again; expected.json lists them.

Config: MiT-B0, E = 32, window 4, shift 2, 5 classes (gen_tv3s_fixtures' tiny model; new
random pool weights, BN running statistics random), B = 2 clips × T = 4 frames of 66×90
(c1 17×23, TV3S grid 8×12 = 2×3 windows: a non-uniform grid resize; the loss resize
from 17×23 to 66×90 is non-integer), smooth synthetic frames normalised like the official
pipeline, blocky labels with ~10 % pixels 255 plus an ignored band at the bottom of one
frame (like crop padding).

Output: tests/data/train/ (see tools/README.md):
  weights.pth               the model as an official mmseg checkpoint (`tv3s convert` reads
                            window/shift from its config text)
  images.npy                float32 [B·T, H, W, 3] normalised RGB, clip b = rows b·T … b·T+T−1
  labels.npy                uint8 [B·T, H, W] train ids, 255 ignored
  grads.safetensors         float32, one tensor per trainable parameter (official names):
                            d(vspw loss)/d(parameter)
  running_stats.safetensors float32 decode_head.linear_fuse.bn.running_mean/var after the step
  expected.json             config, sizes, the three losses (total, aux, main), reference
                            gradient norms, file names

Usage: python3 tools/gen_train_fixtures.py [--out DIR] [--check]
  --check  regenerate into a temporary directory and compare byte for byte.
"""
import argparse
import filecmp
import json
import os
import sys
import tempfile
import time

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_segformer_fixtures as sf  # noqa: E402
import gen_tv3s_fixtures as tv  # noqa: E402

GENERATOR = "tools/gen_train_fixtures.py"
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "train")
CFG = dict(name="train", arch="b0", E=32, window=4, shift=2, K=5, seed=7101, pool=8192)
B, T = 2, 4
H, W = 66, 90
IGNORE_FRACTION = 0.1
BN = "decode_head.linear_fuse.bn."


class TrainMamba(tv.Mamba):
    """gen_tv3s_fixtures.Mamba's stateless forward with a differentiable scan."""

    def forward(self, u, state=None, stats=None):
        assert state is None
        n, L, _ = u.shape
        di = self.d_inner
        xz = (u @ self.in_proj.weight.t()).transpose(1, 2)  # (n, 2di, L)
        x, z = xz[:, :di], xz[:, di:]
        a = F.silu(tv.causal_conv(F.pad(x, (tv.D_CONV - 1, 0)), self.conv1d.weight, self.conv1d.bias, L))
        x_dbl = a.transpose(1, 2) @ self.x_proj.weight.t()  # (n, L, R + 2N)
        dt, Bm, Cm = torch.split(x_dbl, [self.dt_rank, tv.D_STATE, tv.D_STATE], dim=-1)
        delta = F.softplus((dt @ self.dt_proj.weight.t()).transpose(1, 2) + self.dt_proj.bias[:, None])
        A = -torch.exp(self.A_log)
        delta_l, a_l = delta.permute(2, 0, 1), a.permute(2, 0, 1)  # (L, n, di)
        dA = torch.exp(delta_l[..., None] * A)  # (L, n, di, N)
        dBu = (delta_l * a_l)[..., None] * Bm.transpose(0, 1)[:, :, None, :]
        h = u.new_zeros(n, di, tv.D_STATE)
        ys = []
        for t in range(L):  # h_t = exp(Δ_t A) h_{t−1} + Δ_t B_t a_t,  y_t = C_t · h_t
            h = dA[t] * h + dBu[t]
            ys.append((h * Cm[:, t, None, :]).sum(-1))
        y = torch.stack(ys, dim=2) + a * self.D[:, None]
        y = y * F.silu(z)
        return y.transpose(1, 2) @ self.out_proj.weight.t(), None


def official_to_hf_names(official):
    """Official backbone name -> the HF parameter names that hold it (kv -> [key, value])."""
    tags = {n: torch.empty(v.shape) for n, v in official.items()}
    hf = sf.hf_weights(tags)
    inverse = {}
    for hn, ht in hf.items():
        for on, ot in tags.items():
            if ht is ot or ht._base is ot:
                inverse.setdefault(on, []).append(hn)  # key is inserted before value
    assert sorted(inverse) == sorted(official)
    return inverse


def frames_and_labels(seed):
    """Normalised float32 [B·T, H, W, 3] (one synthetic video per clip) and uint8 labels."""
    images = []
    for b in range(B):
        for rgb in tv.synth_frames(T, H, W, seed * 10 + b):
            images.append((rgb.astype(np.float32) - sf.MEAN) * (1.0 / sf.STD.astype(np.float64)).astype(np.float32))
    images = np.stack(images).astype(np.float32)
    rng = np.random.default_rng(seed)
    cell = 8
    coarse = rng.integers(0, CFG["K"], (B * T, -(-H // cell), -(-W // cell)))
    labels = np.repeat(np.repeat(coarse, cell, axis=1), cell, axis=2)[:, :H, :W].astype(np.uint8)
    labels[rng.random(labels.shape) < IGNORE_FRACTION] = 255
    labels[1, H - 6:, :] = 255  # an ignored band, like the padding of a small crop
    return images, np.ascontiguousarray(labels)


def forward_train(hf, head, images):
    """images (B·T, 3, H, W) -> per-frame logits (B·T, K, h, w), TV3S logits (B, K, h, w)."""
    feats = hf.segformer(images, output_hidden_states=True).hidden_states
    _c = head.fuse(*feats)  # BN in training mode: statistics over all B·T frames
    frame_logits = head.linear_pred(_c)  # Dropout2d off
    E, h, w = _c.shape[1:]
    h2, w2 = head.grid(h, w)
    x0 = F.interpolate(_c, size=(h2, w2), mode="bilinear", align_corners=False).reshape(B, T, E, h2, w2)
    y = head.vs(x0)
    tv3s = F.interpolate(head.linear_pred2(y[:, -1]), size=(h, w), mode="bilinear", align_corners=False)
    return frame_logits, tv3s


def cross_entropy(logits, labels):
    """mmseg 0.11: per-pixel CE, ignore 255, mean over all pixels (ignored ones counted)."""
    up = F.interpolate(logits, size=labels.shape[-2:], mode="bilinear", align_corners=False)
    return F.cross_entropy(up, labels, ignore_index=255, reduction="sum") / labels.numel()


def losses(frame_logits, tv3s, labels):
    """The three loss kinds as (total, aux, main); labels (B·T, H, W) int64."""
    K = frame_logits.shape[1]
    last = labels.reshape(B, T, H, W)[:, -1]
    main = cross_entropy(tv3s, last)
    aux = cross_entropy(frame_logits, labels)
    aux_city = cross_entropy(frame_logits.reshape(B, T, K, *frame_logits.shape[2:])[:, -1], last)
    return {"vspw": (0.5 * aux + main, aux, main),
            "cityscapes": (0.5 * aux_city + main, aux_city, main),
            "per_frame": (aux, aux, torch.zeros_like(aux))}


def generate(out_dir):
    torch.set_num_threads(1)  # the same reduction order on every machine
    os.makedirs(out_dir, exist_ok=True)
    t0 = time.time()
    arch, E, K = CFG["arch"], CFG["E"], CFG["K"]
    pools = sf.Pools(CFG["seed"])
    backbone = {k: v for k, v in sf.official_weights(arch, pools).items() if k.startswith("backbone.")}
    head_sd = tv.head_weights(CFG, pools)
    head = tv.TV3SHead(tv.IN_CHANNELS[arch], E, K, CFG["window"], CFG["shift"]).double()
    prefix = "decode_head."
    order = [prefix + k for k in head.state_dict().keys()]
    state_dict = dict(backbone)
    state_dict.update((k, head_sd[k]) for k in order)
    head.load_state_dict({k[len(prefix):]: v.double() for k, v in head_sd.items()}, strict=True)
    torch.save({"state_dict": state_dict, "meta": tv.checkpoint_meta(CFG)}, os.path.join(out_dir, "weights.pth"))
    hf_in = {k: v for k, v in state_dict.items()
             if k.startswith("backbone.") or k[len(prefix):].startswith(("linear_c", "linear_fuse.", "linear_pred."))}
    hf = sf.hf_model(arch, sf.hf_weights(hf_in), decoder_hidden_size=E, num_labels=K)
    hf.train()
    head.train()

    images, labels = frames_and_labels(CFG["seed"])
    np.save(os.path.join(out_dir, "images.npy"), images)
    np.save(os.path.join(out_dir, "labels.npy"), labels)
    x = torch.from_numpy(images).permute(0, 3, 1, 2).double().contiguous()
    y = torch.from_numpy(labels).long()

    # The differentiable scan computes what gen_tv3s_fixtures' scan computes.
    with torch.no_grad():
        m = head.vs.layers[3].mixer
        u = torch.randn(3, 37, E, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
        ref, _ = m(u)
        m.__class__ = TrainMamba
        d = (m(u)[0] - ref).abs().max().item()
        assert d < 1e-12, d
    for layer in head.vs.layers:
        layer.mixer.__class__ = TrainMamba

    # Trainable parameters under official names: HF encoder (kv from key + value) and head.
    hf_params = dict(hf.named_parameters())
    to_hf = official_to_hf_names(backbone)
    head_params = {prefix + n: p for n, p in head.named_parameters() if not n.startswith("conv_seg.")}
    leaves = [hf_params[n] for n in sorted(hf_params) if n.startswith("segformer.")] + list(head_params.values())

    bn_before = {n: getattr(head.linear_fuse.bn, n).clone() for n in ("running_mean", "running_var")}
    frame_logits, tv3s = forward_train(hf, head, x)
    bn_after = {BN + n: getattr(head.linear_fuse.bn, n).clone() for n in ("running_mean", "running_var")}
    all_losses = losses(frame_logits, tv3s, y)
    total = all_losses["vspw"][0]
    grads = dict(zip(map(id, leaves), torch.autograd.grad(total, leaves)))

    # BN running stats: momentum 0.1, unbiased variance of the batch.
    with torch.no_grad():
        feats = hf.segformer(x, output_hidden_states=True).hidden_states
        size = feats[0].shape[2:]
        up = lambda t: F.interpolate(t, size=size, mode="bilinear", align_corners=False)  # noqa: E731
        pre = head.linear_fuse.conv(torch.cat([up(head.linear_c4(feats[3])), up(head.linear_c3(feats[2])),
                                               up(head.linear_c2(feats[1])), head.linear_c1(feats[0])], 1))
        mean = pre.mean((0, 2, 3))
        var = pre.var((0, 2, 3), unbiased=True)
        for n, want in (("running_mean", 0.9 * bn_before["running_mean"] + 0.1 * mean),
                        ("running_var", 0.9 * bn_before["running_var"] + 0.1 * var)):
            assert torch.allclose(bn_after[BN + n], want, rtol=1e-12, atol=1e-14), n

    official_grads = {}
    for name in sorted(backbone):
        if name.endswith("num_batches_tracked") or "running_" in name:
            continue
        parts = [grads[id(hf_params[hn])] for hn in to_hf[name]]
        official_grads[name] = torch.cat(parts, 0) if len(parts) > 1 else parts[0]
    for name, p in head_params.items():
        official_grads[name] = grads[id(p)]
    assert all(g.shape == (state_dict[n].shape) for n, g in official_grads.items())

    # Finite-difference check of the whole gradient along one random direction.
    with torch.no_grad():
        gen = torch.Generator().manual_seed(CFG["seed"] + 5)
        dirs = [torch.randn(p.shape, generator=gen, dtype=torch.float64) for p in leaves]
        analytic = sum((grads[id(p)] * d).sum() for p, d in zip(leaves, dirs)).item()
        eps = 1e-8  # the loss bends fast along a direction of all 3.4 M parameters (ReLU kinks)

        def loss_at(sign):
            for p, d in zip(leaves, dirs):
                p.add_(sign * eps * d)
            value = losses(*forward_train(hf, head, x), y)["vspw"][0].item()
            for p, d in zip(leaves, dirs):
                p.sub_(sign * eps * d)
            return value

        numeric = (loss_at(1) - loss_at(-1)) / (2 * eps)
        fd_rel = abs(analytic - numeric) / abs(numeric)
        print(f"directional derivative: autograd {analytic:.10e}, central difference {numeric:.10e}, "
              f"rel {fd_rel:.1e}")
        assert fd_rel < 1e-6

    save_file({n: g.float().contiguous() for n, g in sorted(official_grads.items())},
              os.path.join(out_dir, "grads.safetensors"), metadata={"generator": GENERATOR})
    save_file({n: t.float().contiguous() for n, t in bn_after.items()},
              os.path.join(out_dir, "running_stats.safetensors"), metadata={"generator": GENERATOR})

    ignored = float((labels == 255).mean())
    h, w = frame_logits.shape[2:]
    expected = {
        "generator": GENERATOR,
        "model": dict(arch=f"mit_{arch}", embed_dim=E, window=CFG["window"], shift=CFG["shift"], num_classes=K,
                      weights="weights.pth", seed=CFG["seed"]),
        "clips": B, "frames_per_clip": T, "input": [H, W], "c1": [h, w], "grid": list(head.grid(h, w)),
        "images": "images.npy", "labels": "labels.npy", "ignored_fraction": round(ignored, 6),
        "stochastic": "off (dropout 0, drop_path 0, decoder_drop_path 0)",
        "losses": {k: {"total": v[0].item(), "aux": v[1].item(), "main": v[2].item()}
                   for k, v in all_losses.items()},
        "grads": "grads.safetensors", "grads_of": "vspw total loss",
        "running_stats": "running_stats.safetensors",
        "grad_norms": {n: g.norm().item() for n, g in sorted(official_grads.items())},
        # Exactly zero up to rounding: BatchNorm in training mode removes any per-channel
        # constant from linear_fuse's input, and these biases only add such constants.
        "zero_grads": sorted(n for n, g in official_grads.items() if g.norm().item() < 1e-12),
        "finite_difference_rel": fd_rel,
    }
    with open(os.path.join(out_dir, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1)
        f.write("\n")
    norms = sorted(expected["grad_norms"].items(), key=lambda kv: kv[1])
    print("losses: " + ", ".join(f"{k} {v['total']:.6f} (aux {v['aux']:.6f}, main {v['main']:.6f})"
                                  for k, v in expected["losses"].items()))
    print(f"{len(official_grads)} gradients, {sum(g.numel() for g in official_grads.values())} values; "
          f"smallest norm {norms[0]}, largest {norms[-1]}; ignored pixels {ignored:.3f}")
    sizes = {f: os.path.getsize(os.path.join(out_dir, f)) for f in sorted(os.listdir(out_dir))}
    print(json.dumps(sizes, indent=1))
    print(f"total {sum(sizes.values())} bytes; {time.time() - t0:.0f}s")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=OUT)
    ap.add_argument("--check", action="store_true",
                    help="regenerate into a temporary directory, compare with --out byte for byte")
    args = ap.parse_args()
    if not args.check:
        generate(args.out)
        return
    with tempfile.TemporaryDirectory() as tmp:
        generate(tmp)
        bad = [f for f in sorted(os.listdir(tmp))
               if not os.path.exists(os.path.join(args.out, f))
               or not filecmp.cmp(os.path.join(tmp, f), os.path.join(args.out, f), shallow=False)]
        print("check:", "all files identical" if not bad else f"{len(bad)} differ: {bad}")
        sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
