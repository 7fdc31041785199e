// The C API's embedded-integrator side (include/tv3s/tv3s.h), on the tiny random TV3S:
//  - tv3s_segment_frames: RGB frames give tv3s_segment's labels; NV12 frames (padded
//    rows, BT.601 and BT.709, limited and full) give the labels of their RGB conversion
//    (src/io/yuv.h, itself tested against the standards in tests/io/test_yuv.cpp) —
//    exactly, the same code runs after the conversion;
//  - its argument errors, found before anything is read or written;
//  - options.precision: fp16/bf16 run (agreement with fp32 ≥ 99 % of the tiny model's
//    pixels: random weights, near-ties), a bad value is an invalid argument;
//  - no allocation per frame: after the warm-up (the first three frames of a size), calls
//    with two videos in flight leave the allocator's system-allocation counter where it
//    was (CPU; on CUDA the same with cudaMalloc, in the caching-allocator run).
#include <cstddef>
#include <cstdlib>
#include <string>
#include <vector>

#include "src/io/yuv.h"
#include "tests/api/api_test_util.h"
#include "tv3s/memory.h"
#include "tv3s/tv3s.h"

using namespace tv3s;

namespace {

constexpr int kW = 64, kH = 48;

tv3s_segmenter* create(int videos, int precision = TV3S_PRECISION_FP32, int device = TV3S_DEVICE_CPU) {
  tv3s_options options = TV3S_OPTIONS_INIT;
  options.videos = videos;
  options.precision = precision;
  options.device = device;
  tv3s_segmenter* seg = nullptr;
  const tv3s_status status = tv3s_segmenter_create(test::tiny_model_path().c_str(), &options, &seg);
  INFO(tv3s_last_error());
  REQUIRE(status == TV3S_OK);
  return seg;
}

// An NV12 frame of kW × kH with rows padded to 72 bytes (Y) and 80 (UV).
struct Nv12 {
  static constexpr int64_t y_stride = 72, uv_stride = 80;
  std::vector<uint8_t> y, uv;
  explicit Nv12(int seed) : y(size_t(y_stride * kH)), uv(size_t(uv_stride * kH / 2)) {
    for (size_t i = 0; i < y.size(); ++i) y[i] = uint8_t(16 + (i * 7 + size_t(seed) * 31) % 220);
    for (size_t i = 0; i < uv.size(); ++i) uv[i] = uint8_t(40 + (i * 11 + size_t(seed) * 17) % 180);
  }
  tv3s_frame frame(int colors) const {
    tv3s_frame f{};
    f.format = TV3S_PIXELS_NV12, f.yuv_colors = colors;
    f.planes[0] = y.data(), f.planes[1] = uv.data();
    f.strides[0] = y_stride, f.strides[1] = uv_stride;
    return f;
  }
  std::vector<uint8_t> rgb(int colors) const {
    io::YuvPlanes p;
    p.y = y.data(), p.u = uv.data(), p.v = uv.data() + 1;
    p.y_stride = y_stride, p.chroma_stride = uv_stride, p.chroma_step = 2;
    std::vector<uint8_t> out(size_t(kW * kH * 3));
    const bool bt709 = colors == TV3S_YUV_BT709_LIMITED || colors == TV3S_YUV_BT709_FULL;
    const bool full = colors == TV3S_YUV_BT601_FULL || colors == TV3S_YUV_BT709_FULL;
    io::yuv_to_rgb(p, kW, kH, bt709 ? io::YuvMatrix::bt709 : io::YuvMatrix::bt601,
                   full ? io::YuvRange::full : io::YuvRange::limited, out.data());
    return out;
  }
};

std::vector<uint8_t> labels_of_rgb(tv3s_segmenter* seg, const std::vector<std::vector<uint8_t>>& rgb) {
  std::vector<const uint8_t*> frames;
  for (const auto& f : rgb) frames.push_back(f.data());
  std::vector<uint8_t> labels(rgb.size() * kW * kH);
  REQUIRE(tv3s_segment(seg, frames.data(), int(frames.size()), kW, kH, 0, labels.data(), nullptr) == TV3S_OK);
  return labels;
}

}  // namespace

