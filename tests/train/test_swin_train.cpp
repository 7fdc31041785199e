// Training a Swin TV3S (training-spec §8, model-spec §9): the initialisation rules of the
// official D2SwinTransformer (PyTorch defaults, trunc-normal 0.02 bias tables), the
// ImageNet Swin files as --pretrained (the official swin_*_22k.pth layout, written by
// tools/gen_swin_fixtures.py), the released recipe's configs, and a run of the trainer.
// The backbone's gradients against PyTorch: tests/models/test_swin_parity.cpp.
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "src/data/synth.h"
#include "src/models/parameters.h"
#include "src/models/tv3s_model.h"
#include "src/train/init.h"
#include "src/train/train_config.h"
#include "src/train/trainer.h"
#include "tests/io/io_test_util.h"
#include "tests/test_util.h"

using namespace tv3s;
using test::error_message;

namespace {

ModelConfig swin_t_model() {
  ModelConfig c;
  c.kind = ModelKind::tv3s;
  c.set_backbone("swin_t");
  c.num_classes = 5;
  c.embed_dim = 16;
  c.window = 4, c.shift = 2;
  return c;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

TEST_CASE("initial_weights: Swin keeps PyTorch's defaults; bias tables trunc-normal 0.02") {
  const ModelConfig config = swin_t_model();
  const Weights w = train::initial_weights(config, 3);
  std::vector<std::pair<std::string, Shape>> have;
  for (auto& [name, t] : w.all()) have.emplace_back(name, t.shape());
  CHECK_NOTHROW(check_parameter_set(have, model_parameters(config), "swin_t"));

  double table_sum = 0, table_sq = 0, table_max = 0;
  int64_t table_n = 0;
  for (auto& [name, t] : w.all()) {
    if (name.rfind("backbone.", 0) != 0) continue;
    const std::vector<float> v = t.to_vector();
    INFO(name);
    if (ends_with(name, ".relative_position_bias_table")) {
      for (float x : v) table_sum += x, table_sq += double(x) * x, table_max = std::max(table_max, double(std::fabs(x)));
      table_n += int64_t(v.size());
    } else if (name.find("norm") != std::string::npos) {  // LayerNorms: 1 and 0
      const float want = ends_with(name, ".bias") ? 0.f : 1.f;
      CHECK(std::all_of(v.begin(), v.end(), [&](float x) { return x == want; }));
    } else {
      // Linear/Conv2d weight and bias: U(±1/sqrt(fan_in)) of the layer's weight.
      const std::string weight = ends_with(name, ".bias") ? name.substr(0, name.size() - 4) + "weight" : name;
      const Shape ws = w.get(weight).shape();
      const double bound = 1.0 / std::sqrt(double(ws.numel() / ws[0]));
      float lo = 0, hi = 0;
      for (float x : v) lo = std::min(lo, x), hi = std::max(hi, x);
      CHECK(hi <= bound);
      CHECK(lo >= -bound);
      if (v.size() >= 1000) CHECK(hi - lo >= 1.9 * bound);  // spread over the whole interval
    }
  }
  // 12 tables of 169 × heads: N(0, 0.02²) cut at ±2 (absolute), so effectively untruncated.
  const double mean = table_sum / double(table_n), sd = std::sqrt(table_sq / double(table_n) - mean * mean);
  INFO("tables: n ", table_n, " mean ", mean, " sd ", sd);
  CHECK(std::fabs(mean) <= 6 * 0.02 / std::sqrt(double(table_n)));
  CHECK(std::fabs(sd / 0.02 - 1) <= 0.05);
  CHECK(table_max < 0.2);
}

TEST_CASE("train config: the Swin-T and Swin-S VSPW recipes of the released configs") {
  for (const char* name : {"tv3s_swin_t_vspw", "tv3s_swin_s_vspw"}) {
    INFO(name);
    const std::string path = std::string(TV3S_SOURCE_DIR) + "/configs/" + name + ".json";
    const train::TrainConfig c = train::read_train_config(path);
    CHECK(c.model.is_swin());
    CHECK(c.model.backbone == (std::string(name) == "tv3s_swin_t_vspw" ? "swin_t" : "swin_s"));
    CHECK(c.model.backbone_channels() == std::array<int64_t, 4>{96, 192, 384, 768});
    CHECK(c.optimizer.lr == 1e-5);
    CHECK(c.optimizer.weight_decay == 0.05);
    CHECK(c.stochastic.drop_path == 0.3);
    CHECK(c.batch_size == 2);
    CHECK(c.iters == 160000);
    // The released Swin-T VSPW config names the _city head, whose loss takes only the last
    // frame's SegFormer logits (model-spec §7.4, §9); Swin-S names the plain head.
    CHECK(c.loss == (std::string(name) == "tv3s_swin_t_vspw" ? train::LossKind::cityscapes : train::LossKind::vspw));
  }
  train::TrainConfig c;
  CHECK(error_message([&] {
          train::apply_config_json(c, R"({"model": {"backbone": "swin_xs"}})", "c.json");
        }) == "c.json: 'model.backbone': unknown backbone 'swin_xs' (known: mit_b0 … mit_b5, swin_t, "
              "swin_s, swin_b, swin_l)");
}

TEST_CASE("trainer: a Swin-T TV3S trains a few iterations and its model segments") {
  test::TempDir dir;
  data::SynthOptions o;
  o.train_videos = 2, o.val_videos = 1, o.test_videos = 0, o.frames = 12;
  o.width = 64, o.height = 64, o.seed = 5, o.png_frames = true;
  data::generate_synth_dataset(dir.path() + "/synth", o);
  train::TrainConfig c;
  train::apply_config_json(c, R"({
    "model": {"type": "tv3s", "backbone": "swin_t", "embed_dim": 16, "window": 4, "shift": 2},
    "augment": {"crop": [64, 64], "scale": [64, 64], "ratio_range": [0.8, 1.25]},
    "optimizer": {"lr": 1e-4, "weight_decay": 0.05}, "schedule": {"warmup_iters": 1},
    "iters": 2, "batch_size": 1, "seed": 3, "checkpoint_every": 2, "val_every": 0, "drop_path": 0.3})",
                           "swin config");
  c.data_root = dir.path() + "/synth";
  const std::string out = dir.path() + "/run";
  REQUIRE(train::run_training(train::TrainRun{c, out, false, true, 0}) == 0);
  std::ifstream log(out + "/log.jsonl");
  int losses = 0;
  for (std::string line; std::getline(log, line);) {
    const nlohmann::json j = nlohmann::json::parse(line);
    if (j.contains("loss")) {
      CHECK(std::isfinite(j["loss"].get<double>()));
      ++losses;
    }
  }
  CHECK(losses == 2);
  const std::string model = out + "/model.safetensors";
  REQUIRE(std::filesystem::is_regular_file(model));
  const Tv3s trained = Tv3s::load(model);
  CHECK(trained.config().backbone == "swin_t");
  NoGradGuard no_grad;
  Rng rng(1);
  Tv3sState state;
  const Tensor logits = trained.forward(Tensor::uniform(Shape{1, 64, 64, 3}, rng, -1, 1), 1, &state).logits;
  CHECK(logits.shape() == Shape{1, 16, 16, trained.config().num_classes});
}
