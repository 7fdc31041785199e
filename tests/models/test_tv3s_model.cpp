// The TV3S decoder and the Segmenter on a random tiny model (MiT-B0, E = 32, window 4,
// shift 2, 5 classes; 90×130 frames → c1 23×33 → grid 12×16, so both partitions have
// several cells and every real-shift group is present):
//  - streaming output of frame t equals the clip output over all frames 0..t (model-spec
//    §8.2: the causal conv and the scan make a carried state the same as the left
//    context), for 9 frames, on CPU and on CUDA;
//  - several videos streamed in one batch equal each video streamed alone, and reset(v)
//    restarts one video without touching the others;
//  - clip mode is the official clip table (§8.1) run from zero state, frames 0–2 the
//    SegFormer logits;
//  - the carried state has the size of model-spec §8.2's formula and does not grow;
//  - the grid formula of §4 and the errors.
// Tolerances: stream vs clip 1e-5 rel in f32 (the same math; GEMMs over different row
// counts may round differently); batch vs single 1e-5; CUDA vs CPU 1e-3 (f32, cuBLAS and
// the GPU scan reassociate sums over 400–3600 tokens and 8 layers).
#include <memory>
#include <vector>

#include "src/models/parameters.h"
#include "src/models/random_weights.h"
#include "src/pipeline/segmenter.h"
#include "tests/test_util.h"

using namespace tv3s;
using tv3s::test::check_close;

namespace {

ModelConfig tiny_config() {
  ModelConfig c;
  c.kind = ModelKind::tv3s;
  c.backbone = "mit_b0";
  c.num_classes = 5;
  c.embed_dim = 32;
  c.window = 4;
  c.shift = 2;
  return c;
}

std::shared_ptr<const Tv3s> tiny_model(Device device = Device::CPU) {
  const ModelConfig c = tiny_config();
  return std::make_shared<const Tv3s>(c, random_weights(model_parameters(c), 11, device));
}

// Frame t of video `video`: a smooth pattern that moves with t, plus noise (normalised
// values, roughly what a real frame gives).
Tensor frame(int64_t t, int64_t video = 0, int64_t H = 90, int64_t W = 130) {
  Rng rng(uint64_t(1000 * video + t + 1));
  std::vector<float> v(size_t(H * W * 3));
  for (int64_t y = 0; y < H; ++y)
    for (int64_t x = 0; x < W; ++x)
      for (int64_t c = 0; c < 3; ++c)
        v[size_t((y * W + x) * 3 + c)] =
            float(1.5 * std::sin(0.11 * double(x + 3 * t) + 0.7 * double(c + video)) *
                      std::cos(0.07 * double(y - 2 * t)) +
                  0.3 * rng.uniform(-1, 1));
  return Tensor::from_vector(v, Shape{1, H, W, 3});
}

// Stream frames 0..n−1; the output of frame t against across_frames() of the clip 0..t.
void check_stream_equals_clip(Device device) {
  NoGradGuard no_grad;
  const auto model = tiny_model(device);
  const int64_t frames = 9;
  Tv3sState state;
  std::vector<Tensor> grids;
  for (int64_t t = 0; t < frames; ++t) {
    const Tv3sOutput out = model->per_frame(frame(t).to(device));
    const int64_t h = out.frames.fused.size(1), w = out.frames.fused.size(2);
    grids.push_back(out.grid);
    const Tensor streamed = model->across_frames(out.grid, 1, &state, h, w);
    const Tensor clip = model->across_frames(concat(grids, 0), t + 1, nullptr, h, w);
    CAPTURE(t);
    check_close(streamed, clip, 1e-5, "stream vs clip 0..t");
  }
}

}  // namespace

TEST_CASE("tv3s: streaming frame t equals the clip over frames 0..t (CPU)") {
  check_stream_equals_clip(Device::CPU);
}

TV3S_CUDA_TEST_CASE("tv3s: streaming frame t equals the clip over frames 0..t (CUDA)") {
  check_stream_equals_clip(Device::CUDA);
}

TV3S_CUDA_TEST_CASE("tv3s: CUDA stream and clip modes against CPU") {
  NoGradGuard no_grad;
  const auto cpu = tiny_model(Device::CPU);
  const auto gpu = tiny_model(Device::CUDA);
  for (SegmentMode mode : {SegmentMode::stream, SegmentMode::clip}) {
    Segmenter a(cpu, mode), b(gpu, mode);
    for (int64_t t = 0; t < 10; ++t) {
      CAPTURE(t);
      check_close(b.push(frame(t)).cpu(), a.push(frame(t)), 1e-3, segment_mode_name(mode));
    }
  }
}

TEST_CASE("tv3s: a batch of streamed videos equals each video alone; reset restarts one") {
  NoGradGuard no_grad;
  const auto model = tiny_model();
  Segmenter batch(model, SegmentMode::stream, 2), first(model, SegmentMode::stream),
      second(model, SegmentMode::stream);
  for (int64_t t = 0; t < 4; ++t) {
    const Tensor both = batch.push(concat({frame(t, 0), frame(t, 1)}, 0));
    check_close(both.slice_outer(0, 1), first.push(frame(t, 0)), 1e-5, "video 0");
    check_close(both.slice_outer(1, 2), second.push(frame(t, 1)), 1e-5, "video 1");
  }
  // Video 1 starts a new video (frames of video 2); video 0 goes on.
  batch.reset(1);
  Segmenter fresh(model, SegmentMode::stream);
  CHECK(batch.frame_index(0) == 4);
  CHECK(batch.frame_index(1) == 0);
  for (int64_t t = 4; t < 6; ++t) {
    const Tensor both = batch.push(concat({frame(t, 0), frame(t - 4, 2)}, 0));
    check_close(both.slice_outer(0, 1), first.push(frame(t, 0)), 1e-5, "video 0 goes on");
    check_close(both.slice_outer(1, 2), fresh.push(frame(t - 4, 2)), 1e-5, "video 2 from zero");
  }
}

