// `tv3s eval` from the outside, on datasets built in a temporary folder:
//  - saved predictions (--pred) on a VSPW layout and a Cityscapes layout, every number of
//    the JSON computed by hand in the comments (exact to 1e-9 percent);
//  - the committed fixture tests/data/eval/ against tools/eval_reference.py's NumPy numbers
//    (mmseg mIoU and VC_perclip mVC transcribed independently; 1e-9 percent);
//  - the model path on the tiny TV3S model (tests/data/tv3s/tiny_official.pth, 17 frames of
//    90×130): the run completes, and --save-pred then --pred gives the same numbers as
//    the direct run (exactly: the same label maps are scored);
//  - usage errors (exit 2) and bad inputs (exit 1), each with its exact one-line message,
//    and no JSON written when the run fails.
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "tests/eval/eval_test_util.h"
#include "tests/io/io_test_util.h"

using namespace tv3s;
using test::run_tv3s;

namespace {

const std::string kSource = TV3S_SOURCE_DIR;
constexpr double kTol = 1e-9;  // percent

nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path);
  REQUIRE(in.good());
  return nlohmann::json::parse(in);
}

void check_near(const nlohmann::json& got, double expected, const char* what) {
  INFO(what, ": got ", got.dump(), ", expected ", expected);
  REQUIRE(got.is_number());
  CHECK(std::fabs(got.get<double>() - expected) < kTol);
}

// VSPW layout, K = 3 (classes.json: sky, road, car), frames 2×2:
//   video a, 17 frames: raw GT [1 2 / 3 0] → train ids [0 1 / 2 255];
//                       prediction [0 1 / 1 2], except frame 10 where the last pixel is 0
//                       (on an ignored GT pixel: no effect on mIoU, but on mVC);
//   video b, 2 frames:  raw GT all 1 → 0; prediction all 0.
void write_vspw_case(const std::string& root, const std::string& pred) {
  test::write_text(root + "/val.txt", "a\nb\n");
  test::write_classes(root, {"sky", "road", "car"});
  test::write_vspw_video(root, "a", 2, 2, std::vector<test::Labels>(17, {1, 2, 3, 0}));
  test::write_vspw_video(root, "b", 2, 2, std::vector<test::Labels>(2, {1, 1, 1, 1}));
  for (int t = 0; t < 17; ++t)
    test::write_labels(pred + "/a/" + test::frame_stem(t) + ".png", 2, 2, {0, 1, 1, uint8_t(t == 10 ? 0 : 2)});
  for (int t = 0; t < 2; ++t) test::write_labels(pred + "/b/" + test::frame_stem(t) + ".png", 2, 2, {0, 0, 0, 0});
}

}  // namespace

TEST_CASE("cli eval: usage errors exit 2 with one line") {
  auto r = run_tv3s("eval --data d");
  CHECK(r.exit_code == 2);
  CHECK(r.output == "tv3s eval: needs a model file or --pred DIR (saved predictions) (see tv3s eval --help)\n");
  r = run_tv3s("eval m.safetensors --data d --pred p");
  CHECK(r.exit_code == 2);
  CHECK(r.output == "tv3s eval: give a model file or --pred DIR, not both (see tv3s eval --help)\n");
  r = run_tv3s("eval --pred p");
  CHECK(r.output == "tv3s eval: needs --data ROOT (the dataset to evaluate on) (see tv3s eval --help)\n");
  r = run_tv3s("eval m --data d --protocol paper");
  CHECK(r.exit_code == 2);
  CHECK(r.output == "tv3s eval: unknown --protocol 'paper' (stream, official or both) (see tv3s eval --help)\n");
  r = run_tv3s("eval --data d --pred p --save-pred q");
  CHECK(r.output == "tv3s eval: --save-pred needs a model run (--pred scores predictions already saved) "
                    "(see tv3s eval --help)\n");
  r = run_tv3s("eval m --data d --precision fp8");
  CHECK(r.exit_code == 2);
  CHECK(r.output == "tv3s eval: unknown --precision 'fp8' (fp32, fp16 or bf16) (see tv3s eval --help)\n");
  CHECK(run_tv3s("eval --help").exit_code == 0);
}

