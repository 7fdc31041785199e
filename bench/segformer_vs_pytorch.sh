#!/bin/sh
# Per-frame time of a backbone (MiT or Swin) + SegFormer head, tv3s and PyTorch side by
# side in one run, on the same machine, same size, same thread count (random weights; the
# work per frame is forward + resize of the logits to the input size + argmax in both).
#
#   bench/segformer_vs_pytorch.sh [ARCH] [HxW] [THREADS] [DEVICE]    (default mit_b1 480x853 2 cpu)
#
# Needs a built tv3s (make) and, for the PyTorch column, python3 with torch and
# transformers (pip install torch "transformers<5").
set -e
ARCH=${1:-mit_b1}
SIZE=${2:-480x853}
THREADS=${3:-2}
DEVICE=${4:-cpu}
BUILD=${BUILD:-build}
HERE=$(dirname "$0")
echo "== $ARCH + SegFormer head, ${SIZE}, ${DEVICE}, ${THREADS} threads, 124 classes =="
OMP_NUM_THREADS=$THREADS "$BUILD/tv3s" bench model --arch "$ARCH" --size "$SIZE" --threads "$THREADS" \
  --device "$DEVICE" --reps 10
if python3 -c "import torch, transformers" 2>/dev/null; then
  python3 "$HERE/pytorch_segformer.py" --arch "$ARCH" --size "$SIZE" --threads "$THREADS" \
    --device "$DEVICE" --reps 10
else
  echo "PyTorch: python3 with torch and transformers not found, column skipped"
fi
