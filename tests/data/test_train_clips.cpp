// src/data/train_clips.h: training-clip listing and sampling (training-spec.md §2) on tiny
// roots built here — a `tv3s synth` set and hand-made VSPW / Cityscapes layouts whose
// pixels encode the frame number. Checks (all exact): clip positions [i−9, i−6, i−3, i]
// with the target uniform over [9, N−1] and both directions of the reversal;
// reduce_zero_label; the Cityscapes neighbours and their n+9/+6/+3 fallback with the
// target's labels on every frame; determinism (same seed and iteration → identical batch,
// whatever the thread count; another iteration → another batch); every item once per
// epoch; --no-augment passing pixels through normalise + pad; shapes; and the message of
// every bad input. About 0.5 s.
#include <omp.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <set>

#include "src/data/synth.h"
#include "src/data/train_clips.h"
#include "src/io/image.h"
#include "tests/io/io_test_util.h"
#include "tests/test_util.h"

using namespace tv3s;
using tv3s::test::error_message;
using tv3s::test::TempDir;
namespace fs = std::filesystem;

namespace {

// A W×H RGB frame whose every pixel is (value, value + 1, value + 2).
io::Image flat_frame(int width, int height, int value) {
  io::Image im;
  im.width = width, im.height = height;
  im.rgb.resize(size_t(width) * size_t(height) * 3);
  for (size_t i = 0; i < im.rgb.size(); ++i) im.rgb[i] = uint8_t(value + int(i % 3));
  return im;
}

void write_mask(const std::string& path, int width, int height, const std::vector<int32_t>& values) {
  io::write_label_png(path, Tensor::from_vector_i32(values, {height, width}));
}

// A VSPW root with videos of `frames[v]` frames, 6×4 pixels; frame k's pixels are 10·k (+0,1,2);
// masks hold raw 0, 1, 2, 255 in the first four pixels, then k + 1.
void make_vspw(const std::string& root, const std::vector<int>& frames) {
  std::string list;
  for (size_t v = 0; v < frames.size(); ++v) {
    const std::string name = "video" + std::to_string(v);
    list += name + "\n";
    fs::create_directories(root + "/data/" + name + "/origin");
    fs::create_directories(root + "/data/" + name + "/mask");
    for (int k = 0; k < frames[v]; ++k) {
      char stem[16];
      std::snprintf(stem, sizeof stem, "%08d", k);
      io::write_png(root + "/data/" + name + "/origin/" + stem + ".png", flat_frame(6, 4, 10 * k));
      std::vector<int32_t> mask(24, k + 1);
      mask[0] = 0, mask[1] = 1, mask[2] = 2, mask[3] = 255;
      write_mask(root + "/data/" + name + "/mask/" + stem + ".png", 6, 4, mask);
    }
  }
  test::write_bytes(root + "/train.txt", list);
}

int frame_number(const std::string& path) {  // ".../00000012.png" → 12
  return std::stoi(fs::path(path).stem().string().substr(fs::path(path).stem().string().size() - 6));
}

data::AugmentConfig no_augment(int crop_h, int crop_w) {
  data::AugmentConfig a;
  a.enabled = false, a.crop_h = crop_h, a.crop_w = crop_w;
  return a;
}

bool same(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape() || a.dtype() != b.dtype()) return false;
  const void* pa = a.dtype() == DType::f32 ? static_cast<const void*>(a.data<float>()) : a.data<int32_t>();
  const void* pb = b.dtype() == DType::f32 ? static_cast<const void*>(b.data<float>()) : b.data<int32_t>();
  return std::memcmp(pa, pb, a.nbytes()) == 0;
}

}  // namespace