TEST_CASE("cli eval: saved VSPW predictions, every number computed by hand") {
  const test::TempDir tmp;
  const std::string root = tmp.file("vspw"), pred = tmp.file("pred"), json = tmp.file("r.json");
  write_vspw_case(root, pred);
  const auto r = run_tv3s("eval --data '" + root + "' --pred '" + pred + "' --json '" + json + "'", false);
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  // Valid pixels per frame of a: (g, p) = (0,0) (1,1) (2,1); of b: (0,0) ×4.
  //   I = [17 + 8, 17, 0] = [25, 17, 0]   P = [25, 34, 0]   G = [25, 17, 17]   U = [25, 34, 17]
  //   IoU = [1, 1/2, 0] → mIoU 50;  Acc = [1, 1, 0] → mAcc 66.67;  aAcc = 42/59
  //   fwIoU = 25/59·1 + 17/59·1/2 + 17/59·0 = 33.5/59
  // mVC (only video a, 17 frames; b has 2 and is skipped): all 4 GT pixels are constant
  // (255 included); the prediction at the last pixel changes at frame 10.
  //   n = 8: windows i = 0..8 (frames i..i+7); those holding frame 10 (i = 3..8) score 3/4,
  //          i = 0..2 score 1 → (3 + 6·3/4) / 9 = 5/6
  //   n = 16: the one window (frames 0..15) holds frame 10 → 3/4
  const nlohmann::json j = read_json(json);
  check_near(j["mIoU"], 50.0, "mIoU");
  check_near(j["mAcc"], 200.0 / 3, "mAcc");
  check_near(j["aAcc"], 4200.0 / 59, "aAcc");
  check_near(j["fwIoU"], 3350.0 / 59, "fwIoU");
  check_near(j["mVC8"], 500.0 / 6, "mVC8");
  check_near(j["mVC16"], 75.0, "mVC16");
  CHECK(j["frames"] == 19);
  CHECK(j["videos"] == 2);
  CHECK(j["protocol"] == "pred");
  CHECK(j["fps"].is_null());
  CHECK(j["vc"]["windows8"] == 9);
  CHECK(j["vc"]["windows16"] == 1);
  REQUIRE(j["per_class"].size() == 3);
  CHECK(j["per_class"][1]["name"] == "road");
  check_near(j["per_class"][1]["IoU"], 50.0, "road IoU");
  check_near(j["per_class"][2]["Acc"], 0.0, "car Acc");
  // The table: names and rounded numbers.
  CHECK(r.output.find("road      50.00  100.00\n") != std::string::npos);
  CHECK(r.output.find("mVC8      83.33\n") != std::string::npos);

  // Only video b: too short for mVC → n/a in the table, null in the JSON.
  const auto b = run_tv3s("eval --data '" + root + "' --pred '" + pred + "' --videos b --json '" + json + "'", false);
  REQUIRE(b.exit_code == 0);
  CHECK(b.output.find("mVC16       n/a\n") != std::string::npos);
  CHECK(b.output.find("no video is long enough") != std::string::npos);
  const nlohmann::json jb = read_json(json);
  CHECK(jb["mVC8"].is_null());
  check_near(jb["mIoU"], 100.0, "mIoU of b");  // sky 8/8; road and car NaN (absent, never predicted)
  CHECK(jb["per_class"][1]["IoU"].is_null());
}

