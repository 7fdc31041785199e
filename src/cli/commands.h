// The subcommands of `tv3s`. Each takes the arguments after its own name and returns
// the process exit code (0 ok, 1 failure, 2 usage error).
#pragma once

namespace tv3s::cli {

int run_info(int argc, char** argv);
int run_convert(int argc, char** argv);     // src/cli/convert.cpp
int run_bench(int argc, char** argv);       // dispatches `tv3s bench ops`, ...
int run_bench_ops(int argc, char** argv);       // src/cli/bench_ops.cpp
int run_bench_autograd(int argc, char** argv);  // src/cli/bench_autograd.cpp
int run_bench_model(int argc, char** argv);     // src/cli/bench_model.cpp
int run_bench_train(int argc, char** argv);     // src/cli/bench_train.cpp
int run_segment(int argc, char** argv);         // src/cli/segment.cpp
int run_eval(int argc, char** argv);            // src/cli/eval.cpp
int run_synth(int argc, char** argv);           // src/cli/synth.cpp
int run_train(int argc, char** argv);           // src/cli/train.cpp

}  // namespace tv3s::cli
