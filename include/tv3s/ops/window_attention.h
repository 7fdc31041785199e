// Swin's window multi-head self-attention (W-MSA and, with a shift, SW-MSA) on a
// channels-last map, with the relative position bias and the shift mask, padding, roll,
// window partition and their reverse done inside the op by index arithmetic: the map is
// never padded, rolled or partitioned into a copy.
// Math and CPU reference: src/ops/window_attention.cpp; fast CPU path:
// src/ops/cpu/window_attention.cpp; CUDA: cuda/window_attention.cu (fused: one window and
// head per block, bias and mask added in the kernel).
#pragma once
#include <cstdint>

#include "tv3s/tensor.h"

namespace tv3s {

// qkv [N, H, W, 3C]: the qkv Linear's output at every position of the map, channels
//   [q | k | v], head h owning channels h·D … h·D + D − 1 of each (D = C / heads): the
//   official qkv(x).reshape(…, 3, heads, D) order.
// pad_qkv [3C]: the qkv of a padded position. The official block pads the normed map with
//   zeros on the right and bottom to multiples of `window` before the Linear, so this is the
//   Linear's bias; padded positions take part as keys and values (they are not masked).
// bias_table [(2·window − 1)², heads]: the relative position bias table, read through the
//   standard Swin index: for tokens t = (ti, tj) and u = (ui, uj) of a window,
//   idx(t, u) = (ti − ui + window − 1)·(2·window − 1) + (tj − uj + window − 1).
// shift: 0 (W-MSA) or s in (0, window) (SW-MSA): the padded map rolled by (−s, −s) and the
//   −100 mask between the 3×3 regions [0, P−window), [P−window, P−s), [P−s, P) of the
//   padded size P per axis (built from the rolled coordinates, as the official mask).
// scale multiplies q·k (head_dim^−0.5 in Swin).
//
// With Hp = ceil(H/window)·window, Wp likewise, the padded map X̄[y, x] = qkv[y, x] for
// y < H and x < W, else pad_qkv; the rolled map R[y, x] = X̄[(y + s) mod Hp, (x + s) mod Wp].
// For every window of R (rows a·window …, columns b·window …), head h, query t, key u
// (L = window² tokens each, raster order inside the window):
//   S[t, u] = scale·q_t·k_u + bias_table[idx(t, u), h] + (s > 0 && region(t) ≠ region(u) ? −100 : 0)
//   o_t     = Σ_u softmax_u(S[t, ·]) · v_u
// and the result at a position of X̄ is the o of the rolled position it moved to; positions
// outside the H×W map are cropped. Returns [N, H, W, C].
//
// f32 and f64 on the CPU; f32, f16 and bf16 on CUDA (f32 arithmetic and softmax).
// pad_qkv and bias_table have qkv's dtype and device. Differentiable in qkv, pad_qkv and
// bias_table (d pad_qkv sums the key/value gradients of every padded position of every
// image; its q part is zero, as padded queries are cropped).
Tensor window_attention(const Tensor& qkv, const Tensor& pad_qkv, const Tensor& bias_table,
                        int64_t heads, int64_t window, int64_t shift, double scale);

// The op's geometry, checked once by the op and passed to each implementation (the CPU
// reference, the fast CPU path, the CUDA launchers).
struct WindowAttentionDims {
  int64_t N, H, W, C, heads, D, window, shift;
  int64_t Hp, Wp;                // padded sizes, multiples of window
  int64_t windows_h, windows_w;  // windows per column and per row: Hp/window, Wp/window
  int64_t L;                     // tokens per window: window²
};
// The geometry of qkv [N, H, W, 3C]; throws naming the problem (shape, heads, window, shift).
WindowAttentionDims window_attention_dims(const Tensor& qkv, int64_t heads, int64_t window,
                                          int64_t shift);

}  // namespace tv3s