TEST_CASE("cli eval: saved Cityscapes predictions, computed by hand; mVC not defined") {
  const test::TempDir tmp;
  const std::string root = tmp.file("cs"), pred = tmp.file("pred"), json = tmp.file("r.json");
  // aachen_000000_000019: GT [0 1 / 255 18], prediction [0 1 / 5 17]
  // bonn_000001_000019:   GT [0 0 / 1 1],    prediction [0 0 / 1 0]
  test::write_labels(root + "/gtFine/val/aachen/aachen_000000_000019_gtFine_labelTrainIds.png", 2, 2, {0, 1, 255, 18});
  test::write_labels(root + "/gtFine/val/bonn/bonn_000001_000019_gtFine_labelTrainIds.png", 2, 2, {0, 0, 1, 1});
  test::write_labels(pred + "/aachen/aachen_000000_000019_leftImg8bit.png", 2, 2, {0, 1, 5, 17});
  test::write_labels(pred + "/bonn/bonn_000001_000019_leftImg8bit.png", 2, 2, {0, 0, 1, 0});
  const auto r = run_tv3s("eval --data '" + root + "' --pred '" + pred + "' --json '" + json + "'", false);
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  // Valid pairs: (0,0) (1,1) (18,17) | (0,0) (0,0) (1,1) (1,0)
  //   I_0 = 3, I_1 = 2;  P_0 = 4, P_1 = 2, P_17 = 1;  G_0 = 3, G_1 = 3, G_18 = 1
  //   IoU_0 = 3/4, IoU_1 = 2/3, IoU_17 = 0, IoU_18 = 0, the other 15 NaN
  //   mIoU = (3/4 + 2/3) / 4 = 17/48;  aAcc = 5/7;  mAcc = (1 + 2/3 + 0) / 3 = 5/9
  //   fwIoU = 3/7·3/4 + 3/7·2/3 + 1/7·0 = 17/28
  const nlohmann::json j = read_json(json);
  CHECK(j["dataset"] == "Cityscapes");
  check_near(j["mIoU"], 1700.0 / 48, "mIoU");
  check_near(j["aAcc"], 500.0 / 7, "aAcc");
  check_near(j["mAcc"], 500.0 / 9, "mAcc");
  check_near(j["fwIoU"], 1700.0 / 28, "fwIoU");
  CHECK(j["mVC8"].is_null());
  CHECK(j["mVC16"].is_null());
  CHECK(j["per_class"].size() == 19);
  CHECK(j["per_class"][18]["name"] == "bicycle");
  CHECK(j["per_class"][2]["IoU"].is_null());
  CHECK(r.output.find("mVC is not defined on Cityscapes") != std::string::npos);
}

TEST_CASE("cli eval: the committed fixture agrees with tools/eval_reference.py (NumPy)") {
  const test::TempDir tmp;
  const std::string data = kSource + "/tests/data/eval/";
  const auto r = run_tv3s("eval --data '" + data + "vspw_small' --pred '" + data + "vspw_small_pred' --json '" +
                          tmp.file("r.json") + "'", false);
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  const nlohmann::json got = read_json(tmp.file("r.json"));
  const nlohmann::json ref = read_json(data + "vspw_small_expected.json");
  for (const char* key : {"mIoU", "aAcc", "mAcc", "fwIoU", "mVC8", "mVC16"})
    check_near(got[key], 100.0 * ref[key].get<double>(), key);
  CHECK(got["vc"]["windows8"] == ref["windows8"]);
  CHECK(got["vc"]["windows16"] == ref["windows16"]);
  REQUIRE(got["per_class"].size() == ref["IoU"].size());
  for (size_t c = 0; c < ref["IoU"].size(); ++c) {
    check_near(got["per_class"][c]["IoU"], 100.0 * ref["IoU"][c].get<double>(), "IoU");
    if (ref["Acc"][c].is_null()) CHECK(got["per_class"][c]["Acc"].is_null());
    else check_near(got["per_class"][c]["Acc"], 100.0 * ref["Acc"][c].get<double>(), "Acc");
  }
}

