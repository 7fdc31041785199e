// The C API (include/tv3s/tv3s.h) over the C++ Segmenter. Two rules shape every entry
// point: nothing is thrown across the C boundary (each body runs inside `guarded`, which
// turns every exception into a status and the thread's last-error message), and the
// caller's pointers and sizes are checked before anything is read or written, so an
// argument error is TV3S_INVALID_ARGUMENT naming the function and the argument.
#include "tv3s/tv3s.h"

#include <omp.h>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <new>
#include <string>
#include <vector>

#include "src/pipeline/segmenter.h"
#include "tv3s/autograd.h"
#include "tv3s/model_classes.h"
#include "tv3s/device.h"
#include "tv3s/version.h"

// The handle: the C++ segmenter and what the C calls hand out by pointer (class names
// live here so their `const char*` stay valid until tv3s_destroy).
struct tv3s_segmenter {
  tv3s::Segmenter segmenter;
  std::vector<tv3s::ClassInfo> classes;
  int threads = 0;              // 0: leave OpenMP's setting alone
  int width = 0, height = 0;    // the frame size the videos' carried state belongs to
};

namespace {

thread_local std::string last_error;

// An argument error: thrown inside `guarded`, returned as TV3S_INVALID_ARGUMENT.
struct InvalidArgument {
  std::string message;
};

[[noreturn]] void invalid(const std::string& message) { throw InvalidArgument{message}; }

// Runs `body`; any exception becomes a status and the thread's last error. `error_status`
// is what a tv3s::Error means at this entry point (a model error while loading, a
// runtime error while segmenting).
template <class Body>
tv3s_status guarded(tv3s_status error_status, Body&& body) {
  try {
    body();
    return TV3S_OK;
  } catch (const InvalidArgument& e) {
    last_error = e.message;
    return TV3S_INVALID_ARGUMENT;
  } catch (const tv3s::Error& e) {
    last_error = e.what();
    return error_status;
  } catch (const std::bad_alloc&) {
    last_error = "out of memory";
    return TV3S_OUT_OF_MEMORY;
  } catch (const std::exception& e) {
    last_error = e.what();
    return TV3S_RUNTIME_ERROR;
  } catch (...) {
    last_error = "unknown exception";
    return TV3S_RUNTIME_ERROR;
  }
}

// A query's guard: returns `value()` or, on any failure, `fallback` (the message kept).
template <class T, class Value>
T guarded_value(T fallback, Value&& value) {
  T result = fallback;
  guarded(TV3S_RUNTIME_ERROR, [&] { result = value(); });
  return result;
}

// Sets OpenMP's thread count for the calling thread during one call, restoring it after.
class ThreadsScope {
 public:
  explicit ThreadsScope(int threads) : saved_(threads > 0 ? omp_get_max_threads() : 0) {
    if (threads > 0) omp_set_num_threads(threads);
  }
  ~ThreadsScope() {
    if (saved_ > 0) omp_set_num_threads(saved_);
  }
  ThreadsScope(const ThreadsScope&) = delete;
  ThreadsScope& operator=(const ThreadsScope&) = delete;

