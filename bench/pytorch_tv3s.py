#!/usr/bin/env python3
"""The PyTorch side of bench/tv3s_vs_pytorch.sh: per-frame time of TV3S in streaming mode
with the same work as `tv3s bench model --mode stream`: MiT + SegFormer fuse (Hugging Face
transformers' Segformer encoder, a port of the official MiT), the TV3S decoder with its
conv/SSM state carried from frame to frame, the resize of the logits to the input size and
argmax. Random weights, eval mode, no autograd, float32.

The decoder is tools/gen_tv3s_fixtures.py's re-implementation of the official head
(`TV3SHead_shift`, `ShiftedMambaBlocks`, Mamba), whose outputs the parity tests hold
tv3s to. The official code itself cannot run here: mamba_ssm's selective scan and causal
conv are CUDA-only extensions; on a CPU its fallback is `selective_scan_ref`, a Python
loop over tokens, which is what this uses (batched over all sequences of a group).

--arch swin_t / swin_s: the official Swin backbone (swin2.py `d2_Swint` / `d2_Swins`) as
re-implemented in tools/gen_swin_fixtures.py (float32) instead of the MiT encoder; the head
takes in_channels 96, 192, 384, 768 and is otherwise the same.

usage: pytorch_tv3s.py [--arch mit_b1|swin_t|swin_s] [--size 480x853] [--classes 124] [--threads 2]
                       [--reps 5] [--warmup 1] [--json]
"""
import argparse
import json
import os
import resource
import statistics
import sys

import torch
import torch.nn.functional as F
from transformers import SegformerConfig, SegformerModel

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import gen_tv3s_fixtures as ref  # noqa: E402
# this folder is on sys.path as the script's own
from pytorch_segformer import ARCHS, SWIN_ARCHS, swin_backbone, time_frames  # noqa: E402


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--arch", default="mit_b1")
    p.add_argument("--size", default="480x853")
    p.add_argument("--classes", type=int, default=124)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--json", action="store_true", help="one JSON line instead of text")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    h, w = map(int, a.size.split("x"))
    if a.arch in SWIN_ARCHS:
        encoder, sizes = swin_backbone(a.arch)
        encode = encoder  # images -> [c1, c2, c3, c4]
    else:
        sizes, depths = ARCHS[a.arch]
        encoder = SegformerModel(SegformerConfig(hidden_sizes=sizes, depths=depths)).eval()
        encode = lambda x: encoder(pixel_values=x, output_hidden_states=True).hidden_states  # noqa: E731
    head = ref.TV3SHead(sizes, 256, a.classes, 20, 10).eval()
    with torch.no_grad():  # Mamba's initialisation: A = -(1..16), softplus(dt bias) ~ 1e-3..1e-1
        for layer in head.vs.layers:
            layer.mixer.A_log.copy_(torch.log(torch.arange(1, 17, dtype=torch.float32)).repeat(512, 1))
            dt = torch.exp(torch.empty(512).uniform_(-6.9, -2.3))
            layer.mixer.dt_proj.bias.copy_(dt + torch.log(-torch.expm1(-dt)))
    x = torch.randn(1, 3, h, w)
    cache = {}  # (layer, group) -> (conv_state, ssm_state): the streamed state of one video

    def frame():
        c1, c2, c3, c4 = encode(x)
        fused = head.fuse(c1, c2, c3, c4)
        logits = head.tv3s(fused, cache)[None]  # one frame (T = 1) continuing the state
        return F.interpolate(logits, size=(h, w), mode="bilinear", align_corners=False).argmax(1)

    times = time_frames(frame, a.warmup, a.reps)
    med = statistics.median(times)
    state = sum(t.numel() * t.element_size() for s in cache.values() for t in s)
    out = {"impl": "pytorch " + torch.__version__, "arch": a.arch, "height": h, "width": w,
           "threads": a.threads, "median_ms": med, "min_ms": min(times), "fps": 1000 / med,
           "state_bytes": state,
           "max_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}
    if a.json:
        print(json.dumps(out))
        return
    enc = "the official Swin" if a.arch in SWIN_ARCHS else "HF MiT"
    print(f"{out['impl']} TV3S ({a.arch}, {enc} + the official head re-implemented, "
          f"reference scan), --mode stream, {h}x{w}, cpu, {a.threads} threads")
    print(f"  per frame: median {med:.1f} ms, min {min(times):.1f} ms, {1000 / med:.2f} FPS ({a.reps} reps)")
    print(f"  process max RSS: {out['max_rss_bytes'] / 2**20:.1f} MiB")
    print(f"  carried between frames: {state / 2**20:.2f} MiB")


if __name__ == "__main__":
    main()