TEST_CASE("cli eval: bad inputs exit 1 with one exact line; no JSON is left behind") {
  const test::TempDir tmp;
  const std::string root = tmp.file("vspw"), pred = tmp.file("pred"), json = tmp.file("r.json");
  write_vspw_case(root, pred);
  const std::string base = "eval --data '" + root + "' --pred '" + pred + "' --json '" + json + "'";

  auto r = run_tv3s("eval --data '" + tmp.file("none") + "' --pred '" + pred + "'");
  CHECK(r.exit_code == 1);
  CHECK(r.output == "tv3s eval: " + tmp.file("none") + ": no such dataset folder\n");

  r = run_tv3s("eval --data '" + root + "' --pred '" + pred + "' --json '" + tmp.file("no/dir/r.json") + "'");
  CHECK(r.exit_code == 1);
  CHECK(r.output == "tv3s eval: " + tmp.file("no/dir/r.json") + ": cannot write the JSON report there (no folder " +
                        tmp.file("no/dir") + ")\n");

  r = run_tv3s("eval --data '" + root + "' --pred '" + pred + "' --split test");
  CHECK(r.exit_code == 1);
  CHECK(r.output == "tv3s eval: " + root + "/test.txt: the VSPW test split has no public masks, so it cannot be "
                    "scored (with a model, --save-pred DIR writes its predictions only)\n");

  // A prediction of the wrong size.
  test::write_labels(pred + "/a/" + test::frame_stem(3) + ".png", 1, 2, {0, 0});
  r = run_tv3s(base);
  CHECK(r.exit_code == 1);
  CHECK(r.output == "tv3s eval: " + pred + "/a/00000015.png: prediction is 2×1, its ground truth " + root +
                        "/data/a/mask/00000015.png is 2×2\n");
  CHECK(!std::filesystem::exists(json));

  // A missing prediction (found before anything is scored).
  std::filesystem::remove(pred + "/a/00000015.png");
  r = run_tv3s(base);
  CHECK(r.exit_code == 1);
  CHECK(r.output == "tv3s eval: " + pred + "/a/00000015.png: missing prediction for frame '00000015' of video 'a'\n");

  // A mask that is not a PNG.
  test::write_labels(pred + "/a/00000015.png", 2, 2, {0, 0, 0, 0});
  test::write_text(root + "/data/b/mask/00000005.png", "\xFF\xD8\xFF\xE0 a JPEG");
  r = run_tv3s(base);
  CHECK(r.exit_code == 1);
  CHECK(r.output == "tv3s eval: " + root + "/data/b/mask/00000005.png: is a JPEG; a label map must be a PNG "
                    "(JPEG would alter the labels)\n");
  CHECK(!std::filesystem::exists(json));
}

