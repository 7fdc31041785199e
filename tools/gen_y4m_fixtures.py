#!/usr/bin/env python3
"""Fixtures for the Y4M reader/writer tests (tests/io/test_y4m.cpp), written by ffmpeg (the
binary bundled with the `imageio_ffmpeg` package), so that tv3s's YUV4MPEG2 codec is checked
against the program that writes the streams people pipe into it.

Source frames (uint8 [frames, H, W, 3], saved as .npy):
  src_36x20.npy   3 frames 36×20: six colour bars 6 px wide (rows 0..9, shifted 2 px per
                  frame so every 2×2 chroma block inside a bar is flat) above smooth
                  gradients (rows 10..19)
  src_35x21.npy   2 frames 35×21 (odd: chroma planes 18×11): four flat-chroma quadrants
                  split at x = 17 + 2k, y = 10, plus a grey ramp (equal R, G, B steps,
                  which move luma only). At odd sizes swscale resamples chroma 35 → 18
                  with its own ratio, so the chroma phase drifts along the row: only the
                  quadrant interiors are comparable with the source.

Streams, each encoded from the RGB frames by ffmpeg's default swscale conversion, and
`<stream>.ffmpeg_rgb.npy`: ffmpeg's own decode of that stream back to rgb24 (default
flags, with in_color_matrix / in_range set to what the stream holds):
  yuv420p.y4m        C420jpeg, BT.601, limited (XCOLORRANGE=LIMITED)
  yuv420p_709.y4m    C420jpeg, BT.709, limited (scale=out_color_matrix=bt709:out_range=tv)
  yuv444p.y4m        C444, BT.601, limited
  yuvj420p.y4m       C420jpeg, BT.601, full range (XCOLORRANGE=FULL)
  yuv422p.y4m        C422, BT.601, limited
  gray.y4m           Cmono (ffmpeg marks it XCOLORRANGE=FULL)
  odd_yuv420p.y4m    35×21, C420jpeg, BT.601, limited
  yuv420p10.y4m      C420p10 (needs -strict -1), which tv3s must refuse; 1 frame, no decode

The script asserts each header is what the test expects (the header line is printed), so
a different ffmpeg version that writes other tags fails here, not in the C++ test.

Usage:  pip install numpy imageio-ffmpeg
        python3 tools/gen_y4m_fixtures.py
"""
import os
import subprocess

import imageio_ffmpeg
import numpy as np

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "y4m")
FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()

BARS = np.array([[255, 255, 255], [230, 200, 20], [20, 190, 210], [30, 180, 40],
                 [200, 40, 190], [220, 30, 30]], np.uint8)


