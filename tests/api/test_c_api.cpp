// The C API (include/tv3s/tv3s.h) on a tiny random TV3S model:
//  - labels and logits equal the C++ Segmenter's on the same frames: stream mode with two
//    videos in one batch (frames given with a padded row stride), reset of one video, and
//    clip mode (with the threads option at 1). The C API runs the same Segmenter code, so
//    labels must be identical and logits equal to 1e-6 rel (measured: bit-identical, max
//    |diff| 0, also at 1 thread against the C++ side's 2);
//  - the class table, state size and frame indices the queries report;
//  - every bad argument and bad model file: the status, the exact message in
//    tv3s_last_error(), outputs left untouched, and no exception escaping (CHECK_NOTHROW);
//  - the last-error message is kept per thread; the threads option is restored after a call.
#include <omp.h>

#include <cstring>
#include <functional>
#include <thread>
#include <vector>

#include "src/pipeline/segmenter.h"
#include "src/models/random_weights.h"
#include "tests/api/api_test_util.h"
#include "tests/io/io_test_util.h"
#include "tv3s/tv3s.h"

using namespace tv3s;

namespace {

constexpr int kW = 64, kH = 48;

// Frames in the C layout with `pad` bytes after every row (stride = kW·3 + pad).
std::vector<uint8_t> padded(const std::vector<uint8_t>& rgb, int pad) {
  std::vector<uint8_t> out;
  for (int y = 0; y < kH; ++y) {
    out.insert(out.end(), rgb.begin() + y * kW * 3, rgb.begin() + (y + 1) * kW * 3);
    out.insert(out.end(), size_t(pad), uint8_t(0xEE));
  }
  return out;
}

tv3s_segmenter* create(int mode, int videos) {
  tv3s_options options = TV3S_OPTIONS_INIT;
  options.mode = mode;
  options.videos = videos;
  tv3s_segmenter* seg = nullptr;
  const tv3s_status status = tv3s_segmenter_create(test::tiny_model_path().c_str(), &options, &seg);
  INFO(tv3s_last_error());
  REQUIRE(status == TV3S_OK);
  REQUIRE(seg != nullptr);
  return seg;
}

// One C call and one C++ call on the frames of `ts` (one frame index per video); labels
// identical, logits within 1e-6.
void check_step(tv3s_segmenter* seg, Segmenter& cpp, const std::vector<int>& ts) {
  const int V = int(ts.size());
  const int pad = 7;
  std::vector<std::vector<uint8_t>> rgb, rgb_padded;
  std::vector<const uint8_t*> c_frames;
  std::vector<RgbFrame> cpp_frames;
  for (int v = 0; v < V; ++v) {
    rgb.push_back(test::example_frame(v, ts[size_t(v)], kW, kH));
    rgb_padded.push_back(padded(rgb.back(), pad));
  }
  for (int v = 0; v < V; ++v) {
    c_frames.push_back(rgb_padded[size_t(v)].data());
    cpp_frames.push_back({rgb[size_t(v)].data(), kW, kH});
  }
  std::vector<uint8_t> labels(size_t(V * kH * kW));
  std::vector<float> logits(size_t(V * kH * kW * tv3s_num_classes(seg)));
  const tv3s_status status = tv3s_segment(seg, c_frames.data(), V, kW, kH, kW * 3 + pad,
                                          labels.data(), logits.data());
  INFO(tv3s_last_error());
  REQUIRE(status == TV3S_OK);

  const Segmentation ref = cpp.segment(cpp_frames, true);
  const std::vector<uint8_t> ref_labels(ref.labels.data<uint8_t>(),
                                        ref.labels.data<uint8_t>() + ref.labels.numel());
  CHECK(labels == ref_labels);
  test::check_close(Tensor::from_vector(logits, ref.logits.shape()), ref.logits, 1e-6, "logits");
}

// The status of a call and the message it left; the call must not throw.
struct Outcome {
  tv3s_status status;
  std::string message;
};

template <class Call>
Outcome outcome(Call&& call) {
  tv3s_status status = TV3S_OK;
  CHECK_NOTHROW(status = call());
  return {status, tv3s_last_error()};
}

}  // namespace