TEST_CASE("cli eval: the tiny TV3S model on VSPW; --save-pred then --pred gives the same numbers") {
  const test::TempDir tmp;
  const std::string model = tmp.file("tiny.safetensors"), root = tmp.file("vspw");
  REQUIRE(run_tv3s("convert '" + kSource + "/tests/data/tv3s/tiny_official.pth' '" + model + "'").exit_code == 0);
  // Video "long": 17 frames (the 12 fixture frames, then 0..4 again), 90×130, masks with
  // horizontal bands of raw 0..5 (K = 5: raw 1..5 are the classes, 0 is ignored).
  // Video "one": a single frame (the official protocol resizes 90×130 to 480×704, about
  // a second per frame on a busy CI core, so it runs on this one only).
  test::write_text(root + "/val.txt", "long\none\n");
  test::Labels mask(90 * 130);
  for (size_t i = 0; i < mask.size(); ++i) mask[i] = uint8_t(i / 130 / 15);
  auto add_frame = [&](const std::string& video, int t, int source) {
    char name[32];
    std::snprintf(name, sizeof name, "%03d.png", source);
    std::filesystem::create_directories(root + "/data/" + video + "/origin");
    std::filesystem::copy_file(kSource + "/tests/data/tv3s/tiny_frames/" + name,
                               root + "/data/" + video + "/origin/" + test::frame_stem(t) + ".png");
    test::write_labels(root + "/data/" + video + "/mask/" + test::frame_stem(t) + ".png", 90, 130, mask);
  };
  for (int t = 0; t < 17; ++t) add_frame("long", t, t % 12);
  add_frame("one", 0, 5);

  // K: without classes.json the VSPW table (124 classes) does not fit a 5-class model.
  auto r = run_tv3s("eval '" + model + "' --data '" + root + "' --threads 1");
  CHECK(r.exit_code == 1);
  CHECK(r.output == "tv3s eval: " + model + ": the model predicts 5 classes, the VSPW class table has 124\n");
  test::write_classes(root, {"a", "b", "c", "d", "e", "f"});
  r = run_tv3s("eval '" + model + "' --data '" + root + "' --threads 1");
  CHECK(r.output == "tv3s eval: " + model + ": the model predicts 5 classes, " + root + "/classes.json has 6\n");
  test::write_classes(root, {"a", "b", "c", "d", "e"});

  // Scores the saved predictions and compares with the direct run's JSON object.
  auto check_saved = [&](const std::string& saved, const nlohmann::json& direct, const std::string& videos) {
    const auto p = run_tv3s("eval --data '" + root + "' --pred '" + saved + "' --videos " + videos + " --json '" +
                            tmp.file("saved.json") + "'", false);
    REQUIRE(p.exit_code == 0);
    const nlohmann::json again = read_json(tmp.file("saved.json"));
    for (const char* key : {"mIoU", "mVC8", "mVC16", "aAcc", "mAcc", "fwIoU", "per_class", "frames"}) {
      INFO(key);
      CHECK(again[key] == direct[key]);
    }
  };

  // Streaming (the default) over the long video: metrics, mVC windows, FPS.
  r = run_tv3s("eval '" + model + "' --data '" + root + "' --videos long --threads 1 --quiet --save-pred '" +
                   tmp.file("stream") + "' --json '" + tmp.file("stream.json") + "'");
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  const nlohmann::json stream = read_json(tmp.file("stream.json"));
  CHECK(stream["protocol"] == "stream");
  CHECK(stream["mode"] == "stream");
  CHECK(stream["resize"] == "none");
  CHECK(stream["frames"] == 17);
  CHECK(stream["fps"].get<double>() > 0);
  CHECK(stream["mIoU"].is_number());
  CHECK(stream["mVC8"].is_number());
  CHECK(stream["vc"]["windows8"] == 9);
  CHECK(std::filesystem::is_regular_file(tmp.file("stream") + "/long/00000080.png"));
  check_saved(tmp.file("stream"), stream, "long");

  // The same in fp16 (emulated on the CPU): the tiny random model's scores barely move.
  r = run_tv3s("eval '" + model + "' --data '" + root + "' --videos long --threads 1 --quiet --precision fp16 --json '" +
               tmp.file("fp16.json") + "'");
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  const nlohmann::json fp16 = read_json(tmp.file("fp16.json"));
  CHECK(std::abs(fp16["mIoU"].get<double>() - stream["mIoU"].get<double>()) < 1.0);
  CHECK(std::abs(fp16["aAcc"].get<double>() - stream["aAcc"].get<double>()) < 1.0);

  // The test split has no masks: predictions only, and no JSON to write.
  test::write_text(root + "/test.txt", "one\n");
  r = run_tv3s("eval '" + model + "' --data '" + root + "' --split test --threads 1 --json '" + tmp.file("t.json") +
               "' --save-pred '" + tmp.file("test") + "'");
  CHECK(r.exit_code == 1);
  CHECK(r.output == "tv3s eval: " + tmp.file("t.json") +
                        ": the test split has no masks, so there are no metrics to write (--save-pred only)\n");
  r = run_tv3s("eval '" + model + "' --data '" + root + "' --split test --threads 1 --save-pred '" + tmp.file("test") + "'");
  CHECK(r.exit_code == 0);
  CHECK(r.output == "tv3s eval: 1 frames of 1 videos predicted into " + tmp.file("test") +
                        " (the test split has no masks: no metrics)\n");
  CHECK(std::filesystem::is_regular_file(tmp.file("test") + "/one/00000000.png"));

  // Both protocols side by side on the one-frame video.
  r = run_tv3s("eval '" + model + "' --data '" + root + "' --videos one --protocol both --threads 1 --save-pred '" +
                   tmp.file("both") + "' --json '" + tmp.file("both.json") + "'");
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK(r.output.find("official          stream") != std::string::npos);
  const nlohmann::json both = read_json(tmp.file("both.json"));
  CHECK(both["official"]["mode"] == "clip");
  CHECK(both["official"]["resize"] == "vspw");
  CHECK(both["stream"]["mode"] == "stream");
  CHECK(both["frames"] == 1);
  check_saved(tmp.file("both") + "/official", both["official"], "one");
  check_saved(tmp.file("both") + "/stream", both["stream"], "one");
}

