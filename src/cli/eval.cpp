// `tv3s eval [MODEL] --data ROOT ...`: the paper's numbers (mIoU, mVC8, mVC16, plus aAcc,
// mAcc, fwIoU and the per-class table) on a VSPW or Cityscapes evaluation set, either by
// running a model or by scoring predictions saved earlier (--pred DIR).
//
// Protocols for a model run:
//   official  the published evaluation (model-spec §8.1): the official test resize
//             (VSPW: align to multiples of 32; Cityscapes: 2048×1024 → 1024×512) and
//             clip mode — 4-frame clips [i−9, i−6, i−3, i], frames 0–2 per-frame; on
//             Cityscapes the clip of frames n−9, n−6, n−3, n of the target's snippet.
//   stream    (default) streaming at native size: the Mamba state carried over the whole
//             video; on Cityscapes the frames n−9, n−8, …, n streamed from zero state, n scored.
//             With --mode clip a TV3S runs the official clips instead, still at native size.
//   both      the two side by side, from one decode of every frame.
// A per-frame SegFormer runs in frame mode under both names (official = resize + per-frame).
// The metrics (src/eval/metrics.h) are the same for every protocol; mVC follows
// VC_perclip.py (videos of ≤ 16 frames skipped, N − n windows per video, pooled).
//
// Saved predictions (--pred DIR) are matched to the ground truth by name, as VC_perclip
// does; every listed frame needs its prediction (a missing one is an error before anything
// is scored), so mIoU and mVC see the same frames; files in DIR that name no listed frame
// are ignored (VC_perclip would fail on them: it opens the mask of every file it finds).
// --save-pred writes that layout (palette PNGs of the dataset's colours, atomically), so
// `--save-pred D` then `--pred D` reproduces a model run's numbers exactly.
// fps in the results: scored frames per second of model time (preprocessing, network,
// resize back and argmax; file decoding excluded; on Cityscapes the neighbours' cost is
// included).
//
// Files: src/data/eval_dataset.h lists the set and checks everything before the run;
// src/eval/report.h prints the table and writes the JSON.
#include <omp.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "src/cli/args.h"
#include "src/cli/commands.h"
#include "src/cli/progress.h"
#include "src/data/eval_dataset.h"
#include "src/eval/metrics.h"
#include "src/eval/report.h"
#include "src/io/atomic_file.h"
#include "src/io/image.h"
#include "src/pipeline/official_resize.h"
#include "src/pipeline/preprocess.h"
#include "src/pipeline/segmenter.h"
#include "tv3s/tv3s.hpp"

