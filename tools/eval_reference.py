#!/usr/bin/env python3
"""Independent reference for `tv3s eval --pred` (src/eval/metrics.h): mIoU with mmseg 0.11
`eval_metrics` semantics and mVC with the `tools/VC_perclip.py` algorithm, both transcribed
from docs/metrics-spec.md in NumPy, with none of the C++ shortcuts (mVC here ANDs the n − 1
frame comparisons literally; the C++ code keeps run lengths instead).

  python3 tools/eval_reference.py ROOT PRED [--split val]   prints the numbers as JSON
  python3 tools/eval_reference.py --make-fixture [OUT]      writes the committed fixture

The fixture (default tests/data/eval/) is a small random VSPW-layout dataset,
  vspw_small/      val.txt, classes.json (K = 6), data/<video>/{origin,mask}/
  vspw_small_pred/ <video>/<frame>.png   palette PNGs of train ids
  vspw_small_expected.json               this script's numbers for the pair
with three videos of 20, 17 and 9 frames (12×16): masks hold raw 0 ("others"), 1..6 and 255
(void); the labels are moving blocks, so runs of equal values exist for the mVC windows; the
predictions are the GT with flickering noise (anything on ignored pixels), a class (train id
5, "boat") that the GT never holds but the predictions do, and one (train id 4) that the GT
holds on a single pixel of one frame.
tests/eval/test_eval_reference.cpp runs `tv3s eval --pred` on it and compares.

Requires numpy and Pillow.
"""
import json
import os
import sys

import numpy as np
from PIL import Image


def reduce_zero_label(raw):
    """mmseg: 0 → 255, v → v − 1, 255 → 255 (uint8 arithmetic as mmseg does it)."""
    label = raw.copy()
    label[label == 0] = 255
    label = label - 1
    label[label == 254] = 255
    return label


def read_png(path):
    return np.array(Image.open(path))  # "L" or "P": the stored values


def split_videos(root, split):
    with open(os.path.join(root, split + ".txt")) as f:
        return sorted(line.strip() for line in f if line.strip())


def miou(root, pred_dir, split, K):
    """mmseg 0.11 intersect_and_union / total_intersect_and_union / mean_iou."""
    total_i = np.zeros(K, dtype=np.float64)
    total_u = np.zeros(K, dtype=np.float64)
    total_p = np.zeros(K, dtype=np.float64)
    total_g = np.zeros(K, dtype=np.float64)
    confusion = np.zeros((K, K), dtype=np.int64)  # rows GT, columns prediction (VC_perclip's fast_hist)
    for video in split_videos(root, split):
        origin = os.path.join(root, "data", video, "origin")
        for name in sorted(os.listdir(origin)):
            stem = os.path.splitext(name)[0]
            label = reduce_zero_label(read_png(os.path.join(root, "data", video, "mask", stem + ".png")))
            pred = read_png(os.path.join(pred_dir, video, stem + ".png")).astype(np.int64)
            mask = label != 255
            p, g = pred[mask], label[mask].astype(np.int64)
            intersect = p[p == g]
            area_i, _ = np.histogram(intersect, bins=np.arange(K + 1))
            area_p, _ = np.histogram(p, bins=np.arange(K + 1))
            area_g, _ = np.histogram(g, bins=np.arange(K + 1))
            total_i += area_i
            total_u += area_p + area_g - area_i
            total_p += area_p
            total_g += area_g
            k = (g >= 0) & (g < K)
            confusion += np.bincount(K * g[k] + p[k], minlength=K * K).reshape(K, K)
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = total_i / total_u
        acc = total_i / total_g
        # VC_perclip's FWIoU formula, from the confusion matrix, over all frames.
        row, col, diag = confusion.sum(1), confusion.sum(0), np.diag(confusion)
        cm_iou = diag / (row + col - diag)
        freq = row / confusion.sum()
        fwiou = (freq[freq > 0] * cm_iou[freq > 0]).sum()
    return {
        "mIoU": float(np.nanmean(iou)),
        "aAcc": float(total_i.sum() / total_g.sum()),
        "mAcc": float(np.nanmean(acc)),
        "fwIoU": float(fwiou),
        "IoU": [None if np.isnan(x) else float(x) for x in iou],
        "Acc": [None if np.isnan(x) else float(x) for x in acc],
    }


