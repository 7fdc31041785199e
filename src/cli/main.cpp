// `tv3s` — the command-line entry point: parse the subcommand, hand over, turn every
// tv3s::Error into one line on stderr and a non-zero exit code.
#include <cstdio>
#include <cstring>
#include <string>

#include "src/cli/commands.h"
#include "tv3s/error.h"
#include "tv3s/version.h"

namespace {

const char* kUsage =
    "tv3s " TV3S_VERSION_STRING " — video semantic segmentation runtime (SegFormer, TV3S; MiT, Swin)\n"
    "\n"
    "usage: tv3s [--help] [--version] <command> [args]\n"
    "\n"
    "commands:\n"
    "  info            build options, CUDA runtime/driver, GPU, cuBLAS/cuDNN, OpenMP threads\n"
    "  convert         a PyTorch / Hugging Face checkpoint into a tv3s .safetensors model\n"
    "  bench ops       GEMM GFLOP/s and op throughput on CPU and (if present) GPU\n"
    "  bench autograd  overhead of the autograd tape vs inference under NoGradGuard\n"
    "  bench model     per-frame latency, FPS and memory of SegFormer/TV3S models\n"
    "  bench train     training iteration speed (clips/s) and peak memory\n"
    "  segment         segment videos (files, cameras, streams), frame folders or images with a\n"
    "                  model file: label maps, overlays, logits, an overlay video\n"
    "  eval            mIoU, mVC8/mVC16 on a VSPW or Cityscapes set (a model or saved predictions)\n"
    "  synth           write a synthetic video dataset (VSPW layout) for tests and demos\n"
    "  train           train TV3S or SegFormer (official recipe, checkpoints, resume, plots)\n"
    "\n"
    "Run 'tv3s <command> --help' for the options of a command.\n";

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  const std::string command = argv[1];
  if (command == "--help" || command == "-h" || command == "help") {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (command == "--version") {
    std::printf("tv3s %s\n", TV3S_VERSION_STRING);
    return 0;
  }
  try {
    if (command == "info") return tv3s::cli::run_info(argc - 2, argv + 2);
    if (command == "convert") return tv3s::cli::run_convert(argc - 2, argv + 2);
    if (command == "bench") return tv3s::cli::run_bench(argc - 2, argv + 2);
    if (command == "segment") return tv3s::cli::run_segment(argc - 2, argv + 2);
    if (command == "eval") return tv3s::cli::run_eval(argc - 2, argv + 2);
    if (command == "synth") return tv3s::cli::run_synth(argc - 2, argv + 2);
    if (command == "train") return tv3s::cli::run_train(argc - 2, argv + 2);
  } catch (const tv3s::Error& e) {
    std::fprintf(stderr, "tv3s %s: %s\n", command.c_str(), e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tv3s %s: unexpected error: %s\n", command.c_str(), e.what());
    return 1;
  }
  if (command[0] == '-') std::fprintf(stderr, "tv3s: unknown option '%s' (see tv3s --help)\n", command.c_str());
  else std::fprintf(stderr, "tv3s: unknown command '%s' (see tv3s --help)\n", command.c_str());
  return 2;
}
