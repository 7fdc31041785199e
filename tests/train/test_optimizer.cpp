// Param-wise rules (training-spec.md §6, every row of its table) and the AdamW optimizer:
// two steps on a tiny problem equal adamw_step_ applied by hand with the rule multipliers
// (bit for bit: the same op), a parameter without a gradient is untouched, per-parameter
// step counts, and the state round trip used by checkpoints.
#include <cstring>

#include "src/train/optimizer.h"
#include "src/train/param_groups.h"
#include "tests/io/io_test_util.h"
#include "tests/test_util.h"
#include "tv3s/ops/optim.h"

using namespace tv3s;
using namespace tv3s::train;

TEST_CASE("param groups: the official rules, first matching key wins") {
  struct Row {
    const char* name;
    double lr_mult, decay_mult;
    const char* matched;
  };
  const Row rows[] = {
      // pos_block: decay 0 (even inside a head: it is tried first)
      {"backbone.pos_block.0.proj.weight", 1, 0, "pos_block"},
      {"decode_head.pos_block.0.proj.bias", 1, 0, "pos_block"},
      // every decode_head.* parameter: lr ×10 and decayed, its norms included
      {"decode_head.vs.layers.0.norm.weight", 10, 1, "head"},
      {"decode_head.vs.norm_f.weight", 10, 1, "head"},
      {"decode_head.vs.layers.3.mixer.A_log", 10, 1, "head"},
      {"decode_head.vs.layers.3.mixer.D", 10, 1, "head"},
      {"decode_head.vs.layers.3.mixer.dt_proj.bias", 10, 1, "head"},
      {"decode_head.linear_fuse.bn.weight", 10, 1, "head"},
      {"decode_head.linear_fuse.bn.bias", 10, 1, "head"},
      {"decode_head.linear_c1.proj.weight", 10, 1, "head"},
      // backbone norms: decay 0
      {"backbone.patch_embed1.norm.bias", 1, 0, "norm"},
      {"backbone.block1.0.norm1.weight", 1, 0, "norm"},
      {"backbone.block2.1.norm2.bias", 1, 0, "norm"},
      {"backbone.block1.0.attn.norm.weight", 1, 0, "norm"},
      {"backbone.norm4.weight", 1, 0, "norm"},
      {"backbone.layers.0.downsample.norm.weight", 1, 0, "norm"},  // Swin
      {"backbone.norm0.bias", 1, 0, "norm"},                       // Swin
      // everything else: base lr, decayed — biases too
      {"backbone.block1.0.attn.q.bias", 1, 1, ""},
      {"backbone.block1.0.attn.q.weight", 1, 1, ""},
      {"backbone.patch_embed1.proj.weight", 1, 1, ""},
      {"backbone.layers.0.blocks.0.attn.relative_position_bias_table", 1, 1, ""},  // Swin
  };
  for (const Row& r : rows) {
    CAPTURE(r.name);
    const ParamRule rule = param_rule(r.name);
    CHECK(rule.lr_mult == r.lr_mult);
    CHECK(rule.decay_mult == r.decay_mult);
    CHECK(std::string(rule.matched) == r.matched);
  }
}

namespace {

Tensor leaf(const Shape& shape, uint64_t seed) { return test::random(shape, seed, -1, 1, true); }

}  // namespace

