// The training loop (src/train/trainer.cpp) end to end on a tiny synthetic set (3 + 1
// videos of 12 frames at 64×64, TV3S MiT-B0 with E = 16 and window 4):
//  - resume is exact: 4 iterations in one run equal 2, a resume and 2 more, bit for bit
//    (the model files and the logged losses are compared as bytes / exact doubles);
//  - the run folder holds config.json, log.jsonl (iter, loss, lr on every iteration; a
//    validation line), checkpoint.safetensors, plot.png and a model that `tv3s segment`
//    loads;
//  - a diverging run (lr 1e30) stops with exit code 3 and a message, before the update,
//    leaving the last checkpoint as it was;
//  - a damaged checkpoint, a resume with another configuration, an unknown config key and
//    a missing --out are refused with their messages.
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "src/data/synth.h"
#include "src/train/checkpoint.h"
#include "src/train/trainer.h"
#include "tests/io/io_test_util.h"
#include "tests/test_util.h"

using namespace tv3s;
using namespace tv3s::train;
namespace fs = std::filesystem;

namespace {

std::string tiny_dataset(const test::TempDir& dir) {
  data::SynthOptions o;
  o.train_videos = 3, o.val_videos = 1, o.test_videos = 0, o.frames = 12;
  o.width = 64, o.height = 64, o.seed = 5, o.png_frames = true;
  const std::string root = dir.path() + "/synth";
  data::generate_synth_dataset(root, o);
  return root;
}

TrainConfig tiny_config(const std::string& root) {
  TrainConfig c;
  apply_config_json(c, R"({
    "model": {"type": "tv3s", "backbone": "mit_b0", "embed_dim": 16, "window": 4, "shift": 2},
    "augment": {"crop": [64, 64], "scale": [64, 64], "ratio_range": [0.8, 1.25]},
    "optimizer": {"lr": 1e-3}, "schedule": {"warmup_iters": 2},
    "iters": 4, "batch_size": 2, "seed": 3, "checkpoint_every": 2, "val_every": 0})", "test config");
  c.data_root = root;
  return c;
}

std::vector<double> logged_losses(const std::string& dir) {
  std::vector<double> losses;
  std::ifstream in(dir + "/log.jsonl");
  for (std::string line; std::getline(in, line);) {
    const nlohmann::json j = nlohmann::json::parse(line);
    if (j.contains("loss")) losses.push_back(j["loss"].get<double>());
  }
  return losses;
}

// A whole run from scratch into `out`; its logged losses.
std::vector<double> train_losses(const TrainConfig& c, const std::string& out) {
  REQUIRE(run_training(TrainRun{c, out, false, true, 0}) == 0);
  return logged_losses(out);
}

}  // namespace

TEST_CASE("trainer: N iterations equal N/2 + resume + N/2, bit for bit") {
  test::TempDir dir;
  const std::string root = tiny_dataset(dir);
  TrainRun whole{tiny_config(root), dir.path() + "/whole", false, true, 0};
  REQUIRE(run_training(whole) == 0);

  TrainRun first_half{tiny_config(root), dir.path() + "/halves", false, true, 2};
  REQUIRE(run_training(first_half) == 0);
  CHECK(load_checkpoint(dir.path() + "/halves/checkpoint.safetensors").iteration == 2);
  CHECK_FALSE(fs::exists(dir.path() + "/halves/model.safetensors"));
  TrainRun second_half{tiny_config(root), dir.path() + "/halves", true, true, 0};
  REQUIRE(run_training(second_half) == 0);

  CHECK(test::read_bytes(dir.path() + "/whole/model.safetensors") ==
        test::read_bytes(dir.path() + "/halves/model.safetensors"));
  CHECK(test::read_bytes(dir.path() + "/whole/checkpoint.safetensors") ==
        test::read_bytes(dir.path() + "/halves/checkpoint.safetensors"));
  const std::vector<double> a = logged_losses(dir.path() + "/whole"), b = logged_losses(dir.path() + "/halves");
  REQUIRE(a.size() == 4);
  CHECK(a == b);

  // What the run folder holds.
  for (const char* file : {"config.json", "log.jsonl", "checkpoint.safetensors", "plot.png", "model.safetensors"})
    CHECK(fs::exists(dir.path() + "/whole/" + file));
  std::ifstream log(dir.path() + "/whole/log.jsonl");
  std::string line;
  std::getline(log, line);
  const nlohmann::json first = nlohmann::json::parse(line);
  CHECK(first["iter"] == 1);
  CHECK(first.contains("loss"));
  CHECK(first.contains("lr"));
  bool validated = false;
  while (std::getline(log, line)) validated |= nlohmann::json::parse(line).contains("val");
  CHECK(validated);
  const test::CommandResult seg = test::run_tv3s("segment '" + dir.path() + "/whole/model.safetensors' '" + root +
                                                 "/data/003_synth/origin' -o '" + dir.path() + "/pred' --quiet");
  INFO(seg.output);
  CHECK(seg.exit_code == 0);
}

