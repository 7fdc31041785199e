// `tv3s segment` and `tv3s train` on --device cuda, end to end, against --device cpu:
// the whole CUDA path of the command line (in the emulator build, every kernel of it on
// the CPU; on a GPU machine, the GPU).
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "src/io/image.h"
#include "tests/test_util.h"

using tv3s::test::run_tv3s;

namespace {

const std::string kModel = std::string(TV3S_SOURCE_DIR) + "/weights/tv3s_synth_b0.safetensors";

// Share of pixels with the same label in two folders of label PNGs (same names).
double label_agreement(const std::string& a, const std::string& b, const std::vector<std::string>& names) {
  int64_t same = 0, total = 0;
  for (const std::string& name : names) {
    const tv3s::io::LabelMap x = tv3s::io::read_label_png(a + "/" + name);
    const tv3s::io::LabelMap y = tv3s::io::read_label_png(b + "/" + name);
    REQUIRE(x.values.size() == y.values.size());
    for (size_t i = 0; i < x.values.size(); ++i) same += x.values[i] == y.values[i];
    total += int64_t(x.values.size());
  }
  return double(same) / double(total);
}

std::vector<double> logged_losses(const std::string& run_dir) {
  std::vector<double> losses;
  std::ifstream in(run_dir + "/log.jsonl");
  for (std::string line; std::getline(in, line);) {
    const auto j = nlohmann::json::parse(line);
    if (j.contains("loss")) losses.push_back(j["loss"].get<double>());
  }
  return losses;
}

}  // namespace

TV3S_CUDA_TEST_CASE("cli cuda: segment --device cuda labels a video as --device cpu does") {
  tv3s::test::TempDir dir;
  REQUIRE(run_tv3s("synth --out '" + dir.file("video") + "' --videos 0 --val 1 --test 0 --frames 4 "
                   "--size 64x64 --seed 7 --png --quiet").exit_code == 0);
  const std::string frames = dir.file("video") + "/data/000_synth/origin";
  std::vector<std::string> names;  // the frames' file names, which the outputs keep
  for (const auto& entry : std::filesystem::directory_iterator(frames))
    names.push_back(entry.path().filename().string());
  REQUIRE(names.size() == 4);
  for (const std::string mode : {"stream", "clip"}) {
    CAPTURE(mode);
    for (const char* device : {"cpu", "cuda"}) {
      const auto r = run_tv3s("segment '" + kModel + "' '" + frames + "' --mode " + mode + " --device " +
                              device + " -o '" + dir.file(std::string(mode) + "_" + device) + "' --quiet");
      CAPTURE(r.output);
      REQUIRE(r.exit_code == 0);
    }
    // f32 on both devices, summed in other orders: a pixel whose two best classes are
    // within rounding may flip, nothing more (tolerance: 0.5 % of the pixels).
    CHECK(label_agreement(dir.file(mode + "_cpu"), dir.file(mode + "_cuda"), names) >= 0.995);
  }
}

TV3S_CUDA_TEST_CASE("cli cuda: train --device cuda follows the CPU's losses") {
  tv3s::test::TempDir dir;
  REQUIRE(run_tv3s("synth --out '" + dir.file("data") + "' --videos 2 --val 1 --test 0 --frames 12 "
                   "--size 64x64 --seed 5 --png --quiet").exit_code == 0);
  {
    std::ofstream config(dir.file("config.json"));
    config << R"({
      "model": {"type": "tv3s", "backbone": "mit_b0", "embed_dim": 16, "window": 4, "shift": 2},
      "augment": {"crop": [64, 64], "scale": [64, 64], "ratio_range": [0.8, 1.25]},
      "optimizer": {"lr": 1e-3}, "schedule": {"warmup_iters": 1},
      "iters": 3, "batch_size": 1, "seed": 3, "checkpoint_every": 3, "val_every": 0})";
  }
  for (const char* device : {"cpu", "cuda"}) {
    const auto r = run_tv3s("train '" + dir.file("config.json") + "' --data '" + dir.file("data") +
                            "' --out '" + dir.file(device) + "' --device " + device + " --quiet");
    CAPTURE(r.output);
    REQUIRE(r.exit_code == 0);
  }
  const std::vector<double> cpu = logged_losses(dir.file("cpu")), cuda = logged_losses(dir.file("cuda"));
  REQUIRE(cpu.size() == 3);
  REQUIRE(cuda.size() == 3);
  // Same data, initialisation and dropout masks; f32 sums in other orders drift apart a
  // little with every update (tolerance: 1 % after three steps).
  for (size_t i = 0; i < cpu.size(); ++i) {
    CAPTURE(i);
    CHECK(std::abs(cuda[i] - cpu[i]) <= 0.01 * std::abs(cpu[i]));
  }
}