TEST_CASE("C API: stream mode, two videos, reset — the C++ Segmenter's labels and logits") {
  NoGradGuard no_grad;
  tv3s_segmenter* seg = create(TV3S_MODE_STREAM, 2);
  Segmenter cpp = Segmenter::load(test::tiny_model_path(), {SegmentMode::stream, Device::CPU, 2});
  CHECK(tv3s_num_videos(seg) == 2);
  for (int t = 0; t < 3; ++t) check_step(seg, cpp, {t, t});
  CHECK(tv3s_frame_index(seg, 0) == 3);
  CHECK(tv3s_state_bytes(seg) == cpp.state_bytes());
  CHECK(tv3s_state_bytes(seg) > 0);

  // Video 1 starts a new video; video 0 goes on.
  REQUIRE(tv3s_reset(seg, 1) == TV3S_OK);
  cpp.reset(1);
  CHECK(tv3s_frame_index(seg, 0) == 3);
  CHECK(tv3s_frame_index(seg, 1) == 0);
  check_step(seg, cpp, {3, 0});
  CHECK(tv3s_frame_index(seg, 1) == 1);

  // After resetting everything, a new size is allowed.
  REQUIRE(tv3s_reset(seg, -1) == TV3S_OK);
  CHECK(tv3s_frame_index(seg, 0) == 0);
  std::vector<uint8_t> larger = test::example_frame(0, 0, 80, 56), labels(2 * 80 * 56);
  const uint8_t* frames[2] = {larger.data(), larger.data()};
  CHECK_MESSAGE(tv3s_segment(seg, frames, 2, 80, 56, 0, labels.data(), nullptr) == TV3S_OK,
                std::string(tv3s_last_error()));
  tv3s_destroy(seg);
}

TEST_CASE("C API: clip mode equals the C++ Segmenter's; the threads option is restored") {
  NoGradGuard no_grad;
  tv3s_options options = TV3S_OPTIONS_INIT;
  options.mode = TV3S_MODE_CLIP;
  options.threads = 1;
  tv3s_segmenter* seg = nullptr;
  REQUIRE(tv3s_segmenter_create(test::tiny_model_path().c_str(), &options, &seg) == TV3S_OK);
  Segmenter cpp = Segmenter::load(test::tiny_model_path(), {SegmentMode::clip});
  const int threads_before = omp_get_max_threads();
  for (int t = 0; t < 4; ++t) check_step(seg, cpp, {t});  // frame 3 is the first clip
  CHECK(omp_get_max_threads() == threads_before);
  CHECK(tv3s_state_bytes(seg) == cpp.state_bytes());
  tv3s_destroy(seg);
}

TEST_CASE("C API: classes, version and status names") {
  tv3s_segmenter* seg = create(TV3S_MODE_DEFAULT, 1);
  REQUIRE(tv3s_num_classes(seg) == 5);
  const char* names[] = {"sky", "tree", "road", "car", "person"};
  for (int k = 0; k < 5; ++k) CHECK(std::string(tv3s_class_name(seg, k)) == names[k]);
  uint8_t rgb[3] = {0, 0, 0};
  REQUIRE(tv3s_class_color(seg, 4, rgb) == TV3S_OK);
  CHECK((rgb[0] == 220 && rgb[1] == 20 && rgb[2] == 60));
  CHECK(std::string(tv3s_version()) == TV3S_VERSION_STRING);
  CHECK(std::string(tv3s_status_name(TV3S_OK)) == "ok");
  CHECK(std::string(tv3s_status_name(TV3S_MODEL_ERROR)) == "model error");
  CHECK(std::string(tv3s_status_name(tv3s_status(99))) == "unknown status");
  CHECK(tv3s_state_bytes(seg) == 0);  // stream mode, nothing carried before the first frame
  tv3s_destroy(seg);
  tv3s_destroy(nullptr);  // allowed
}

