// `tv3s eval [MODEL] --data ROOT ...`: the paper's numbers (mIoU, mVC8, mVC16, plus aAcc,
// mAcc, fwIoU and the per-class table) on a VSPW or Cityscapes evaluation set, either by
// running a model or by scoring predictions saved earlier (--pred DIR). This file parses
// the command line, calls src/eval/evaluate.h (the protocols and the loop) and prints
// through src/eval/report.h (the table and the JSON).
#include <omp.h>

#include <cstdio>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "src/cli/args.h"
#include "src/cli/commands.h"
#include "src/cli/progress.h"
#include "src/eval/evaluate.h"
#include "src/eval/report.h"
#include "src/io/atomic_file.h"

namespace tv3s::cli {
namespace {

const char* kUsage =
    "usage: tv3s eval [MODEL.safetensors] --data ROOT [--dataset vspw|cityscapes]\n"
    "                 [--split val|test] [--pred DIR] [--protocol stream|official|both] [--mode stream|clip]\n"
    "                 [--save-pred DIR] [--json FILE] [--device cpu|cuda] [--threads N]\n"
    "                 [--precision fp32|fp16|bf16] [--videos a,b,...|--limit N] [--quiet]\n"
    "  MODEL            run this model on the set (or give --pred DIR, not both)\n"
    "  --data ROOT      a VSPW root (<split>.txt, data/<video>/{origin,mask}/) or a Cityscapes\n"
    "                   root (gtFine/, leftImg8bit/, leftImg8bit_sequence/)\n"
    "  --dataset KIND   vspw or cityscapes (default: detected from ROOT)\n"
    "  --split S        val (default) or test (VSPW test has no masks: --save-pred only)\n"
    "  --pred DIR       score saved predictions: DIR/<video>/<frame>.png (VSPW),\n"
    "                   DIR/<city>/<name>_leftImg8bit.png (Cityscapes); train-id label PNGs\n"
    "  --protocol P     stream (default): streaming at native size; official: the published\n"
    "                   evaluation (test resize, 4-frame clips); both: side by side\n"
    "  --mode M         how a TV3S runs under --protocol stream: stream (default) or clip\n"
    "                   (the official 4-frame clips, at native size)\n"
    "  --save-pred DIR  write the predictions as palette PNGs in the layout --pred reads\n"
    "                   (with --protocol both: DIR/official/ and DIR/stream/)\n"
    "  --json FILE      the results as JSON (percent, full precision)\n"
    "  --device D       cpu (default) or cuda\n"
    "  --precision P    fp32 (default), fp16 or bf16 (as tv3s segment: emulated on the CPU)\n"
    "  --threads N      OpenMP threads for the CPU\n"
    "  --videos a,b     only these videos (Cityscapes: cities); --limit N: the first N videos\n"
    "                   (Cityscapes: annotated frames)\n"
    "  --quiet          no progress line on stderr\n";

struct Options {
  eval::EvalRequest request;
  bool quiet = false;
};

std::vector<std::string> split_commas(const std::string& text) {
  std::vector<std::string> parts;
  std::stringstream in(text);
  for (std::string part; std::getline(in, part, ',');)
    if (!part.empty()) parts.push_back(part);
  return parts;
}

Options parse(int argc, char** argv, bool& help) {
  Args args(argc, argv);
  Options options;
  eval::EvalRequest& o = options.request;
  std::vector<std::string> positional;
  while (!args.done()) {
    const std::string a = args.next();
    if (a == "--help" || a == "-h") {
      help = true;
      return options;
    } else if (a == "--data") {
      o.root = args.value(a);
    } else if (a == "--dataset") {
      o.dataset = args.value(a);
      if (o.dataset != "vspw" && o.dataset != "cityscapes")
        throw UsageError{"unknown --dataset '" + o.dataset + "' (vspw or cityscapes)"};
    } else if (a == "--split") {
      o.split = args.value(a);
      if (o.split.empty() || o.split.find('/') != std::string::npos)
        throw UsageError{"--split needs a split name (val, test, ...)"};
    } else if (a == "--pred") {
      o.pred_dir = args.value(a);
    } else if (a == "--protocol") {
      o.protocol = args.value(a);
      if (o.protocol != "stream" && o.protocol != "official" && o.protocol != "both")
        throw UsageError{"unknown --protocol '" + o.protocol + "' (stream, official or both)"};
    } else if (a == "--mode") {
      o.stream_mode = args.value(a);
      if (o.stream_mode != "stream" && o.stream_mode != "clip")
        throw UsageError{"unknown --mode '" + o.stream_mode + "' (stream or clip)"};
    } else if (a == "--save-pred") {
      o.save_dir = args.value(a);
    } else if (a == "--json") {
      o.json = args.value(a);
    } else if (a == "--device") {
      o.device = args.device(a);
    } else if (a == "--precision") {
      o.precision = args.precision(a);
    } else if (a == "--threads") {
      omp_set_num_threads(args.threads(a));
    } else if (a == "--videos") {
      o.videos = split_commas(args.value(a));
      if (o.videos.empty()) throw UsageError{"--videos needs video names, comma-separated"};
    } else if (a == "--limit") {
      o.limit = args.integer(a, 1, int64_t(1) << 40);
    } else if (a == "--quiet") {
      options.quiet = true;
    } else if (a.size() > 1 && a[0] == '-') {
      throw UsageError{"unknown option '" + a + "'"};
    } else {
      positional.push_back(a);
    }
  }
  if (positional.size() > 1) throw UsageError{"takes at most one model file, got " + std::to_string(positional.size()) + " arguments"};
  if (!positional.empty()) o.model = positional[0];
  if (o.root.empty()) throw UsageError{"needs --data ROOT (the dataset to evaluate on)"};
  if (o.model.empty() == o.pred_dir.empty())
    throw UsageError{o.model.empty() ? "needs a model file or --pred DIR (saved predictions)"
                                     : "give a model file or --pred DIR, not both"};
  if (!o.pred_dir.empty() && !o.save_dir.empty())
    throw UsageError{"--save-pred needs a model run (--pred scores predictions already saved)"};
  if (!o.videos.empty() && o.limit > 0) throw UsageError{"give --videos or --limit, not both"};
  return options;
}

int evaluate(Options& options) {
  eval::EvalRequest& o = options.request;
  std::unique_ptr<Progress> progress;  // stderr, terminals only
  o.on_start = [&](int64_t frames) { progress = std::make_unique<Progress>(frames, "frames", !options.quiet); };
  o.on_frame = [&] { progress->step(); };
  const eval::Evaluation e = eval::evaluate(o);
  if (progress) progress->finish();
  if (!e.metrics) {
    std::printf("tv3s eval: %lld frames of %lld videos predicted into %s (the %s split has no "
                "masks: no metrics)\n",
                (long long)e.frames, (long long)e.videos, o.save_dir.c_str(), o.split.c_str());
    return 0;
  }
  std::fputs(eval::format_report(e.info, e.results).c_str(), stdout);
  if (!o.json.empty()) io::write_file_atomic(o.json, eval::report_json(e.info, e.results));
  return 0;
}

}  // namespace

int run_eval(int argc, char** argv) {
  bool help = false;
  Options options;
  try {
    options = parse(argc, argv, help);
  } catch (const UsageError& e) {
    std::fprintf(stderr, "tv3s eval: %s (see tv3s eval --help)\n", e.message.c_str());
    return 2;
  }
  if (help) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  return evaluate(options);
}

}  // namespace tv3s::cli