def frames(width, height, count):
    """Colour bars on the top 10 rows, gradients below; frame k shifts the bars by 2k px."""
    video = np.zeros((count, height, width, 3), np.uint8)
    x = np.arange(width)
    y = np.arange(height)[:, None]
    for k in range(count):
        bar = ((x + 2 * k) // 6) % len(BARS)
        video[k, :10] = BARS[bar][None, :, :]
        rows = slice(10, height)
        video[k, rows, :, 0] = np.clip(20 + 6 * x + 3 * k, 0, 255)[None, :]
        video[k, rows, :, 1] = np.clip(40 + 15 * (y[10:] - 10) + 2 * x[None, :], 0, 255)
        video[k, rows, :, 2] = np.clip(230 - 5 * x - 10 * k, 0, 255)[None, :]
    return video


QUADRANTS = np.array([[200, 60, 40], [40, 180, 90], [60, 70, 200], [190, 180, 50]], np.int32)


def quadrants(width, height, count):
    """Four flat colours split at x = 17 + 2k, y = 10, plus a grey ramp in -10..+8."""
    video = np.zeros((count, height, width, 3), np.uint8)
    x = np.arange(width)[None, :]
    y = np.arange(height)[:, None]
    ramp = x // 3 + y // 3 - 10
    for k in range(count):
        index = (x >= 17 + 2 * k).astype(np.int32) + 2 * (y >= 10)
        video[k] = np.clip(QUADRANTS[index] + ramp[:, :, None], 0, 255)
    return video


def ffmpeg(args, data):
    result = subprocess.run([FFMPEG, "-v", "error", *args], input=data, capture_output=True)
    if result.returncode != 0:
        raise SystemExit(f"ffmpeg {' '.join(args)} failed:\n{result.stderr.decode()}")
    return result.stdout


def encode(video, pix_fmt, vf=None, strict=False):
    count, height, width, _ = video.shape
    args = ["-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}", "-r", "25",
            "-i", "-"]
    if vf:
        args += ["-vf", vf]
    args += ["-pix_fmt", pix_fmt]
    if strict:
        args += ["-strict", "-1"]
    args += ["-f", "yuv4mpegpipe", "-"]
    return ffmpeg(args, video.tobytes())


def decode(stream, width, height, matrix, rng):
    vf = f"scale=in_color_matrix={matrix}:in_range={rng}"
    rgb = ffmpeg(["-f", "yuv4mpegpipe", "-i", "-", "-vf", vf, "-pix_fmt", "rgb24",
                  "-f", "rawvideo", "-"], stream)
    return np.frombuffer(rgb, np.uint8).reshape(-1, height, width, 3)


def main():
    os.makedirs(OUT, exist_ok=True)
    src = {"36x20": frames(36, 20, 3), "35x21": quadrants(35, 21, 2)}
    for size, video in src.items():
        np.save(os.path.join(OUT, f"src_{size}.npy"), video)

    limited = ":out_range=tv"
    cases = [  # name, source, pix_fmt, -vf, expected header tail, matrix, range
        ("yuv420p", "36x20", "yuv420p", "scale=out_color_matrix=bt601" + limited,
         "C420jpeg XYSCSS=420JPEG XCOLORRANGE=LIMITED", "bt601", "tv"),
        ("yuv420p_709", "36x20", "yuv420p", "scale=out_color_matrix=bt709" + limited,
         "C420jpeg XYSCSS=420JPEG XCOLORRANGE=LIMITED", "bt709", "tv"),
        ("yuv444p", "36x20", "yuv444p", "scale=out_color_matrix=bt601" + limited,
         "C444 XYSCSS=444 XCOLORRANGE=LIMITED", "bt601", "tv"),
        ("yuvj420p", "36x20", "yuvj420p", None,
         "C420jpeg XYSCSS=420JPEG XCOLORRANGE=FULL", "bt601", "pc"),
        ("yuv422p", "36x20", "yuv422p", "scale=out_color_matrix=bt601" + limited,
         "C422 XYSCSS=422 XCOLORRANGE=LIMITED", "bt601", "tv"),
        ("gray", "36x20", "gray", None, "Cmono XCOLORRANGE=FULL", "bt601", "pc"),
        ("odd_yuv420p", "35x21", "yuv420p", "scale=out_color_matrix=bt601" + limited,
         "C420jpeg XYSCSS=420JPEG XCOLORRANGE=LIMITED", "bt601", "tv"),
    ]
    for name, size, pix_fmt, vf, tail, matrix, rng in cases:
        video = src[size]
        stream = encode(video, pix_fmt, vf)
        header = stream[:stream.index(b"\n")].decode()
        print(f"{name + '.y4m':20s} {header}")
        width, height = video.shape[2], video.shape[1]
        expected = f"YUV4MPEG2 W{width} H{height} F25:1 Ip A0:0 {tail}"
        assert header == expected, f"{name}: ffmpeg wrote '{header}', expected '{expected}'"
        with open(os.path.join(OUT, name + ".y4m"), "wb") as f:
            f.write(stream)
        rgb = decode(stream, width, height, matrix, rng)
        assert rgb.shape == video.shape, (name, rgb.shape)
        np.save(os.path.join(OUT, name + ".ffmpeg_rgb.npy"), rgb)

    stream = encode(src["36x20"][:1], "yuv420p10le", strict=True)
    header = stream[:stream.index(b"\n")].decode()
    print(f"{'yuv420p10.y4m':20s} {header}")
    assert header == "YUV4MPEG2 W36 H20 F25:1 Ip A0:0 C420p10 XYSCSS=420P10", header
    with open(os.path.join(OUT, "yuv420p10.y4m"), "wb") as f:
        f.write(stream)


if __name__ == "__main__":
    main()
