// The TV3S decoder (model-spec §4–§5.6): the temporal part of `TV3SHead_shift`, on the
// fused SegFormer feature of every frame.
//
//   x₀ = bilinear(fused → TV3S grid (h2, w2))          h2 = ceil(floor(h/2)/window)·window
//   8 layers ℓ: r = r + h (fp32; layer 0: r = x₀), h = Mamba_ℓ(RMSNorm_ℓ(r)) over the
//        windows of the frames — even ℓ plain window×window cells, odd ℓ the real-shift
//        partition (src/models/window_partition.h); every cell is one sequence over all its frames
//   y  = RMSNorm_f(r + h)                                on the last frame only
//   logits = bilinear(linear_pred2(y) → (h, w))          [B, h, w, K]
//
// One class serves training and both inference modes. A clip runs its T frames as one
// sequence per cell from zero state. Streaming runs one frame (T = 1) and passes a
// Tv3sState, which holds for every layer and partition group the conv and SSM state of
// each sequence — memory that depends on the grid only, not on the video's length
// (model-spec §8.2).
#pragma once
#include <map>
#include <memory>
#include <mutex>
#include <tuple>
#include <vector>

#include "src/models/config.h"
#include "src/models/mamba.h"
#include "src/models/window_partition.h"
#include "src/nn/dropout.h"

namespace tv3s {

// The carried state of B videos streamed together. Empty (B = 0) until the first frame.
struct Tv3sState {
  int64_t B = 0, grid_h = 0, grid_w = 0;
  // layers[ℓ][g]: the state of group g of layer ℓ's partition, sequences of video b at
  // rows [b·n, (b+1)·n) with n = the group's sequences per video.
  std::vector<std::vector<MambaState>> layers;

  void clear() { *this = Tv3sState(); }
  // Zeroes video b's rows (the other videos keep their past).
  void reset_video(int64_t b);
  size_t nbytes() const;
};

class Tv3sDecoder {
 public:
  Tv3sDecoder(const ModelConfig& config, const Weights& weights);

  // The TV3S grid for a c1-size map (h, w).
  std::pair<int64_t, int64_t> grid(int64_t h, int64_t w) const;

  // The per-frame resize of fused [N, h, w, E] to the TV3S grid [N, h2, w2, E] (x₀).
  Tensor to_grid(const Tensor& fused) const;

  // grid [B·T, h2, w2, E]: the frames of clip b at rows b·T … b·T + T − 1, oldest first.
  // Returns the logits of each clip's last frame resized to (out_h, out_w), the c1 size:
  // [B, out_h, out_w, K]. state null: each clip from zero state. Otherwise T must be 1 and
  // the frame continues each video's state, which is updated in place (an empty state is
  // started at zero). noise (training only, clips only): the Mamba DropPath masks per
  // sequence and the Dropout2d before linear_pred2 (model-spec §5.4, §5.6); null = inference.
  Tensor forward(const Tensor& grid, int64_t T, Tv3sState* state, int64_t out_h, int64_t out_w,
                 const nn::TrainNoise* noise = nullptr) const;

  int64_t num_layers() const { return int64_t(mixers_.size()); }

 private:
  // A partition and its index maps on the device, built once per shape.
  struct Partition {
    WindowPartition map;
    Tensor forward, inverse;  // i32 on the model's device
  };
  const Partition& partition(int64_t B, int64_t T, int64_t h2, int64_t w2, bool shifted) const;
  // hidden · (one drop-path factor per sequence of partition p, at every token of it).
  Tensor drop_sequences(const Tensor& hidden, const Partition& p, double rate, Rng& rng) const;
  Tensor run_layer(int64_t layer, const Tensor& normed, const Partition& p, int64_t T,
                   std::vector<MambaState>* states) const;

  int64_t window_, shift_;
  std::vector<Tensor> norm_weights_;
  std::vector<MambaMixer> mixers_;
  Tensor norm_f_weight_;
  nn::Linear linear_pred2_;

  // Partitions by (B, T, h2, w2, shifted). Shared by copies of the decoder (same device
  // and windows); the mutex lets several threads run one model.
  struct PartitionCache {
    std::mutex mutex;
    std::map<std::tuple<int64_t, int64_t, int64_t, int64_t, bool>, std::shared_ptr<Partition>> entries;
  };
  std::shared_ptr<PartitionCache> partitions_ = std::make_shared<PartitionCache>();
};

}  // namespace tv3s