TEST_CASE("train_clips: VSPW clip positions, reversal and the target's range") {
  TempDir dir;
  make_vspw(dir.path(), {14});
  const auto clips = data::TrainClips::open(dir.path(), data::DatasetKind::vspw);
  CHECK(clips.size() == 1);
  CHECK(clips.kind() == data::DatasetKind::vspw);
  std::set<int> forward_targets, backward_targets;
  for (int trial = 0; trial < 200; ++trial) {
    Rng rng{static_cast<uint64_t>(trial)};
    const data::ClipFiles c = clips.sample_clip(0, rng);
    REQUIRE(c.images.size() == 4);
    REQUIRE(c.masks.size() == 4);
    const int target = frame_number(c.images[3]);
    const int step = frame_number(c.images[1]) - frame_number(c.images[0]);
    REQUIRE((step == 3 || step == -3));
    for (int t = 0; t < 4; ++t) {
      CHECK(frame_number(c.images[t]) == target - step * (3 - t));
      CHECK(fs::path(c.masks[t]).stem() == fs::path(c.images[t]).stem());
    }
    (step == 3 ? forward_targets : backward_targets).insert(target);
  }
  // N = 14: target position 9..13 → forward frames 9..13, reversed frames 4..0.
  CHECK(forward_targets == std::set<int>{9, 10, 11, 12, 13});
  CHECK(backward_targets == std::set<int>{0, 1, 2, 3, 4});
}

TEST_CASE("train_clips: --no-augment passes pixels through normalise + pad; reduce_zero_label") {
  TempDir dir;
  make_vspw(dir.path(), {10});
  const auto clips = data::TrainClips::open(dir.path(), data::DatasetKind::vspw);
  const data::ClipBatch b = clips.batch(1, 7, 0, no_augment(5, 8));  // larger than 4×6: padded
  REQUIRE(b.images.shape() == Shape{4, 5, 8, 3});
  REQUIRE(b.labels.shape() == Shape{4, 5, 8});
  const float* im = b.images.data<float>();
  const int32_t* lb = b.labels.data<int32_t>();
  const double mean[3] = {123.675, 116.28, 103.53}, stdv[3] = {58.395, 57.12, 57.375};
  // N = 10: the clip is frames 0, 3, 6, 9 or 9, 6, 3, 0.
  const int first = int(std::lround(im[0] * stdv[0] + mean[0])) / 10;
  REQUIRE((first == 0 || first == 9));
  for (int t = 0; t < 4; ++t) {
    const int k = first == 0 ? 3 * t : 9 - 3 * t;
    for (int y = 0; y < 5; ++y)
      for (int x = 0; x < 8; ++x)
        for (int c = 0; c < 3; ++c) {
          const float got = im[((t * 5 + y) * 8 + x) * 3 + c];
          const float want = y < 4 && x < 6 ? float(double(float(10 * k + c) - float(mean[c])) * (1.0 / stdv[c])) : 0.0f;
          REQUIRE(got == want);
        }
    const int32_t* l = lb + t * 40;
    CHECK(l[0] == 255);  // raw 0 ("others") → ignore
    CHECK(l[1] == 0);
    CHECK(l[2] == 1);
    CHECK(l[3] == 255);  // void stays
    CHECK(l[4] == k);    // raw k + 1 → k
    CHECK(l[6] == 255);  // padding column
    CHECK(l[4 * 8] == 255);  // padding row
  }
}

