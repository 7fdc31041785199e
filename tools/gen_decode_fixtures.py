#!/usr/bin/env python3
"""Fixtures for decoding frames as the official pipeline does (tests/io/test_image_decode.cpp):
small JPEGs and PNGs of every kind a frame folder may hold, and for each the pixels that
cv2.imread(path, cv2.IMREAD_COLOR)[..., ::-1] gives (RGB, uint8, H x W x 3) as <name>.npy.
tv3s's read_image must equal each bit for bit. All images are 37x29 (odd sides, partial
MCUs and chroma blocks) unless named otherwise, of a smooth pattern with edges and noise:

  jpeg_420.jpg, jpeg_422.jpg, jpeg_444.jpg, jpeg_440.jpg, jpeg_411.jpg
        cv2.imwrite with IMWRITE_JPEG_SAMPLING_FACTOR (chroma upsampling paths)
  jpeg_grey.jpg         cv2.imwrite of a one-channel image (grey to RGB)
  jpeg_progressive.jpg  IMWRITE_JPEG_PROGRESSIVE
  jpeg_restart.jpg      IMWRITE_JPEG_RST_INTERVAL 2 (restart markers)
  jpeg_cmyk.jpg         PIL's CMYK JPEG (Adobe, inverted), 4 components
  jpeg_exif_<n>.jpg     PIL JPEGs, 11x7, with EXIF orientation n = 2..8 (cv2 applies it)
  png_exif_6.png        a PIL PNG, 11x7, with an eXIf chunk of orientation 6
  png_rgb8.png, png_rgb16.png, png_rgba8.png, png_rgba16.png, png_grey8.png, png_grey16.png
        cv2.imwrite (16-bit samples chosen so that truncation and rounding differ)
  png_grey1.png, png_grey2.png, png_grey4.png, png_grey_alpha8.png, png_grey_alpha16.png,
  png_palette8.png, png_palette4_trns.png, png_palette1.png, png_grey8_trns.png,
  png_rgb8_trns.png, png_adam7_rgb8.png, png_adam7_palette4.png, png_adam7_grey16.png,
  png_adam7_rgba8.png
        the tiny PNG encoder below (bit depths, palettes with and without tRNS, grey with
        alpha, Adam7 interlacing), scanline filter 0, one IDAT

Usage:  pip install numpy opencv-python-headless pillow
        python3 tools/gen_decode_fixtures.py            rewrites tests/data/decode/
        python3 tools/gen_decode_fixtures.py --check    regenerates into a temporary folder
                                                        and compares byte for byte (exit 1
                                                        on a difference)
Written with opencv-python-headless 5.1.0 (its libjpeg-turbo 3.1.2, libpng 1.6.59),
Pillow 13.0.0 and NumPy 2.4.6. The encoded files depend on those encoders; the expected
pixels on cv2's decoders, which tv3s reproduces with Debian's libjpeg-turbo 2.1.5 and
libpng 1.6.39.
"""
import os
import struct
import sys
import zlib

import cv2
import numpy as np
from PIL import Image

from gen_image_fixtures import chunk, fixture_main  # a PNG chunk; the --check command line

FIXTURES = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                        "data", "decode"))
OUT = FIXTURES  # where out() writes; --check points it at a temporary folder
W, H = 37, 29


def out(name):
    return os.path.join(OUT, name)


def pattern(w=W, h=H, channels=3, seed=0, peak=255):
    """A smooth gradient, a hard-edged box and noise: every decoder path has work to do."""
    y, x = np.mgrid[0:h, 0:w]
    rng = np.random.RandomState(seed)
    planes = []
    for c in range(channels):
        smooth = (x * (3 + 2 * c) + y * (5 - c) + 40 * c) / (3 * w + 5 * h + 80) * peak
        box = ((x // 6 + y // 5 + c) % 3 == 0) * peak * 0.3
        noise = rng.uniform(0, peak * 0.1, (h, w))
        planes.append(np.clip(smooth + box + noise, 0, peak))
    return np.stack(planes, -1)


def expect(name):
    pixels = cv2.imread(out(name), cv2.IMREAD_COLOR)
    assert pixels is not None, name
    np.save(out(os.path.splitext(name)[0] + ".npy"), np.ascontiguousarray(pixels[..., ::-1]))


# ---- a tiny PNG encoder: any colour type and bit depth, optionally Adam7 ----------------
ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2),
         (0, 1, 1, 2)]  # (x0, y0, dx, dy)
CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}


def scanlines(samples, depth):
    """Rows of samples (H x W x C ints) packed big-endian at `depth` bits, filter byte 0."""
    raw = b""
    for row in samples:
        flat = row.reshape(-1)
        if depth == 16:
            packed = flat.astype(">u2").tobytes()
        elif depth == 8:
            packed = flat.astype(np.uint8).tobytes()
        else:
            bits = np.unpackbits(flat.astype(np.uint8)[:, None], axis=1)[:, 8 - depth:].reshape(-1)
            packed = np.packbits(bits).tobytes()
        raw += b"\0" + packed
    return raw


def write_png(name, samples, colour_type, depth, palette=None, trns=None, interlace=False):
    h, w = samples.shape[:2]
    samples = samples.reshape(h, w, CHANNELS[colour_type])
    if interlace:
        raw = b"".join(scanlines(samples[y0::dy, x0::dx], depth)
                       for x0, y0, dx, dy in ADAM7 if w > x0 and h > y0)
    else:
        raw = scanlines(samples, depth)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, colour_type,
                                                               0, 0, int(interlace)))
    if palette is not None:
        png += chunk(b"PLTE", bytes(np.asarray(palette, np.uint8).reshape(-1)))
    if trns is not None:
        png += chunk(b"tRNS", trns)
    png += chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
    with open(out(name), "wb") as f:
        f.write(png)
    expect(name)


