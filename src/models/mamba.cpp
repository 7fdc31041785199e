#include "src/models/mamba.h"

namespace tv3s {

MambaMixer::MambaMixer(const Weights& w, const std::string& prefix)
    : in_proj_weight_(w.get(prefix + "in_proj.weight")),
      conv_weight_(w.get(prefix + "conv1d.weight")),
      conv_bias_(w.get(prefix + "conv1d.bias")),
      x_proj_weight_(w.get(prefix + "x_proj.weight")),
      dt_proj_{w.get(prefix + "dt_proj.weight"), Tensor()},
      dt_bias_(w.get(prefix + "dt_proj.bias")),
      A_log_(w.get(prefix + "A_log")),
      D_(w.get(prefix + "D")),
      out_proj_(nn::Linear::from(w, prefix + "out_proj", /*has_bias=*/false)) {}

Tensor MambaMixer::operator()(const Tensor& u, MambaState* state) const {
  TV3S_CHECK(u.ndim() == 3 && u.size(2) == in_proj_weight_.size(1),
             "Mamba: input must be [sequences, tokens, ", in_proj_weight_.size(1), "], got ",
             u.desc());
  const int64_t Di = inner(), N = state_size(), dt_rank = dt_proj_.weight.size(1);
  // The x and z halves of in_proj as two GEMMs on row views of its weight: no split copy.
  const Tensor x = linear(u, in_proj_weight_.slice_outer(0, Di));
  const Tensor z = linear(u, in_proj_weight_.slice_outer(Di, 2 * Di));

  CausalConv1dResult conv =
      causal_conv1d(x, conv_weight_, conv_bias_, state ? state->conv : Tensor(), /*silu=*/true);
  const Tensor& a = conv.y;

  const Tensor dbc = linear(a, x_proj_weight_);  // [S, L, dt_rank + 2N]
  const Tensor delta = dt_proj_(slice(dbc, 2, 0, dt_rank));
  const Tensor B = slice(dbc, 2, dt_rank, dt_rank + N);
  const Tensor C = slice(dbc, 2, dt_rank + N, dt_rank + 2 * N);
  const Tensor A = neg(exp(A_log_));

  ScanResult scan = selective_scan(a, delta, A, B, C, D_, z, dt_bias_,
                                   state ? state->ssm : Tensor(), /*delta_softplus=*/true);
  if (state) *state = {conv.final_state, scan.final_state};
  return out_proj_(scan.y);
}

}  // namespace tv3s
