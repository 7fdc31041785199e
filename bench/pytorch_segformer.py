#!/usr/bin/env python3
"""The PyTorch side of bench/segformer_vs_pytorch.sh: per-frame time of MiT + SegFormer
head (Hugging Face transformers' Segformer, a faithful port of the official MiT) with the
same work as `tv3s bench model`: forward, bilinear resize of the logits to the input size,
argmax. Random weights, eval mode, no autograd. Prints two lines (--json: one JSON line).

--arch swin_t / swin_s: the official Swin backbone (swin2.py `d2_Swint` / `d2_Swins`) as
re-implemented in tools/gen_swin_fixtures.py, float32, with the SegFormer part of the TV3S
head (tools/gen_tv3s_fixtures.py: linear_c1..4, linear_fuse, linear_pred; E = 256).

usage: pytorch_segformer.py [--arch mit_b1|swin_t|swin_s] [--size 480x853] [--classes 124]
                            [--threads 2] [--device cpu|cuda] [--reps 10] [--warmup 2] [--json]
"""
import argparse
import json
import os
import resource
import statistics
import sys
import time

import torch
import torch.nn.functional as F
from transformers import SegformerConfig, SegformerForSemanticSegmentation

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import gen_swin_fixtures as swin  # noqa: E402
import gen_tv3s_fixtures as tv  # noqa: E402

ARCHS = {
    "mit_b0": ([32, 64, 160, 256], [2, 2, 2, 2]), "mit_b1": ([64, 128, 320, 512], [2, 2, 2, 2]),
    "mit_b2": ([64, 128, 320, 512], [3, 4, 6, 3]), "mit_b3": ([64, 128, 320, 512], [3, 4, 18, 3]),
    "mit_b4": ([64, 128, 320, 512], [3, 8, 27, 3]), "mit_b5": ([64, 128, 320, 512], [3, 6, 40, 3]),
}
SWIN_ARCHS = ("swin_t", "swin_s")


def swin_backbone(arch):
    """The official Swin (tools/gen_swin_fixtures.py) with random weights, float32, eval:
    returns (module mapping images to [c1..c4], the stage widths). Shared with pytorch_tv3s.py."""
    backbone = swin.make_backbone(arch).eval()
    with torch.no_grad():  # the official init leaves the table at trunc_normal(std 0.02)
        for name, p in backbone.named_parameters():
            if name.endswith("relative_position_bias_table"):
                p.normal_(0, 0.02)
    return backbone, swin.widths(arch)


def time_frames(frame, warmup, reps, after_warmup=None):
    """Milliseconds of each of `reps` calls of frame() after `warmup` calls, no autograd.
    Shared with pytorch_tv3s.py."""
    with torch.inference_mode():
        for _ in range(warmup):
            frame()
        if after_warmup:
            after_warmup()
        times = []
        for _ in range(reps):
            t0 = time.perf_counter()
            frame()
            times.append((time.perf_counter() - t0) * 1000)
    return times


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--arch", default="mit_b1")
    p.add_argument("--size", default="480x853")
    p.add_argument("--classes", type=int, default=124)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--device", default="cpu")
    p.add_argument("--reps", type=int, default=10)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--json", action="store_true", help="one JSON line instead of text")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    h, w = map(int, a.size.split("x"))
    if a.arch in SWIN_ARCHS:
        backbone, sizes = swin_backbone(a.arch)
        head = tv.TV3SHead(sizes, 256, a.classes, 20, 10).eval()
        backbone.to(a.device)
        head.to(a.device)
        run = lambda x: head.linear_pred(head.fuse(*backbone(x)))  # noqa: E731
    else:
        sizes, depths = ARCHS[a.arch]
        config = SegformerConfig(hidden_sizes=sizes, depths=depths, decoder_hidden_size=256,
                                 num_labels=a.classes)
        model = SegformerForSemanticSegmentation(config).eval().to(a.device)
        run = lambda x: model(pixel_values=x).logits  # noqa: E731
    x = torch.randn(1, 3, h, w, device=a.device)

    def frame():
        logits = run(x)
        labels = F.interpolate(logits, size=(h, w), mode="bilinear", align_corners=False).argmax(1)
        if a.device == "cuda":
            torch.cuda.synchronize()
        return labels

    times = time_frames(frame, a.warmup, a.reps,
                        torch.cuda.reset_peak_memory_stats if a.device == "cuda" else None)
    med = statistics.median(times)
    out = {"impl": "pytorch " + torch.__version__, "arch": a.arch, "height": h, "width": w,
           "device": a.device, "threads": a.threads, "median_ms": med, "min_ms": min(times),
           "fps": 1000 / med}
    out["max_rss_bytes"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    if a.device == "cuda":
        out["peak_bytes"] = torch.cuda.max_memory_allocated()
    if a.json:
        print(json.dumps(out))
        return
    what = ("official Swin re-implemented" if a.arch in SWIN_ARCHS else "HF transformers Segformer")
    print(f"{out['impl']} ({what}) {a.arch} + head, {h}x{w}, {a.device}, "
          f"{a.threads} threads")
    print(f"  per frame: median {med:.1f} ms, min {min(times):.1f} ms, {1000 / med:.2f} FPS ({a.reps} reps)")
    print(f"  process max RSS: {out['max_rss_bytes'] / 2**20:.1f} MiB")
    if "peak_bytes" in out:
        print(f"  peak CUDA memory: {out['peak_bytes'] / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()