TEST_CASE("tv3s: clip mode is the official clip table from zero state") {
  CHECK(official_clip(3) == std::vector<int64_t>{0, 1, 2, 3});
  CHECK(official_clip(4) == std::vector<int64_t>{0, 2, 3, 4});
  CHECK(official_clip(5) == std::vector<int64_t>{0, 2, 4, 5});
  CHECK(official_clip(6) == std::vector<int64_t>{0, 2, 4, 6});
  CHECK(official_clip(7) == std::vector<int64_t>{0, 3, 5, 7});
  CHECK(official_clip(8) == std::vector<int64_t>{0, 3, 6, 8});
  CHECK(official_clip(9) == std::vector<int64_t>{0, 3, 6, 9});
  CHECK(official_clip(20) == std::vector<int64_t>{11, 14, 17, 20});
  CHECK_THROWS_WITH(official_clip(2), doctest::Contains("frames 0–2"));

  NoGradGuard no_grad;
  const auto model = tiny_model();
  // Two videos, the second starting three frames later: in one push they need different
  // clips (or none), which the segmenter batches and mixes with SegFormer logits.
  Segmenter clip(model, SegmentMode::clip, 2);
  std::vector<Tensor> grids[2];
  const int64_t lag = 3;
  for (int64_t t = 0; t < 14; ++t) {
    const int64_t i1 = t - lag;  // frame index of video 1 (it starts at t = lag)
    if (t == lag) clip.reset(1);
    const Tensor f1 = frame(std::max<int64_t>(i1, 0), 1);
    const Tensor out = clip.push(concat({frame(t, 0), f1}, 0));
    for (int64_t v = 0; v < 2; ++v) {
      const int64_t i = v == 0 ? t : i1;
      if (i < 0) continue;
      const Tv3sOutput o = model->per_frame(v == 0 ? frame(t, 0) : f1);
      grids[v].push_back(o.grid);
      Tensor want;
      if (i < 3) {
        want = o.frames.logits;
      } else {
        std::vector<Tensor> frames;
        for (int64_t j : official_clip(i)) frames.push_back(grids[v][size_t(j)]);
        want = model->across_frames(concat(frames, 0), 4, nullptr, o.frames.logits.size(1),
                                    o.frames.logits.size(2));
      }
      CAPTURE(v);
      CAPTURE(i);
      check_close(out.slice_outer(v, v + 1), resize_bilinear(want, 90, 130), 1e-5, "clip mode");
    }
  }
}

TEST_CASE("tv3s: the carried state has model-spec §8.2's size and does not grow") {
  NoGradGuard no_grad;
  const auto model = tiny_model();
  Segmenter s(model, SegmentMode::stream);
  // Grid 12×16, window 4: nI = 3, nJ = 4; Di = 64, d_state 16, 3 conv taps, f32.
  const size_t want = 4 * (3 * 4 + 4 * 5) * 64 * (16 + 3) * 4;
  for (int64_t t = 0; t < 3; ++t) {
    s.push(frame(t));
    CHECK(s.state_bytes() == want);
  }
  // At the official 480×853 frame (grid 60×120) the formula gives 7,159,808 B.
  CHECK(4 * (3 * 6 + 4 * 7) * 512 * (16 + 3) * 4 == 7159808);
  s.reset();
  CHECK(s.state_bytes() == 0);
}

TEST_CASE("tv3s: the TV3S grid (model-spec §4) and bad inputs") {
  NoGradGuard no_grad;
  const auto model = tiny_model();
  CHECK(model->decoder().grid(23, 33) == std::pair<int64_t, int64_t>{12, 16});
  ModelConfig official = tiny_config();
  official.window = 20, official.shift = 10;
  const Tv3sDecoder decoder(official, model->weights());
  CHECK(decoder.grid(120, 216) == std::pair<int64_t, int64_t>{60, 120});  // 480×853 (§6)
  CHECK(decoder.grid(128, 256) == std::pair<int64_t, int64_t>{80, 140});  // Cityscapes (§4)
  CHECK(decoder.grid(60, 107) == std::pair<int64_t, int64_t>{40, 60});    // 240×427

  // A frame whose grid has a single window row cannot be partitioned with a shift:
  // 32×130 → c1 8×33 → grid 4×16.
  Segmenter s(model, SegmentMode::stream);
  CHECK_THROWS_WITH(s.push(frame(0, 0, 32, 130)), doctest::Contains("less than two"));
  // A stream whose frame size changes mid-video.
  Segmenter t(model, SegmentMode::stream);
  t.push(frame(0));
  CHECK_THROWS_WITH(t.push(frame(1, 0, 130, 130)), doctest::Contains("reset between videos"));
  t.reset();
  CHECK_NOTHROW(t.push(frame(1, 0, 130, 130)));
  CHECK_THROWS_WITH(parse_segment_mode("video"), doctest::Contains("frame, stream or clip"));
}