TEST_CASE("trainer: divergence stops before the update and keeps the checkpoint") {
  test::TempDir dir;
  const std::string root = tiny_dataset(dir);
  TrainConfig c = tiny_config(root);
  c.optimizer.lr = 1e30, c.warmup_iters = 0, c.checkpoint_every = 1, c.iters = 6;
  c.val_split = "";
  const std::string out = dir.path() + "/run";
  CHECK(run_training(TrainRun{c, out, false, true, 0}) == kDiverged);
  const TrainCheckpoint last = load_checkpoint(out + "/checkpoint.safetensors");
  CHECK(last.iteration >= 1);
  CHECK(last.iteration < 6);
  CHECK_FALSE(fs::exists(out + "/model.safetensors"));
  std::ifstream log(out + "/log.jsonl");
  std::string line, final_line;
  while (std::getline(log, line)) final_line = line;
  CHECK(final_line.find("\"diverged\":true") != std::string::npos);
}

TEST_CASE("trainer: bad checkpoints, configurations and command lines are refused") {
  test::TempDir dir;
  const std::string root = tiny_dataset(dir);
  TrainConfig c = tiny_config(root);
  c.val_split = "";
  const std::string out = dir.path() + "/run";
  REQUIRE(run_training(TrainRun{c, out, false, true, 2}) == 0);

  TrainConfig other = c;
  other.seed = 99;
  CHECK(test::error_message([&] { run_training(TrainRun{other, out, true, true, 0}); })
            .find("another configuration") != std::string::npos);

  {  // A log line of the wrong shape: the log is damaged, said in one line naming it.
    const std::string log = out + "/log.jsonl", good_log = test::read_bytes(log);
    test::write_bytes(log, R"({"iter": 1e300, "loss": 1})" "\n" + good_log);
    CHECK(test::error_message([&] { run_training(TrainRun{c, out, true, true, 0}); }) ==
          log + ": line 1: 'iter' must be an integer in [0, 9223372036854775807], got 1e+300");
    test::write_bytes(log, R"({"iter": 1, "loss": "x"})" "\n" + good_log);
    CHECK(test::error_message([&] { run_training(TrainRun{c, out, true, true, 0}); }) ==
          log + ": line 1: 'loss' must be a number, got \"x\"");
    test::write_bytes(log, good_log);
  }
  const std::string ckpt = out + "/checkpoint.safetensors";
  std::string bytes = test::read_bytes(ckpt);
  bytes[bytes.size() / 2] = char(bytes[bytes.size() / 2] ^ 0x40);
  std::ofstream(ckpt, std::ios::binary | std::ios::trunc) << bytes;
  const std::string damaged = test::error_message([&] { run_training(TrainRun{c, out, true, true, 0}); });
  CHECK(damaged.find(ckpt) != std::string::npos);
  CHECK(damaged.find("damaged") != std::string::npos);

  TrainConfig typo;
  CHECK(test::error_message([&] { apply_config_json(typo, R"({"itres": 5})", "x.json"); }) ==
        "x.json: unknown key 'itres'");
  CHECK(test::error_message([&] { apply_config_json(typo, R"({"model": {"type": "mamba"}})", "x.json"); })
            .find("'model.type' must be") != std::string::npos);
  // A number beyond double range is the project's error naming the file, not the JSON
  // library's exception (issue 18's finding).
  const std::string overflow =
      test::error_message([&] { apply_config_json(typo, R"({"iters": 1e999})", "x.json"); });
  CHECK(overflow.rfind("x.json: not valid JSON (", 0) == 0);
  CHECK(overflow.find("1e999") != std::string::npos);
  // Integers are range-checked for the field they fill (a double beyond int64 is never
  // converted), wrong types and deep nesting are one line naming the file and the key.
  const auto config_error = [&](const std::string& text) {
    TrainConfig c;
    return test::error_message([&] { apply_config_json(c, text, "x.json"); });
  };
  CHECK(config_error(R"({"iters": 1e300})") ==
        "x.json: 'iters' must be an integer in [-9223372036854775808, 9223372036854775807], got 1e+300");
  CHECK(config_error(R"({"augment": {"crop": [4294967296, 480]}})") ==
        "x.json: 'augment.crop'[0] must be an integer in [-2147483648, 2147483647], got 4294967296");
  CHECK(config_error(R"({"augment": {"crop": {"h": 480}}})") ==
        "x.json: 'augment.crop' must be a list of 2 entries, got {\"h\":480}");
  CHECK(config_error(R"({"iters": "100"})") ==
        "x.json: 'iters' must be an integer in [-9223372036854775808, 9223372036854775807], got \"100\"");
  CHECK(config_error(R"({"iters": 2.5})").find("'iters' must be an integer") != std::string::npos);
  CHECK(config_error(R"({"iters": -1})") == "x.json: 'iters' must be positive, got -1");
  CHECK(config_error(R"({"optimizer": {"lr": [1]}})") == "x.json: 'optimizer.lr' must be a number, got [1]");
  CHECK(config_error(R"({"device": 0})") == "x.json: 'device' must be a string, got 0");
  CHECK(config_error(R"({"augment": {"enabled": 1}})") == "x.json: 'augment.enabled' must be true or false, got 1");
  CHECK(config_error(R"({"model": []})") == "x.json: 'model' must be a JSON object");
  CHECK(config_error(R"({"seed": -1})") ==
        "x.json: 'seed' must be an integer in [0, 9223372036854775807], got -1");
  CHECK(config_error(R"({"x": )" + std::string(80, '[') + std::string(80, ']') + "}") ==
        "x.json: JSON nested deeper than 64 levels");
  CHECK(config_error("{\"device\": \"cpu\xff\"}").rfind("x.json: not valid JSON (", 0) == 0);  // bad UTF-8
  {
    TrainConfig c;
    apply_config_json(c, R"({"iters": 1e5, "seed": 18446744073709551615})", "x.json");
    CHECK(c.iters == 100000);  // a number without a fraction is an integer
    CHECK(c.seed == UINT64_MAX);
  }
  {
    std::ofstream(dir.path() + "/huge.json") << R"({"iters": 1e999})";
    const test::CommandResult huge = test::run_tv3s("train '" + dir.path() + "/huge.json' --out '" + dir.path() + "/h'");
    CHECK(huge.exit_code == 1);
    CHECK(huge.output.find(dir.path() + "/huge.json: not valid JSON") != std::string::npos);
    CHECK(huge.output.find("unexpected error") == std::string::npos);
  }
  const test::CommandResult no_out = test::run_tv3s("train --data '" + root + "'");
  CHECK(no_out.exit_code == 2);
  CHECK(no_out.output.find("needs --out DIR") != std::string::npos);
  const test::CommandResult bad_crop = test::run_tv3s("train --out '" + dir.path() + "/x' --crop 96x");
  CHECK(bad_crop.exit_code == 2);
  CHECK(bad_crop.output.find("--crop needs HxW with both in [32, 8192], got '96x'") != std::string::npos);
  const test::CommandResult no_data = test::run_tv3s("train --out '" + dir.path() + "/x' --data '" + dir.path() + "/nothing'");
  CHECK(no_data.exit_code == 1);
  CHECK(no_data.output.find(dir.path() + "/nothing") != std::string::npos);
}

