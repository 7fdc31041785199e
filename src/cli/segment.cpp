// `tv3s segment MODEL INPUT... --mode frame`: the per-frame SegFormer path on images.
// Each input is decoded at its own size (no resize), normalised as the official test
// pipeline does, and run through MiT + the all-MLP head; the 1/4-resolution logits are
// resized bilinearly to the input size. For each input `<stem>.png` (the label map,
// grey values = class ids) goes to -o DIR and, with --save-logits DIR, `<stem>.npy`
// (float32 [K, H, W], the values the official EncoderDecoder returns before argmax).
#include <omp.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "src/cli/args.h"
#include "src/cli/commands.h"
#include "src/io/image.h"
#include "src/models/segformer.h"
#include "src/pipeline/preprocess.h"
#include "tv3s/tv3s.hpp"

namespace tv3s::cli {
namespace {

const char* kUsage =
    "usage: tv3s segment MODEL.safetensors INPUT... [--mode frame] [-o DIR]\n"
    "                    [--save-logits DIR] [--device cpu|cuda] [--threads N] [--quiet]\n"
    "  INPUT             PNG or JPEG images, each segmented at its own size\n"
    "  --mode frame      the per-frame SegFormer path (on a TV3S model: its SegFormer branch);\n"
    "                    the temporal modes (stream, clip) come with the TV3S decoder\n"
    "  -o, --out DIR     label maps <stem>.png (default: the --save-logits folder)\n"
    "  --save-logits DIR float32 logits <stem>.npy [K, H, W] at the input resolution\n"
    "  --device D        cpu (default) or cuda\n"
    "  --threads N       OpenMP threads for the CPU\n"
    "  --quiet           no per-image lines\n";

namespace fs = std::filesystem;

void make_dir(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  TV3S_CHECK(!ec && fs::is_directory(dir), dir, ": cannot create the output folder (",
             ec ? ec.message() : "not a folder", ")");
}

}  // namespace

int run_segment(int argc, char** argv) {
  Args args(argc, argv);
  std::vector<std::string> positional;
  std::string mode = "frame", out_dir, logits_dir, device_name = "cpu";
  bool quiet = false;
  try {
    while (!args.done()) {
      const std::string a = args.next();
      if (a == "--help" || a == "-h") {
        std::fputs(kUsage, stdout);
        return 0;
      } else if (a == "--mode") {
        mode = args.value(a);
      } else if (a == "-o" || a == "--out") {
        out_dir = args.value(a);
      } else if (a == "--save-logits") {
        logits_dir = args.value(a);
      } else if (a == "--device") {
        device_name = args.value(a);
      } else if (a == "--threads") {
        omp_set_num_threads(int(args.integer(a, 1, 1024)));
      } else if (a == "--quiet") {
        quiet = true;
      } else if (a.size() > 1 && a[0] == '-') {
        throw UsageError{"unknown option '" + a + "'"};
      } else {
        positional.push_back(a);
      }
    }
    if (positional.size() < 2) throw UsageError{"needs a model file and at least one input image"};
    if (mode == "stream" || mode == "clip")
      throw UsageError{"--mode " + mode + " needs the TV3S decoder, which this build does not have yet; use --mode frame"};
    if (mode != "frame") throw UsageError{"unknown --mode '" + mode + "' (frame, stream or clip)"};
    if (device_name != "cpu" && device_name != "cuda")
      throw UsageError{"unknown --device '" + device_name + "' (cpu or cuda)"};
    if (out_dir.empty()) out_dir = logits_dir;
    if (out_dir.empty()) throw UsageError{"nothing to write: give -o DIR and/or --save-logits DIR"};
  } catch (const UsageError& e) {
    std::fprintf(stderr, "tv3s segment: %s (see tv3s segment --help)\n", e.message.c_str());
    return 2;
  }

  const Device device = device_name == "cuda" ? Device::CUDA : Device::CPU;
  TV3S_CHECK(device == Device::CPU || cuda_available(), "--device cuda: no usable CUDA GPU");
  // Two inputs with one stem would write the same output files.
  std::set<std::string> stems;
  for (size_t i = 1; i < positional.size(); ++i) {
    const std::string stem = fs::path(positional[i]).stem().string();
    TV3S_CHECK(stems.insert(stem).second, positional[i], ": another input has the same name '",
               stem, "' (outputs would overwrite each other)");
  }
  NoGradGuard no_grad;
  const Segformer model = Segformer::load(positional[0], device);
  make_dir(out_dir);
  if (!logits_dir.empty()) make_dir(logits_dir);

  for (size_t i = 1; i < positional.size(); ++i) {
    const std::string& input = positional[i];
    const auto t0 = std::chrono::steady_clock::now();
    const io::Image image = io::read_image(input);
    const Tensor logits = model.logits(normalize_image(image, device));  // [1, H, W, K]
    const Tensor labels = argmax(logits, -1).reshape(Shape{image.height, image.width});
    const std::string stem = fs::path(input).stem().string();
    io::write_label_png((fs::path(out_dir) / (stem + ".png")).string(), labels.cpu());
    if (!logits_dir.empty()) {
      const Tensor chw = permute(logits.reshape(Shape{image.height, image.width, logits.size(-1)}), {2, 0, 1});
      io::write_npy((fs::path(logits_dir) / (stem + ".npy")).string(), chw);
    }
    if (device == Device::CUDA) cuda_synchronize();
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    if (!quiet) std::printf("%s: %d×%d, %.1f ms\n", input.c_str(), image.width, image.height, ms);
  }
  return 0;
}

}  // namespace tv3s::cli