TEST_CASE("train_clips: synth set, deterministic batches and one pass per epoch") {
  TempDir dir;
  data::SynthOptions o;
  o.train_videos = 3, o.val_videos = 0, o.test_videos = 0;
  o.frames = 12, o.width = 48, o.height = 32, o.png_frames = true;
  data::generate_synth_dataset(dir.path(), o);
  const auto clips = data::TrainClips::open(dir.path(), data::DatasetKind::vspw);
  CHECK(clips.size() == 3);
  CHECK(clips.num_classes() == 9);
  data::AugmentConfig aug;
  aug.crop_h = 24, aug.crop_w = 40, aug.scale_w = 48, aug.scale_h = 32;
  const data::ClipBatch a = clips.batch(2, 11, 5, aug);
  CHECK(a.clips == 2);
  CHECK(a.frames == 4);
  CHECK(a.images.shape() == Shape{8, 24, 40, 3});
  CHECK(a.labels.shape() == Shape{8, 24, 40});
  const int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  const data::ClipBatch a1 = clips.batch(2, 11, 5, aug);
  omp_set_num_threads(threads);
  CHECK(same(a.images, a1.images));
  CHECK(same(a.labels, a1.labels));
  const data::ClipBatch c = clips.batch(2, 11, 6, aug);
  CHECK(!same(a.images, c.images));
  const data::ClipBatch d = clips.batch(2, 12, 5, aug);
  CHECK(!same(a.images, d.images));
  // Labels: train ids 0..8 or 255, and both some class and some ignore/padding appear.
  const int32_t* l = a.labels.data<int32_t>();
  bool any_class = false;
  for (int64_t i = 0; i < a.labels.numel(); ++i) {
    REQUIRE((l[i] == 255 || (l[i] >= 0 && l[i] < 9)));
    any_class |= l[i] != 255;
  }
  CHECK(any_class);

  // Every item once per epoch: 3 items, 2 clips per iteration → g = 0..5 is two epochs.
  for (uint64_t seed : {0u, 1u, 2u}) {
    std::multiset<int64_t> epoch0, epoch1;
    for (int64_t it = 0; it < 3; ++it)
      for (int64_t b = 0; b < 2; ++b) (it * 2 + b < 3 ? epoch0 : epoch1).insert(clips.item_of(2, seed, it, b));
    CHECK(epoch0 == std::multiset<int64_t>{0, 1, 2});
    CHECK(epoch1 == std::multiset<int64_t>{0, 1, 2});
  }
}

TEST_CASE("train_clips: Cityscapes neighbours, the +9/+6/+3 fallback and the target's labels") {
  TempDir dir;
  const std::string root = dir.path();
  const std::string gt = root + "/gtFine/train/aachen", img = root + "/leftImg8bit/train/aachen",
                    seq = root + "/leftImg8bit_sequence/train/aachen";
  fs::create_directories(gt), fs::create_directories(img), fs::create_directories(seq);
  auto frame = [](int n) {
    char s[64];
    std::snprintf(s, sizeof s, "aachen_000001_%06d", n);
    return std::string(s);
  };
  // Frame 19: neighbours 10, 13 (sequence folder), 16. Frame 5: 5−9 < 0 → 14, 11, 8.
  for (int n : {19, 5}) {
    write_mask(gt + "/" + frame(n) + "_gtFine_labelTrainIds.png", 6, 4, std::vector<int32_t>(24, n % 19));
    io::write_png(img + "/" + frame(n) + "_leftImg8bit.png", flat_frame(6, 4, n));
  }
  for (int n : {10, 16, 14, 11, 8}) io::write_png(img + "/" + frame(n) + "_leftImg8bit.png", flat_frame(6, 4, n));
  io::write_png(seq + "/" + frame(13) + "_leftImg8bit.png", flat_frame(6, 4, 13));
  const auto clips = data::TrainClips::open(root, data::DatasetKind::cityscapes);
  REQUIRE(clips.size() == 2);
  Rng rng;
  const data::ClipFiles five = clips.sample_clip(0, rng), nineteen = clips.sample_clip(1, rng);
  CHECK(five.images == std::vector<std::string>{img + "/" + frame(14) + "_leftImg8bit.png",
                                                img + "/" + frame(11) + "_leftImg8bit.png",
                                                img + "/" + frame(8) + "_leftImg8bit.png",
                                                img + "/" + frame(5) + "_leftImg8bit.png"});
  CHECK(nineteen.images == std::vector<std::string>{img + "/" + frame(10) + "_leftImg8bit.png",
                                                    seq + "/" + frame(13) + "_leftImg8bit.png",
                                                    img + "/" + frame(16) + "_leftImg8bit.png",
                                                    img + "/" + frame(19) + "_leftImg8bit.png"});
  for (const std::string& m : five.masks) CHECK(m == gt + "/" + frame(5) + "_gtFine_labelTrainIds.png");
  // No reversal, labels of the target on all frames (train ids as they are: 5 stays 5).
  const data::ClipBatch b = clips.batch(2, 3, 0, no_augment(4, 6));
  for (int64_t row = 0; row < 8; ++row) {
    const int32_t label = b.labels.data<int32_t>()[row * 24];
    CHECK((label == 5 || label == 0));
    const int pixel = int(std::lround(b.images.data<float>()[row * 72] * 58.395 + 123.675));
    CHECK(label == (row % 4 == 3 ? pixel % 19 : label));
  }

  // A frame with neither set of neighbours.
  write_mask(gt + "/" + frame(40) + "_gtFine_labelTrainIds.png", 6, 4, std::vector<int32_t>(24, 1));
  io::write_png(img + "/" + frame(40) + "_leftImg8bit.png", flat_frame(6, 4, 40));
  io::write_png(img + "/" + frame(31) + "_leftImg8bit.png", flat_frame(6, 4, 31));
  CHECK(error_message([&] { data::TrainClips::open(root, data::DatasetKind::cityscapes); }) ==
        img + "/" + frame(40) + "_leftImg8bit.png: the neighbouring frames of " + frame(40) +
            " exist neither at n−9, n−6, n−3 nor at n+9, n+6, n+3 (looked in " + img + " and " + seq + ")");
}