TEST_CASE("optimizer: two steps equal the op by hand with the rule multipliers") {
  const std::vector<std::pair<std::string, Shape>> specs = {
      {"backbone.block1.0.attn.q.weight", Shape{3, 2}},   // base lr, decayed
      {"backbone.block1.0.norm1.weight", Shape{4}},       // base lr, no decay
      {"decode_head.linear_pred.weight", Shape{2, 2}},    // lr ×10, decayed
      {"decode_head.vs.layers.0.norm.weight", Shape{5}},  // lr ×10, decayed; gradient only at step 2
      {"decode_head.conv_seg.weight", Shape{2}},          // never a gradient
  };
  std::vector<std::pair<std::string, Tensor>> params;
  std::vector<Tensor> expected, m, v;
  for (size_t i = 0; i < specs.size(); ++i) {
    params.emplace_back(specs[i].first, leaf(specs[i].second, 10 + i));
    expected.push_back(params.back().second.detach().clone());
    m.push_back(Tensor::zeros(specs[i].second));
    v.push_back(Tensor::zeros(specs[i].second));
  }
  AdamWConfig config;
  config.lr = 1e-3;
  config.weight_decay = 0.05;
  AdamW opt(params, config);
  CHECK(opt.params().size() == specs.size());

  const double factors[] = {0.5, 0.25}, grad_scales[] = {1.0, 1.0 / 3000};
  int64_t hand_steps[5] = {};
  for (int step = 0; step < 2; ++step) {
    for (size_t i = 0; i < specs.size(); ++i) {
      const bool has_grad = i < 3 || (i == 3 && step == 1);
      if (!has_grad) continue;
      const Tensor grad = test::random(specs[i].second, 100 + 10 * step + i, -2, 2);
      params[i].second.set_grad(grad);
      const ParamRule rule = param_rule(specs[i].first);
      AdamWStep s;
      s.lr = config.lr * rule.lr_mult * factors[step];
      s.weight_decay = config.weight_decay * rule.decay_mult;
      s.step = ++hand_steps[i];
      s.grad_scale = grad_scales[step];
      adamw_step_(expected[i], grad, m[i], v[i], s);
    }
    opt.step(factors[step], grad_scales[step]);
    opt.zero_grad();
  }
  CHECK(opt.steps() == 2);
  for (size_t i = 0; i < specs.size(); ++i) {
    CAPTURE(specs[i].first);
    CHECK(params[i].second.to_vector() == expected[i].to_vector());
    CHECK(opt.params()[i].m.to_vector() == m[i].to_vector());
    CHECK(opt.params()[i].v.to_vector() == v[i].to_vector());
    CHECK(opt.params()[i].step == hand_steps[i]);
    CHECK_FALSE(params[i].second.grad().defined());  // zero_grad dropped it
  }
  CHECK(opt.params()[3].step == 1);  // its own count: bias correction of a first step
  CHECK(opt.params()[4].step == 0);
  CHECK(params[4].second.to_vector() == leaf(Shape{2}, 14).to_vector());  // untouched, not even decayed
}

TEST_CASE("optimizer: state round trip continues exactly; bad state refused") {
  auto make_params = [] {
    return std::vector<std::pair<std::string, Tensor>>{{"backbone.block1.0.attn.q.weight", leaf(Shape{3}, 1)},
                                                       {"decode_head.linear_pred.bias", leaf(Shape{2}, 2)}};
  };
  auto set_grads = [](std::vector<std::pair<std::string, Tensor>>& params, uint64_t seed) {
    for (auto& [name, t] : params) t.set_grad(test::random(t.shape(), seed++));
  };
  auto a_params = make_params();
  AdamW a(a_params, AdamWConfig{});
  set_grads(a_params, 50);
  a.step(1.0);
  const AdamWState saved = a.save_state();
  CHECK(saved.steps.at("decode_head.linear_pred.bias") == 1);

  // A second optimizer over copies of the parameters, restored from the state.
  auto b_params = make_params();
  for (size_t i = 0; i < b_params.size(); ++i) {
    Tensor t = b_params[i].second;
    std::memcpy(t.raw(), a_params[i].second.raw(), t.nbytes());
  }
  AdamW b(b_params, AdamWConfig{});
  b.load_state(saved, "ckpt");
  CHECK(b.steps() == 1);
  set_grads(a_params, 60);
  set_grads(b_params, 60);
  a.step(0.5);
  b.step(0.5);
  for (size_t i = 0; i < a_params.size(); ++i) CHECK(a_params[i].second.to_vector() == b_params[i].second.to_vector());

  AdamWState missing = saved;
  missing.v.erase("decode_head.linear_pred.bias");
  CHECK(test::error_message([&] { b.load_state(missing, "ckpt"); }) ==
        "ckpt: no optimizer state for parameter 'decode_head.linear_pred.bias'");
  AdamWState wrong = saved;
  wrong.m["decode_head.linear_pred.bias"] = Tensor::zeros(Shape{3});
  CHECK(test::error_message([&] { b.load_state(wrong, "ckpt"); }).find("optimizer moment of 'decode_head.linear_pred.bias'") !=
        std::string::npos);
  AdamWState extra = saved;
  extra.steps["backbone.norm1.weight"] = 3;
  CHECK(test::error_message([&] { b.load_state(extra, "ckpt"); }).find("not a parameter being trained") !=
        std::string::npos);

  CHECK(test::error_message([&] { AdamW bad(std::vector<std::pair<std::string, Tensor>>{{"x", Tensor::zeros(Shape{2})}}, {}); })
            .find("does not require grad") != std::string::npos);
  auto twice = make_params();
  twice.push_back(twice[0]);
  CHECK(test::error_message([&] { AdamW bad(twice, {}); }).find("given twice") != std::string::npos);
}
