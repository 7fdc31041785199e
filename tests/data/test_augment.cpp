// src/data/augment.h against mmseg/mmcv re-done with cv2 + numpy
// (tools/gen_augment_fixtures.py → tests/data/augment/), with the random draws given
// explicitly: every uint8 stage byte for byte (RGB↔HSV on 2,560 colours each way incl. all
// 0/1/2/127/128/253/254/255 mixes, INTER_LINEAR + INTER_NEAREST resizes at the mmcv
// keep-ratio sizes, INTER_NEAREST at odd sizes, PhotoMetricDistortion with 7 draw sets)
// and the whole clip pipeline (resize, crop, flip, photometric, normalise, pad) exactly in
// float32 (0 ulp). Plus, without fixtures: the RandomCrop cat_max_ratio retry rule (10
// checks, the 11th box unchecked), the draws' ranges (hue −18..17), the no-augment path.
// About 0.1 s.
#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "src/data/augment.h"
#include "src/io/image.h"
#include "src/io/image_resize.h"
#include "tests/test_util.h"

using namespace tv3s;
using nlohmann::json;

namespace {

const std::string kData = TV3S_SOURCE_DIR "/tests/data/augment/";

std::vector<uint8_t> bytes(const Tensor& t) {
  const uint8_t* p = t.data<uint8_t>();
  return std::vector<uint8_t>(p, p + t.numel());
}

json cases() {
  std::ifstream in(kData + "cases.json");
  REQUIRE(in.good());
  return json::parse(in);
}

// Frame / label map `index` of frames.npy / labels.npy.
io::Image fixture_frame(int index) {
  const Tensor all = io::read_npy(kData + "frames.npy");  // [3, H, W, 3]
  io::Image im;
  im.height = int(all.shape()[1]), im.width = int(all.shape()[2]);
  const size_t n = size_t(im.width) * size_t(im.height) * 3;
  im.rgb.assign(all.data<uint8_t>() + size_t(index) * n, all.data<uint8_t>() + size_t(index + 1) * n);
  return im;
}

io::LabelMap fixture_labels(int index) {
  const Tensor all = io::read_npy(kData + "labels.npy");  // [3, H, W]
  io::LabelMap m;
  m.height = int(all.shape()[1]), m.width = int(all.shape()[2]);
  const size_t n = size_t(m.width) * size_t(m.height);
  m.values.assign(all.data<uint8_t>() + size_t(index) * n, all.data<uint8_t>() + size_t(index + 1) * n);
  return m;
}

data::PhotometricDraws draws_of(const json& j) {
  data::PhotometricDraws d;
  d.brightness = j["brightness"], d.beta = float(j["beta"].get<double>());
  d.mode = j["mode"];
  d.contrast = j["contrast"], d.contrast_alpha = float(j["contrast_alpha"].get<double>());
  d.saturation = j["saturation"], d.saturation_alpha = float(j["saturation_alpha"].get<double>());
  d.hue = j["hue"], d.hue_delta = j["hue_delta"];
  return d;
}

io::LabelMap halves(int width, int height, uint8_t left, uint8_t right, int boundary) {
  io::LabelMap m;
  m.width = width, m.height = height;
  m.values.resize(size_t(width) * size_t(height));
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x) m.values[size_t(y) * size_t(width) + size_t(x)] = x < boundary ? left : right;
  return m;
}

}  // namespace

TEST_CASE("augment: OpenCV 8-bit RGB<->HSV conversions, bit for bit") {
  const Tensor rgb = io::read_npy(kData + "hsv_rgb.npy"), hsv = io::read_npy(kData + "hsv_of_rgb.npy");
  const Tensor hsv_in = io::read_npy(kData + "hsv_in.npy"), rgb_out = io::read_npy(kData + "rgb_of_hsv.npy");
  const Tensor rgb_rows = io::read_npy(kData + "rgb_of_hsv_rows.npy");
  REQUIRE(rgb.shape() == Shape{2560, 3});
  int64_t bad_hsv = 0;
  for (int64_t i = 0; i < 2560; ++i) {
    uint8_t got[3];
    data::rgb_to_hsv_u8(rgb.data<uint8_t>() + i * 3, got);
    bad_hsv += !std::equal(got, got + 3, hsv.data<uint8_t>() + i * 3);
  }
  CHECK(bad_hsv == 0);
  // One row of 2,560 (all in OpenCV's vector loop), then 64 rows of 40 (32 + 8 scalar).
  std::vector<uint8_t> back(2560 * 3);
  data::hsv_to_rgb_row(hsv_in.data<uint8_t>(), back.data(), 2560);
  CHECK(back == bytes(rgb_out));
  for (int y = 0; y < 64; ++y) data::hsv_to_rgb_row(hsv_in.data<uint8_t>() + y * 120, back.data() + y * 120, 40);
  CHECK(back == bytes(rgb_rows));
}