TEST_CASE("train_clips: bad inputs name the file") {
  TempDir dir;
  const std::string root = dir.path();
  auto open = [&] { data::TrainClips::open(root, data::DatasetKind::vspw); };
  CHECK(error_message(open) == root + "/train.txt: no such split file (a VSPW root lists the videos "
                                      "of a split in <split>.txt)");
  test::write_bytes(root + "/train.txt", "\n");
  CHECK(error_message(open) == root + "/train.txt: the split file lists no videos");
  make_vspw(root, {9});
  CHECK(error_message(open) == root + "/data/video0/origin: video 'video0' has 9 frames; a training "
                                      "clip needs at least 10 (the oldest frame is 9 before the target)");
  make_vspw(root, {10});
  fs::remove(root + "/data/video0/mask/00000003.png");
  CHECK(error_message(open) == root + "/data/video0/mask/00000003.png: missing mask of frame "
                                      "'00000003' of video 'video0'");

  // Errors found while loading a clip (10 frames: every clip uses frames 0, 3, 6, 9).
  make_vspw(root, {10});
  const auto clips = data::TrainClips::open(root, data::DatasetKind::vspw);
  const std::string origin = root + "/data/video0/origin/", masks = root + "/data/video0/mask/";
  io::write_png(origin + "00000006.png", flat_frame(5, 4, 60));
  const std::string msg = error_message([&] { clips.batch(1, 0, 0, no_augment(4, 6)); });
  CHECK((msg == origin + "00000006.png: is 5×4, the other frames of its clip (" + origin +
                    "00000000.png) are 6×4" ||
         msg == origin + "00000006.png: is 5×4, the other frames of its clip (" + origin +
                    "00000009.png) are 6×4"));
  make_vspw(root, {10});
  write_mask(masks + "00000003.png", 6, 3, std::vector<int32_t>(18, 1));
  CHECK(error_message([&] { clips.batch(1, 0, 0, no_augment(4, 6)); }) ==
        masks + "00000003.png: mask is 6×3, its frame " + origin + "00000003.png is 6×4");
  make_vspw(root, {10});
  write_mask(masks + "00000003.png", 6, 4, std::vector<int32_t>(24, 200));
  CHECK(error_message([&] { clips.batch(1, 0, 0, no_augment(4, 6)); }) ==
        masks + "00000003.png: label 200 at row 0, column 0 is not a class of the VSPW class table "
                "(masks hold 0 = others, 1..124, 255 = void)");
  make_vspw(root, {10});
  test::write_bytes(origin + "00000009.png", "not a png");
  CHECK(error_message([&] { clips.batch(1, 0, 0, no_augment(4, 6)); }).rfind(origin + "00000009.png: ", 0) == 0);
}