TEST_CASE("C API: tv3s_segment_frames takes RGB and NV12 frames (two videos, every colour set)") {
  tv3s_segmenter* by_frames = create(2);
  tv3s_segmenter* by_rgb = create(2);
  for (int t = 0; t < 4; ++t) {
    CAPTURE(t);
    const int colors = t;  // BT.601/709 × limited/full, one per step
    std::vector<uint8_t> labels(2 * kW * kH, 0xFF);
    if (t == 1) {  // an RGB step between the NV12 ones: the state runs on either way
      const std::vector<std::vector<uint8_t>> rgb = {test::example_frame(0, t), test::example_frame(1, t)};
      tv3s_frame frames[2] = {};
      for (int v = 0; v < 2; ++v) frames[v].format = TV3S_PIXELS_RGB, frames[v].planes[0] = rgb[size_t(v)].data();
      REQUIRE(tv3s_segment_frames(by_frames, frames, 2, kW, kH, labels.data(), nullptr) == TV3S_OK);
      CHECK(labels == labels_of_rgb(by_rgb, rgb));
      continue;
    }
    const Nv12 a(2 * t), b(2 * t + 1);
    const tv3s_frame frames[2] = {a.frame(colors), b.frame(colors)};
    INFO(tv3s_last_error());
    REQUIRE(tv3s_segment_frames(by_frames, frames, 2, kW, kH, labels.data(), nullptr) == TV3S_OK);
    CHECK(labels == labels_of_rgb(by_rgb, {a.rgb(colors), b.rgb(colors)}));
  }
  CHECK(tv3s_frame_index(by_frames, 1) == 4);
  tv3s_destroy(by_frames);
  tv3s_destroy(by_rgb);
}

TEST_CASE("C API: tv3s_segment_frames argument errors — status, message, labels untouched") {
  tv3s_segmenter* seg = create(2);
  const Nv12 a(1), b(2);
  std::vector<uint8_t> labels(2 * kW * kH, 0xAB);
  auto fails = [&](tv3s_frame f0, tv3s_frame f1, const std::string& message) {
    const tv3s_frame frames[2] = {f0, f1};
    CHECK(tv3s_segment_frames(seg, frames, 2, kW, kH, labels.data(), nullptr) == TV3S_INVALID_ARGUMENT);
    CHECK(std::string(tv3s_last_error()) == message);
  };
  const tv3s_frame ok = a.frame(TV3S_YUV_BT601_LIMITED), ok1 = b.frame(TV3S_YUV_BT601_LIMITED);
  tv3s_frame f = ok;
  f.planes[1] = nullptr;
  fails(ok, f, "tv3s_segment_frames: frames[1].planes[1] (NV12's UV plane) is NULL");
  f = ok, f.planes[0] = nullptr;
  fails(f, ok1, "tv3s_segment_frames: frames[0].planes[0] is NULL");
  f = ok, f.strides[0] = 63;
  fails(f, ok1, "tv3s_segment_frames: frames[0].strides[0]: Y stride 63 for width 64 (0, or at least width = 64)");
  f = ok, f.strides[1] = 60;
  fails(ok, f, "tv3s_segment_frames: frames[1].strides[1]: UV stride 60 for width 64 (0, or at least 2 × ceil(width / 2) = 64)");
  f = ok, f.yuv_colors = 4;
  fails(f, ok1, "tv3s_segment_frames: frames[0].yuv_colors is 4 (0 to 3)");
  f = ok, f.format = 2;
  fails(f, ok1, "tv3s_segment_frames: frames[0].format is 2 (0 RGB, 1 NV12)");
  f = ok, f.format = TV3S_PIXELS_RGB;
  fails(ok, f, "tv3s_segment_frames: frames[1].format is 0, frames[0]'s 1 (one format per call)");
  CHECK(tv3s_segment_frames(seg, nullptr, 2, kW, kH, labels.data(), nullptr) == TV3S_INVALID_ARGUMENT);
  CHECK(std::string(tv3s_last_error()) == "tv3s_segment_frames: frames is NULL");
  const tv3s_frame frames[2] = {ok, ok1};
  CHECK(tv3s_segment_frames(seg, frames, 1, kW, kH, labels.data(), nullptr) == TV3S_INVALID_ARGUMENT);
  CHECK(std::string(tv3s_last_error()) == "tv3s_segment_frames: 1 frames for 2 videos (one frame of every video per call)");
  CHECK(labels == std::vector<uint8_t>(2 * kW * kH, 0xAB));
  CHECK(tv3s_frame_index(seg, 0) == 0);
  tv3s_destroy(seg);
}

