#!/usr/bin/env python3
"""Fixtures for the training augmentation (tests/data/test_augment.cpp): what mmseg 0.11 /
mmcv do, re-written here with cv2 + numpy step by step (training-spec.md §3), with every
random draw given explicitly so that tv3s's transforms can be run with the same values and
compared byte for byte (uint8 stages) or exactly (the normalised float32 output).

Writes tests/data/augment/:
  frames.npy      uint8 [3, 40, 60, 3]  three RGB frames (smooth gradients + noise + edges)
  labels.npy      uint8 [3, 40, 60]     their label maps (blocks of train ids, some 255)
  hsv_rgb.npy     uint8 [2560, 3] colours: every corner/edge case (greys, primaries, 0/1/254/255
                                mixes) then random ones
  hsv_of_rgb.npy  uint8 [2560, 3]  cv2.cvtColor(rgb, COLOR_RGB2HSV)   (= BGR2HSV on BGR)
  hsv_in.npy      uint8 [2560, 3]  HSV triples, H in [0, 180)
  rgb_of_hsv.npy  uint8 [2560, 3]  cv2.cvtColor(hsv, COLOR_HSV2RGB) as one row
  rgb_of_hsv_rows.npy uint8 [64, 40, 3]  the same as 64 rows of 40 pixels (OpenCV converts
                  the first 32 pixels of a row in its vector loop, the rest in a scalar one)
  cases.json      the cases below with their parameters; outputs in case_<name>.npy
    resize    mmseg Resize (ratio given): scale (int(60 r), int(40 r)), mmcv.rescale_size,
              cv2 INTER_LINEAR on the frame, INTER_NEAREST on its labels
    nearest   cv2.resize(labels, (w, h), INTER_NEAREST) at odd sizes, up and down
    photo     PhotoMetricDistortion on one frame with given draws
    pipeline  a whole clip: Resize, RandomCrop (given offsets), RandomFlip, per-frame
              PhotoMetricDistortion, Normalize (to_rgb: here the frames are RGB already),
              Pad; float32 images [T, Hc, Wc, 3] and uint8 labels [T, Hc, Wc]
Photometric draws are float32-representable so that the C++ side gets the same numbers.
Run: python3 tools/gen_augment_fixtures.py   (about 1 s; numpy, opencv-python-headless)
"""
import json
import os

import cv2
import numpy as np

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "augment")
MEAN = np.array([123.675, 116.28, 103.53])
STD = np.array([58.395, 57.12, 57.375])


# --- mmcv / mmseg, transcribed -----------------------------------------------------------
def rescale_size(w, h, scale):  # mmcv.rescale_size with a (w, h) scale tuple
    max_long, max_short = max(scale), min(scale)
    sf = min(max_long / max(h, w), max_short / min(h, w))
    return int(w * float(sf) + 0.5), int(h * float(sf) + 0.5)


def resize(img, seg, ratio, img_scale):  # mmseg Resize, ratio_range mode, keep_ratio
    scale = int(img_scale[0] * ratio), int(img_scale[1] * ratio)
    size = rescale_size(img.shape[1], img.shape[0], scale)
    return (cv2.resize(img, size, interpolation=cv2.INTER_LINEAR),
            cv2.resize(seg, size, interpolation=cv2.INTER_NEAREST))


def crop(img, oy, ox, ch, cw):  # mmseg RandomCrop.crop
    return img[oy:oy + ch, ox:ox + cw, ...]


def convert(img, alpha=1, beta=0):  # PhotoMetricDistortion.convert
    img = img.astype(np.float32) * alpha + beta
    img = np.clip(img, 0, 255)
    return img.astype(np.uint8)