namespace tv3s::cli {
namespace {

const char* kUsage =
    "usage: tv3s eval [MODEL.safetensors] --data ROOT [--dataset vspw|cityscapes]\n"
    "                 [--split val|test] [--pred DIR] [--protocol stream|official|both] [--mode stream|clip]\n"
    "                 [--save-pred DIR] [--json FILE] [--device cpu|cuda] [--threads N]\n"
    "                 [--videos a,b,...|--limit N] [--quiet]\n"
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
    "  --threads N      OpenMP threads for the CPU\n"
    "  --videos a,b     only these videos (Cityscapes: cities); --limit N: the first N videos\n"
    "                   (Cityscapes: annotated frames)\n"
    "  --quiet          no progress line on stderr\n";

namespace fs = std::filesystem;
using data::DatasetKind;
using data::EvalFrame;
using data::EvalSet;
using data::EvalVideo;

struct Options {
  std::string model, root, dataset, split = "val", pred_dir, protocol = "stream", save_dir, json;
  std::string stream_mode = "stream";  // how a TV3S runs under the stream protocol: stream or clip
  std::string device = "cpu";
  std::vector<std::string> videos;
  int64_t limit = 0;
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
  Options o;
  std::vector<std::string> positional;
  while (!args.done()) {
    const std::string a = args.next();
    if (a == "--help" || a == "-h") {
      help = true;
      return o;
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
      o.device = args.value(a);
      if (o.device != "cpu" && o.device != "cuda")
        throw UsageError{"unknown --device '" + o.device + "' (cpu or cuda)"};
    } else if (a == "--threads") {
      omp_set_num_threads(int(args.integer(a, 1, 1024)));
    } else if (a == "--videos") {
      o.videos = split_commas(args.value(a));
      if (o.videos.empty()) throw UsageError{"--videos needs video names, comma-separated"};
    } else if (a == "--limit") {
      o.limit = args.integer(a, 1, int64_t(1) << 40);
    } else if (a == "--quiet") {
      o.quiet = true;
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
  return o;
}

// The JSON goes into an existing folder; checked before a long run, not after it.
void check_output_file(const std::string& path) {
  const fs::path parent = fs::path(path).parent_path();
  std::error_code ec;
  TV3S_CHECK(parent.empty() || fs::is_directory(parent, ec), path,
             ": cannot write the JSON report there (no folder ", parent.string(), ")");
  TV3S_CHECK(!fs::is_directory(path, ec), path, ": is a folder; --json needs a file name");
}

// One protocol's model, accumulators and bookkeeping.
struct Run {
  eval::ProtocolResult result;
  std::unique_ptr<Segmenter> segmenter;  // null when scoring saved predictions
  TestResize resize = TestResize::none;
  std::vector<int> context;  // Cityscapes: EvalFrame::context entries fed before the target
  std::unique_ptr<eval::IouAccumulator> iou;
  eval::VcAccumulator vc;
  std::string save_dir;
  double seconds = 0;
};

io::LabelMap to_label_map(const Tensor& labels) {  // [1, H, W] u8
  io::LabelMap map;
  map.height = int(labels.size(1)), map.width = int(labels.size(2));
  const uint8_t* p = labels.data<uint8_t>();
  map.values.assign(p, p + labels.numel());
  return map;
}

void save_prediction(const EvalSet& set, const Run& run, const EvalVideo& video,
                     const EvalFrame& frame, const io::LabelMap& pred) {
  const std::string path = data::prediction_path(set, run.save_dir, video, frame);
  io::make_output_folder(fs::path(path).parent_path().string());
  Tensor labels = Tensor::empty(Shape{pred.height, pred.width}, DType::u8);
  std::copy(pred.values.begin(), pred.values.end(), labels.data<uint8_t>());
  io::write_label_png(path, labels, set.classes.palette);
}

// The model's prediction for `frame` under `run` (image already decoded; Cityscapes
// neighbours in `context_images`, indexed like EvalFrame::context).
io::LabelMap predict(Run& run, const io::Image& image, const std::vector<io::Image>& context_images,
                     bool cityscapes, Device device) {
  const auto t0 = std::chrono::steady_clock::now();
  Segmenter& seg = *run.segmenter;
  if (cityscapes) {
    // Each annotated frame is its own short video: its neighbours from zero state; their
    // outputs are not needed, so they stop at the head (no resize back, no argmax).
    seg.reset();
    for (int k : run.context)
      seg.push(normalize_image(apply_test_resize(run.resize, context_images[size_t(k)]), device), false);
  }
  const Segmentation out = seg.segment({{image.rgb.data(), image.width, image.height, 0}});
  io::LabelMap map = to_label_map(out.labels);
  run.seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return map;
}

// Ground truth and saved predictions of frames [begin, end) of a video, decoded in parallel
// (PNG decoding dominates a --pred run); the first error is rethrown as it was.
void load_saved(const EvalSet& set, const EvalVideo& video, const std::string& pred_dir,
                size_t begin, size_t end, std::vector<io::LabelMap>& gts, std::vector<io::LabelMap>& preds) {
  gts.assign(end - begin, {});
  preds.assign(end - begin, {});
  std::vector<std::exception_ptr> errors(end - begin);
#pragma omp parallel for schedule(dynamic)
  for (int64_t k = 0; k < int64_t(end - begin); ++k) {
    try {
      const EvalFrame& frame = video.frames[begin + size_t(k)];
      gts[size_t(k)] = data::read_ground_truth(set, frame);
      preds[size_t(k)] = data::read_prediction(data::prediction_path(set, pred_dir, video, frame),
                                               set.classes.size(), gts[size_t(k)].width,
                                               gts[size_t(k)].height, frame.mask);
    } catch (...) {
      errors[size_t(k)] = std::current_exception();
    }
  }
  for (const std::exception_ptr& e : errors)
    if (e) std::rethrow_exception(e);
}

int evaluate(const Options& o) {
  const Device device = o.device == "cuda" ? Device::CUDA : Device::CPU;
  TV3S_CHECK(device == Device::CPU || !o.pred_dir.empty() || cuda_available(),
             "--device cuda: no usable CUDA GPU");
  const DatasetKind kind =
      o.dataset.empty() ? data::detect_dataset_kind(o.root) : data::parse_dataset_kind(o.dataset);
  const bool cityscapes = kind == DatasetKind::cityscapes;
  if (!o.json.empty()) check_output_file(o.json);

  // The model first: whether it is a TV3S decides which neighbouring frames Cityscapes needs.
  NoGradGuard no_grad;
  std::shared_ptr<const Tv3s> tv3s;
  std::shared_ptr<const Segformer> segformer;
  int64_t model_classes = 0;
  if (!o.model.empty()) {
    ModelFile file = load_model_file(o.model, device);
    TV3S_CHECK(file.config.model == "tv3s" || file.config.model == "segformer", o.model,
               ": holds a '", file.config.model, "' model (a backbone only); evaluation needs a head");
    model_classes = file.config.num_classes;
    if (file.config.model == "tv3s") tv3s = std::make_shared<const Tv3s>(file.config, std::move(file.weights));
    else segformer = std::make_shared<const Segformer>(file.config, std::move(file.weights));
  }
  std::vector<std::string> protocols;
  if (!o.pred_dir.empty()) protocols = {"pred"};
  else if (o.protocol == "both") protocols = {"official", "stream"};
  else protocols = {o.protocol};

  // List the set; predicting VSPW's test split (no masks) is possible with --save-pred.
  data::EvalOptions listing;
  listing.split = o.split;
  listing.images = !o.model.empty();
  listing.masks = !(kind == DatasetKind::vspw && o.split == "test" && !o.model.empty() && !o.save_dir.empty());
  listing.videos = o.videos, listing.limit = o.limit;
  if (cityscapes && tv3s) {
    for (const std::string& p : protocols) {
      if (p == "stream" && o.stream_mode == "stream") listing.context_offsets = {-9, -8, -7, -6, -5, -4, -3, -2, -1};
      else if (listing.context_offsets.empty()) listing.context_offsets = {-9, -6, -3};
    }
  }
  const EvalSet set = data::list_eval_set(o.root, kind, listing);
  const bool metrics = listing.masks;
  TV3S_CHECK(metrics || o.json.empty(), o.json, ": the ", o.split,
             " split has no masks, so there are no metrics to write (--save-pred only)");
  if (!o.model.empty()) data::check_model_classes(set, model_classes, o.model);
  const int64_t K = set.classes.size();

  // Every saved prediction must be there before anything is scored.
  if (!o.pred_dir.empty()) {
    TV3S_CHECK(fs::is_directory(o.pred_dir), o.pred_dir, ": no such predictions folder");
    for (const EvalVideo& video : set.videos)
      for (const EvalFrame& frame : video.frames) {
        const std::string path = data::prediction_path(set, o.pred_dir, video, frame);
        TV3S_CHECK(fs::is_regular_file(path), path, ": missing prediction for frame '", frame.name,
                   "' of ", cityscapes ? "city '" : "video '", video.name, "'");
      }
  }

  std::vector<Run> runs(protocols.size());
  for (size_t i = 0; i < protocols.size(); ++i) {
    Run& run = runs[i];
    const std::string& p = protocols[i];
    run.result.protocol = p;
    run.result.has_vc = !cityscapes;
    run.iou = std::make_unique<eval::IouAccumulator>(K);
    if (p == "pred") continue;
    const bool official = p == "official";
    run.resize = official ? (cityscapes ? TestResize::cityscapes : TestResize::vspw) : TestResize::none;
    const bool clips = official || o.stream_mode == "clip";
    SegmentMode mode = SegmentMode::frame;
    if (tv3s) {
      mode = clips ? SegmentMode::clip : SegmentMode::stream;
      run.segmenter = std::make_unique<Segmenter>(tv3s, mode, 1);
    } else {
      run.segmenter = std::make_unique<Segmenter>(segformer, 1);
    }
    run.segmenter->set_resize(run.resize);
    run.result.mode = segment_mode_name(mode);
    run.result.resize = test_resize_name(run.resize);
    if (cityscapes && tv3s) {  // positions in listing.context_offsets
      const std::vector<int>& offsets = listing.context_offsets;
      for (size_t k = 0; k < offsets.size(); ++k)
        if (!clips || offsets[k] == -9 || offsets[k] == -6 || offsets[k] == -3) run.context.push_back(int(k));
    }
    if (!o.save_dir.empty()) run.save_dir = protocols.size() > 1 ? (fs::path(o.save_dir) / p).string() : o.save_dir;
  }

  Progress progress(set.frames(), "frames", !o.quiet);  // stderr, terminals only
  constexpr size_t kChunk = 16;  // --pred: frames decoded in parallel at a time
  for (const EvalVideo& video : set.videos) {
    for (Run& run : runs) {
      if (run.segmenter) run.segmenter->reset();
      if (metrics && !cityscapes) run.vc.begin_video(int64_t(video.frames.size()));
    }
    int width = 0, height = 0;  // the video's frame size
    std::vector<io::LabelMap> gts, preds;
    for (size_t f = 0; f < video.frames.size(); ++f) {
      const EvalFrame& frame = video.frames[f];
      io::LabelMap gt;
      std::vector<io::LabelMap> pred(runs.size());
      if (!o.pred_dir.empty()) {
        if (f % kChunk == 0)
          load_saved(set, video, o.pred_dir, f, std::min(video.frames.size(), f + kChunk), gts, preds);
        gt = std::move(gts[f % kChunk]);
        pred[0] = std::move(preds[f % kChunk]);
        TV3S_CHECK(cityscapes || f == 0 || (gt.width == width && gt.height == height), frame.mask,
                   ": mask is ", gt.width, "×", gt.height, ", the video's first mask ", width, "×",
                   height, " (frames of one video must share a size)");
      } else {
        if (metrics) gt = data::read_ground_truth(set, frame);
        const io::Image image = io::read_image(frame.image);
        TV3S_CHECK(!metrics || (image.width == gt.width && image.height == gt.height), frame.image,
                   ": frame is ", image.width, "×", image.height, ", its mask ", frame.mask, " is ",
                   gt.width, "×", gt.height);
        TV3S_CHECK(cityscapes || f == 0 || (image.width == width && image.height == height), frame.image,
                   ": frame is ", image.width, "×", image.height, ", the video's first frame ", width,
                   "×", height, " (frames of one video must share a size)");
        std::vector<io::Image> context_images;
        for (const std::string& path : frame.context) context_images.push_back(io::read_image(path));
        for (size_t r = 0; r < runs.size(); ++r) {
          pred[r] = predict(runs[r], image, context_images, cityscapes, device);
          if (!runs[r].save_dir.empty()) save_prediction(set, runs[r], video, frame, pred[r]);
        }
      }
      width = pred[0].width, height = pred[0].height;
      if (metrics) {
        for (size_t r = 0; r < runs.size(); ++r) {
          runs[r].iou->add(gt.values.data(), pred[r].values.data(), gt.values.size());
          if (!cityscapes) runs[r].vc.add(gt.values.data(), pred[r].values.data(), gt.values.size());
        }
      }
      progress.step();
    }
  }

  progress.finish();
  std::vector<eval::ProtocolResult> results;
  for (Run& run : runs) {
    eval::ProtocolResult r = run.result;
    r.iou = run.iou->result();
    r.vc = run.vc.result();
    r.frames = set.frames();
    r.videos = int64_t(set.videos.size());
    r.fps = run.segmenter ? (run.seconds > 0 ? double(r.frames) / run.seconds : 0) : -1;
    results.push_back(std::move(r));
  }
  eval::ReportInfo info;
  info.dataset = data::dataset_kind_name(kind);
  info.split = o.split;
  info.root = o.root;
  info.source = o.pred_dir.empty() ? "model " + o.model : "predictions " + o.pred_dir;
  info.classes = set.classes;
  info.classes_from = set.classes_from;
  if (!metrics) {
    std::printf("tv3s eval: %lld frames of %lld videos predicted into %s (the %s split has no "
                "masks: no metrics)\n",
                (long long)set.frames(), (long long)set.videos.size(), o.save_dir.c_str(), o.split.c_str());
    return 0;
  }
  std::fputs(eval::format_report(info, results).c_str(), stdout);
  if (!o.json.empty()) io::write_file_atomic(o.json, eval::report_json(info, results));
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
