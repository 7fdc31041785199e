#!/usr/bin/env python3
"""Fixtures for the official test-time resize and the label-PNG reader
(tests/pipeline/test_official_resize.cpp, tests/io/test_label_png.cpp), written by
independent implementations so that tv3s is checked against them, not itself:

  resize_<case>_in.png, resize_<case>_out.npy
        cv2.resize(img, (w, h), interpolation=cv2.INTER_LINEAR) on small uint8 RGB images:
        up-scaling, non-integer down-scaling, an exact 2x halving (OpenCV's INTER_AREA
        path), a one-axis stretch (53 -> 64 wide, the 853 -> 864 of VSPW in small), and a
        mixed up/down case. The PNGs hold the input in RGB order.
  resize_sweep.json, resize_sweep_in.npy, resize_sweep_out.npy
        80 more cv2 resizes of random images (sizes 1..24, edge cases such as 1-pixel
        sides and integer up/down factors), inputs and outputs concatenated flat; the
        JSON gives each case's sizes and offsets.
  test_rules.json
        the whole official test resize (VSPW: mmcv.imrescale to (853, 480) then the
        32-alignment resize of AlignedResize_clips; Cityscapes: mmcv.imrescale to
        (1024, 512)) at real frame sizes, on the synthetic frame
            pixel(x, y, c) = (x*x*(c + 1) + y*(31 + 17*c) + x*y + 7*c) mod 256
        (RGB order; the formula is repeated in the test). The outputs are ~1 MB, so the
        fixture holds their size and CRC-32 (zlib.crc32 of the H*W*3 bytes).
  test_sizes.json
        the network input size for a table of frame sizes, from the official Python
        formulas re-implemented below (mmcv.rescale_size, _scale_size, _align); null where
        a side would become 0 (the official code would crash; tv3s refuses).
  label_pil_*.png, label_hand_*.png (+ .npy)
        label maps written by PIL (mode "P" with 256-, 12- and 2-colour palettes, which
        PIL stores at 8, 4 and 1 bits; mode "L"; mode "1") and by the tiny PNG encoder
        below (indexed and grey at 1/2/4/8 bits, odd widths, rows cycling through all five
        scanline filters, IDAT split over several chunks, ancillary chunks). Each .npy is
        np.array(Image.open(png)) as uint8: what the official code reads (PIL scales 2- and
        4-bit grey to 0..255, and gives mode "1" as booleans).

Usage:  pip install numpy opencv-python-headless pillow
        python3 tools/gen_image_fixtures.py            rewrites tests/data/image/
        python3 tools/gen_image_fixtures.py --check    regenerates into a temporary folder
                                                       and compares byte for byte (exit 1
                                                       on a difference)
Written with opencv-python-headless 5.0.0 and Pillow 13.0.0. OpenCV's 8-bit INTER_LINEAR
code reads the same in resize.cpp from 3.4 to 5.0, so a 4.x cv2 should give the same bytes
(read, not run).
"""
import argparse
import filecmp
import json
import os
import struct
import sys
import tempfile
import zlib

import cv2
import numpy as np
from PIL import Image

FIXTURES = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                        "data", "image"))
OUT = FIXTURES  # where out() writes; --check points it at a temporary folder


def out(name):
    return os.path.join(OUT, name)


def cv2_resize_rgb(rgb, width, height):
    """cv2.resize as mmcv.imresize calls it (per-channel, so RGB or BGR order is the same)."""
    return cv2.resize(rgb, (width, height), interpolation=cv2.INTER_LINEAR)


def write_json_lines(path, records):
    """A JSON list with one record per line (small, diff-friendly)."""
    with open(path, "w") as f:
        f.write("[\n" + ",\n".join(json.dumps(r) for r in records) + "\n]\n")


def save_rgb_png(path, rgb):
    Image.fromarray(rgb, "RGB").save(path)
    assert np.array_equal(np.array(Image.open(path)), rgb)


# ---- cv2.resize on small images -------------------------------------------------------