def photometric(img, d):  # PhotoMetricDistortion.__call__ with the draws in `d`
    if d["brightness"]:
        img = convert(img, beta=d["beta"])
    def contrast(img):
        return convert(img, alpha=d["contrast_alpha"]) if d["contrast"] else img
    if d["mode"] == 1:
        img = contrast(img)
    if d["saturation"]:
        img = cv2.cvtColor(img, cv2.COLOR_RGB2HSV)  # mmcv.bgr2hsv on BGR data, the same
        img[:, :, 1] = convert(img[:, :, 1], alpha=d["saturation_alpha"])
        img = cv2.cvtColor(img, cv2.COLOR_HSV2RGB)
    if d["hue"]:
        img = cv2.cvtColor(img, cv2.COLOR_RGB2HSV)
        img[:, :, 0] = (img[:, :, 0].astype(int) + d["hue_delta"]) % 180
        img = cv2.cvtColor(img, cv2.COLOR_HSV2RGB)
    if d["mode"] == 0:
        img = contrast(img)
    return img


def normalize(img):  # mmcv.imnormalize_ (after its BGR->RGB step)
    img = img.copy().astype(np.float32)
    mean = np.float64(MEAN.reshape(1, -1))
    stdinv = 1 / np.float64(STD.reshape(1, -1))
    cv2.subtract(img, mean, img)
    cv2.multiply(img, stdinv, img)
    return img


def pad(img, h, w, val):  # mmcv.impad to shape (h, w), bottom/right
    out = np.full((h, w) + img.shape[2:], val, dtype=img.dtype)
    out[:img.shape[0], :img.shape[1], ...] = img
    return out


# --- inputs ----------------------------------------------------------------------------------
def f32(x):
    return float(np.float32(x))