namespace {

std::vector<nlohmann::json> log_lines(const std::string& dir) {
  std::vector<nlohmann::json> lines;
  std::ifstream in(dir + "/log.jsonl");
  for (std::string line; std::getline(in, line);) lines.push_back(nlohmann::json::parse(line));
  return lines;
}

}  // namespace

TEST_CASE("trainer: fp16 — overflowing steps are skipped and halve the loss scale; resume restores it") {
  // An initial scale of 2^20 overflows f16 gradients for certain: the first steps are
  // skipped, the scale halves each time until the gradients fit, then training steps.
  test::TempDir dir;
  const std::string root = tiny_dataset(dir);
  TrainConfig c = tiny_config(root);
  c.precision = "fp16", c.loss_scale = std::ldexp(1.0, 20), c.iters = 12, c.checkpoint_every = 6;
  c.val_split = "";
  REQUIRE(run_training(TrainRun{c, dir.path() + "/whole", false, true, 0}) == 0);
  const std::vector<nlohmann::json> lines = log_lines(dir.path() + "/whole");
  REQUIRE(lines.size() == 12);
  CHECK(lines[0]["loss_scale"] == std::ldexp(1.0, 20));
  CHECK(lines[0].value("skipped", false));
  int64_t skipped = 0;
  for (size_t i = 0; i < lines.size(); ++i) {
    const bool skip = lines[i].value("skipped", false);
    skipped += skip;
    if (i + 1 < lines.size())
      CHECK(lines[i + 1]["loss_scale"].get<double>() == lines[i]["loss_scale"].get<double>() * (skip ? 0.5 : 1.0));
  }
  CHECK(skipped >= 1);
  CHECK(!lines.back().value("skipped", false));  // the scale came down into f16's range
  CHECK(lines.back()["loss"].get<double>() < lines.front()["loss"].get<double>());

  REQUIRE(run_training(TrainRun{c, dir.path() + "/halves", false, true, 6}) == 0);
  REQUIRE(run_training(TrainRun{c, dir.path() + "/halves", true, true, 0}) == 0);
  CHECK(test::read_bytes(dir.path() + "/whole/checkpoint.safetensors") ==
        test::read_bytes(dir.path() + "/halves/checkpoint.safetensors"));
}