TEST_CASE("augment: Resize (mmcv keep-ratio size, cv2 linear / nearest) and INTER_NEAREST") {
  int resized = 0, nearest = 0;
  const json all = cases();
  for (const json& c : all["cases"]) {
    const std::string name = c["name"];
    CAPTURE(name);
    if (c["kind"] == "resize") {
      const io::Image frame = fixture_frame(c["frame"]);
      const data::Size2 size = data::keep_ratio_size(frame.width, frame.height, c["scale"][0], c["scale"][1],
                                                     c["ratio"].get<double>());
      REQUIRE(size.width == c["width"].get<int>());
      REQUIRE(size.height == c["height"].get<int>());
      CHECK(io::resize_linear_u8(frame, size.width, size.height).rgb ==
            bytes(io::read_npy(kData + "case_" + name + "_image.npy")));
      CHECK(data::resize_nearest_u8(fixture_labels(c["frame"]), size.width, size.height).values ==
            bytes(io::read_npy(kData + "case_" + name + "_labels.npy")));
      ++resized;
    } else if (c["kind"] == "nearest") {
      CHECK(data::resize_nearest_u8(fixture_labels(c["frame"]), c["width"], c["height"]).values ==
            bytes(io::read_npy(kData + "case_" + name + ".npy")));
      ++nearest;
    }
  }
  CHECK(resized == 5);
  CHECK(nearest == 6);
  // The official sizes at full scale: 1920×1080 at r = 1 → 853×480, VSPW's usual frame.
  CHECK(data::keep_ratio_size(1920, 1080, 853, 480, 1.0).width == 853);
  CHECK(data::keep_ratio_size(1920, 1080, 853, 480, 1.0).height == 480);
  CHECK(data::keep_ratio_size(2048, 1024, 1024, 512, 0.5).width == 512);
}

TEST_CASE("augment: PhotoMetricDistortion with given draws, byte for byte") {
  int n = 0;
  const json all = cases();
  for (const json& c : all["cases"]) {
    if (c["kind"] != "photo") continue;
    const std::string name = c["name"];
    CAPTURE(name);
    io::Image frame = fixture_frame(c["frame"]);
    data::photometric_distortion(frame, draws_of(c["draws"]));
    CHECK(frame.rgb == bytes(io::read_npy(kData + "case_" + name + ".npy")));
    ++n;
  }
  CHECK(n == 7);
}

TEST_CASE("augment: whole clip (resize, crop, flip, photometric, normalise, pad), exact") {
  int n = 0;
  const json all = cases();
  for (const json& c : all["cases"]) {
    if (c["kind"] != "pipeline") continue;
    const std::string name = c["name"];
    CAPTURE(name);
    const int ch = c["crop"][0], cw = c["crop"][1];
    const Tensor want_images = io::read_npy(kData + "case_" + name + "_images.npy");
    const Tensor want_labels = io::read_npy(kData + "case_" + name + "_labels.npy");
    REQUIRE(want_images.shape() == Shape{3, ch, cw, 3});
    std::vector<float> images(size_t(ch) * size_t(cw) * 3);
    std::vector<int32_t> labels(size_t(ch) * size_t(cw));
    for (int t = 0; t < 3; ++t) {
      io::Image frame = fixture_frame(t);
      io::LabelMap map = fixture_labels(t);
      const data::Size2 size = data::keep_ratio_size(frame.width, frame.height, c["scale"][0], c["scale"][1],
                                                     c["ratio"].get<double>());
      frame = io::resize_linear_u8(frame, size.width, size.height);
      map = data::resize_nearest_u8(map, size.width, size.height);
      const data::CropBox box = data::crop_box(size.width, size.height, ch, cw, c["oy"], c["ox"]);
      frame = data::crop_image(frame, box), map = data::crop_labels(map, box);
      if (c["flip"].get<bool>()) data::flip_image(frame), data::flip_labels(map);
      data::photometric_distortion(frame, draws_of(c["draws"][t]));
      data::normalize_and_pad(frame, images.data(), ch, cw);
      data::pad_labels(map, labels.data(), ch, cw);
      const float* want = want_images.data<float>() + size_t(t) * images.size();
      int64_t differ = 0;
      for (size_t i = 0; i < images.size(); ++i) differ += images[i] != want[i];
      CHECK(differ == 0);
      const uint8_t* want_l = want_labels.data<uint8_t>() + size_t(t) * labels.size();
      CHECK(std::equal(labels.begin(), labels.end(), want_l, [](int32_t a, uint8_t b) { return a == int32_t(b); }));
    }
    ++n;
  }
  CHECK(n == 3);
}

