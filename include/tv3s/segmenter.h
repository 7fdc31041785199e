// tv3s::Segmenter — a model plus the per-video state of one inference mode. Load a model
// file, push the next frame of each video, get label maps (and logits) back.
//
//   tv3s::Segmenter seg = tv3s::Segmenter::load("tv3s_b1.safetensors");  // stream mode
//   for (each frame) {
//     tv3s::Segmentation out = seg.segment({{rgb, width, height}});
//     const uint8_t* labels = out.labels.data<uint8_t>();  // height × width class ids
//   }
//   seg.reset();  // the next frame starts a new video
//
// Modes:
//   frame   the per-frame SegFormer path (a SegFormer or a TV3S file): no temporal context.
//   stream  TV3S, one frame at a time; every Mamba layer and window carries its conv and
//           SSM state to the next frame, so frame t sees frames 0..t of its video in memory
//           that does not grow with the video (model-spec §8.2). Frame t's output equals
//           the clip mode of a clip holding all frames 0..t.
//   clip    the official evaluation (model-spec §8.1): frame i answers with the 4-frame
//           clip [i−9, i−6, i−3, i] (special clips for i = 3…8) run from zero state;
//           frames 0–2 with the SegFormer logits. Keeps the last 10 frames' features.
// States start at zero at the first frame of every video; reset() starts a new video.
// Several videos run as one batch: `videos` in the options, one frame of each per call.
//
// Precision: f32 (default), or f16 / bf16 — the model's parameters converted once at
// load and its activations in 16 bits, with f32 where the official code keeps f32 (norms,
// softmax, the scan's parameters and state, the Mamba residual stream: precision.h in
// src/models has the list). On CUDA the GPU stores 16 bits; on the CPU, which has no
// 16-bit arithmetic, the 16-bit matrix products are emulated as training's autocast does
// (accuracy as on the GPU, not faster). Logits and labels come back in f32 / u8 either way.
//
// Sizes: with `resize` none the network sees each frame at its own size; with vspw or
// cityscapes it sees the frame resized as the official test pipeline does (model-spec
// §8.1), and the logits are resized back to the frame's size before the argmax. Frames
// of one video must keep one size (the carried state is tied to the grid).
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tv3s/tensor.h"

namespace tv3s {

class Tv3s;       // src/models/tv3s_model.h
class Segformer;  // src/models/segformer.h
class Weights;    // src/nn/weights.h
struct ModelConfig;
struct ModelFile;
struct Tv3sOutput;

enum class SegmentMode { frame, stream, clip };
// "frame" | "stream" | "clip"; throws an Error for anything else.
SegmentMode parse_segment_mode(const std::string& name);
const char* segment_mode_name(SegmentMode mode);

// The frames of clip mode's clip for target frame i ≥ 3 (oldest first), model-spec §8.1.
std::vector<int64_t> official_clip(int64_t i);

// How a frame is resized into the network input: not at all, or as the official test
// pipelines of VSPW and Cityscapes do (src/pipeline/official_resize.h has the rules).
enum class InputResize { none, vspw, cityscapes };
// "none" | "vspw" | "cityscapes"; throws an Error otherwise.
InputResize parse_input_resize(const std::string& name);
const char* input_resize_name(InputResize rule);
// The names before 0.2 ("test" meant test-time), kept for one release.
using TestResize [[deprecated("renamed InputResize")]] = InputResize;
[[deprecated("renamed parse_input_resize")]] inline InputResize parse_test_resize(const std::string& name) {
  return parse_input_resize(name);
}
[[deprecated("renamed input_resize_name")]] inline const char* test_resize_name(InputResize rule) {
  return input_resize_name(rule);
}

// A frame as 8-bit RGB, row-major, 3 bytes per pixel, `stride` bytes from one row to the
// next (0: width·3). The pixels are read during the call, not kept.
struct RgbFrame {
  const uint8_t* pixels = nullptr;
  int width = 0, height = 0;
  int64_t stride = 0;
};

// A frame as NV12 — what cameras and hardware video decoders (a Jetson's NVDEC, V4L2)
// hand out: a plane of 8-bit Y (height rows of width samples) and a plane of interleaved
// U, V at half resolution (ceil(height/2) rows of ceil(width/2) pairs). BT.601 or BT.709,
// limited ("video", Y 16..235) or full range. Read during the call, not kept.
struct Nv12Frame {
  const uint8_t* y = nullptr;
  const uint8_t* uv = nullptr;
  int width = 0, height = 0;
  int64_t y_stride = 0, uv_stride = 0;  // bytes from one row to the next; 0: tight
  bool bt709 = false;                   // else BT.601
  bool full_range = false;              // else limited
};

struct SegmenterOptions {
  std::optional<SegmentMode> mode;  // default: stream for a TV3S model, frame for SegFormer
  Device device = Device::CPU;
  int64_t videos = 1;               // videos segmented side by side (one batch)
  InputResize resize = InputResize::none;
  DType precision = DType::f32;     // f32, f16 or bf16 (parse_precision: "fp32", "fp16", "bf16")
};

struct Segmentation {
  Tensor labels;  // [V, H, W] u8 on the CPU: the class of every pixel, at the frame's size
  Tensor logits;  // [V, H, W, K] f32 on the model's device (segment(frames, true) only)
};

class Segmenter {
 public:
  // Loads a tv3s model file (.safetensors from `tv3s convert`). stream and clip need a
  // TV3S model. Throws an Error "<path>: <problem>".
  static Segmenter load(const std::string& path, const SegmenterOptions& options = {});
  // From a model file already read (`what` names it in errors).
  static Segmenter from_file(ModelFile file, const SegmenterOptions& options,
                             const std::string& what);
  // stream for a TV3S model, frame for a SegFormer.
  static SegmentMode default_mode(const ModelConfig& config);
  // From models built in memory (src/models). `precision`: the one their weights were
  // made for (weights_in_precision, src/models/precision.h).
  Segmenter(std::shared_ptr<const Tv3s> tv3s, SegmentMode mode, int64_t videos = 1,
            DType precision = DType::f32);
  explicit Segmenter(std::shared_ptr<const Segformer> segformer, int64_t videos = 1,
                     DType precision = DType::f32);
  ~Segmenter();
  Segmenter(Segmenter&&) noexcept;
  Segmenter& operator=(Segmenter&&) noexcept;