def generate():
    os.makedirs(OUT, exist_ok=True)
    rgb = pattern().astype(np.uint8)
    bgr = rgb[..., ::-1]
    for name, factor in [("420", cv2.IMWRITE_JPEG_SAMPLING_FACTOR_420),
                         ("422", cv2.IMWRITE_JPEG_SAMPLING_FACTOR_422),
                         ("444", cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444),
                         ("440", cv2.IMWRITE_JPEG_SAMPLING_FACTOR_440),
                         ("411", cv2.IMWRITE_JPEG_SAMPLING_FACTOR_411)]:
        cv2.imwrite(out(f"jpeg_{name}.jpg"), bgr, [cv2.IMWRITE_JPEG_QUALITY, 90,
                                                     cv2.IMWRITE_JPEG_SAMPLING_FACTOR, factor])
        expect(f"jpeg_{name}.jpg")
    cv2.imwrite(out("jpeg_grey.jpg"), rgb[..., 1], [cv2.IMWRITE_JPEG_QUALITY, 90])
    cv2.imwrite(out("jpeg_progressive.jpg"), bgr, [cv2.IMWRITE_JPEG_PROGRESSIVE, 1])
    cv2.imwrite(out("jpeg_restart.jpg"), bgr, [cv2.IMWRITE_JPEG_RST_INTERVAL, 2])
    Image.fromarray(rgb).convert("CMYK").save(out("jpeg_cmyk.jpg"), quality=90)
    for name in ["jpeg_grey.jpg", "jpeg_progressive.jpg", "jpeg_restart.jpg", "jpeg_cmyk.jpg"]:
        expect(name)

    small = Image.fromarray(pattern(11, 7, seed=1).astype(np.uint8))
    for orientation in range(2, 9):
        exif = small.getexif()
        exif[0x0112] = orientation
        small.save(out(f"jpeg_exif_{orientation}.jpg"), quality=95, exif=exif.tobytes())
        expect(f"jpeg_exif_{orientation}.jpg")
    exif = small.getexif()
    exif[0x0112] = 6
    small.save(out("png_exif_6.png"), exif=exif.tobytes())
    expect("png_exif_6.png")

    # 16-bit samples: low bytes near 0x80 and 0xff, where truncation and rounding differ.
    wide = (pattern(peak=255).astype(np.uint16) << 8) | (pattern(seed=2).astype(np.uint16) % 2 * 0x7f + 0x80)
    alpha = pattern(channels=1, seed=3).astype(np.uint8)
    cv2.imwrite(out("png_rgb8.png"), bgr)
    cv2.imwrite(out("png_rgb16.png"), wide[..., ::-1])
    cv2.imwrite(out("png_rgba8.png"), np.concatenate([bgr, alpha], -1))
    cv2.imwrite(out("png_rgba16.png"), np.concatenate([wide[..., ::-1], wide[..., :1]], -1))
    cv2.imwrite(out("png_grey8.png"), rgb[..., 0])
    cv2.imwrite(out("png_grey16.png"), wide[..., 0])
    for name in ["png_rgb8.png", "png_rgb16.png", "png_rgba8.png", "png_rgba16.png",
                 "png_grey8.png", "png_grey16.png"]:
        expect(name)

    grey = rgb[..., 0].astype(np.int64)
    for depth in (1, 2, 4):
        write_png(f"png_grey{depth}.png", grey >> (8 - depth), 0, depth)
    write_png("png_grey_alpha8.png", np.stack([grey, alpha[..., 0]], -1), 4, 8)
    write_png("png_grey_alpha16.png", np.stack([wide[..., 0], wide[..., 1]], -1), 4, 16)
    palette = pattern(16, 1, seed=4).astype(np.uint8)[0]
    index16 = (grey * 16 // 256)
    write_png("png_palette8.png", (grey * 37) % 256, 3, 8,
              palette=pattern(256, 1, seed=5).astype(np.uint8)[0])
    write_png("png_palette4_trns.png", index16, 3, 4, palette=palette,
              trns=bytes(range(0, 160, 16)))  # the first 10 entries translucent
    write_png("png_palette1.png", grey >> 7, 3, 1, palette=[[200, 10, 30], [5, 90, 250]])
    write_png("png_grey8_trns.png", grey, 0, 8, trns=struct.pack(">H", int(grey[0, 0])))
    write_png("png_rgb8_trns.png", rgb.astype(np.int64), 2, 8,
              trns=struct.pack(">HHH", *map(int, rgb[0, 0])))
    write_png("png_adam7_rgb8.png", rgb.astype(np.int64), 2, 8, interlace=True)
    write_png("png_adam7_palette4.png", index16, 3, 4, palette=palette, interlace=True)
    write_png("png_adam7_grey16.png", wide[..., 2].astype(np.int64), 0, 16, interlace=True)
    write_png("png_adam7_rgba8.png", np.concatenate([rgb, alpha], -1).astype(np.int64), 6, 8,
              interlace=True)


def generate_into(folder):
    global OUT
    OUT = folder
    generate()


if __name__ == "__main__":
    fixture_main(__doc__, FIXTURES, generate_into)
