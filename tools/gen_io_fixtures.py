#!/usr/bin/env python3
"""Fixtures for the file-format tests (tests/io/test_safetensors.cpp, test_npy.cpp, test_image.cpp),
written by independent implementations so that tv3s is checked against them, not itself:

  st_dtypes.safetensors      the Python `safetensors` library: every dtype tv3s reads
                             (F32 F16 BF16 F64 I32 I64 U8 BOOL), an empty tensor, a
                             scalar, two metadata entries (which the library writes
                             in hash order, so a rerun may reorder them)
  st_writer_ref.safetensors  the same library: the file tv3s's writer must reproduce byte
                             for byte (one metadata entry, since the library writes
                             several in hash order)
  np_*.npy                   NumPy's np.save
  rgb_4x3.png, palette_3x2.png, grey_2x2.png
                             written here with zlib (colour types 2, 3 and 0)
  blocks_16x16.jpg           libjpeg (a tiny C program compiled with cc -ljpeg)

The pixel values are formulas repeated in tests/io/test_image.cpp.

Usage:  pip install torch numpy safetensors; apt-get install libjpeg-dev
        python3 tools/gen_io_fixtures.py
"""
import os
import struct
import subprocess
import tempfile
import zlib

import numpy as np
import torch
from safetensors.torch import save_file

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "io")


def out(name):
    return os.path.join(OUT, name)


def safetensors_fixtures():
    save_file({
        "f32": torch.tensor([[1.5, -2.0, 3.0], [0.25, 1e-3, -7.0]], dtype=torch.float32),
        "f16": torch.tensor([1.0, -0.5, 65504.0, 2.0 ** -14], dtype=torch.float16),
        "bf16": torch.tensor([[1.0, -2.0], [3.140625, 2.0 ** 100]], dtype=torch.bfloat16),
        "f64": torch.tensor([0.1, -1e300, 2.5], dtype=torch.float64),
        "i32": torch.tensor([-2 ** 31, 2 ** 31 - 1, 0], dtype=torch.int32),
        "i64": torch.tensor([-5, 2 ** 31 - 1, -2 ** 31], dtype=torch.int64),
        "u8": torch.tensor([[0, 255], [7, 128]], dtype=torch.uint8),
        "bool": torch.tensor([True, False, True]),
        "empty": torch.zeros(0, 4),
        "scalar": torch.tensor(42.5),
    }, out("st_dtypes.safetensors"), metadata={"format": "pt", "config": '{"num_classes": 124}'})

    # Only dtypes tv3s writes. The library orders tensors by dtype (widest first), then
    # name; the test lists them in that order.
    save_file({
        "a.weight": torch.arange(6, dtype=torch.float32).reshape(2, 3) / 4,
        "b.half": torch.tensor([1.0, -2.5, 0.125], dtype=torch.float16),
        "c.brain": torch.tensor([[0.5], [-4.0]], dtype=torch.bfloat16),
        "d.double": torch.tensor([1.0 / 3.0], dtype=torch.float64),
        "e.index": torch.tensor([3, -1, 7, 0, 2], dtype=torch.int32),
        "f.mask": torch.tensor([[1, 0, 255]], dtype=torch.uint8),
        "g.empty": torch.zeros(2, 0),
        "h.scalar": torch.tensor(-1.25),
    }, out("st_writer_ref.safetensors"), metadata={"config": 'x"y\\z\n\u00e9\u0001 {"k": [1, 2]}'})


def npy_fixtures():
    np.save(out("np_f32.npy"), (np.arange(6, dtype=np.float32).reshape(2, 3) - 2) / 8)
    np.save(out("np_f64_scalar.npy"), np.float64(-0.1))
    np.save(out("np_i32.npy"), np.array([-7, 0, 2 ** 31 - 1], dtype=np.int32))
    np.save(out("np_i64.npy"), np.array([-3, 0, 5, 2 ** 31 - 1], dtype=np.int64))
    np.save(out("np_u8.npy"), np.arange(12, dtype=np.uint8).reshape(2, 2, 3) * 20)
    np.save(out("np_f16.npy"), np.array([0.5, -1.0, 65504.0], dtype=np.float16))
    np.save(out("np_bool.npy"), np.array([True, False, True, True]))


def png(path, width, height, color_type, rows, palette=None):
    """A minimal 8-bit PNG: rows are lists of bytes (already interleaved channels)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    raw = b"".join(b"\x00" + bytes(row) for row in rows)  # filter 0 on every row
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8,
                                                          color_type, 0, 0, 0))
    if palette:
        data += chunk(b"PLTE", bytes(c for rgb in palette for c in rgb))
    data += chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(data)


def image_fixtures():
    # rgb_4x3: pixel (x, y) = (60x, 100y, 200 - 10(x + y)).
    png(out("rgb_4x3.png"), 4, 3, 2,
        [[c for x in range(4) for c in (60 * x, 100 * y, 200 - 10 * (x + y))] for y in range(3)])
    palette = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (17, 34, 51)]
    png(out("palette_3x2.png"), 3, 2, 3, [[0, 1, 2], [3, 0, 1]], palette)
    png(out("grey_2x2.png"), 2, 2, 0, [[0, 85], [170, 255]])

    # blocks_16x16.jpg: four flat 8×8 blocks (one per JPEG block, so the colours survive
    # compression almost exactly), no chroma subsampling.
    program = r"""
#include <stdio.h>
#include <jpeglib.h>
int main(int argc, char** argv) {
  static const unsigned char colour[4][3] = {{200, 30, 30}, {30, 200, 30}, {30, 30, 200},
                                             {128, 128, 128}};
  unsigned char row[16 * 3];
  struct jpeg_compress_struct c; struct jpeg_error_mgr err;
  FILE* f = fopen(argv[1], "wb");
  c.err = jpeg_std_error(&err); jpeg_create_compress(&c); jpeg_stdio_dest(&c, f);
  c.image_width = 16; c.image_height = 16; c.input_components = 3; c.in_color_space = JCS_RGB;
  jpeg_set_defaults(&c); jpeg_set_quality(&c, 95, TRUE);
  for (int i = 0; i < 3; ++i) c.comp_info[i].h_samp_factor = c.comp_info[i].v_samp_factor = 1;
  jpeg_start_compress(&c, TRUE);
  for (int y = 0; y < 16; ++y) {
    for (int x = 0; x < 16; ++x)
      for (int k = 0; k < 3; ++k) row[3 * x + k] = colour[(y / 8) * 2 + x / 8][k];
    JSAMPROW p = row; jpeg_write_scanlines(&c, &p, 1);
  }
  jpeg_finish_compress(&c); fclose(f); jpeg_destroy_compress(&c); return 0;
}
"""
    with tempfile.TemporaryDirectory() as tmp:
        source, binary = os.path.join(tmp, "jpeg.c"), os.path.join(tmp, "jpeg")
        with open(source, "w") as f:
            f.write(program)
        subprocess.run(["cc", source, "-o", binary, "-ljpeg"], check=True)
        subprocess.run([binary, out("blocks_16x16.jpg")], check=True)


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    safetensors_fixtures()
    npy_fixtures()
    image_fixtures()