  // The next frame of each video (frames.size() == videos(), all of one size): labels at
  // the frame size, and the logits too when `want_logits`.
  // Without `resize` the pixels go straight into the input tensor, and in the steady
  // state (after the first frames of a size; the caches settle within three) a call takes
  // all its tensors from the caching allocators: no allocation from the system
  // (tv3s/memory.h's counters). Without `want_logits` the frame-size logits are never
  // stored (resize_bilinear_argmax).
  Segmentation segment(const std::vector<RgbFrame>& frames, bool want_logits = false);
  // The same from NV12 frames (converted to RGB by src/io/yuv.h, as Y4M frames are).
  Segmentation segment(const std::vector<Nv12Frame>& frames, bool want_logits = false);

  // The tensor-level step under segment(): frames [V, H, W, 3] normalised RGB (mmseg's
  // mean/std, any device) already at the network input size. Returns logits [V, H, W, K]
  // on the model's device, or with resize_to_input false the head's logits at the c1
  // size [V, h, w, K] (before the official resizes).
  Tensor push(const Tensor& frames, bool resize_to_input = true);

  // Starts video v anew (every video when v < 0).
  void reset(int64_t video = -1);

  SegmentMode mode() const { return mode_; }
  DType precision() const { return precision_; }
  InputResize resize() const { return resize_; }
  void set_resize(InputResize rule);  // only between videos: every frame index must be 0
  int64_t videos() const { return int64_t(frame_index_.size()); }
  int64_t frame_index(int64_t video) const { return frame_index_.at(size_t(video)); }
  // What is carried between frames: the decoder state (stream) or the kept frame
  // features (clip), in bytes.
  size_t state_bytes() const;
  const ModelConfig& config() const;
  int64_t num_classes() const;
  const Weights& weights() const;
  Device device() const;

 private:
  struct State;  // the carried state of stream and clip mode
  Tensor push_clip(const Tv3sOutput& frame);
  Tensor input_tensor(const std::vector<RgbFrame>& frames) const;  // [V, H, W, 3] normalised

  SegmentMode mode_;
  DType precision_ = DType::f32;
  InputResize resize_ = InputResize::none;
  std::shared_ptr<const Tv3s> tv3s_;
  std::shared_ptr<const Segformer> segformer_;  // the per-frame path (also inside tv3s_)
  std::vector<int64_t> frame_index_;            // frames seen per video since its reset
  std::unique_ptr<State> state_;
  std::vector<uint8_t> nv12_rgb_;  // NV12 frames as RGB, reused from call to call
};

}  // namespace tv3s