def resize_fixtures(rng):
    yy, xx = np.mgrid[0:48, 0:64]
    smooth = np.stack([(xx * 4) % 256, (yy * 5) % 256, (xx * yy) % 256], -1).astype(np.uint8)
    noisy = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)
    mixed = np.where(rng.random((48, 64, 1)) < 0.3, noisy, smooth).astype(np.uint8)
    cases = {
        "up": (rng.integers(0, 256, (23, 37, 3), dtype=np.uint8), 64, 48),
        "down": (noisy, 37, 23),
        "half": (mixed, 32, 24),
        "stretch": (mixed[:20, :53].copy(), 64, 20),
        "mixed": (mixed[:40, :30].copy(), 45, 17),
    }
    for name, (image, width, height) in cases.items():
        save_rgb_png(out(f"resize_{name}_in.png"), image)
        np.save(out(f"resize_{name}_out.npy"), cv2_resize_rgb(image, width, height))

    sizes = [((1, 1), (5, 3)), ((5, 3), (1, 1)), ((1, 7), (4, 9)), ((9, 1), (3, 2)),
             ((24, 24), (8, 8)), ((21, 15), (7, 5)), ((8, 6), (24, 18)), ((6, 8), (12, 16)),
             ((20, 14), (10, 14)), ((20, 14), (20, 7)), ((17, 11), (16, 11)), ((3, 3), (24, 2))]
    while len(sizes) < 80:
        src = tuple(int(v) for v in rng.integers(1, 25, 2))
        dst = tuple(int(v) for v in rng.integers(1, 25, 2))
        if src != dst:
            sizes.append((src, dst))
    inputs, outputs, index = [], [], []
    in_offset = out_offset = 0
    for (sw, sh), (dw, dh) in sizes:
        image = rng.integers(0, 256, (sh, sw, 3), dtype=np.uint8)
        resized = cv2_resize_rgb(image, dw, dh)
        index.append({"src": [sw, sh], "dst": [dw, dh], "in_offset": in_offset,
                      "out_offset": out_offset})
        inputs.append(image.ravel())
        outputs.append(resized.ravel())
        in_offset += image.size
        out_offset += resized.size
    np.save(out("resize_sweep_in.npy"), np.concatenate(inputs))
    np.save(out("resize_sweep_out.npy"), np.concatenate(outputs))
    write_json_lines(out("resize_sweep.json"), index)


# ---- the official size rules ----------------------------------------------------------

def rescale_size(w, h, scale):
    """mmcv 1.x rescale_size((w, h), scale) for a tuple scale, with _scale_size."""
    max_long_edge, max_short_edge = max(scale), min(scale)
    scale_factor = min(max_long_edge / max(h, w), max_short_edge / min(h, w))
    return int(w * float(scale_factor) + 0.5), int(h * float(scale_factor) + 0.5)


def align(w, h, size_divisor=32):
    """AlignedResize_clips._align's target size."""
    return (int(np.ceil(w / size_divisor)) * size_divisor,
            int(np.ceil(h / size_divisor)) * size_divisor)


def network_input_size(rule, w, h):
    if rule == "none":
        return w, h
    if rule == "vspw":
        rw, rh = rescale_size(w, h, (853, 480))
        return None if rw == 0 or rh == 0 else align(rw, rh)
    rw, rh = rescale_size(w, h, (1024, 512))
    return None if rw == 0 or rh == 0 else (rw, rh)


def official_test_resize(rule, rgb):
    """The official pipelines' resize steps on one frame."""
    h, w = rgb.shape[:2]
    if rule == "vspw":
        rw, rh = rescale_size(w, h, (853, 480))
        image = cv2_resize_rgb(rgb, rw, rh)           # mmcv.imrescale
        aw, ah = align(rw, rh)
        return cv2_resize_rgb(image, aw, ah)          # AlignedResize_clips._align (always called)
    rw, rh = rescale_size(w, h, (1024, 512))
    return cv2_resize_rgb(rgb, rw, rh)