TEST_CASE("C API: creation errors — status, message, *out NULL, nothing thrown") {
  test::TempDir tmp;
  const std::string model = test::tiny_model_path();
  tv3s_segmenter* seg = reinterpret_cast<tv3s_segmenter*>(&tmp);  // must be overwritten
  auto create_with = [&](const char* path, const tv3s_options* options) {
    return outcome([&] { return tv3s_segmenter_create(path, options, &seg); });
  };

  Outcome o = outcome([&] { return tv3s_segmenter_create(model.c_str(), nullptr, nullptr); });
  CHECK(o.status == TV3S_INVALID_ARGUMENT);
  CHECK(o.message == "tv3s_segmenter_create: out is NULL");

  o = create_with(nullptr, nullptr);
  CHECK(o.status == TV3S_INVALID_ARGUMENT);
  CHECK(o.message == "tv3s_segmenter_create: model_path is NULL");
  CHECK(seg == nullptr);

  const std::string missing = tmp.file("missing.safetensors");
  o = create_with(missing.c_str(), nullptr);
  CHECK(o.status == TV3S_MODEL_ERROR);
  CHECK(o.message == missing + ": cannot open: No such file or directory");

  const std::string not_model = tmp.file("notes.txt");
  test::write_bytes(not_model, "hello\n");
  o = create_with(not_model.c_str(), nullptr);
  CHECK(o.status == TV3S_MODEL_ERROR);
  CHECK(o.message == not_model + ": safetensors: file is 6 bytes, too short for the 8-byte header length");
  CHECK(seg == nullptr);

  // A per-frame SegFormer model cannot stream.
  ModelConfig segformer;
  segformer.kind = ModelKind::segformer;
  segformer.num_classes = 5;
  segformer.embed_dim = 32;
  const Weights weights = random_weights(model_parameters(segformer), 5);
  const std::string segformer_path = tmp.file("segformer.safetensors");
  io::write_safetensors(segformer_path, {weights.all().begin(), weights.all().end()},
                        segformer.to_metadata());
  tv3s_options stream = TV3S_OPTIONS_INIT;
  stream.mode = TV3S_MODE_STREAM;
  o = create_with(segformer_path.c_str(), &stream);
  CHECK(o.status == TV3S_MODEL_ERROR);
  CHECK(o.message == segformer_path + ": stream mode needs a TV3S model; this is a per-frame "
                                      "SegFormer (frame mode only)");
  CHECK(seg == nullptr);

  struct BadOption {
    void (*set)(tv3s_options&);
    const char* message;
  };
  const BadOption bad_options[] = {
      {[](tv3s_options& o) { o.struct_size = 0; },
       "tv3s_segmenter_create: options.struct_size is 0, expected sizeof(tv3s_options) = 32 "
       "(set it, or start from TV3S_OPTIONS_INIT)"},
      {[](tv3s_options& o) { o.mode = 7; },
       "tv3s_segmenter_create: options.mode is 7 (0 default, 1 frame, 2 stream, 3 clip)"},
      {[](tv3s_options& o) { o.device = 5; },
       "tv3s_segmenter_create: options.device is 5 (0 cpu, 1 cuda)"},
      {[](tv3s_options& o) { o.resize = -1; },
       "tv3s_segmenter_create: options.resize is -1 (0 none, 1 vspw, 2 cityscapes)"},
      {[](tv3s_options& o) { o.videos = -3; },
       "tv3s_segmenter_create: options.videos is -3 (at least 1; 0 means 1)"},
      {[](tv3s_options& o) { o.threads = -2; },
       "tv3s_segmenter_create: options.threads is -2 (0 means OpenMP's default)"},
  };
  for (const BadOption& bad : bad_options) {
    tv3s_options options = TV3S_OPTIONS_INIT;
    bad.set(options);
    o = create_with(model.c_str(), &options);
    CHECK(o.status == TV3S_INVALID_ARGUMENT);
    CHECK(o.message == bad.message);
    CHECK(seg == nullptr);
  }

  if (!cuda_available()) {
    tv3s_options options = TV3S_OPTIONS_INIT;
    options.device = TV3S_DEVICE_CUDA;
    o = create_with(model.c_str(), &options);
    CHECK(o.status == TV3S_RUNTIME_ERROR);
    CHECK(o.message ==
          "tv3s_segmenter_create: device cuda: no usable CUDA GPU (or a build without CUDA)");
  }
}