TEST_CASE("augment: RandomCrop cat_max_ratio rule") {
  // The test itself: 255 left out, at least two classes, max/total strictly below the ratio.
  const io::LabelMap m = halves(8, 2, 3, 4, 6);  // per row: six 3s, two 4s
  CHECK(!data::crop_acceptable(m, data::crop_box(8, 2, 2, 8, 0, 0), 0.75));  // 12/16 = 0.75: rejected
  CHECK(data::crop_acceptable(m, data::crop_box(8, 2, 2, 7, 0, 1), 0.75));   // 10/14
  CHECK(!data::crop_acceptable(m, data::crop_box(8, 2, 2, 4, 0, 0), 0.75));  // one class
  CHECK(!data::crop_acceptable(halves(8, 2, 255, 4, 6), data::crop_box(8, 2, 2, 8, 0, 0), 0.75));
  CHECK(data::crop_acceptable(halves(8, 2, 255, 4, 7), data::crop_box(8, 2, 2, 8, 0, 0), 1.01) == false);

  // The draws: the same sequence replayed by hand. A map never acceptable → 11 boxes drawn,
  // the 11th used; oy from [0, H − ch], ox from [0, W − cw].
  const io::LabelMap flat = halves(40, 30, 1, 1, 0);
  for (uint64_t seed = 0; seed < 20; ++seed) {
    Rng rng(seed), replay(seed);
    const data::CropBox box = data::choose_crop(flat, 10, 16, 0.75, rng);
    int oy = 0, ox = 0;
    for (int i = 0; i < 11; ++i) oy = int(replay.uniform_int(21)), ox = int(replay.uniform_int(25));
    CHECK(box.y == oy);
    CHECK(box.x == ox);
    CHECK(box.height == 10);
    CHECK(box.width == 16);
    CHECK(rng.next_u64() == replay.next_u64());  // nothing more was drawn
  }
  // A boundary at x = 20 with a 16-wide crop: a box is accepted when it straddles enough of it.
  const io::LabelMap split = halves(40, 30, 1, 2, 20);
  int retried = 0;
  for (uint64_t seed = 0; seed < 50; ++seed) {
    Rng rng(seed), replay(seed);
    const data::CropBox box = data::choose_crop(split, 10, 16, 0.75, rng);
    data::CropBox want;
    for (int check = 0; check <= 10; ++check) {
      const int oy = int(replay.uniform_int(21)), ox = int(replay.uniform_int(25));
      want = data::crop_box(40, 30, 10, 16, oy, ox);
      if (check == 10 || data::crop_acceptable(split, want, 0.75)) break;
      ++retried;
    }
    CHECK(box.x == want.x);
    CHECK(box.y == want.y);
  }
  CHECK(retried > 0);
  // cat_max_ratio ≥ 1: one draw, no checks. A crop larger than the image: the whole extent.
  Rng rng(3), replay(3);
  const data::CropBox one = data::choose_crop(flat, 64, 64, 1.0, rng);
  CHECK(one.y == 0);
  CHECK(one.x == 0);
  CHECK(one.height == 30);
  CHECK(one.width == 40);
  replay.uniform_int(1), replay.uniform_int(1);
  CHECK(rng.next_u64() == replay.next_u64());
}

TEST_CASE("augment: draw ranges, flips and the no-augment path") {
  data::AugmentConfig config;
  std::set<int> deltas;
  int brightness = 0, mode1 = 0;
  float beta_min = 100, beta_max = -100;
  Rng rng(1);
  for (int i = 0; i < 4000; ++i) {
    const data::PhotometricDraws d = data::draw_photometric(config, rng);
    if (d.hue) deltas.insert(d.hue_delta);
    brightness += d.brightness, mode1 += d.mode;
    if (d.brightness) beta_min = std::min(beta_min, d.beta), beta_max = std::max(beta_max, d.beta);
    if (d.contrast) CHECK((d.contrast_alpha >= 0.5f && d.contrast_alpha < 1.5f));
    if (d.saturation) CHECK((d.saturation_alpha >= 0.5f && d.saturation_alpha < 1.5f));
  }
  CHECK(*deltas.begin() == -18);
  CHECK(*deltas.rbegin() == 17);  // numpy randint(−18, 18) excludes 18
  CHECK(deltas.size() == 36);
  CHECK(std::abs(brightness - 2000) < 200);
  CHECK(std::abs(mode1 - 2000) < 200);
  CHECK(beta_min >= -32);
  CHECK(beta_max < 32);
  CHECK(beta_min < -30);
  CHECK(beta_max > 30);

  io::Image im = fixture_frame(0);
  const io::Image original = im;
  data::flip_image(im);
  CHECK(im.rgb != original.rgb);
  CHECK(std::equal(im.rgb.end() - 3, im.rgb.end(), original.rgb.begin() + (original.height - 1) * original.width * 3));
  data::flip_image(im);
  CHECK(im.rgb == original.rgb);

  // enabled = false: only the top-left crop; no draw is taken.
  config.enabled = false, config.crop_h = 16, config.crop_w = 100;
  std::vector<io::Image> frames = {fixture_frame(0), fixture_frame(1)};
  std::vector<io::LabelMap> maps = {fixture_labels(0), fixture_labels(1)};
  Rng r(5), untouched(5);
  data::augment_clip(frames, maps, config, r);
  CHECK(r.next_u64() == untouched.next_u64());
  CHECK(frames[1].width == 60);
  CHECK(frames[1].height == 16);
  CHECK(std::equal(frames[1].rgb.begin(), frames[1].rgb.end(), fixture_frame(1).rgb.begin()));
  CHECK(maps[0].height == 16);
}