def synthetic_frame(width, height):
    y, x = np.mgrid[0:height, 0:width].astype(np.int64)
    return np.stack([(x * x * (c + 1) + y * (31 + 17 * c) + x * y + 7 * c) % 256 for c in range(3)],
                    -1).astype(np.uint8)


def rule_fixtures():
    table = []
    sizes = [(853, 480), (480, 853), (854, 480), (853, 481), (640, 480), (480, 640), (640, 360),
             (1280, 720), (1920, 1080), (1024, 512), (2048, 1024), (1024, 2048), (2048, 1025),
             (500, 375), (375, 500), (1000, 600), (1241, 376), (33, 17), (1, 1), (7, 3),
             (1, 400), (400, 1), (1, 2000), (3000, 1), (65535, 2)]
    for rule in ("none", "vspw", "cityscapes"):
        for w, h in sizes:
            size = network_input_size(rule, w, h)
            table.append({"rule": rule, "width": w, "height": h,
                          "expected": None if size is None else list(size)})
    write_json_lines(out("test_sizes.json"), table)
    # The cases the test prints: 480x853 -> 864x480 and 2048x1024 -> 1024x512.
    assert network_input_size("vspw", 853, 480) == (864, 480)
    assert network_input_size("cityscapes", 2048, 1024) == (1024, 512)

    rules = []
    for rule, w, h in [("vspw", 853, 480), ("vspw", 640, 360), ("vspw", 480, 853),
                       ("vspw", 500, 375), ("vspw", 1000, 600), ("cityscapes", 2048, 1024),
                       ("cityscapes", 1000, 600), ("cityscapes", 1241, 376)]:
        resized = official_test_resize(rule, synthetic_frame(w, h))
        rules.append({"rule": rule, "width": w, "height": h,
                      "out_width": int(resized.shape[1]), "out_height": int(resized.shape[0]),
                      "crc32": zlib.crc32(resized.tobytes()) & 0xFFFFFFFF})
    write_json_lines(out("test_rules.json"), rules)


# ---- label PNGs -----------------------------------------------------------------------

def pil_values(path):
    return np.array(Image.open(path)).astype(np.uint8)


def png_ihdr(path):
    with open(path, "rb") as f:
        data = f.read(33)
    width, height, depth, colour = struct.unpack(">IIBB", data[16:26])
    return width, height, depth, colour


def pil_label_fixtures(rng):
    values = rng.integers(0, 125, (11, 23)).astype(np.uint8)
    values[rng.random(values.shape) < 0.1] = 255
    palette = rng.integers(0, 256, 768).astype(np.uint8)
    cases = {
        "p8": (values, "P", palette, 8),
        "p4": (rng.integers(0, 12, (9, 15)).astype(np.uint8), "P", palette[:36], 4),
        "p1": (rng.integers(0, 2, (5, 19)).astype(np.uint8), "P", palette[:6], 1),
        "l": (values, "L", None, 8),
        "1": (rng.integers(0, 2, (6, 21)).astype(np.uint8), "1", None, 1),
    }
    for name, (labels, mode, pal, depth) in cases.items():
        path = out(f"label_pil_{name}.png")
        if mode == "1":
            image = Image.fromarray(labels * 255, "L").convert("1")
        else:
            image = Image.fromarray(labels, mode)
            if pal is not None:
                image.putpalette(pal.tolist())
        image.save(path)
        assert png_ihdr(path)[2] == depth, (name, png_ihdr(path))
        read = pil_values(path)
        assert Image.open(path).mode == mode and np.array_equal(read, labels), name
        np.save(out(f"label_pil_{name}.npy"), read)