def mvc(root, pred_dir, split):
    """tools/VC_perclip.py (metrics-spec §3.1): skip videos with ≤ 16 predicted frames, N − n
    windows per video, vc = Σ(Gc ∧ Pc) / ΣGc, all windows pooled, nanmean."""
    pooled = {16: [], 8: []}
    for video in split_videos(root, split):
        if video.startswith("."):
            continue
        folder = os.path.join(pred_dir, video)
        if not os.path.isdir(folder):
            continue
        names = sorted(n for n in os.listdir(folder) if not n.startswith("."))
        if len(names) <= 16:
            continue
        gts = [reduce_zero_label(read_png(os.path.join(root, "data", video, "mask", n))) for n in names]
        preds = [read_png(os.path.join(folder, n)) for n in names]
        N = len(names)
        for n in (16, 8):
            for i in range(N - n):
                gc = np.ones(gts[i].shape, dtype=bool)
                pc = np.ones(preds[i].shape, dtype=bool)
                for j in range(1, n):
                    gc &= gts[i] == gts[i + j]
                    pc &= preds[i] == preds[i + j]
                with np.errstate(divide="ignore", invalid="ignore"):
                    pooled[n].append(float((gc & pc).sum()) / float(gc.sum()) if gc.sum() else float("nan"))
    out = {}
    for n in (8, 16):
        values = np.array(pooled[n], dtype=np.float64)
        out["mVC%d" % n] = None if values.size == 0 or np.all(np.isnan(values)) else float(np.nanmean(values))
        out["windows%d" % n] = int(values.size)
    return out


def evaluate(root, pred_dir, split="val"):
    K = 124  # VSPW, unless the root has its own class list
    if os.path.exists(os.path.join(root, "classes.json")):
        with open(os.path.join(root, "classes.json")) as f:
            K = len(json.load(f)["classes"])
    result = miou(root, pred_dir, split, K)
    result.update(mvc(root, pred_dir, split))
    return result


def palette_png(path, values, palette):
    im = Image.fromarray(values.astype(np.uint8), mode="P")
    im.putpalette([c for rgb in palette for c in rgb])
    im.save(path)


def make_fixture(out):
    rng = np.random.default_rng(20250605)
    K, H, W = 6, 12, 16
    root, pred_root = os.path.join(out, "vspw_small"), os.path.join(out, "vspw_small_pred")
    names = ["sky", "road", "car", "person", "tree", "boat"]
    palette = [(70, 130, 180), (128, 64, 128), (0, 0, 142), (220, 20, 60), (107, 142, 35), (0, 80, 100)]
    os.makedirs(root, exist_ok=True)
    with open(os.path.join(root, "classes.json"), "w") as f:
        json.dump({"dataset": "eval-fixture",
                   "classes": [{"name": n, "color": list(c)} for n, c in zip(names, palette)]}, f, indent=2)
        f.write("\n")
    videos = {"vid_b": 17, "vid_a": 20, "vid_c": 9}
    # Unsorted, a blank line, no newline at the end: the reader strips and sorts.
    with open(os.path.join(root, "val.txt"), "w") as f:
        f.write("vid_b\n\nvid_a\nvid_c")
    for v, (video, N) in enumerate(sorted(videos.items())):
        for sub in ("origin", "mask"):
            os.makedirs(os.path.join(root, "data", video, sub), exist_ok=True)
        os.makedirs(os.path.join(pred_root, video), exist_ok=True)
        yy, xx = np.mgrid[0:H, 0:W]
        for t in range(N):
            raw = np.ones((H, W), dtype=np.uint8)                       # train id 0 (sky)
            raw[yy >= 7] = 2                                            # road
            x0 = (2 + t // 3) % (W - 4)
            raw[(yy >= 4) & (yy < 9) & (xx >= x0) & (xx < x0 + 4)] = 3  # a car moving right
            if v != 1:
                raw[(yy < 3) & (xx >= 11)] = 4                          # person
            raw[(yy >= 10) & (xx < 3)] = 0                              # "others" → ignored
            raw[0, :2] = 255                                            # void
            if v == 0 and t == 0:
                raw[5, 5] = 5                                           # tree, one frame only
            pred = reduce_zero_label(raw)
            pred[pred == 255] = 0                                       # predictions on ignored pixels
            flip = rng.random((H, W)) < 0.06                            # flickering noise
            pred[flip] = rng.integers(0, K, size=int(flip.sum()))
            if v == 2:
                pred[11, 8:12] = 5                                      # boat: predicted, never in the GT
            Image.fromarray(raw, mode="L").save(os.path.join(root, "data", video, "mask", "%08d.png" % (10 * t)))
            r = raw.astype(np.int64)
            rgb = np.stack([r * 30 % 256, r * 50 % 256, np.full_like(r, 128)], -1).astype(np.uint8)
            Image.fromarray(rgb, mode="RGB").save(os.path.join(root, "data", video, "origin", "%08d.png" % (10 * t)))
            palette_png(os.path.join(pred_root, video, "%08d.png" % (10 * t)), pred.astype(np.uint8), palette)
    result = evaluate(root, pred_root)
    with open(os.path.join(out, "vspw_small_expected.json"), "w") as f:
        json.dump(result, f, indent=2)
        f.write("\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    args = sys.argv[1:]
    if args and args[0] == "--make-fixture":
        make_fixture(args[1] if len(args) > 1 else os.path.join(os.path.dirname(__file__), "..", "tests", "data", "eval"))
    elif len(args) >= 2:
        split = args[args.index("--split") + 1] if "--split" in args else "val"
        print(json.dumps(evaluate(args[0], args[1], split), indent=2))
    else:
        print(__doc__)
        sys.exit(2)