TEST_CASE("C API: segment, reset and query errors — status, message, outputs untouched") {
  tv3s_segmenter* seg = create(TV3S_MODE_STREAM, 2);
  const std::vector<uint8_t> rgb = test::example_frame(0, 0, kW, kH);
  const uint8_t* frames[2] = {rgb.data(), rgb.data()};
  const uint8_t* one_null[2] = {rgb.data(), nullptr};
  std::vector<uint8_t> labels(2 * kW * kH, 0xAB);
  uint8_t* out = labels.data();

  struct BadCall {
    std::function<tv3s_status()> call;
    const char* message;
  };
  const BadCall bad_calls[] = {
      {[&] { return tv3s_segment(nullptr, frames, 2, kW, kH, 0, out, nullptr); },
       "tv3s_segment: the segmenter is NULL"},
      {[&] { return tv3s_segment(seg, nullptr, 2, kW, kH, 0, out, nullptr); },
       "tv3s_segment: frames_rgb is NULL"},
      {[&] { return tv3s_segment(seg, frames, 1, kW, kH, 0, out, nullptr); },
       "tv3s_segment: 1 frames for 2 videos (one frame of every video per call)"},
      {[&] { return tv3s_segment(seg, one_null, 2, kW, kH, 0, out, nullptr); },
       "tv3s_segment: frames_rgb[1] is NULL"},
      {[&] { return tv3s_segment(seg, frames, 2, 0, kH, 0, out, nullptr); },
       "tv3s_segment: frame size 0×48 (each side 1 to 32768)"},
      {[&] { return tv3s_segment(seg, frames, 2, kW, -4, 0, out, nullptr); },
       "tv3s_segment: frame size 64×-4 (each side 1 to 32768)"},
      {[&] { return tv3s_segment(seg, frames, 2, kW, kH, 100, out, nullptr); },
       "tv3s_segment: stride 100 for width 64 (0, or at least width × 3 = 192)"},
      {[&] { return tv3s_segment(seg, frames, 2, kW, kH, 0, nullptr, nullptr); },
       "tv3s_segment: labels_out is NULL"},
      {[&] { return tv3s_reset(nullptr, 0); }, "tv3s_reset: the segmenter is NULL"},
      {[&] { return tv3s_reset(seg, 2); },
       "tv3s_reset: video 2 out of range (the segmenter has 2 videos)"},
      {[&] { return tv3s_reset(seg, -2); },
       "tv3s_reset: video -2 out of range (the segmenter has 2 videos)"},
      {[&] { return tv3s_class_color(seg, 5, out); },
       "tv3s_class_color: class 5 out of range (the model has 5 classes)"},
      {[&] { return tv3s_class_color(seg, 0, nullptr); }, "tv3s_class_color: rgb is NULL"},
  };
  for (const BadCall& bad : bad_calls) {
    const Outcome o = outcome(bad.call);
    CHECK(o.status == TV3S_INVALID_ARGUMENT);
    CHECK(o.message == bad.message);
  }
  CHECK(labels == std::vector<uint8_t>(labels.size(), 0xAB));
  CHECK(tv3s_frame_index(seg, 0) == 0);  // no failed call advanced a video

  // Queries answer a sentinel and leave a message.
  CHECK(tv3s_num_classes(nullptr) == 0);
  CHECK(std::string(tv3s_last_error()) == "tv3s_num_classes: the segmenter is NULL");
  CHECK(tv3s_num_videos(nullptr) == 0);
  CHECK(std::string(tv3s_last_error()) == "tv3s_num_videos: the segmenter is NULL");
  CHECK(tv3s_class_name(seg, -1) == nullptr);
  CHECK(std::string(tv3s_last_error()) ==
        "tv3s_class_name: class -1 out of range (the model has 5 classes)");
  CHECK(tv3s_frame_index(seg, 2) == -1);
  CHECK(std::string(tv3s_last_error()) ==
        "tv3s_frame_index: video 2 out of range (the segmenter has 2 videos)");
  CHECK(tv3s_state_bytes(nullptr) == 0);
  CHECK(std::string(tv3s_last_error()) == "tv3s_state_bytes: the segmenter is NULL");

  // A video keeps its size until every video is reset.
  REQUIRE(tv3s_segment(seg, frames, 2, kW, kH, 0, out, nullptr) == TV3S_OK);
  REQUIRE(tv3s_reset(seg, 0) == TV3S_OK);
  const Outcome o = outcome([&] { return tv3s_segment(seg, frames, 2, kW - 8, kH, 0, out, nullptr); });
  CHECK(o.status == TV3S_INVALID_ARGUMENT);
  CHECK(o.message == "tv3s_segment: frames are 56×48, the videos' earlier frames 64×48 (a video "
                     "keeps one size; tv3s_reset(seg, -1) before changing it)");
  tv3s_destroy(seg);
}

TEST_CASE("C API: the last error is kept per thread") {
  CHECK(tv3s_reset(nullptr, 0) == TV3S_INVALID_ARGUMENT);
  std::string other;
  std::thread([&] {
    other = tv3s_last_error();  // nothing failed on this thread yet
    tv3s_num_classes(nullptr);
  }).join();
  CHECK(other.empty());
  CHECK(std::string(tv3s_last_error()) == "tv3s_reset: the segmenter is NULL");
}
