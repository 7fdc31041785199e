// `tv3s bench autograd`: what the autograd tape costs, and proof that inference pays
// nothing for it. The same small op chain (a cheap elementwise op, so per-call overhead
// dominates) runs three ways:
//   plain      tensors that never required grad
//   no-grad    parameters that require grad, under NoGradGuard (the inference path)
//   recording  the same parameters with grad mode on (builds the tape)
// It prints ns per op call and how many tape nodes each way recorded.
#include <algorithm>
#include <chrono>
#include <functional>
#include <cstdio>
#include <string>
#include <vector>

#include "src/cli/args.h"
#include "src/cli/commands.h"
#include "tv3s/tv3s.hpp"

namespace tv3s::cli {
namespace {

constexpr int kChain = 64;  // ops per timed repetition

}  // namespace

int run_bench_autograd(int argc, char** argv) {
  int64_t elements = 256;
  int reps = 2000;
  Args args(argc, argv);
  try {
    while (!args.done()) {
      const std::string arg = args.next();
      if (arg == "--elements") {
        elements = args.integer(arg, 1, int64_t(1) << 40);
      } else if (arg == "--reps") {
        reps = int(args.integer(arg, 1, 100000000));
      } else if (arg == "--help" || arg == "-h") {
        std::puts("usage: tv3s bench autograd [--elements N] [--reps N]");
        return 0;
      } else {
        throw UsageError{"unknown option '" + arg + "'"};
      }
    }
  } catch (const UsageError& e) {
    std::fprintf(stderr, "tv3s bench autograd: %s\n", e.message.c_str());
    return 2;
  }
  Rng rng(7);
  const Tensor plain = Tensor::uniform(Shape{elements}, rng);
  Tensor param = plain.clone().requires_grad_();

  auto chain = [](const Tensor& x) {
    Tensor y = x;
    for (int i = 0; i < kChain; ++i) y = affine(y, 0.999, 0.001);
    return y;
  };
  struct Way { const char* name; std::function<void()> run; uint64_t nodes = 0; double ns = 0; };
  std::vector<Way> ways = {
      {"plain (no param)", [&] { chain(plain); }},
      {"no-grad (params, NoGradGuard)", [&] { NoGradGuard g; chain(param); }},
      {"recording (params, grad on)", [&] { chain(param); }},
  };
  for (auto& w : ways) {  // warm-up, and count what each way puts on the tape
    w.run();
    const uint64_t before = autograd::nodes_recorded();
    w.run();
    w.nodes = autograd::nodes_recorded() - before;
  }
  // Rounds interleave the ways, so drift (clock, caches, other load) hits all alike.
  std::vector<std::vector<double>> samples(ways.size());
  for (int r = 0; r < reps; ++r)
    for (size_t k = 0; k < ways.size(); ++k) {
      const auto t0 = std::chrono::steady_clock::now();
      ways[k].run();
      const auto t1 = std::chrono::steady_clock::now();
      samples[k].push_back(std::chrono::duration<double, std::nano>(t1 - t0).count() / kChain);
    }
  for (size_t k = 0; k < ways.size(); ++k) ways[k].ns = median(samples[k]);
  std::printf("autograd overhead: affine on %lld f32 elements, %d-op chains, median of %d\n",
              (long long)elements, kChain, reps);
  std::printf("  %-32s %12s %14s\n", "way", "ns / op", "nodes / chain");
  for (const auto& w : ways) std::printf("  %-32s %12.1f %14llu\n", w.name, w.ns, (unsigned long long)w.nodes);
  std::printf("  no-grad vs plain: %+.1f%%\n", 100.0 * (ways[1].ns / ways[0].ns - 1.0));
  return 0;
}

}  // namespace tv3s::cli
