// `tv3s train`: train a TV3S or per-frame SegFormer model with the official recipe
// (src/train/trainer.h has the loop; docs/training.md every config key).
#include <cstdio>
#include <optional>
#include <string>

#include "src/cli/args.h"
#include "src/cli/commands.h"
#include "src/train/trainer.h"

namespace tv3s::cli {

namespace {

const char* kUsage =
    "usage: tv3s train [CONFIG.json] --out DIR [options]\n"
    "\n"
    "Trains a model with the official TV3S recipe (defaults: TV3S-B1 on VSPW, 480x480 crops,\n"
    "2 clips of 4 frames, 160k iterations, AdamW 6e-5 with head lr x10, poly + warm-up).\n"
    "CONFIG holds any of the keys in docs/training.md; flags override it.\n"
    "\n"
    "  --out DIR              run folder: log.jsonl, checkpoint.safetensors, plot.png,\n"
    "                         model.safetensors (required)\n"
    "  --data ROOT            dataset root (VSPW layout, Cityscapes, or `tv3s synth` output)\n"
    "  --dataset vspw|cityscapes\n"
    "  --iters N              iterations (the schedule's length)\n"
    "  --batch N              clips per iteration\n"
    "  --crop HxW             crop (and pad) size\n"
    "  --seed S               seed of initialisation, data order, augmentation and dropout\n"
    "  --device cpu|cuda      where to train (default cpu)\n"
    "  --precision P          fp32 (default), bf16, or fp16 with dynamic loss scaling: the\n"
    "                         matrix products in 16 bits, f32 master weights (on the CPU\n"
    "                         emulated, for checking accuracy: slower than fp32)\n"
    "  --pretrained FILE      ImageNet backbone: mit_bX.pth or swin_*_22k.pth, raw or\n"
    "                         converted (`tv3s convert`)\n"
    "  --init MODEL           fine-tune from a model file (classifiers re-initialised when\n"
    "                         the class count differs)\n"
    "  --resume               continue DIR/checkpoint.safetensors exactly\n"
    "  --no-augment           frames as they are: no resize/crop/flip/colour jitter\n"
    "  --val-every N          validate every N iterations (default: at the end only)\n"
    "  --val-videos N         validate on the first N videos of the val split (0 = all)\n"
    "  --checkpoint-every N   checkpoint every N iterations (default 4000)\n"
    "  --stop-after N         stop with a checkpoint after iteration N (resume later)\n"
    "  --quiet                no progress bar\n"
    "\n"
    "Exit codes: 0 done, 1 error, 2 usage, 3 diverged (NaN/Inf loss), 130 interrupted (Ctrl-C;\n"
    "a checkpoint was written).\n";


}  // namespace

int run_train(int argc, char** argv) {
  Args args(argc, argv);
  train::TrainRun run;
  std::string config_path;
  // Flags are applied after the config file, in the order given.
  std::vector<std::pair<std::string, std::string>> flags;
  std::optional<std::pair<long long, long long>> crop;  // --crop HxW, checked while parsing
  try {
    while (!args.done()) {
      const std::string a = args.next();
      if (a == "--help" || a == "-h") {
        std::fputs(kUsage, stdout);
        return 0;
      } else if (a == "--out" || a == "-o") {
        run.out_dir = args.value(a);
      } else if (a == "--resume") {
        run.resume = true;
      } else if (a == "--quiet") {
        run.quiet = true;
      } else if (a == "--no-augment") {
        flags.emplace_back(a, "");
      } else if (a == "--stop-after") {
        run.stop_after = args.integer(a, 1, 1LL << 40);
      } else if (a == "--device") {
        flags.emplace_back(a, device_name(args.device(a)));
      } else if (a == "--data" || a == "--dataset" || a == "--precision" ||
                 a == "--pretrained" || a == "--init") {
        flags.emplace_back(a, args.value(a));
      } else if (a == "--crop") {
        crop = args.size(a, 32, 8192);
      } else if (a == "--iters" || a == "--batch" || a == "--val-every" || a == "--val-videos" ||
                 a == "--checkpoint-every") {
        flags.emplace_back(a, std::to_string(args.integer(a, a == "--val-every" || a == "--val-videos" ? 0 : 1,
                                                          1LL << 40)));
      } else if (a == "--seed") {
        flags.emplace_back(a, std::to_string(args.integer(a, 0, (1LL << 62))));
      } else if (a.size() > 1 && a[0] == '-') {
        throw UsageError{"unknown option '" + a + "'"};
      } else if (config_path.empty()) {
        config_path = a;
      } else {
        throw UsageError{"unexpected argument '" + a + "' (one config file)"};
      }
    }
    if (run.out_dir.empty()) throw UsageError{"needs --out DIR"};
  } catch (const UsageError& e) {
    std::fprintf(stderr, "tv3s train: %s (see tv3s train --help)\n", e.message.c_str());
    return 2;
  }

  train::TrainConfig& c = run.config;
  if (!config_path.empty()) c = train::read_train_config(config_path);
  for (const auto& [flag, value] : flags) {
    if (flag == "--data") c.data_root = value;
    else if (flag == "--dataset") c.dataset = value;
    else if (flag == "--device") c.device = value;
    else if (flag == "--precision") c.precision = value;
    else if (flag == "--pretrained") c.pretrained = value;
    else if (flag == "--init") c.init = value;
    else if (flag == "--no-augment") c.augment.enabled = false;
    else if (flag == "--iters") c.iters = std::stoll(value);
    else if (flag == "--batch") c.batch_size = std::stoll(value);
    else if (flag == "--val-every") c.val_every = std::stoll(value);
    else if (flag == "--val-videos") c.val_videos = std::stoll(value);
    else if (flag == "--checkpoint-every") c.checkpoint_every = std::stoll(value);
    else if (flag == "--seed") c.seed = std::stoull(value);
  }
  if (crop) c.augment.crop_h = int(crop->first), c.augment.crop_w = int(crop->second);
  // The flags' values go through the config's own checks.
  train::apply_config_json(c, "{}", "the command line");
  return train::run_training(run);
}

}  // namespace tv3s::cli
