// AdamW over named parameters: the bookkeeping around the adamw_step_ kernel
// (include/tv3s/ops/optim.h) — per-parameter rules, step counts, moments, and their
// export to and import from checkpoints.
#include "src/train/optimizer.h"

#include <set>

#include "tv3s/ops/cast.h"
#include "tv3s/ops/optim.h"

namespace tv3s::train {

AdamW::AdamW(std::vector<std::pair<std::string, Tensor>> params, AdamWConfig config)
    : config_(config) {
  std::set<std::string> seen;
  for (auto& [name, tensor] : params) {
    TV3S_CHECK(seen.insert(name).second, "AdamW: parameter '", name, "' is given twice");
    TV3S_CHECK(tensor.defined() && tensor.dtype() == DType::f32, "AdamW: parameter '", name,
               "' must be an f32 tensor, got ", tensor.desc());
    TV3S_CHECK(tensor.requires_grad(), "AdamW: parameter '", name, "' does not require grad");
    Param p;
    p.name = name;
    p.tensor = tensor;
    p.rule = param_rule(name);
    p.m = Tensor::zeros(tensor.shape(), DType::f32, tensor.device());
    p.v = Tensor::zeros(tensor.shape(), DType::f32, tensor.device());
    params_.push_back(std::move(p));
  }
}

void AdamW::step(double lr_factor, double grad_scale) {
  for (Param& p : params_) {
    const Tensor grad = p.tensor.grad();
    if (!grad.defined()) continue;  // PyTorch: `if p.grad is None: continue`
    ++p.step;
    AdamWStep s;
    // mmcv sets each group's initial lr to base·lr_mult; the schedule then scales it.
    s.lr = config_.lr * p.rule.lr_mult * lr_factor;
    s.beta1 = config_.beta1;
    s.beta2 = config_.beta2;
    s.eps = config_.eps;
    s.weight_decay = config_.weight_decay * p.rule.decay_mult;
    s.step = p.step;
    s.grad_scale = grad_scale;
    adamw_step_(p.tensor, grad, p.m, p.v, s);
  }
  ++steps_;
}

void AdamW::zero_grad() {
  for (Param& p : params_) p.tensor.zero_grad();
}

namespace {
// A CPU copy that does not share storage with `t` (later steps must not change it).
Tensor host_copy(const Tensor& t) { return t.is_cuda() ? t.cpu() : t.clone(); }
}  // namespace

AdamWState AdamW::save_state() const {
  AdamWState state;
  for (const Param& p : params_) {
    state.m[p.name] = host_copy(p.m);
    state.v[p.name] = host_copy(p.v);
    state.steps[p.name] = p.step;
  }
  return state;
}

void AdamW::load_state(const AdamWState& state, const std::string& what) {
  // Check everything before changing anything, so a refused state leaves the optimizer as it was.
  for (const Param& p : params_) {
    const auto m = state.m.find(p.name), v = state.v.find(p.name);
    const auto s = state.steps.find(p.name);
    TV3S_CHECK(m != state.m.end() && v != state.v.end() && s != state.steps.end(), what,
               ": no optimizer state for parameter '", p.name, "'");
    for (const Tensor* t : {&m->second, &v->second})
      TV3S_CHECK(t->defined() && t->dtype() == DType::f32 && t->shape() == p.tensor.shape(), what,
                 ": optimizer moment of '", p.name, "' is ", t->desc(), ", the parameter is ",
                 p.tensor.shape().str());
    TV3S_CHECK(s->second >= 0, what, ": step count of '", p.name, "' is negative (", s->second, ")");
  }
  const std::set<std::string> names = [&] {
    std::set<std::string> n;
    for (const Param& p : params_) n.insert(p.name);
    return n;
  }();
  for (const auto* map : {&state.m, &state.v})
    for (const auto& entry : *map)
      TV3S_CHECK(names.count(entry.first), what, ": optimizer state for '", entry.first,
                 "', which is not a parameter being trained");
  for (const auto& entry : state.steps)
    TV3S_CHECK(names.count(entry.first), what, ": optimizer state for '", entry.first,
               "', which is not a parameter being trained");

  steps_ = 0;
  for (Param& p : params_) {
    copy_(p.m, state.m.at(p.name));
    copy_(p.v, state.v.at(p.name));
    p.step = state.steps.at(p.name);
    if (p.step > steps_) steps_ = p.step;
  }
}

}  // namespace tv3s::train