def draws(brightness, beta, mode, contrast, ca, saturation, sa, hue, hd):
    return dict(brightness=brightness, beta=f32(beta), mode=mode, contrast=contrast,
                contrast_alpha=f32(ca), saturation=saturation, saturation_alpha=f32(sa),
                hue=hue, hue_delta=hd)


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(6)
    H, W = 40, 60
    y, x = np.mgrid[0:H, 0:W]
    frames = []
    for t in range(3):
        base = np.stack([(x * 4 + t * 20) % 256, (y * 6 + x) % 256, (255 - x * 3 - y * 2) % 256], -1)
        img = base + rng.integers(-20, 21, (H, W, 3))
        img[(x // 7 + y // 5 + t) % 4 == 0] = [250, 10, 128]  # hard edges, saturated colours
        img[:3, :3] = [[0, 0, 0], [255, 255, 255], [128, 128, 128]]
        frames.append(np.clip(img, 0, 255).astype(np.uint8))
    frames = np.stack(frames)
    labels = ((x // 9 + (y // 8) * 3) % 7).astype(np.uint8)[None].repeat(3, 0)
    labels[1, 10:20, 30:50] = 255
    labels[2] = (labels[2] + 2) % 7
    labels[:, 35:, :5] = 255
    np.save(os.path.join(OUT, "frames.npy"), frames)
    np.save(os.path.join(OUT, "labels.npy"), labels)

    # HSV conversions: edge colours then random ones.
    edge_values = [0, 1, 2, 127, 128, 253, 254, 255]
    edges = np.array([[r, g, b] for r in edge_values for g in edge_values for b in edge_values], np.uint8)
    rgb = np.concatenate([edges, rng.integers(0, 256, (2560 - len(edges), 3))]).astype(np.uint8)
    np.save(os.path.join(OUT, "hsv_rgb.npy"), rgb)
    np.save(os.path.join(OUT, "hsv_of_rgb.npy"), cv2.cvtColor(rgb[None], cv2.COLOR_RGB2HSV)[0])
    hsv = np.stack([rng.integers(0, 180, 2560), rng.integers(0, 256, 2560), rng.integers(0, 256, 2560)], -1)
    hsv[:180, 0] = np.arange(180)  # every hue at full S and V, then S = 0 and V = 0 rows
    hsv[:180, 1:] = 255
    hsv[180:200, 1] = 0
    hsv[200:220, 2] = 0
    hsv = hsv.astype(np.uint8)
    np.save(os.path.join(OUT, "hsv_in.npy"), hsv)
    np.save(os.path.join(OUT, "rgb_of_hsv.npy"), cv2.cvtColor(hsv[None], cv2.COLOR_HSV2RGB)[0])
    # The same colours as 64 rows of 40: OpenCV's vector loop takes the first 32 pixels of a
    # row (x86 AVX2: truncation), its scalar loop the last 8 (rounding).
    np.save(os.path.join(OUT, "rgb_of_hsv_rows.npy"), cv2.cvtColor(hsv.reshape(64, 40, 3), cv2.COLOR_HSV2RGB))

    cases = []
    scale = (60, 40)  # a small stand-in for (853, 480): same rule at fixture size
    for i, ratio in enumerate([0.5, 0.77, 1.0, 1.31, 1.62]):
        img, seg = resize(frames[i % 3], labels[i % 3], ratio, scale)
        name = f"resize{i}"
        np.save(os.path.join(OUT, f"case_{name}_image.npy"), img)
        np.save(os.path.join(OUT, f"case_{name}_labels.npy"), seg)
        cases.append(dict(name=name, kind="resize", frame=i % 3, ratio=ratio, scale=list(scale),
                          width=img.shape[1], height=img.shape[0]))
    for i, (w, h) in enumerate([(37, 23), (91, 71), (60, 13), (7, 40), (120, 80), (59, 41)]):
        name = f"nearest{i}"
        np.save(os.path.join(OUT, f"case_{name}.npy"),
                cv2.resize(labels[i % 3], (w, h), interpolation=cv2.INTER_NEAREST))
        cases.append(dict(name=name, kind="nearest", frame=i % 3, width=w, height=h))
    photo_draws = [
        draws(True, 17.25, 0, True, 1.37, True, 0.61, True, -18),
        draws(True, -31.9, 1, True, 0.52, True, 1.49, True, 17),
        draws(True, 3.7, 1, False, 1, False, 1, False, 0),
        draws(False, 0, 0, True, 1.5, False, 1, False, 0),
        draws(False, 0, 1, False, 1, True, 1.23, False, 0),
        draws(False, 0, 0, False, 1, False, 1, True, 5),
        draws(False, 0, 0, False, 1, True, 0.5, True, -7),
    ]
    for i, d in enumerate(photo_draws):
        name = f"photo{i}"
        np.save(os.path.join(OUT, f"case_{name}.npy"), photometric(frames[i % 3], d))
        cases.append(dict(name=name, kind="photo", frame=i % 3, draws=d))

    # Whole clips: (ratio, offsets, flip, crop) with one photometric draw set per frame.
    for i, (ratio, oy, ox, flip, ch, cw) in enumerate([(1.3, 7, 11, True, 24, 32), (0.6, 0, 0, False, 24, 40),
                                                        (1.0, 8, 12, False, 24, 32)]):
        imgs, segs = [], []
        for t in range(3):
            img, seg = resize(frames[t], labels[t], ratio, scale)
            img, seg = crop(img, oy, ox, ch, cw), crop(seg, oy, ox, ch, cw)
            if flip:
                img, seg = img[:, ::-1].copy(), seg[:, ::-1].copy()
            img = photometric(img, photo_draws[(i + t) % len(photo_draws)])
            imgs.append(pad(normalize(img), ch, cw, 0))
            segs.append(pad(seg, ch, cw, 255))
        name = f"pipeline{i}"
        np.save(os.path.join(OUT, f"case_{name}_images.npy"), np.stack(imgs).astype(np.float32))
        np.save(os.path.join(OUT, f"case_{name}_labels.npy"), np.stack(segs))
        cases.append(dict(name=name, kind="pipeline", ratio=ratio, scale=list(scale), oy=oy, ox=ox,
                          flip=flip, crop=[ch, cw],
                          draws=[photo_draws[(i + t) % len(photo_draws)] for t in range(3)]))
    with open(os.path.join(OUT, "cases.json"), "w") as f:
        json.dump(dict(generator="tools/gen_augment_fixtures.py", opencv=cv2.__version__,
                       numpy=np.__version__, cases=cases), f, indent=1)


if __name__ == "__main__":
    main()
