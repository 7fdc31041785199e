#!/usr/bin/env bash
# The aarch64 smoke test CI runs (make test-aarch64-smoke): the cross-built `tv3s` command
# under qemu-aarch64 segments a short synthetic video with the shipped model in stream mode
# and in fp16, and its logits must match the native x86-64 build's on the same frames
# (max |arm − x86| ≤ 1e-4 · max |x86| for fp32, labels ≥ 99.9 % equal; fp16 to 1e-2 and
# 99 %): the NEON build computes the same model, not merely starts. The whole suite under
# qemu is `make test-aarch64` (README, On a Jetson).
#   tests/aarch64_smoke.sh NATIVE_BUILD AARCH64_BUILD
set -euo pipefail
native="$1/tv3s"
arm="$2/tv3s"
root="$(cd "$(dirname "$0")/.." && pwd)"
model="$root/weights/tv3s_synth_b0.safetensors"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
fail() { echo "aarch64 smoke: $*" >&2; exit 1; }

qemu-aarch64 "$arm" info | head -3
"$native" synth --out "$tmp/v" --videos 0 --val 1 --test 0 --frames 4 --size 96x128 --seed 5 --force --quiet
frames="$tmp/v/data/000_synth/origin"
for precision in fp32 fp16; do
  "$native" segment "$model" "$frames" --precision $precision --save-logits "$tmp/x86_$precision" --quiet
  qemu-aarch64 "$arm" segment "$model" "$frames" --precision $precision --save-logits "$tmp/arm_$precision" --quiet \
    || fail "tv3s segment --precision $precision under qemu failed"
done
python3 - "$tmp" <<'PY' || fail "the aarch64 logits differ from the x86-64 ones"
import sys, pathlib
import numpy as np
tmp = pathlib.Path(sys.argv[1])
for precision, tol, agree in (("fp32", 1e-4, 0.999), ("fp16", 1e-2, 0.99)):
    files = sorted((tmp / f"x86_{precision}").glob("*.npy"))
    assert files, "no logits written"
    worst, same, total = 0.0, 0, 0
    for f in files:
        x86, arm = np.load(f), np.load(tmp / f"arm_{precision}" / f.name)
        assert x86.shape == arm.shape, (f.name, x86.shape, arm.shape)
        worst = max(worst, float(np.abs(arm - x86).max() / np.abs(x86).max()))
        same += int((arm.argmax(0) == x86.argmax(0)).sum())
        total += x86[0].size
    print(f"aarch64 smoke {precision}: {len(files)} frames, max rel diff {worst:.2e}, "
          f"labels equal {100 * same / total:.3f} %")
    if worst > tol or same < agree * total:
        sys.exit(1)
PY
echo "aarch64 smoke: ok"