def chunk(kind, data):
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def filter_row(kind, row, up):
    """PNG scanline filter `kind` (0..4) of one row of bytes (1 byte per pixel step)."""
    filtered = bytearray(len(row))
    for i, x in enumerate(row):
        a = row[i - 1] if i > 0 else 0
        b = up[i]
        c = up[i - 1] if i > 0 else 0
        predictor = [0, a, b, (a + b) // 2, paeth(a, b, c)][kind]
        filtered[i] = (x - predictor) % 256
    return bytes([kind]) + bytes(filtered)


def pack_row(samples, depth):
    per_byte = 8 // depth
    packed = bytearray((len(samples) + per_byte - 1) // per_byte)
    for i, v in enumerate(samples):
        packed[i // per_byte] |= int(v) << (8 - depth * (i % per_byte + 1))
    return bytes(packed)


def hand_png(samples, depth, colour, extra_chunks=b""):
    """A PNG written by hand: row y uses filter y mod 5, the zlib stream is split into
    three IDAT chunks, indexed images get a full PLTE."""
    height, width = samples.shape
    rows = [pack_row(samples[y], depth) for y in range(height)]
    raw = b"".join(filter_row(y % 5, rows[y], rows[y - 1] if y > 0 else bytes(len(rows[0])))
                   for y in range(height))
    stream = zlib.compress(raw, 9)
    thirds = [stream[: len(stream) // 3], stream[len(stream) // 3: 2 * len(stream) // 3],
              stream[2 * len(stream) // 3:]]
    header = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
    if colour == 3:
        colours = bytes((i * 37 + k * 91) % 256 for i in range(1 << depth) for k in range(3))
        png += chunk(b"PLTE", colours)
    png += extra_chunks
    for part in thirds:
        png += chunk(b"IDAT", part)
    return png + chunk(b"IEND", b"")


def hand_label_fixtures(rng):
    for colour, prefix in ((3, "p"), (0, "g")):
        for depth in (1, 2, 4, 8):
            samples = rng.integers(0, 1 << depth, (10, 13))
            comment = chunk(b"tEXt", b"Comment\x00written by gen_image_fixtures.py")
            extra = comment if depth == 4 else b""
            path = out(f"label_hand_{prefix}{depth}.png")
            with open(path, "wb") as f:
                f.write(hand_png(samples, depth, colour, extra))
            read = pil_values(path)
            if colour == 3 or depth in (1, 8):
                expected = samples                      # indices; 8-bit grey; mode "1" booleans
            else:
                expected = samples * (255 // ((1 << depth) - 1))   # PIL's "L;2" / "L;4"
            assert np.array_equal(read, expected), path
            np.save(out(f"label_hand_{prefix}{depth}.npy"), read)


def generate():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(20260521)
    resize_fixtures(rng)
    rule_fixtures()
    pil_label_fixtures(rng)
    hand_label_fixtures(rng)


def fixture_main(doc, fixtures, generate_into):
    """The command line of a fixture generator: write every fixture into `fixtures`, or with
    --check regenerate into a temporary folder and compare byte for byte (exit 1 on a
    difference). generate_into(folder) writes every fixture into folder."""
    parser = argparse.ArgumentParser(description=doc.split("\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="compare a fresh generation with the committed fixtures")
    args = parser.parse_args()
    if not args.check:
        generate_into(fixtures)
        total = sum(os.path.getsize(os.path.join(fixtures, n)) for n in os.listdir(fixtures))
        print(f"wrote {len(os.listdir(fixtures))} files, {total} bytes, into {fixtures}")
        return
    with tempfile.TemporaryDirectory() as fresh:
        generate_into(fresh)
        names = sorted(set(os.listdir(fresh)) | set(os.listdir(fixtures)))
        differ = [n for n in names if not (os.path.exists(os.path.join(fixtures, n)) and
                                           os.path.exists(os.path.join(fresh, n)) and
                                           filecmp.cmp(os.path.join(fixtures, n),
                                                       os.path.join(fresh, n), shallow=False))]
    for name in differ:
        print(f"differs: {name}")
    print(f"{len(names) - len(differ)} of {len(names)} fixtures identical")
    sys.exit(1 if differ else 0)


def generate_into(folder):
    global OUT
    OUT = folder
    generate()


if __name__ == "__main__":
    fixture_main(__doc__, FIXTURES, generate_into)