TEST_CASE("cli eval: a per-frame SegFormer runs in frame mode and predicts what `tv3s segment` does") {
  const test::TempDir tmp;
  const std::string model = tmp.file("b0.safetensors"), root = tmp.file("vspw");
  REQUIRE(run_tv3s("convert '" + kSource + "/tests/data/segformer/b0_official.pth' '" + model + "'").exit_code == 0);
  const std::string image = kSource + "/tests/data/segformer/b0_64x96.png";
  test::write_text(root + "/val.txt", "v\n");
  test::write_classes(root, {"c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7"});
  std::filesystem::create_directories(root + "/data/v/origin");
  std::filesystem::copy_file(image, root + "/data/v/origin/00000000.png");
  test::Labels mask(64 * 96);
  for (size_t i = 0; i < mask.size(); ++i) mask[i] = uint8_t(i % 9);
  test::write_labels(root + "/data/v/mask/00000000.png", 64, 96, mask);
  auto r = run_tv3s("eval '" + model + "' --data '" + root + "' --threads 1 --save-pred '" + tmp.file("saved") +
                    "' --json '" + tmp.file("r.json") + "'");
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  const nlohmann::json j = read_json(tmp.file("r.json"));
  CHECK(j["mode"] == "frame");
  CHECK(j["resize"] == "none");
  r = run_tv3s("segment '" + model + "' '" + image + "' --threads 1 --quiet -o '" + tmp.file("seg") + "'");
  REQUIRE(r.exit_code == 0);
  CHECK(io::read_label_png(tmp.file("saved") + "/v/00000000.png").values ==
        io::read_label_png(tmp.file("seg") + "/b0_64x96.png").values);
}

TEST_CASE("cli eval: the tiny TV3S model on Cityscapes streams frames n-9..n and scores n") {
  const test::TempDir tmp;
  const std::string model = tmp.file("tiny.safetensors"), root = tmp.file("cs");
  REQUIRE(run_tv3s("convert '" + kSource + "/tests/data/tv3s/tiny_official.pth' '" + model + "'").exit_code == 0);
  // Annotated frame lindau_000000_000019 = fixture frame 9; its neighbours 000010..000018 =
  // fixture frames 0..8, in leftImg8bit_sequence only.
  const std::string frames = kSource + "/tests/data/tv3s/tiny_frames/";
  test::write_classes(root, {"a", "b", "c", "d", "e"});
  test::Labels gt(90 * 130);
  for (size_t i = 0; i < gt.size(); ++i) gt[i] = uint8_t(i % 130 / 26);
  test::write_labels(root + "/gtFine/val/lindau/lindau_000000_000019_gtFine_labelTrainIds.png", 90, 130, gt);
  std::filesystem::create_directories(root + "/leftImg8bit/val/lindau");
  std::filesystem::create_directories(root + "/leftImg8bit_sequence/val/lindau");
  std::filesystem::copy_file(frames + "009.png", root + "/leftImg8bit/val/lindau/lindau_000000_000019_leftImg8bit.png");
  for (int k = 0; k < 9; ++k)
    std::filesystem::copy_file(frames + "00" + std::to_string(k) + ".png", root + "/leftImg8bit_sequence/val/lindau/lindau_000000_0000" +
                                   std::to_string(10 + k) + "_leftImg8bit.png");
  auto r = run_tv3s("eval '" + model + "' --data '" + root + "' --threads 1 --save-pred '" + tmp.file("saved") +
                        "' --json '" + tmp.file("r.json") + "'");
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  const nlohmann::json j = read_json(tmp.file("r.json"));
  CHECK(j["dataset"] == "Cityscapes");
  CHECK(j["frames"] == 1);
  CHECK(j["mVC8"].is_null());

  // The same prediction as `tv3s segment --mode stream` over fixture frames 0..9.
  const std::string video = tmp.file("video");
  std::filesystem::create_directories(video);
  for (int k = 0; k < 10; ++k) std::filesystem::copy_file(frames + "00" + std::to_string(k) + ".png", video + "/00" + std::to_string(k) + ".png");
  r = run_tv3s("segment '" + model + "' '" + video + "' --mode stream --threads 1 --quiet -o '" + tmp.file("seg") + "'");
  REQUIRE(r.exit_code == 0);
  CHECK(io::read_label_png(tmp.file("saved") + "/lindau/lindau_000000_000019_leftImg8bit.png").values ==
        io::read_label_png(tmp.file("seg") + "/009.png").values);
}
