// Reverse-mode automatic differentiation over a tape of op calls.
//
// Every op that runs while grad mode is on and that has an input requiring a gradient
// appends a Node to the tape: its name, its inputs, and a closure that maps the gradient
// of its output to gradients of its inputs. Nodes are numbered in the order they were
// recorded, so replaying the reachable nodes in decreasing order is a valid reverse
// topological order — backward() is exactly "walk the tape backwards".
//
// The tape is not global: each node is owned by the output tensor it produced (and by
// later nodes that consume it), so a graph is freed as soon as its tensors are.
//
// Closures capture *detached* tensors (no autograd record) to avoid reference cycles.
// Backward closures run with grad mode off: there are no higher-order gradients.
#pragma once
#include <functional>
#include <memory>
#include <vector>

#include "tv3s/tensor.h"

namespace tv3s {

struct Node;

// What a tensor knows about its gradient history.
struct AutogradMeta {
  bool requires_grad = false;   // leaves: user-set; outputs of recorded ops: true
  Tensor grad;                  // accumulated gradient (leaves only)
  std::shared_ptr<Node> grad_fn;  // the op that produced this tensor (null for leaves)
};

using BackwardFn = std::function<std::vector<Tensor>(const Tensor& grad_output)>;

struct Node {
  uint64_t sequence = 0;  // position on the tape
  const char* op = "";
  // One entry per op input that needs a gradient-or-nothing: the producing node or,
  // for a leaf, its AutogradMeta (where the gradient accumulates). Both null = no grad.
  struct Edge {
    std::shared_ptr<Node> node;
    std::shared_ptr<AutogradMeta> leaf;
    Shape shape;  // of the input: every gradient returned for it must have this shape
  };
  std::vector<Edge> inputs;
  BackwardFn backward;  // returns one gradient per input (undefined = zero)
};

// --- grad mode -----------------------------------------------------------------------
bool grad_enabled();
// While alive, no op records anything (inference). Nests; restores the previous mode.
class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

namespace autograd {

// True when grad mode is on and any input requires a gradient. Ops call this first:
// under NoGradGuard it is a single thread-local load and nothing else happens.
bool needs_grad(std::initializer_list<const Tensor*> inputs);
inline bool needs_grad(const Tensor& a) { return needs_grad({&a}); }
inline bool needs_grad(const Tensor& a, const Tensor& b) { return needs_grad({&a, &b}); }
inline bool needs_grad(const Tensor& a, const Tensor& b, const Tensor& c) {
  return needs_grad({&a, &b, &c});
}

// Append `op` to the tape: `output` becomes its result; `backward` gets d(loss)/d(output)
// and returns d(loss)/d(input_i) for each of `inputs` (same order, may be undefined).
void record(const char* op, Tensor& output, const std::vector<Tensor>& inputs, BackwardFn backward);

// Runs backward from `root` (one element) with seed gradient 1. Frees the graph.
void backward(const Tensor& root);

// Number of nodes recorded so far in this thread (used by tests and the overhead bench).
uint64_t nodes_recorded();

}  // namespace autograd
}  // namespace tv3s
