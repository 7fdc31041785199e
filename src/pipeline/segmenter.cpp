// The Segmenter (include/tv3s/segmenter.h): frames in, the model's mode-specific step,
// labels out. Model math lives in src/models; this file only routes frames and state.
#include "src/pipeline/segmenter.h"

#include <cstring>
#include <deque>
#include <optional>

#include "src/io/yuv.h"
#include "src/models/precision.h"
#include "src/pipeline/official_resize.h"
#include "src/pipeline/preprocess.h"
#include "tv3s/autocast.h"
#include "tv3s/memory.h"

namespace tv3s {

// What a video carries from frame to frame: the decoder state (stream) and, in clip
// mode, the grid features [1, h2, w2, E] of its last frames, newest last.
struct Segmenter::State {
  Tv3sState stream;
  std::vector<std::deque<Tensor>> history;
};

namespace {
constexpr int64_t kClipFrames = 4;    // num_clips of the released configs
constexpr int64_t kClipHistory = 10;  // clip(i) reaches back to frame i − 9
}  // namespace

SegmentMode parse_segment_mode(const std::string& name) {
  if (name == "frame") return SegmentMode::frame;
  if (name == "stream") return SegmentMode::stream;
  if (name == "clip") return SegmentMode::clip;
  throw Error(str("unknown mode '", name, "' (frame, stream or clip)"));
}

const char* segment_mode_name(SegmentMode mode) {
  switch (mode) {
    case SegmentMode::frame: return "frame";
    case SegmentMode::stream: return "stream";
    case SegmentMode::clip: return "clip";
  }
  return "?";
}

std::vector<int64_t> official_clip(int64_t i) {
  // model-spec §8.1 (`VSPWDataset` test clips): fixed clips while fewer than 9 frames precede.
  static const std::vector<int64_t> early[6] = {{0, 1, 2, 3}, {0, 2, 3, 4}, {0, 2, 4, 5},
                                                {0, 2, 4, 6}, {0, 3, 5, 7}, {0, 3, 6, 8}};
  TV3S_CHECK(i >= 3, "official_clip: frame ", i, " has no 4-frame clip (frames 0–2 use the "
             "per-frame logits)");
  if (i <= 8) return early[i - 3];
  return {i - 9, i - 6, i - 3, i};
}

SegmentMode Segmenter::default_mode(const ModelConfig& config) {
  return config.kind == ModelKind::tv3s ? SegmentMode::stream : SegmentMode::frame;
}

Segmenter Segmenter::load(const std::string& path, const SegmenterOptions& options) {
  return from_file(load_model_file(path, options.device), options, path);
}

Segmenter Segmenter::from_file(ModelFile file, const SegmenterOptions& options,
                               const std::string& path) {
  const SegmentMode mode = options.mode.value_or(default_mode(file.config));
  TV3S_CHECK(file.config.kind == ModelKind::tv3s || file.config.kind == ModelKind::segformer, path, ": holds a '",
             file.config.kind, "' model (a backbone only); a segmentation model needs a head");
  TV3S_CHECK(file.config.num_classes <= 256, path, ": ", file.config.num_classes,
             " classes; label maps hold at most 256");
  Weights weights = weights_in_precision(file.weights, options.precision);
  file.weights = Weights();  // the f32 copy goes now, before the model is made
  // A model on the GPU leaves the host blocks its file went through in the CPU cache; give
  // them back (on a Jetson host and GPU memory are one and the same).
  if (options.device == Device::CUDA) empty_cache(Device::CPU);
  Segmenter segmenter = [&] {
    if (file.config.kind == ModelKind::tv3s)
      return Segmenter(std::make_shared<const Tv3s>(file.config, std::move(weights)), mode,
                       options.videos, options.precision);
    TV3S_CHECK(mode == SegmentMode::frame, path, ": ", segment_mode_name(mode),
               " mode needs a TV3S model; this is a per-frame SegFormer (frame mode only)");
    return Segmenter(std::make_shared<const Segformer>(file.config, std::move(weights)),
                     options.videos, options.precision);
  }();
  segmenter.set_resize(options.resize);
  return segmenter;
}

Segmenter::Segmenter(std::shared_ptr<const Tv3s> tv3s, SegmentMode mode, int64_t videos,
                     DType precision)
    : mode_(mode), precision_(precision), tv3s_(std::move(tv3s)) {
  TV3S_CHECK(tv3s_, "Segmenter: no model");
  // The per-frame path is the TV3S model's own SegFormer part (sharing its ownership).
  segformer_ = std::shared_ptr<const Segformer>(tv3s_, &tv3s_->segformer());
  TV3S_CHECK(videos >= 1, "Segmenter: needs at least one video, got ", videos);
  frame_index_.assign(size_t(videos), 0);
  state_ = std::make_unique<State>();
  state_->history.resize(size_t(videos));
}

Segmenter::Segmenter(std::shared_ptr<const Segformer> segformer, int64_t videos, DType precision)
    : mode_(SegmentMode::frame), precision_(precision), segformer_(std::move(segformer)) {
  TV3S_CHECK(segformer_, "Segmenter: no model");
  TV3S_CHECK(videos >= 1, "Segmenter: needs at least one video, got ", videos);
  frame_index_.assign(size_t(videos), 0);
  state_ = std::make_unique<State>();
  state_->history.resize(size_t(videos));
}

Segmenter::~Segmenter() = default;
Segmenter::Segmenter(Segmenter&&) noexcept = default;
Segmenter& Segmenter::operator=(Segmenter&&) noexcept = default;

const ModelConfig& Segmenter::config() const { return segformer_->config(); }
int64_t Segmenter::num_classes() const { return config().num_classes; }
const Weights& Segmenter::weights() const { return segformer_->weights(); }
Device Segmenter::device() const { return weights().device(); }

void Segmenter::set_resize(InputResize rule) {
  for (int64_t i : frame_index_)
    TV3S_CHECK(i == 0, "Segmenter::set_resize: only between videos (a video is at frame ", i, ")");
  resize_ = rule;
}

void Segmenter::reset(int64_t video) {
  TV3S_CHECK(video < videos(), "Segmenter::reset: no video ", video, " among ", videos());
  if (video < 0) {
    frame_index_.assign(frame_index_.size(), 0);
    for (auto& h : state_->history) h.clear();
    state_->stream.clear();
    return;
  }
  frame_index_[size_t(video)] = 0;
  state_->history[size_t(video)].clear();
  if (state_->stream.B > 0) state_->stream.reset_video(video);
}

size_t Segmenter::state_bytes() const {
  size_t n = state_->stream.nbytes();
  for (const auto& h : state_->history)
    for (const Tensor& t : h) n += t.nbytes();
  return n;
}

Tensor Segmenter::push(const Tensor& frames, bool resize_to_input) {
  TV3S_CHECK(frames.ndim() == 4 && frames.size(0) == videos() && frames.size(3) == 3,
             "Segmenter: frames must be [", videos(), " videos, H, W, 3], got ", frames.desc());
  const Device device = segformer_->weights().device();
  // 16-bit: the GPU stores the input in the precision; the CPU emulates the products
  // (src/models/precision.h).
  const DType storage = device == Device::CUDA ? precision_ : DType::f32;
  const Tensor image = frames.to(device).to(storage);
  const int64_t H = image.size(1), W = image.size(2);
  std::optional<AutocastScope> emulated;
  if (device == Device::CPU && precision_ != DType::f32) emulated.emplace(precision_);

  Tensor logits;  // [V, h, w, K] at the c1 size
  switch (mode_) {
    case SegmentMode::frame: logits = segformer_->forward(image).logits; break;
    case SegmentMode::stream: logits = tv3s_->forward(image, 1, &state_->stream).logits; break;
    case SegmentMode::clip: logits = push_clip(tv3s_->per_frame(image)); break;
  }
  emulated.reset();
  logits = logits.to(DType::f32);  // the resizes and the argmax in f32, as the official code
  for (int64_t& i : frame_index_) ++i;
  // The official segmentor resizes the head's logits to the network input (here the
  // frame itself; issue-5's --resize adds the second resize back to the original size).
  return resize_to_input ? resize_bilinear(logits, H, W) : logits;
}

// The frames as the network input [V, H, W, 3] on the model's device: normalised straight
// from the caller's pixels (a tensor from the caching allocator), or through an image
// when the official resize applies.
Tensor Segmenter::input_tensor(const std::vector<RgbFrame>& frames) const {
  TV3S_CHECK(int64_t(frames.size()) == videos(), "Segmenter::segment: ", frames.size(),
             " frames for ", videos(), " videos (one frame per video per call)");
  const int width = frames[0].width, height = frames[0].height;
  for (size_t v = 0; v < frames.size(); ++v) {
    const RgbFrame& f = frames[v];
    const int64_t stride = f.stride ? f.stride : int64_t(f.width) * 3;
    TV3S_CHECK(f.pixels != nullptr && f.width > 0 && f.height > 0 && stride >= int64_t(f.width) * 3,
               "Segmenter::segment: frame ", v, " is not an image (", f.width, "×", f.height,
               ", stride ", stride, f.pixels ? "" : ", no pixels", ")");
    TV3S_CHECK(f.width == width && f.height == height, "Segmenter::segment: frame ", v, " is ",
               f.width, "×", f.height, ", frame 0 ", width, "×", height,
               " (the videos of one batch share a size)");
  }
  if (resize_ == InputResize::none) {
    Tensor input = Tensor::empty(Shape{videos(), height, width, 3}, DType::f32, Device::CPU);
    const int64_t per_frame = int64_t(width) * height * 3;
    for (size_t v = 0; v < frames.size(); ++v) {
      const RgbFrame& f = frames[v];
      normalize_rgb(f.pixels, width, height, f.stride ? f.stride : int64_t(width) * 3,
                    input.data<float>() + int64_t(v) * per_frame);
    }
    return input.to(device());
  }
  std::vector<Tensor> inputs;
  for (const RgbFrame& f : frames) {
    const int64_t stride = f.stride ? f.stride : int64_t(f.width) * 3;
    io::Image image;
    image.width = f.width, image.height = f.height;
    image.rgb.resize(size_t(f.width) * size_t(f.height) * 3);
    for (int y = 0; y < f.height; ++y)
      std::memcpy(&image.rgb[size_t(y) * size_t(f.width) * 3], f.pixels + y * stride,
                  size_t(f.width) * 3);
    inputs.push_back(normalize_image(apply_input_resize(resize_, image), device()));
  }
  return inputs.size() == 1 ? inputs[0] : concat(inputs, 0);
}

Segmentation Segmenter::segment(const std::vector<RgbFrame>& frames, bool want_logits) {
  const Tensor input = input_tensor(frames);
  const int width = frames[0].width, height = frames[0].height;
  // The official segmentor resizes the logits to the network input (push) and then to
  // the original frame (here, when the input was resized), softmax, argmax; softmax
  // does not move the argmax. Without `want_logits` the last resize and the argmax are
  // one op that never stores the frame-size logits (V·H·W·K floats: 200 MB for VSPW's
  // 124 classes at 480×853, the largest tensor of the whole frame).
  const bool at_input_size = resize_ != InputResize::none;  // else the network sees the frame
  const Tensor scores = push(input, at_input_size);
  Segmentation out;
  if (!want_logits) {
    out.labels = resize_bilinear_argmax(scores, height, width).cpu().to(DType::u8);
    return out;
  }
  Tensor logits = scores;
  if (logits.size(1) != height || logits.size(2) != width)
    logits = resize_bilinear(logits, height, width);
  out.labels = argmax(logits, -1).cpu().to(DType::u8);
  out.logits = logits;
  return out;
}

Segmentation Segmenter::segment(const std::vector<Nv12Frame>& frames, bool want_logits) {
  TV3S_CHECK(int64_t(frames.size()) == videos(), "Segmenter::segment: ", frames.size(),
             " frames for ", videos(), " videos (one frame per video per call)");
  const int width = frames[0].width, height = frames[0].height;
  TV3S_CHECK(width > 0 && height > 0 && int64_t(width) * height <= (int64_t(1) << 28),
             "Segmenter::segment: NV12 frame 0 is ", width, "×", height);
  const size_t frame_bytes = size_t(width) * size_t(height) * 3;
  if (nv12_rgb_.size() < frame_bytes * frames.size()) nv12_rgb_.resize(frame_bytes * frames.size());
  std::vector<RgbFrame> rgb;
  for (size_t v = 0; v < frames.size(); ++v) {
    const Nv12Frame& f = frames[v];
    const int64_t chroma_row = 2 * ((int64_t(width) + 1) / 2);
    const int64_t y_stride = f.y_stride ? f.y_stride : width, uv_stride = f.uv_stride ? f.uv_stride : chroma_row;
    TV3S_CHECK(f.y && f.uv && f.width == width && f.height == height && y_stride >= width &&
                   uv_stride >= chroma_row,
               "Segmenter::segment: NV12 frame ", v, " (", f.width, "×", f.height, ", strides ",
               y_stride, " and ", uv_stride, f.y && f.uv ? "" : ", a plane missing",
               ") is not a ", width, "×", height, " NV12 frame");
    io::YuvPlanes planes;
    planes.y = f.y, planes.u = f.uv, planes.v = f.uv + 1;
    planes.y_stride = y_stride, planes.chroma_stride = uv_stride, planes.chroma_step = 2;
    uint8_t* out = nv12_rgb_.data() + v * frame_bytes;
    io::yuv_to_rgb(planes, width, height, f.bt709 ? io::YuvMatrix::bt709 : io::YuvMatrix::bt601,
                   f.full_range ? io::YuvRange::full : io::YuvRange::limited, out);
    rgb.push_back({out, width, height, 0});
  }
  return segment(rgb, want_logits);
}

// Clip mode for every video: store this frame's grid features, then answer each video
// with its official clip (one batched across_frames call for all videos that have one)
// or, for its first 3 frames, with the SegFormer logits.
Tensor Segmenter::push_clip(const Tv3sOutput& frame) {
  const Tensor& grid = frame.grid;                   // [V, h2, w2, E]
  const Tensor& frame_logits = frame.frames.logits;  // [V, h, w, K]
  std::vector<Tensor> clip_frames;
  std::vector<int64_t> clip_videos;
  for (int64_t v = 0; v < videos(); ++v) {
    std::deque<Tensor>& history = state_->history[size_t(v)];
    history.push_back(grid.slice_outer(v, v + 1));
    if (int64_t(history.size()) > kClipHistory) history.pop_front();
    const int64_t i = frame_index_[size_t(v)];
    if (i < kClipFrames - 1) continue;
    // history.back() is frame i, so frame j sits at history[size − 1 − (i − j)].
    for (int64_t j : official_clip(i))
      clip_frames.push_back(history[history.size() - 1 - size_t(i - j)]);
    clip_videos.push_back(v);
  }
  if (clip_videos.empty()) return frame_logits;

  const int64_t h = frame_logits.size(1), w = frame_logits.size(2);
  const Tensor clip_logits = tv3s_->across_frames(concat(clip_frames, 0), kClipFrames, nullptr, h, w);
  if (int64_t(clip_videos.size()) == videos()) return clip_logits;
  std::vector<Tensor> rows;  // per video: its clip's logits, or its SegFormer logits
  size_t next = 0;
  for (int64_t v = 0; v < videos(); ++v) {
    const bool has_clip = next < clip_videos.size() && clip_videos[next] == v;
    rows.push_back(has_clip ? clip_logits.slice_outer(int64_t(next), int64_t(next) + 1)
                            : frame_logits.slice_outer(v, v + 1));
    next += has_clip;
  }
  return concat(rows, 0);
}

}  // namespace tv3s