TEST_CASE("C API: options.precision runs fp16 and bf16; a bad value is an invalid argument") {
  tv3s_segmenter* f32 = create(1);
  const std::vector<std::vector<uint8_t>> frame = {test::example_frame(0, 0)};
  const std::vector<uint8_t> want = labels_of_rgb(f32, frame);
  for (int precision : {TV3S_PRECISION_FP16, TV3S_PRECISION_BF16}) {
    CAPTURE(precision);
    tv3s_segmenter* low = create(1, precision);
    const std::vector<uint8_t> got = labels_of_rgb(low, frame);
    size_t same = 0;
    for (size_t i = 0; i < want.size(); ++i) same += got[i] == want[i];
    CHECK(double(same) / double(want.size()) >= 0.99);
    tv3s_destroy(low);
  }
  tv3s_destroy(f32);
  tv3s_options options = TV3S_OPTIONS_INIT;
  options.precision = 3;
  tv3s_segmenter* seg = reinterpret_cast<tv3s_segmenter*>(1);
  CHECK(tv3s_segmenter_create(test::tiny_model_path().c_str(), &options, &seg) == TV3S_INVALID_ARGUMENT);
  CHECK(seg == nullptr);
  CHECK(std::string(tv3s_last_error()) == "tv3s_segmenter_create: options.precision is 3 (0 fp32, 1 fp16, 2 bf16)");
  // A caller built against the struct without `precision` (0.1.0) gets fp32.
  options.precision = 3;
  options.struct_size = offsetof(tv3s_options, precision);
  CHECK(tv3s_segmenter_create(test::tiny_model_path().c_str(), &options, &seg) == TV3S_OK);
  tv3s_destroy(seg);
}

namespace {
// Steady-state calls of a two-video segmenter on `device`: the system allocations (the
// allocator's counter) after the warm-up must not grow over six more calls, RGB and
// NV12 alike, labels into the caller's buffer.
void check_no_allocation_per_frame(int device) {
  const Device d = device == TV3S_DEVICE_CUDA ? Device::CUDA : Device::CPU;
  tv3s_segmenter* seg = create(2, TV3S_PRECISION_FP32, device);
  std::vector<uint8_t> labels(2 * kW * kH);
  const Nv12 a(1), b(2);
  const tv3s_frame nv12[2] = {a.frame(TV3S_YUV_BT709_LIMITED), b.frame(TV3S_YUV_BT709_LIMITED)};
  const std::vector<uint8_t> ra = test::example_frame(0, 0), rb = test::example_frame(1, 0);
  tv3s_frame rgb[2] = {};
  rgb[0].format = rgb[1].format = TV3S_PIXELS_RGB;
  rgb[0].planes[0] = ra.data(), rgb[1].planes[0] = rb.data();
  auto step = [&](int t) {
    REQUIRE(tv3s_segment_frames(seg, t % 2 ? rgb : nv12, 2, kW, kH, labels.data(), nullptr) == TV3S_OK);
  };
  // The warm-up: both formats, and a third frame — the caching allocator's best fit hands
  // a freed block to a smaller request, so the blocks settle over the first frames.
  for (int t = 0; t < 3; ++t) step(t);
  const uint64_t before = memory_stats(d).device_allocations;
  for (int t = 3; t < 9; ++t) step(t);
  CHECK(memory_stats(d).device_allocations == before);
  tv3s_destroy(seg);
}
}  // namespace

TEST_CASE("C API: no allocation per frame in the steady state (CPU allocator counters)") {
  check_no_allocation_per_frame(TV3S_DEVICE_CPU);
}

TV3S_CUDA_TEST_CASE("C API: no cudaMalloc per frame in the steady state (the CUDA caching allocator)") {
  if (std::getenv("TV3S_CUDA_NO_CACHE")) {  // caching is off: one cudaMalloc per tensor, by request
    MESSAGE("TV3S_CUDA_NO_CACHE is set: the caching allocator is off, nothing to check");
    return;
  }
  check_no_allocation_per_frame(TV3S_DEVICE_CUDA);
}
