// `tv3s convert IN OUT.safetensors [--arch NAME] [--num-classes N]`: a checkpoint (official
// mmseg .pth, ImageNet mit_bX.pth / swin_*_22k.pth, Hugging Face model.safetensors /
// pytorch_model.bin) into a tv3s model file. Usage errors exit 2; a bad input file is a tv3s::Error, which
// main() prints as one line "tv3s convert: <path>: <problem>" and exits 1.
#include <cstdio>
#include <string>
#include <vector>

#include "src/cli/commands.h"
#include "src/convert/checkpoint.h"

namespace tv3s::cli {
namespace {

const char* kConvertUsage =
    "usage: tv3s convert IN OUT.safetensors [--arch NAME] [--num-classes N] [--window W]\n"
    "                    [--shift S]\n"
    "  IN: an official mmseg SegFormer/TV3S checkpoint (.pth, MiT or Swin backbone), an\n"
    "  ImageNet backbone (mit_b0.pth ... mit_b5.pth, swin_tiny/small_..._22k.pth), or a\n"
    "  Hugging Face SegFormer/MiT/Swin checkpoint (model.safetensors or pytorch_model.bin;\n"
    "  class names from a config.json beside it).\n"
    "  The model, backbone and class count are read from the tensors (a Swin of any\n"
    "  embed/depths/heads/window); the options only check them, or fill in what the\n"
    "  tensors cannot show.\n"
    "  --arch NAME       the backbone: mit_b0 ... mit_b5, swin_t, swin_s, swin_b, swin_l\n"
    "  --num-classes N   the number of classes of the decode head\n"
    "  --window W        TV3S window side (default: the checkpoint's config text, else 20)\n"
    "  --shift S         TV3S real-shift offset, 0 < S < W (default: config text, else 10)\n";

int usage_error(const std::string& message) {
  std::fprintf(stderr, "tv3s convert: %s (see tv3s convert --help)\n", message.c_str());
  return 2;
}

}  // namespace

int run_convert(int argc, char** argv) {
  convert::ConvertOptions options;
  std::vector<std::string> paths;
  for (int i = 0; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::fputs(kConvertUsage, stdout);
      return 0;
    }
    if (arg == "--arch" || arg == "--num-classes" || arg == "--window" || arg == "--shift") {
      if (i + 1 >= argc) return usage_error(arg + " needs a value");
      const std::string value = argv[++i];
      if (arg == "--arch") {
        try {
          ModelConfig().set_backbone(value);  // a known name, or the error listing them
        } catch (const Error& e) {
          return usage_error("--arch: " + std::string(e.what()));
        }
        options.arch = value;
      } else {
        size_t used = 0;
        long long n = 0;
        try {
          n = std::stoll(value, &used);
        } catch (const std::exception&) {
          used = 0;
        }
        if (used == 0 || used != value.size() || n < 1 || n > 65536)
          return usage_error(arg + " '" + value + "' is not an integer in [1, 65536]");
        (arg == "--num-classes" ? options.num_classes
         : arg == "--window"    ? options.window
                                : options.shift) = n;
      }
    } else if (!arg.empty() && arg[0] == '-') {
      return usage_error("unknown option '" + arg + "'");
    } else {
      paths.push_back(arg);
    }
  }
  if (paths.size() != 2)
    return usage_error(paths.size() < 2 ? "needs an input and an output file"
                                        : "takes one input and one output file");

  const convert::ConvertResult r = convert::convert_checkpoint(
      paths[0], paths[1], options,
      [](const std::string& note) { std::fprintf(stderr, "tv3s convert: %s\n", note.c_str()); });
  const ModelConfig& c = r.config;
  std::string classes =
      c.kind == ModelKind::backbone ? "backbone only" : std::to_string(c.num_classes) + " classes";
  if (!c.class_names.empty()) classes += " (named)";
  std::printf("tv3s convert: wrote %s: %s %s, embed_dim %lld, %s, %zu tensors, %.1f MB (from %s)\n",
              paths[1].c_str(), model_kind_name(c.kind), c.backbone_description().c_str(), (long long)c.embed_dim,
              classes.c_str(), r.tensors, double(r.bytes) / 1e6, c.source.c_str());
  return 0;
}

}  // namespace tv3s::cli