 private:
  int saved_;
};

// The fields of `options` that the caller's struct has, the rest at their defaults.
tv3s_options read_options(const tv3s_options* given) {
  tv3s_options options = TV3S_OPTIONS_INIT;
  if (!given) return options;
  const size_t known = offsetof(tv3s_options, threads) + sizeof(int);  // version-1 struct
  if (given->struct_size < known)
    invalid(tv3s::str("tv3s_segmenter_create: options.struct_size is ", given->struct_size,
                      ", expected sizeof(tv3s_options) = ", sizeof(tv3s_options),
                      " (set it, or start from TV3S_OPTIONS_INIT)"));
  std::memcpy(&options, given, std::min(given->struct_size, sizeof(tv3s_options)));
  options.struct_size = sizeof(tv3s_options);
  return options;
}

tv3s::SegmenterOptions segmenter_options(const tv3s_options& o) {
  const char* where = "tv3s_segmenter_create: options.";
  tv3s::SegmenterOptions options;
  switch (o.mode) {
    case TV3S_MODE_DEFAULT: break;
    case TV3S_MODE_FRAME: options.mode = tv3s::SegmentMode::frame; break;
    case TV3S_MODE_STREAM: options.mode = tv3s::SegmentMode::stream; break;
    case TV3S_MODE_CLIP: options.mode = tv3s::SegmentMode::clip; break;
    default: invalid(tv3s::str(where, "mode is ", o.mode, " (0 default, 1 frame, 2 stream, 3 clip)"));
  }
  switch (o.device) {
    case TV3S_DEVICE_CPU: options.device = tv3s::Device::CPU; break;
    case TV3S_DEVICE_CUDA: options.device = tv3s::Device::CUDA; break;
    default: invalid(tv3s::str(where, "device is ", o.device, " (0 cpu, 1 cuda)"));
  }
  switch (o.resize) {
    case TV3S_RESIZE_NONE: options.resize = tv3s::InputResize::none; break;
    case TV3S_RESIZE_VSPW: options.resize = tv3s::InputResize::vspw; break;
    case TV3S_RESIZE_CITYSCAPES: options.resize = tv3s::InputResize::cityscapes; break;
    default: invalid(tv3s::str(where, "resize is ", o.resize, " (0 none, 1 vspw, 2 cityscapes)"));
  }
  switch (o.precision) {
    case TV3S_PRECISION_FP32: options.precision = tv3s::DType::f32; break;
    case TV3S_PRECISION_FP16: options.precision = tv3s::DType::f16; break;
    case TV3S_PRECISION_BF16: options.precision = tv3s::DType::bf16; break;
    default: invalid(tv3s::str(where, "precision is ", o.precision, " (0 fp32, 1 fp16, 2 bf16)"));
  }
  if (o.videos < 0) invalid(tv3s::str(where, "videos is ", o.videos, " (at least 1; 0 means 1)"));
  if (o.threads < 0) invalid(tv3s::str(where, "threads is ", o.threads, " (0 means OpenMP's default)"));
  options.videos = o.videos == 0 ? 1 : o.videos;
  return options;
}

void check_handle(const tv3s_segmenter* seg, const char* function) {
  if (!seg) invalid(tv3s::str(function, ": the segmenter is NULL"));
}

void check_video(const tv3s_segmenter* seg, int video, const char* function) {
  const int64_t videos = seg->segmenter.videos();
  if (video < 0 || video >= videos)
    invalid(tv3s::str(function, ": video ", video, " out of range (the segmenter has ", videos,
                      videos == 1 ? " video)" : " videos)"));
}

void check_class(const tv3s_segmenter* seg, int index, const char* function) {
  if (index < 0 || size_t(index) >= seg->classes.size())
    invalid(tv3s::str(function, ": class ", index, " out of range (the model has ",
                      seg->classes.size(), " classes)"));
}

// What tv3s_segment and tv3s_segment_frames check before they touch a pixel: the
// handle, the frame count and size, the labels buffer, the videos' size so far.
void check_call(const tv3s_segmenter* seg, const char* f, const void* frames,
                const char* frames_name, int num_frames, int width, int height,
                const uint8_t* labels_out) {
  check_handle(seg, f);
  const int64_t videos = seg->segmenter.videos();
  if (!frames) invalid(tv3s::str(f, ": ", frames_name, " is NULL"));
  if (num_frames != videos)
    invalid(tv3s::str(f, ": ", num_frames, " frames for ", videos,
                      " videos (one frame of every video per call)"));
  // 1 << 15 per side bounds every size computed from them far inside int64 and size_t.
  if (width <= 0 || height <= 0 || width > (1 << 15) || height > (1 << 15))
    invalid(tv3s::str(f, ": frame size ", width, "×", height, " (each side 1 to 32768)"));
  if (!labels_out) invalid(tv3s::str(f, ": labels_out is NULL"));
  bool started = false;
  for (int64_t v = 0; v < videos; ++v) started = started || seg->segmenter.frame_index(v) > 0;
  if (started && (width != seg->width || height != seg->height))
    invalid(tv3s::str(f, ": frames are ", width, "×", height, ", the videos' earlier frames ",
                      seg->width, "×", seg->height,
                      " (a video keeps one size; tv3s_reset(seg, -1) before changing it)"));
}

// A row stride: 0 (tight) or at least the row's bytes, `tight` (spelled `tight_text`).
void check_stride(const char* f, const std::string& what, int64_t stride, int width,
                  int64_t tight, const char* tight_text) {
  if (stride != 0 && (stride < tight || stride > (int64_t(1) << 40)))
    invalid(tv3s::str(f, ": ", what, "stride ", stride, " for width ", width, " (0, or at least ",
                      tight_text, " = ", tight, ")"));
}

// The labels (and logits) of one call into the caller's buffers.
void copy_out(const tv3s::Segmentation& out, uint8_t* labels_out, float* logits_out) {
  std::memcpy(labels_out, out.labels.data<uint8_t>(), out.labels.nbytes());
  if (logits_out) {
    const tv3s::Tensor logits = out.logits.cpu();
    std::memcpy(logits_out, logits.data<float>(), logits.nbytes());
  }
}

}  // namespace

