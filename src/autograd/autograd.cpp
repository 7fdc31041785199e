// The backward engine: record() appends nodes, backward() replays them in reverse.
#include "tv3s/autograd.h"

#include <algorithm>
#include <unordered_map>
#include <unordered_set>

#include "src/autograd/gradient_sum.h"

namespace tv3s {
namespace {
thread_local bool t_grad_enabled = true;
thread_local uint64_t t_sequence = 0;
}  // namespace

bool grad_enabled() { return t_grad_enabled; }
NoGradGuard::NoGradGuard() : previous_(t_grad_enabled) { t_grad_enabled = false; }
NoGradGuard::~NoGradGuard() { t_grad_enabled = previous_; }

namespace autograd {

uint64_t nodes_recorded() { return t_sequence; }

bool needs_grad(std::initializer_list<const Tensor*> inputs) {
  if (!t_grad_enabled) return false;
  for (const Tensor* t : inputs)
    if (t->defined() && t->requires_grad()) return true;
  return false;
}

void record(const char* op, Tensor& output, const std::vector<Tensor>& inputs,
            BackwardFn backward) {
  auto node = std::make_shared<Node>();
  node->sequence = ++t_sequence;
  node->op = op;
  node->backward = std::move(backward);
  node->inputs.reserve(inputs.size());
  for (const Tensor& in : inputs) {
    Node::Edge edge;
    if (in.defined() && in.requires_grad()) {
      const auto& meta = in.autograd_meta();
      if (meta->grad_fn) edge.node = meta->grad_fn;
      else edge.leaf = meta;
      edge.shape = in.shape();
    }
    node->inputs.push_back(std::move(edge));
  }
  auto meta = std::make_shared<AutogradMeta>();
  meta->requires_grad = true;
  meta->grad_fn = std::move(node);
  output.set_autograd_meta(std::move(meta));
}

static void accumulate_leaf(AutogradMeta& leaf, const Tensor& g) {
  if (!leaf.grad.defined()) leaf.grad = g.clone();  // own it: g may alias other tensors
  else accumulate_gradient(leaf.grad, g);
}

void backward(const Tensor& root) {
  check_defined("backward", root);
  TV3S_CHECK(root.numel() == 1, "backward: needs a one-element (scalar) tensor, got ",
             root.desc());
  TV3S_CHECK(root.requires_grad(), "backward: tensor ", root.desc(),
             " does not require grad (was it computed under NoGradGuard, or from no parameter?)");
  NoGradGuard no_grad;  // backward rules are built from ops; record nothing
  const Tensor seed = Tensor::ones(root.shape(), root.dtype(), root.device());
  const auto& root_meta = root.autograd_meta();
  if (!root_meta->grad_fn) {  // the root is itself a leaf
    accumulate_leaf(*root_meta, seed);
    return;
  }

  // Reachable nodes, in reverse tape order.
  std::vector<Node*> order;
  std::unordered_set<Node*> seen;
  std::vector<Node*> stack{root_meta->grad_fn.get()};
  while (!stack.empty()) {
    Node* n = stack.back();
    stack.pop_back();
    if (!seen.insert(n).second) continue;
    order.push_back(n);
    for (auto& e : n->inputs)
      if (e.node) stack.push_back(e.node.get());
  }
  std::sort(order.begin(), order.end(),
            [](const Node* a, const Node* b) { return a->sequence > b->sequence; });

  std::unordered_map<Node*, Tensor> pending;  // gradient w.r.t. each node's output
  pending[root_meta->grad_fn.get()] = seed;
  for (Node* n : order) {
    auto it = pending.find(n);
    if (it == pending.end()) continue;  // no gradient flows through this node
    const Tensor grad_output = std::move(it->second);
    pending.erase(it);
    TV3S_CHECK(n->backward, "backward: the graph through '", n->op,
               "' was already freed by an earlier backward()");
    std::vector<Tensor> grads = n->backward(grad_output);
    n->backward = nullptr;  // free saved tensors as we go
    TV3S_CHECK(grads.size() == n->inputs.size(), "backward: '", n->op, "' returned ",
               grads.size(), " gradients for ", n->inputs.size(), " inputs");
    for (size_t i = 0; i < grads.size(); ++i) {
      const Node::Edge& e = n->inputs[i];
      const Tensor& g = grads[i];
      if (!g.defined() || (!e.node && !e.leaf)) continue;
      TV3S_CHECK(g.shape() == e.shape, "backward: '", n->op, "' gave a gradient of shape ",
                 g.shape().str(), " for input ", i, " of shape ", e.shape.str());
      if (e.leaf) {
        accumulate_leaf(*e.leaf, g);
      } else {
        auto [slot, inserted] = pending.try_emplace(e.node.get(), g);
        if (!inserted) slot->second = sum_gradients(slot->second, g);  // out of place: g may be shared
      }
    }
  }
}

}  // namespace autograd

// --- the autograd side of Tensor ------------------------------------------------------

Tensor& Tensor::requires_grad_(bool on) {
  if (on) {
    check_floating("requires_grad_", *this);
    if (!meta_) meta_ = std::make_shared<AutogradMeta>();
    meta_->requires_grad = true;
  } else if (meta_) {
    TV3S_CHECK(!meta_->grad_fn, "requires_grad_(false): ", desc(),
               " is the output of an op; use detach()");
    meta_->requires_grad = false;
  }
  return *this;
}

bool Tensor::requires_grad() const { return meta_ && meta_->requires_grad; }

Tensor Tensor::grad() const { return meta_ ? meta_->grad : Tensor(); }

void Tensor::set_grad(const Tensor& grad) const {
  TV3S_CHECK(meta_, "set_grad: ", desc(), " does not require grad");
  TV3S_CHECK(!grad.defined() || grad.shape() == shape_, "set_grad: gradient ", grad.desc(),
             " does not match ", desc());
  meta_->grad = grad;
}

void Tensor::zero_grad() const {
  if (meta_) meta_->grad = Tensor();
}

void Tensor::backward() const { autograd::backward(*this); }

Tensor Tensor::detach() const {
  Tensor t = *this;
  t.meta_.reset();
  return t;
}

}  // namespace tv3s
