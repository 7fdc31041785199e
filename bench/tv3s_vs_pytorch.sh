#!/bin/sh
# Per-frame time of TV3S in streaming mode (MiT + SegFormer fuse + TV3S decoder with its
# state carried frame to frame), tv3s and PyTorch side by side in one run, on the same
# machine, same size, same thread count (random weights; the work per frame is forward +
# resize of the logits to the input size + argmax in both).
#
#   bench/tv3s_vs_pytorch.sh [ARCH] [HxW] [THREADS]    (default mit_b1 480x853 2; CPU)
#
# The PyTorch column is the official head's math re-implemented in plain PyTorch
# (tools/gen_tv3s_fixtures.py) with mamba_ssm's reference scan: the official code needs
# mamba_ssm's CUDA kernels and cannot run on a CPU. On a GPU, run
# `tv3s bench model --mode stream --device cuda` and the official repository side by side.
set -e
ARCH=${1:-mit_b1}
SIZE=${2:-480x853}
THREADS=${3:-2}
BUILD=${BUILD:-build}
HERE=$(dirname "$0")
echo "== TV3S ($ARCH) streaming, ${SIZE}, cpu, ${THREADS} threads, 124 classes =="
OMP_NUM_THREADS=$THREADS "$BUILD/tv3s" bench model --arch "$ARCH" --mode stream --size "$SIZE" \
  --threads "$THREADS" --reps 5 --warmup 1
if python3 -c "import torch, transformers" 2>/dev/null; then
  python3 "$HERE/pytorch_tv3s.py" --arch "$ARCH" --size "$SIZE" --threads "$THREADS" --reps 5
else
  echo "PyTorch: python3 with torch and transformers not found, column skipped"
fi