extern "C" {

const char* tv3s_status_name(tv3s_status status) {
  switch (status) {
    case TV3S_OK: return "ok";
    case TV3S_INVALID_ARGUMENT: return "invalid argument";
    case TV3S_MODEL_ERROR: return "model error";
    case TV3S_RUNTIME_ERROR: return "runtime error";
    case TV3S_OUT_OF_MEMORY: return "out of memory";
  }
  return "unknown status";
}

const char* tv3s_last_error(void) { return last_error.c_str(); }

const char* tv3s_version(void) { return TV3S_VERSION_STRING; }

tv3s_status tv3s_segmenter_create(const char* model_path, const tv3s_options* options,
                                  tv3s_segmenter** out) {
  if (out) *out = nullptr;
  tv3s::SegmenterOptions cpp_options;
  int threads = 0;
  const tv3s_status checked = guarded(TV3S_RUNTIME_ERROR, [&] {
    if (!out) invalid("tv3s_segmenter_create: out is NULL");
    if (!model_path) invalid("tv3s_segmenter_create: model_path is NULL");
    const tv3s_options o = read_options(options);
    cpp_options = segmenter_options(o);
    threads = o.threads;
    if (cpp_options.device == tv3s::Device::CUDA && !tv3s::cuda_available())
      tv3s::fail("tv3s_segmenter_create: device cuda: no usable CUDA GPU (or a build without CUDA)");
  });
  if (checked != TV3S_OK) return checked;
  return guarded(TV3S_MODEL_ERROR, [&] {
    tv3s::NoGradGuard no_grad;
    ThreadsScope threads_scope(threads);
    tv3s::Segmenter segmenter = tv3s::Segmenter::load(model_path, cpp_options);
    std::vector<tv3s::ClassInfo> classes = tv3s::model_classes(segmenter);
    *out = new tv3s_segmenter{std::move(segmenter), std::move(classes), threads};
  });
}

void tv3s_destroy(tv3s_segmenter* seg) { delete seg; }

tv3s_status tv3s_segment(tv3s_segmenter* seg, const uint8_t* const* frames_rgb, int num_frames,
                         int width, int height, int64_t stride, uint8_t* labels_out,
                         float* logits_out) {
  return guarded(TV3S_RUNTIME_ERROR, [&] {
    const char* f = "tv3s_segment";
    check_call(seg, f, frames_rgb, "frames_rgb", num_frames, width, height, labels_out);
    for (int v = 0; v < num_frames; ++v)
      if (!frames_rgb[v]) invalid(tv3s::str(f, ": frames_rgb[", v, "] is NULL"));
    check_stride(f, "", stride, width, int64_t(width) * 3, "width × 3");
    tv3s::NoGradGuard no_grad;
    ThreadsScope threads_scope(seg->threads);
    std::vector<tv3s::RgbFrame> frames;
    for (int v = 0; v < num_frames; ++v) frames.push_back({frames_rgb[v], width, height, stride});
    const tv3s::Segmentation out = seg->segmenter.segment(frames, logits_out != nullptr);
    seg->width = width, seg->height = height;
    copy_out(out, labels_out, logits_out);
  });
}

tv3s_status tv3s_segment_frames(tv3s_segmenter* seg, const tv3s_frame* frames, int num_frames,
                                int width, int height, uint8_t* labels_out, float* logits_out) {
  return guarded(TV3S_RUNTIME_ERROR, [&] {
    const char* f = "tv3s_segment_frames";
    check_call(seg, f, frames, "frames", num_frames, width, height, labels_out);
    const int format = frames[0].format;
    if (format != TV3S_PIXELS_RGB && format != TV3S_PIXELS_NV12)
      invalid(tv3s::str(f, ": frames[0].format is ", format, " (0 RGB, 1 NV12)"));
    for (int v = 0; v < num_frames; ++v) {
      const tv3s_frame& frame = frames[v];
      const std::string name = tv3s::str("frames[", v, "]");
      if (frame.format != format)
        invalid(tv3s::str(f, ": ", name, ".format is ", frame.format, ", frames[0]'s ", format,
                          " (one format per call)"));
      if (!frame.planes[0]) invalid(tv3s::str(f, ": ", name, ".planes[0] is NULL"));
      if (format == TV3S_PIXELS_RGB) {
        check_stride(f, name + ".strides[0]: RGB ", frame.strides[0], width, int64_t(width) * 3, "width × 3");
        continue;
      }
      if (!frame.planes[1]) invalid(tv3s::str(f, ": ", name, ".planes[1] (NV12's UV plane) is NULL"));
      if (frame.yuv_colors < TV3S_YUV_BT601_LIMITED || frame.yuv_colors > TV3S_YUV_BT709_FULL)
        invalid(tv3s::str(f, ": ", name, ".yuv_colors is ", frame.yuv_colors, " (0 to 3)"));
      check_stride(f, name + ".strides[0]: Y ", frame.strides[0], width, width, "width");
      check_stride(f, name + ".strides[1]: UV ", frame.strides[1], width,
                   2 * ((int64_t(width) + 1) / 2), "2 × ceil(width / 2)");
    }
    tv3s::NoGradGuard no_grad;
    ThreadsScope threads_scope(seg->threads);
    tv3s::Segmentation out;
    if (format == TV3S_PIXELS_RGB) {
      std::vector<tv3s::RgbFrame> rgb;
      for (int v = 0; v < num_frames; ++v)
        rgb.push_back({frames[v].planes[0], width, height, frames[v].strides[0]});
      out = seg->segmenter.segment(rgb, logits_out != nullptr);
    } else {
      std::vector<tv3s::Nv12Frame> nv12;
      for (int v = 0; v < num_frames; ++v) {
        const tv3s_frame& frame = frames[v];
        tv3s::Nv12Frame n;
        n.y = frame.planes[0], n.uv = frame.planes[1];
        n.width = width, n.height = height;
        n.y_stride = frame.strides[0], n.uv_stride = frame.strides[1];
        n.bt709 = frame.yuv_colors == TV3S_YUV_BT709_LIMITED || frame.yuv_colors == TV3S_YUV_BT709_FULL;
        n.full_range = frame.yuv_colors == TV3S_YUV_BT601_FULL || frame.yuv_colors == TV3S_YUV_BT709_FULL;
        nv12.push_back(n);
      }
      out = seg->segmenter.segment(nv12, logits_out != nullptr);
    }
    seg->width = width, seg->height = height;
    copy_out(out, labels_out, logits_out);
  });
}

tv3s_status tv3s_reset(tv3s_segmenter* seg, int video) {
  return guarded(TV3S_RUNTIME_ERROR, [&] {
    check_handle(seg, "tv3s_reset");
    if (video != -1) check_video(seg, video, "tv3s_reset");
    seg->segmenter.reset(video);
  });
}

int tv3s_num_videos(const tv3s_segmenter* seg) {
  return guarded_value(0, [&] {
    check_handle(seg, "tv3s_num_videos");
    return int(seg->segmenter.videos());
  });
}

int tv3s_num_classes(const tv3s_segmenter* seg) {
  return guarded_value(0, [&] {
    check_handle(seg, "tv3s_num_classes");
    return int(seg->classes.size());
  });
}

const char* tv3s_class_name(const tv3s_segmenter* seg, int index) {
  return guarded_value<const char*>(nullptr, [&] {
    check_handle(seg, "tv3s_class_name");
    check_class(seg, index, "tv3s_class_name");
    return seg->classes[size_t(index)].name.c_str();
  });
}

tv3s_status tv3s_class_color(const tv3s_segmenter* seg, int index, uint8_t rgb[3]) {
  return guarded(TV3S_RUNTIME_ERROR, [&] {
    check_handle(seg, "tv3s_class_color");
    if (!rgb) invalid("tv3s_class_color: rgb is NULL");
    check_class(seg, index, "tv3s_class_color");
    std::memcpy(rgb, seg->classes[size_t(index)].color.data(), 3);
  });
}

int64_t tv3s_frame_index(const tv3s_segmenter* seg, int video) {
  return guarded_value<int64_t>(-1, [&] {
    check_handle(seg, "tv3s_frame_index");
    check_video(seg, video, "tv3s_frame_index");
    return seg->segmenter.frame_index(video);
  });
}

size_t tv3s_state_bytes(const tv3s_segmenter* seg) {
  return guarded_value<size_t>(0, [&] {
    check_handle(seg, "tv3s_state_bytes");
    return seg->segmenter.state_bytes();
  });
}

}  // extern "C"
