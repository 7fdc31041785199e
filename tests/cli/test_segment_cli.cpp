// `tv3s segment` and `tv3s bench model` from the outside: usage errors exit 2 with one
// line, bad inputs exit 1 naming the file, and a failed input leaves no output behind.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "tests/test_util.h"

using tv3s::test::run_tv3s;

namespace {
const std::string kModelSource = std::string(TV3S_SOURCE_DIR) + "/tests/data/segformer/b0_official.pth";
const std::string kImage = std::string(TV3S_SOURCE_DIR) + "/tests/data/segformer/b0_67x101.png";

int lines(const std::string& s) { return int(std::count(s.begin(), s.end(), '\n')); }
}  // namespace

TEST_CASE("cli segment: usage errors are one line with exit code 2") {
  for (const char* args : {"segment", "segment model.safetensors", "segment m x.png --mode clips -o d",
                           "segment m x.png",
                           "segment m x.png -o d --device tpu", "segment m x.png -o d --threads 0",
                           "segment m x.png -o d --bogus", "bench model --size 10x10",
                           "bench model --arch"}) {
    const auto r = run_tv3s(args);
    INFO("tv3s ", args, " → ", r.output);
    CHECK(r.exit_code == 2);
    CHECK(lines(r.output) == 1);
  }
  const auto clips = run_tv3s("segment m x.png --mode clips -o d");
  CHECK(clips.output.find("stream, clip or frame") != std::string::npos);
}

TEST_CASE("cli segment: bad model and image files exit 1 naming the file; nothing half-written") {
  namespace fs = std::filesystem;
  const tv3s::test::TempDir tmp;
  const std::string dir = tmp.path();
  const std::string model = dir + "/b0.safetensors";
  REQUIRE(run_tv3s("convert '" + kModelSource + "' '" + model + "'").exit_code == 0);

  std::ofstream(dir + "/not_a_model.safetensors") << "hello";
  auto r = run_tv3s("segment '" + dir + "/not_a_model.safetensors' '" + kImage + "' -o '" + dir + "/o1'");
  CHECK(r.exit_code == 1);
  CHECK(r.output.find("not_a_model.safetensors") != std::string::npos);
  CHECK(lines(r.output) == 1);

  std::ofstream(dir + "/broken.png") << "\x89PNG\r\n\x1a\n truncated";
  r = run_tv3s("segment '" + model + "' '" + dir + "/broken.png' -o '" + dir + "/o2' --save-logits '" +
               dir + "/o2'");
  CHECK(r.exit_code == 1);
  CHECK(r.output.find("broken.png") != std::string::npos);
  CHECK(!fs::exists(dir + "/o2/broken.png"));
  CHECK(!fs::exists(dir + "/o2/broken.npy"));

  r = run_tv3s("segment '" + model + "' '" + dir + "/missing.jpg' -o '" + dir + "/o3'");
  CHECK(r.exit_code == 1);
  CHECK(r.output.find("missing.jpg") != std::string::npos);

  // Two inputs with one stem would overwrite each other's outputs.
  fs::create_directories(dir + "/a");
  fs::copy_file(kImage, dir + "/a/b0_67x101.png");
  r = run_tv3s("segment '" + model + "' '" + kImage + "' '" + dir + "/a/b0_67x101.png' -o '" + dir + "/o4'");
  CHECK(r.exit_code == 1);
  CHECK(r.output.find("same name") != std::string::npos);

  // The temporal modes need a TV3S model.
  r = run_tv3s("segment '" + model + "' '" + kImage + "' --mode stream -o '" + dir + "/o6'");
  CHECK(r.exit_code == 1);
  CHECK(r.output.find("needs a TV3S model") != std::string::npos);
  CHECK(lines(r.output) == 1);

  // A folder without frames.
  fs::create_directories(dir + "/empty");
  std::ofstream(dir + "/empty/notes.txt") << "no frames here";
  r = run_tv3s("segment '" + model + "' '" + dir + "/empty' -o '" + dir + "/o7'");
  CHECK(r.exit_code == 1);
  CHECK(r.output.find("no PNG or JPEG frames") != std::string::npos);
  CHECK(!fs::exists(dir + "/o7"));

  // A good run writes one label map per input and nothing else.
  r = run_tv3s("segment '" + model + "' '" + kImage + "' -o '" + dir + "/o5' --quiet");
  CHECK(r.exit_code == 0);
  CHECK(fs::exists(dir + "/o5/b0_67x101.png"));
  CHECK(std::distance(fs::directory_iterator(dir + "/o5"), fs::directory_iterator()) == 1);
}

TEST_CASE("cli bench model: a small run reports latency, FPS and memory as JSON") {
  const auto r = run_tv3s("bench model --arch mit_b0 --size 64x96 --classes 5 --reps 2 --warmup 0 --json", false);
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  const auto j = nlohmann::json::parse(r.output);
  CHECK(j["backbone"] == "mit_b0");
  CHECK(j["median_ms"].get<double>() > 0);
  CHECK(j["fps"].get<double>() > 0);
  CHECK(j["peak_bytes"].get<double>() > 0);
  CHECK(j["parameters"].get<int64_t>() == 3319392 + 256 * (32 + 64 + 160 + 256) + 4 * 256 + 256 * 1024 + 4 * 256 + 5 * 256 + 5);
}

TEST_CASE("cli bench model: TV3S streaming reports the carried state") {
  const auto r = run_tv3s(
      "bench model --arch mit_b0 --mode stream --size 176x176 --classes 5 --reps 2 --warmup 1 --json", false);
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  const auto j = nlohmann::json::parse(r.output);
  CHECK(j["mode"] == "stream");
  CHECK(j["model"] == "tv3s");
  // 176×176 → c1 44×44 → grid 40×40 (window 20): 4·[2·2 + 3·3]·512·(16 + 3)·4 bytes.
  CHECK(j["state_bytes"].get<int64_t>() == 4 * (2 * 2 + 3 * 3) * 512 * (16 + 3) * 4);
}
