// `tv3s bench <what>`: the benchmarks shipped with the runtime.
#include <cstdio>
#include <string>

#include "src/cli/commands.h"

namespace tv3s::cli {

int run_bench(int argc, char** argv) {
  const std::string what = argc > 0 ? argv[0] : "";
  if (what == "ops") return run_bench_ops(argc - 1, argv + 1);
  if (what == "autograd") return run_bench_autograd(argc - 1, argv + 1);
  if (what == "model") return run_bench_model(argc - 1, argv + 1);
  if (what == "train") return run_bench_train(argc - 1, argv + 1);
  if (what == "--help" || what == "-h") {
    std::puts("usage: tv3s bench <ops|autograd|model|train> [--help] [options]\n"
              "  ops        GEMM GFLOP/s and elementwise/reduction/softmax/layernorm throughput\n"
              "  autograd   the cost of the autograd tape: inference (no grad) vs recording\n"
              "  model      per-frame latency, FPS and memory of a SegFormer or TV3S model\n"
              "  train      training iteration speed (clips/s) and memory of TV3S / SegFormer");
    return 0;
  }
  std::fprintf(stderr, "tv3s bench: unknown benchmark '%s' (available: ops, autograd, model, train)\n", what.c_str());
  return 2;
}

}  // namespace tv3s::cli
