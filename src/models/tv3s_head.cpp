#include "src/models/tv3s_head.h"

#include <string>

namespace tv3s {

namespace {
constexpr double kRmsEps = 1e-5;  // norm_epsilon of create_block and of norm_f
}  // namespace

void Tv3sState::reset_video(int64_t b) {
  TV3S_CHECK(b >= 0 && (B == 0 || b < B), "Tv3sState: no video ", b, " among ", B);
  for (auto& groups : layers)
    for (MambaState& s : groups)
      for (Tensor* t : {&s.conv, &s.ssm}) {
        if (!t->defined()) continue;
        const int64_t n = t->size(0) / B;
        Tensor rows = t->slice_outer(b * n, (b + 1) * n);
        fill_(rows, 0.0);
      }
}

size_t Tv3sState::nbytes() const {
  size_t n = 0;
  for (const auto& groups : layers)
    for (const MambaState& s : groups) n += s.nbytes();
  return n;
}

Tv3sDecoder::Tv3sDecoder(const ModelConfig& config, const Weights& w)
    : window_(config.window),
      shift_(config.shift),
      norm_f_weight_(w.get("decode_head.vs.norm_f.weight")),
      linear_pred2_(nn::Linear::from(w, "decode_head.linear_pred2")) {
  for (int layer = 0; w.has("decode_head.vs.layers." + std::to_string(layer) + ".norm.weight");
       ++layer) {
    const std::string prefix = "decode_head.vs.layers." + std::to_string(layer) + ".";
    norm_weights_.push_back(w.get(prefix + "norm.weight"));
    mixers_.emplace_back(w, prefix + "mixer.");
  }
  TV3S_CHECK(!mixers_.empty(), "TV3S decoder: no decode_head.vs.layers.* in the weights");
}

std::pair<int64_t, int64_t> Tv3sDecoder::grid(int64_t h, int64_t w) const {
  // model-spec §4: L = lcm(window, window) = window; floor(h/2) is Python's int(h/2).
  auto side = [&](int64_t n) { return (n / 2 + window_ - 1) / window_ * window_; };
  return {side(h), side(w)};
}

const Tv3sDecoder::Partition& Tv3sDecoder::partition(int64_t B, int64_t T, int64_t h2, int64_t w2,
                                                     bool shifted) const {
  std::lock_guard<std::mutex> lock(partitions_->mutex);
  auto& slot = partitions_->entries[{B, T, h2, w2, shifted}];
  if (!slot) {
    auto p = std::make_shared<Partition>();
    p->map = make_window_partition(B, T, h2, w2, window_, shifted ? shift_ : 0);
    const Device device = norm_f_weight_.device();
    const Shape rows{int64_t(p->map.forward.size())};
    p->forward = Tensor::from_vector_i32(p->map.forward, rows, device);
    p->inverse = Tensor::from_vector_i32(p->map.inverse, rows, device);
    slot = std::move(p);
  }
  return *slot;
}

// One layer's mixer over the cells of partition p: gather the map's tokens into sequence
// order, run each group (one batched call per cell size), scatter back to map order.
Tensor Tv3sDecoder::run_layer(int64_t layer, const Tensor& normed, const Partition& p, int64_t T,
                              std::vector<MambaState>* states) const {
  const int64_t E = normed.size(1);
  const Tensor sequences = gather_rows(normed, p.forward);
  std::vector<Tensor> outputs;
  for (size_t g = 0; g < p.map.groups.size(); ++g) {
    const WindowGroup& group = p.map.groups[g];
    const int64_t L = T * group.seq_len();
    const Tensor cells =
        sequences.slice_outer(group.offset, group.offset + group.count * L).reshape({group.count, L, E});
    MambaState* state = states ? &(*states)[g] : nullptr;
    outputs.push_back(mixers_[size_t(layer)](cells, state).reshape({group.count * L, E}));
  }
  return gather_rows(outputs.size() == 1 ? outputs[0] : concat(outputs, 0), p.inverse);
}

// DropPath in the official layer stack acts on the batch rows of the partitioned
// (n_seq, L, E) tensor, i.e. per sequence (window or shifted piece, all frames of it).
// Here the tokens stay in map order, so the per-sequence factor is scattered to the map
// rows of each sequence's tokens and multiplied in token-wise.
Tensor Tv3sDecoder::drop_sequences(const Tensor& hidden, const Partition& p, double rate,
                                   Rng& rng) const {
  if (rate == 0) return hidden;
  std::vector<float> factor(p.map.forward.size());
  for (const WindowGroup& group : p.map.groups) {
    const int64_t L = p.map.T * group.seq_len();
    const std::vector<float> keep = nn::drop_path_factors(group.count, rate, rng);
    for (int64_t s = 0; s < group.count; ++s)
      for (int64_t q = group.offset + s * L; q < group.offset + (s + 1) * L; ++q)
        factor[size_t(p.map.forward[size_t(q)])] = keep[size_t(s)];
  }
  const Tensor mask = Tensor::from_vector(factor, Shape{int64_t(factor.size()), 1}, DType::f32, hidden.device());
  return mul(hidden, mask.to(hidden.dtype()));
}

Tensor Tv3sDecoder::to_grid(const Tensor& fused) const {
  TV3S_CHECK(fused.ndim() == 4, "TV3S decoder: fused features must be [N, h, w, E], got ",
             fused.desc());
  const int64_t h = fused.size(1), w = fused.size(2);
  const auto [h2, w2] = grid(h, w);
  TV3S_CHECK(h2 >= 2 * window_ && w2 >= 2 * window_, "TV3S decoder: the ", h, "×", w,
             " feature map gives a ", h2, "×", w2, " grid, less than two ", window_,
             "-token windows per side (the shifted partition needs two; the input is too small)");
  return resize_bilinear(fused, h2, w2);
}

Tensor Tv3sDecoder::forward(const Tensor& x0, int64_t T, Tv3sState* state, int64_t out_h,
                            int64_t out_w, const nn::TrainNoise* noise) const {
  TV3S_CHECK(x0.ndim() == 4 && T >= 1 && x0.size(0) % T == 0 && x0.size(1) % window_ == 0 &&
                 x0.size(2) % window_ == 0,
             "TV3S decoder: grid features must be [clips·T, h2, w2, E] with T = ", T,
             " and h2, w2 multiples of ", window_, ", got ", x0.desc());
  const int64_t B = x0.size(0) / T, h2 = x0.size(1), w2 = x0.size(2), E = x0.size(3);
  if (state) {
    TV3S_CHECK(T == 1, "TV3S decoder: streaming takes one frame per video, got T = ", T);
    if (state->B == 0) {
      state->B = B, state->grid_h = h2, state->grid_w = w2;
      state->layers.assign(size_t(num_layers()), {});
    }
    TV3S_CHECK(state->B == B && state->grid_h == h2 && state->grid_w == w2,
               "TV3S decoder: this frame (", B, " videos, grid ", h2, "×", w2,
               ") does not continue the streamed state (", state->B, " videos, grid ",
               state->grid_h, "×", state->grid_w, "): frames of a video must share one size; "
               "reset between videos");
  }

  TV3S_CHECK(!(noise && state), "TV3S decoder: training runs clips, not a streamed state");
  Rng* rng = noise && noise->decoder_drop_path > 0 ? noise->rng : nullptr;
  // Official rates: layer ℓ ≥ 1 gets linspace(0, r, depth)[ℓ − 1] (on layer ℓ−1's output);
  // DropPath_f gets r itself.
  auto layer_rate = [&](int64_t layer) {
    const int64_t depth = num_layers();
    return layer == 0 || depth < 2 ? 0.0 : noise->decoder_drop_path * double(layer - 1) / double(depth - 1);
  };

  Tensor hidden = x0.reshape({-1, E}), residual;  // tokens [B·T·h2·w2, E] in map order
  for (int64_t layer = 0; layer < num_layers(); ++layer) {
    const bool shifted = layer % 2 == 1;  // even layers: plain windows; odd: real shift
    const Partition& p = partition(B, T, h2, w2, shifted);
    std::vector<MambaState>* states = nullptr;
    if (state) {
      states = &state->layers[size_t(layer)];
      states->resize(p.map.groups.size());
    }
    if (rng) hidden = drop_sequences(hidden, p, layer_rate(layer), *rng);
    AddRmsNormResult norm = add_rms_norm(hidden, residual, norm_weights_[size_t(layer)], kRmsEps);
    residual = norm.residual;
    hidden = run_layer(layer, norm.y, p, T, states);
  }

  if (rng)  // DropPath_f, drawn per unshifted window
    hidden = drop_sequences(hidden, partition(B, T, h2, w2, false), noise->decoder_drop_path, *rng);
  // Only the last frame of each clip is read: norm_f on its tokens alone (token-wise).
  auto last_frame = [&](const Tensor& t) {
    const Tensor clips = t.reshape({B, T, h2 * w2 * E});
    return (T == 1 ? clips : slice(clips, 1, T - 1, T)).reshape({B * h2 * w2, E});
  };
  const Tensor y = add_rms_norm(last_frame(hidden), last_frame(residual), norm_f_weight_, kRmsEps).y;
  Tensor features = y.reshape({B, h2, w2, E});
  if (noise && noise->rng && noise->dropout > 0)  // Dropout2d per (clip, channel)
    features = nn::dropout2d(features, noise->dropout, *noise->rng);
  const Tensor logits = linear_pred2_(features);
  return resize_bilinear(logits, out_h, out_w);
}

}  // namespace tv3s
