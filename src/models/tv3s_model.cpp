#include "src/models/tv3s_model.h"

#include "src/models/model_file.h"

namespace tv3s {

Tv3s Tv3s::load(const std::string& path, Device device) {
  ModelFile file = load_model_file(path, device);
  TV3S_CHECK(file.config.kind == ModelKind::tv3s, path, ": holds a '", file.config.kind,
             "' model, not a TV3S model (it has no decode_head.vs.* decoder)");
  return Tv3s(file.config, std::move(file.weights));
}

Tv3s::Tv3s(const ModelConfig& config, Weights weights)
    : segformer_(config, std::move(weights)), decoder_(config, segformer_.weights()) {}

Tv3sOutput Tv3s::forward(const Tensor& images, int64_t T, Tv3sState* state,
                         const ForwardOptions& options) const {
  Tv3sOutput out = per_frame(images, options);
  const int64_t h = out.frames.fused.size(1), w = out.frames.fused.size(2);
  out.logits = across_frames(out.grid, T, state, h, w, options);
  return out;
}

// Per frame, no temporal interaction: MiT → SegFormer fuse → linear_pred (model-spec
// §2–§3), and the fused map resized bilinearly to the TV3S grid (§4).
Tv3sOutput Tv3s::per_frame(const Tensor& images, const ForwardOptions& options) const {
  Tv3sOutput out;
  out.frames = segformer_.forward(images, options);
  out.grid = decoder_.to_grid(out.frames.fused);
  return out;
}

// Across frames: the decoder's Mamba layers over each clip's windows (or one streamed
// frame per video), RMSNorm_f and linear_pred2 on the last frame, resized to (out_h, out_w)
// (§5).
Tensor Tv3s::across_frames(const Tensor& grid, int64_t T, Tv3sState* state, int64_t out_h,
                           int64_t out_w, const ForwardOptions& options) const {
  return decoder_.forward(grid, T, state, out_h, out_w, options.stochastic());
}

}  // namespace tv3s
