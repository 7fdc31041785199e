// The Mamba mixer of the TV3S decoder (mamba_ssm `Mamba` with its defaults: d_state 16,
// d_conv 4, expand 2, dt_rank ceil(E/16); model-spec §5.5), on token sequences [S, L, E]:
//
//   [x ; z] = in_proj(u)                          x, z [S, L, Di]    (Di = 2E)
//   a       = SiLU(causal_conv1d(x))               depthwise, kernel 4, carried state
//   [δ̂ ; B ; C] = x_proj(a)                        δ̂ [S, L, dt_rank], B, C [S, L, 16]
//   y       = selective_scan(a, dt_proj(δ̂), A = −exp(A_log), B, C, D, z,
//                            delta_bias = dt_proj.bias, softplus)   carried state
//   out     = out_proj(y)
//
// A sequence can be run in pieces: pass a MambaState and it is read as the state before
// the first token (undefined members mean zero) and replaced by the state after the last.
// That is the whole of TV3S streaming: a frame's tokens continue where the previous
// frame's stopped (model-spec §8.2).
#pragma once
#include <string>

#include "src/nn/layers.h"

namespace tv3s {

struct MambaState {
  Tensor conv;  // [S, d_conv − 1, Di]: the last pre-convolution inputs x
  Tensor ssm;   // [S, Di, d_state]
  size_t nbytes() const { return (conv.defined() ? conv.nbytes() : 0) + (ssm.defined() ? ssm.nbytes() : 0); }
};

class MambaMixer {
 public:
  // prefix: e.g. "decode_head.vs.layers.3.mixer."
  MambaMixer(const Weights& weights, const std::string& prefix);

  // u [S, L, E] → [S, L, E]. state: see above; null runs from zero state.
  Tensor operator()(const Tensor& u, MambaState* state = nullptr) const;

  int64_t inner() const { return A_log_.size(0); }
  int64_t state_size() const { return A_log_.size(1); }
  int64_t conv_taps() const { return conv_weight_.size(2); }

 private:
  Tensor in_proj_weight_;            // [2·Di, E], rows [0, Di) → x, [Di, 2·Di) → z
  Tensor conv_weight_, conv_bias_;   // [Di, 1, d_conv], [Di]
  Tensor x_proj_weight_;             // [dt_rank + 2·d_state, Di]
  nn::Linear dt_proj_;               // weight [Di, dt_rank], no bias here:
  Tensor dt_bias_;                   // dt_proj.bias [Di] is added inside the scan, before softplus
  Tensor A_log_, D_;                 // [Di, d_state], [Di]
  nn::Linear out_proj_;              // [E, Di], no bias
};

}  // namespace tv3s