TEST_CASE("trainer: bf16 tracks fp32 on the same data and draws") {
  test::TempDir dir;
  const std::string root = tiny_dataset(dir);
  TrainConfig c = tiny_config(root);
  c.val_split = "";
  const std::vector<double> a = train_losses(c, dir.path() + "/fp32");
  c.precision = "bf16";
  const std::vector<double> b = train_losses(c, dir.path() + "/bf16");
  REQUIRE(a.size() == 4);
  REQUIRE(b.size() == 4);
  for (size_t i = 0; i < a.size(); ++i) {
    INFO("iteration " << i + 1 << ": fp32 " << a[i] << ", bf16 " << b[i]);
    CHECK(a[i] != b[i]);                            // the products really ran in bf16
    CHECK(std::fabs(a[i] - b[i]) < 0.02 * a[i]);    // bf16 keeps 8 significant bits
  }
  CHECK(log_lines(dir.path() + "/bf16")[0].count("loss_scale") == 0);  // bf16 needs no scaling
}

TV3S_CUDA_TEST_CASE("trainer: on CUDA, bf16 and fp16 track fp32, and fp32 tracks the CPU run") {
  test::TempDir dir;
  const std::string root = tiny_dataset(dir);
  TrainConfig c = tiny_config(root);
  c.val_split = "";
  const std::vector<double> cpu = train_losses(c, dir.path() + "/cpu");
  c.device = "cuda";
  const std::vector<double> fp32 = train_losses(c, dir.path() + "/fp32");
  c.precision = "bf16";
  const std::vector<double> bf16 = train_losses(c, dir.path() + "/bf16");
  c.precision = "fp16";
  const std::vector<double> fp16 = train_losses(c, dir.path() + "/fp16");
  REQUIRE(cpu.size() == 4);
  REQUIRE(fp32.size() == 4);
  REQUIRE(bf16.size() == 4);
  REQUIRE(fp16.size() == 4);
  for (size_t i = 0; i < 4; ++i) {
    INFO("iteration " << i + 1 << ": cpu " << cpu[i] << ", cuda fp32 " << fp32[i] << ", bf16 " << bf16[i] << ", fp16 "
                      << fp16[i]);
    CHECK(std::fabs(fp32[i] - cpu[i]) < 1e-3 * cpu[i]);  // same draws; only summation order differs
    CHECK(std::fabs(bf16[i] - fp32[i]) < 0.02 * fp32[i]);
    CHECK(std::fabs(fp16[i] - fp32[i]) < 0.01 * fp32[i]);  // f16 keeps 11 significant bits
  }
}
