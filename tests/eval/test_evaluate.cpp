// The evaluation module (src/eval/evaluate.h): which protocols a request names, which
// Cityscapes neighbours they need, and the loop itself — each video from a fresh model
// state, clip and stream side by side from one decode, saved predictions scoring exactly
// like the run that saved them, and training's validation being this same loop.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <memory>

#include "src/convert/checkpoint.h"
#include "src/data/eval_dataset.h"
#include "src/data/synth.h"
#include "src/eval/evaluate.h"
#include "src/io/image.h"
#include "src/models/model_file.h"
#include "src/train/validate.h"
#include "tests/eval/eval_test_util.h"
#include "tests/test_util.h"

namespace tv3s {
namespace {

namespace fs = std::filesystem;
using test::TempDir;

TEST_CASE("eval protocols: stream, official and both for TV3S and SegFormer") {
  auto one = eval::plan_protocols("stream", "stream", true, false);
  REQUIRE(one.size() == 1);
  CHECK(one[0].name == "stream");
  CHECK(one[0].mode == SegmentMode::stream);
  CHECK(one[0].resize == InputResize::none);
  CHECK(one[0].save_dir.empty());

  one = eval::plan_protocols("stream", "clip", true, false, "out");  // --mode clip: clips at native size
  REQUIRE(one.size() == 1);
  CHECK(one[0].mode == SegmentMode::clip);
  CHECK(one[0].resize == InputResize::none);
  CHECK(one[0].save_dir == "out");

  one = eval::plan_protocols("official", "stream", true, true);
  REQUIRE(one.size() == 1);
  CHECK(one[0].mode == SegmentMode::clip);
  CHECK(one[0].resize == InputResize::cityscapes);

  const auto both = eval::plan_protocols("both", "stream", true, false, "out");
  REQUIRE(both.size() == 2);
  CHECK(both[0].name == "official");
  CHECK(both[0].mode == SegmentMode::clip);
  CHECK(both[0].resize == InputResize::vspw);
  CHECK(both[0].save_dir == (fs::path("out") / "official").string());
  CHECK(both[1].name == "stream");
  CHECK(both[1].mode == SegmentMode::stream);
  CHECK(both[1].save_dir == (fs::path("out") / "stream").string());

  // A per-frame SegFormer runs frame by frame under every name.
  for (const auto& p : eval::plan_protocols("both", "clip", false, false)) CHECK(p.mode == SegmentMode::frame);
}

TEST_CASE("eval protocols: the Cityscapes neighbours are the official clip's offsets") {
  // The official clip of frame i is [i − 9, i − 6, i − 3, i] (model-spec §8.1).
  CHECK(eval::cityscapes_context(SegmentMode::clip) == std::vector<int>{-9, -6, -3});
  CHECK(eval::cityscapes_context(SegmentMode::stream) == std::vector<int>{-9, -8, -7, -6, -5, -4, -3, -2, -1});
  CHECK(eval::cityscapes_context(SegmentMode::frame).empty());
  // One listing for both protocols: streaming's neighbours include the clip's.
  CHECK(eval::cityscapes_context(eval::plan_protocols("both", "stream", true, true)) ==
        eval::cityscapes_context(SegmentMode::stream));
  CHECK(eval::cityscapes_context(eval::plan_protocols("both", "clip", true, true)) ==
        std::vector<int>{-9, -6, -3});
  CHECK(eval::cityscapes_context(eval::plan_protocols("official", "stream", false, true)).empty());
}

// A synthetic val split of two videos, the second a copy of the first under another name.
std::string twin_videos(const TempDir& dir) {
  data::SynthOptions o;
  o.train_videos = 0, o.val_videos = 1, o.test_videos = 0, o.frames = 6;
  o.width = 128, o.height = 96, o.seed = 11, o.png_frames = true;
  const std::string root = dir.file("ds");
  data::generate_synth_dataset(root, o);
  std::string name;
  std::getline(std::ifstream(root + "/val.txt"), name);
  fs::copy(root + "/data/" + name, root + "/data/twin", fs::copy_options::recursive);
  std::ofstream(root + "/val.txt", std::ios::binary) << name << "\ntwin\n";
  return root;
}

eval::Model shipped_tv3s() {
  ModelFile file = load_model_file(TV3S_SOURCE_DIR "/weights/tv3s_synth_b0.safetensors");
  REQUIRE(file.config.kind == ModelKind::tv3s);
  eval::Model model;
  model.tv3s = std::make_shared<const Tv3s>(file.config, std::move(file.weights));
  return model;
}

TEST_CASE("eval loop: every video starts afresh; clip and stream from one decode; saved predictions score alike") {
  TempDir dir;
  const std::string root = twin_videos(dir);
  data::EvalOptions listing;
  const data::EvalSet set = data::list_eval_set(root, data::DatasetKind::vspw, listing);
  REQUIRE(set.videos.size() == 2);
  const eval::Model model = shipped_tv3s();

  eval::LoopOptions loop;
  loop.protocols = eval::plan_protocols("stream", "stream", true, false, dir.file("stream"));
  for (eval::Protocol p : eval::plan_protocols("stream", "clip", true, false, dir.file("clip"))) {
    p.name = "clip";
    loop.protocols.push_back(p);
  }
  int64_t frames = 0;
  loop.on_frame = [&] { ++frames; };
  const auto results = eval::evaluate_set(set, model, loop);
  CHECK(frames == 12);
  REQUIRE(results.size() == 2);
  CHECK(results[0].protocol == "stream");
  CHECK(results[0].mode == "stream");
  CHECK(results[1].protocol == "clip");
  CHECK(results[1].mode == "clip");
  for (const auto& r : results) {
    CHECK(r.frames == 12);
    CHECK(r.videos == 2);
    CHECK(r.resize == "none");
    CHECK(r.fps > 0);
    CHECK(r.iou.miou > 0.2);  // the shipped model knows these scenes
  }

  // The twin video's predictions equal the first video's, frame by frame, in both modes:
  // the loop resets the model state at each video (clip mode: frames 0–2 per-frame again).
  const auto& video = set.videos[0];
  const auto& twin = set.videos[1];
  bool modes_differ = false;
  for (size_t f = 0; f < video.frames.size(); ++f) {
    for (const char* mode : {"stream", "clip"}) {
      const auto a = io::read_label_png(data::prediction_path(set, dir.file(mode), video, video.frames[f]));
      const auto b = io::read_label_png(data::prediction_path(set, dir.file(mode), twin, twin.frames[f]));
      CHECK(a.values == b.values);
    }
    const auto s = io::read_label_png(data::prediction_path(set, dir.file("stream"), video, video.frames[f]));
    const auto c = io::read_label_png(data::prediction_path(set, dir.file("clip"), video, video.frames[f]));
    modes_differ = modes_differ || s.values != c.values;
  }
  CHECK(modes_differ);

  // Scoring what was saved gives the run's numbers exactly.
  for (size_t r = 0; r < 2; ++r) {
    eval::LoopOptions saved;
    saved.pred_dir = loop.protocols[r].save_dir;
    const auto scored = eval::evaluate_set(set, {}, saved);
    REQUIRE(scored.size() == 1);
    CHECK(scored[0].protocol == "pred");
    CHECK(scored[0].fps < 0);
    CHECK(scored[0].iou.miou == results[r].iou.miou);
    CHECK(scored[0].iou.aacc == results[r].iou.aacc);
  }
}

TEST_CASE("eval loop: a _city-head model answers class 0 for frames 0-2 under official only") {
  // TV3SHead_shift_city in the official test mode gives all-zero logits when the clip is
  // shorter than 4 frames (model-spec §7.4): the released Swin-T VSPW checkpoint has it.
  TempDir dir;
  const std::string root = twin_videos(dir);
  const data::EvalSet set = data::list_eval_set(root, data::DatasetKind::vspw, {});
  ModelFile file = load_model_file(TV3S_SOURCE_DIR "/weights/tv3s_synth_b0.safetensors");
  file.config.city_head = true;
  eval::Model city;
  city.tv3s = std::make_shared<const Tv3s>(file.config, std::move(file.weights));
  const eval::Model plain = shipped_tv3s();

  auto run = [&](const eval::Model& model, const std::string& protocol, const std::string& out) {
    eval::LoopOptions loop;
    loop.protocols = eval::plan_protocols(protocol, "clip", true, false, dir.file(out));
    eval::evaluate_set(set, model, loop);
  };
  run(city, "official", "city_official");
  run(plain, "official", "plain_official");
  run(city, "stream", "city_clip");
  run(plain, "stream", "plain_clip");
  const auto& video = set.videos[0];
  for (size_t f = 0; f < video.frames.size(); ++f) {
    INFO("frame ", f);
    auto read = [&](const std::string& out) {
      return io::read_label_png(data::prediction_path(set, dir.file(out), video, video.frames[f])).values;
    };
    const auto city_official = read("city_official"), plain_official = read("plain_official");
    if (f < 3) {
      CHECK(std::all_of(city_official.begin(), city_official.end(), [](uint8_t v) { return v == 0; }));
      CHECK(city_official != plain_official);  // the plain head answers its SegFormer logits
    } else {
      CHECK(city_official == plain_official);
    }
    CHECK(read("city_clip") == read("plain_clip"));  // outside official: the same model
  }
}

TEST_CASE("eval loop: training's validation is the same loop on the training model") {
  TempDir dir;
  const std::string root = twin_videos(dir);
  const data::EvalSet set = data::list_eval_set(root, data::DatasetKind::vspw, data::EvalOptions{});
  ModelFile file = load_model_file(TV3S_SOURCE_DIR "/weights/tv3s_synth_b0.safetensors");
  for (const char* mode : {"stream", "clip"}) {
    const train::ValResult v = train::validate(file.config, file.weights, set, mode);
    eval::LoopOptions loop;
    loop.protocols = eval::plan_protocols("stream", mode, true, false);
    eval::Model model;
    model.tv3s = std::make_shared<const Tv3s>(file.config, file.weights);
    const auto r = eval::evaluate_set(set, model, loop);
    INFO(mode);
    CHECK(v.miou == r[0].iou.miou);
    CHECK(v.frames == 12);
    CHECK(v.videos == 2);
    // 6-frame videos are too short for mVC8/16 (VC_perclip skips videos of ≤ 16 frames).
    CHECK(std::isnan(v.mvc8) == std::isnan(r[0].vc.mvc8));
  }
}

TEST_CASE("eval loop: validation on Cityscapes runs a TV3S over the official neighbours, as tv3s eval does") {
  // Annotated frame lindau_000000_000019 = fixture frame 9 of the tiny TV3S; its
  // neighbours 000010..000018 = fixture frames 0..8 (leftImg8bit_sequence only).
  TempDir dir;
  const std::string model_path = dir.file("tiny.safetensors"), root = dir.file("cs");
  convert::convert_checkpoint(TV3S_SOURCE_DIR "/tests/data/tv3s/tiny_official.pth", model_path, {},
                             [](const std::string&) {});
  const std::string frames = TV3S_SOURCE_DIR "/tests/data/tv3s/tiny_frames/";
  test::write_classes(root, {"a", "b", "c", "d", "e"});
  test::Labels gt(90 * 130);
  for (size_t i = 0; i < gt.size(); ++i) gt[i] = uint8_t(i % 130 / 26);
  test::write_labels(root + "/gtFine/val/lindau/lindau_000000_000019_gtFine_labelTrainIds.png", 90, 130, gt);
  fs::create_directories(root + "/leftImg8bit/val/lindau");
  fs::create_directories(root + "/leftImg8bit_sequence/val/lindau");
  fs::copy_file(frames + "009.png", root + "/leftImg8bit/val/lindau/lindau_000000_000019_leftImg8bit.png");
  for (int k = 0; k < 9; ++k)
    fs::copy_file(frames + "00" + std::to_string(k) + ".png",
                  root + "/leftImg8bit_sequence/val/lindau/lindau_000000_0000" + std::to_string(10 + k) +
                      "_leftImg8bit.png");
  ModelFile file = load_model_file(model_path);
  for (const char* mode : {"stream", "clip"}) {
    INFO(mode);
    data::EvalOptions listing;
    listing.context_offsets = eval::cityscapes_context(parse_segment_mode(mode));
    const data::EvalSet set = data::list_eval_set(root, data::DatasetKind::cityscapes, listing);
    const train::ValResult v = train::validate(file.config, file.weights, set, mode);
    eval::LoopOptions loop;
    loop.protocols = eval::plan_protocols("stream", mode, true, true);
    eval::Model model;
    model.tv3s = std::make_shared<const Tv3s>(file.config, file.weights);
    const auto r = eval::evaluate_set(set, model, loop);
    CHECK(v.miou == r[0].iou.miou);
    CHECK(v.frames == 1);
    CHECK(std::isnan(v.mvc8));  // Cityscapes has no mVC
    // The neighbours matter: the annotated frame alone (a video of one frame) scores otherwise.
    const data::EvalSet alone = data::list_eval_set(root, data::DatasetKind::cityscapes, {});
    CHECK(eval::evaluate_set(alone, model, loop)[0].iou.miou != v.miou);
  }
}

}  // namespace
}  // namespace tv3s
