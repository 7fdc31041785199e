#include "src/eval/evaluate.h"

#include <algorithm>
#include <chrono>
#include <exception>
#include <filesystem>

#include "src/eval/metrics.h"
#include "src/io/atomic_file.h"
#include "src/io/image.h"
#include "src/models/model_file.h"
#include "src/models/precision.h"
#include "src/pipeline/official_resize.h"
#include "src/pipeline/preprocess.h"
#include "src/pipeline/segmenter.h"
#include "tv3s/autograd.h"
#include "tv3s/device.h"
#include "tv3s/error.h"

namespace tv3s::eval {

namespace fs = std::filesystem;
using data::DatasetKind;
using data::EvalFrame;
using data::EvalSet;
using data::EvalVideo;

std::vector<Protocol> plan_protocols(const std::string& protocol, const std::string& stream_mode, bool tv3s,
                                     bool cityscapes, const std::string& save_dir) {
  const std::vector<std::string> names =
      protocol == "both" ? std::vector<std::string>{"official", "stream"} : std::vector<std::string>{protocol};
  std::vector<Protocol> protocols;
  for (const std::string& name : names) {
    Protocol p;
    p.name = name;
    const bool official = name == "official";
    p.resize = official ? (cityscapes ? InputResize::cityscapes : InputResize::vspw) : InputResize::none;
    const bool clips = official || stream_mode == "clip";
    p.mode = !tv3s ? SegmentMode::frame : clips ? SegmentMode::clip : SegmentMode::stream;
    if (!save_dir.empty()) p.save_dir = names.size() > 1 ? (fs::path(save_dir) / name).string() : save_dir;
    protocols.push_back(p);
  }
  return protocols;
}

std::vector<int> cityscapes_context(SegmentMode mode) {
  std::vector<int> offsets;
  if (mode == SegmentMode::stream) {
    for (int k = -9; k < 0; ++k) offsets.push_back(k);
  } else if (mode == SegmentMode::clip) {
    // The official clip of a frame far enough in: [i − 9, i − 6, i − 3, i], less i itself.
    const std::vector<int64_t> clip = official_clip(9);
    for (size_t k = 0; k + 1 < clip.size(); ++k) offsets.push_back(int(clip[k] - 9));
  }
  return offsets;
}

std::vector<int> cityscapes_context(const std::vector<Protocol>& protocols) {
  // Streaming's −9 … −1 holds the clip's −9, −6, −3: one listing serves both.
  std::vector<int> offsets;
  for (const Protocol& p : protocols) {
    const std::vector<int> own = cityscapes_context(p.mode);
    if (own.size() > offsets.size()) offsets = own;
  }
  return offsets;
}

namespace {

// One protocol's model, accumulators and bookkeeping.
struct Run {
  ProtocolResult result;
  std::unique_ptr<Segmenter> segmenter;  // null when scoring saved predictions
  InputResize resize = InputResize::none;
  std::vector<int> context;  // Cityscapes: EvalFrame::context entries fed before the target
  std::unique_ptr<IouAccumulator> iou;
  VcAccumulator vc;
  std::string save_dir;
  double seconds = 0;
  // The official test mode of TV3SHead_shift_city (model-spec §7.4): frames whose clip is
  // shorter than 4 frames (a video's frames 0–2) answer all-zero logits, i.e. class 0.
  bool city_first_frames = false;
};

io::LabelMap to_label_map(const Tensor& labels) {  // [1, H, W] u8
  io::LabelMap map;
  map.height = int(labels.size(1)), map.width = int(labels.size(2));
  const uint8_t* p = labels.data<uint8_t>();
  map.values.assign(p, p + labels.numel());
  return map;
}

void save_prediction(const EvalSet& set, const Run& run, const EvalVideo& video, const EvalFrame& frame,
                     const io::LabelMap& pred) {
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
      seg.push(normalize_image(apply_input_resize(run.resize, context_images[size_t(k)]), device), false);
  }
  const Segmentation out = seg.segment({{image.rgb.data(), image.width, image.height, 0}});
  io::LabelMap map = to_label_map(out.labels);
  run.seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return map;
}

// Ground truth and saved predictions of frames [begin, end) of a video, decoded in parallel
// (PNG decoding dominates a --pred run); the first error is rethrown as it was.
void load_saved(const EvalSet& set, const EvalVideo& video, const std::string& pred_dir, size_t begin,
                size_t end, std::vector<io::LabelMap>& gts, std::vector<io::LabelMap>& preds) {
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

// The JSON goes into an existing folder; checked before a long run, not after it.
void check_output_file(const std::string& path) {
  const fs::path parent = fs::path(path).parent_path();
  std::error_code ec;
  TV3S_CHECK(parent.empty() || fs::is_directory(parent, ec), path,
             ": cannot write the JSON report there (no folder ", parent.string(), ")");
  TV3S_CHECK(!fs::is_directory(path, ec), path, ": is a folder; --json needs a file name");
}

}  // namespace

std::vector<ProtocolResult> evaluate_set(const EvalSet& set, const Model& model, const LoopOptions& options) {
  NoGradGuard no_grad;
  const bool cityscapes = set.kind == DatasetKind::cityscapes;
  const bool saved = !options.pred_dir.empty();
  const int64_t K = set.classes.size();

  std::vector<Run> runs(saved ? 1 : options.protocols.size());
  for (size_t i = 0; i < runs.size(); ++i) {
    Run& run = runs[i];
    run.result.has_vc = !cityscapes;
    run.iou = std::make_unique<IouAccumulator>(K);
    if (saved) {
      run.result.protocol = "pred";
      continue;
    }
    const Protocol& p = options.protocols[i];
    run.result.protocol = p.name;
    run.resize = p.resize;
    if (model.tv3s) run.segmenter = std::make_unique<Segmenter>(model.tv3s, p.mode, 1, model.precision);
    else run.segmenter = std::make_unique<Segmenter>(model.segformer, 1, model.precision);
    run.segmenter->set_resize(run.resize);
    run.result.mode = segment_mode_name(model.tv3s ? p.mode : SegmentMode::frame);
    run.result.resize = input_resize_name(run.resize);
    if (cityscapes && model.tv3s) {  // positions in set.context_offsets
      const std::vector<int> own = cityscapes_context(p.mode);
      for (size_t k = 0; k < set.context_offsets.size(); ++k)
        if (std::find(own.begin(), own.end(), set.context_offsets[k]) != own.end()) run.context.push_back(int(k));
    }
    run.save_dir = p.save_dir;
    run.city_first_frames = p.name == "official" && model.tv3s && model.tv3s->config().city_head && !cityscapes;
  }

  constexpr size_t kChunk = 16;  // saved predictions: frames decoded in parallel at a time
  for (const EvalVideo& video : set.videos) {
    for (Run& run : runs) {
      if (run.segmenter) run.segmenter->reset();
      if (options.metrics && !cityscapes) run.vc.begin_video(int64_t(video.frames.size()));
    }
    int width = 0, height = 0;  // the video's frame size
    std::vector<io::LabelMap> gts, preds;
    for (size_t f = 0; f < video.frames.size(); ++f) {
      const EvalFrame& frame = video.frames[f];
      io::LabelMap gt;
      std::vector<io::LabelMap> pred(runs.size());
      if (saved) {
        if (f % kChunk == 0)
          load_saved(set, video, options.pred_dir, f, std::min(video.frames.size(), f + kChunk), gts, preds);
        gt = std::move(gts[f % kChunk]);
        pred[0] = std::move(preds[f % kChunk]);
        TV3S_CHECK(cityscapes || f == 0 || (gt.width == width && gt.height == height), frame.mask,
                   ": mask is ", gt.width, "×", gt.height, ", the video's first mask ", width, "×",
                   height, " (frames of one video must share a size)");
      } else {
        if (options.metrics) gt = data::read_ground_truth(set, frame);
        const io::Image image = io::read_image(frame.image);
        TV3S_CHECK(!options.metrics || (image.width == gt.width && image.height == gt.height), frame.image,
                   ": frame is ", image.width, "×", image.height, ", its mask ", frame.mask, " is ",
                   gt.width, "×", gt.height);
        TV3S_CHECK(cityscapes || f == 0 || (image.width == width && image.height == height), frame.image,
                   ": frame is ", image.width, "×", image.height, ", the video's first frame ", width,
                   "×", height, " (frames of one video must share a size)");
        std::vector<io::Image> context_images;
        for (const std::string& path : frame.context) context_images.push_back(io::read_image(path));
        for (size_t r = 0; r < runs.size(); ++r) {
          pred[r] = predict(runs[r], image, context_images, cityscapes, options.device);
          if (runs[r].city_first_frames && f < 3) std::fill(pred[r].values.begin(), pred[r].values.end(), uint8_t(0));
          if (!runs[r].save_dir.empty()) save_prediction(set, runs[r], video, frame, pred[r]);
        }
      }
      width = pred[0].width, height = pred[0].height;
      if (options.metrics) {
        for (size_t r = 0; r < runs.size(); ++r) {
          runs[r].iou->add(gt.values.data(), pred[r].values.data(), gt.values.size());
          if (!cityscapes) runs[r].vc.add(gt.values.data(), pred[r].values.data(), gt.values.size());
        }
      }
      if (options.on_frame) options.on_frame();
    }
  }

  std::vector<ProtocolResult> results;
  for (Run& run : runs) {
    ProtocolResult r = run.result;
    r.iou = run.iou->result();
    r.vc = run.vc.result();
    r.frames = set.frames();
    r.videos = int64_t(set.videos.size());
    r.fps = run.segmenter ? (run.seconds > 0 ? double(r.frames) / run.seconds : 0) : -1;
    results.push_back(std::move(r));
  }
  return results;
}

Evaluation evaluate(const EvalRequest& o) {
  const Device device = o.device;
  TV3S_CHECK(device == Device::CPU || !o.pred_dir.empty() || cuda_available(),
             "--device cuda: no usable CUDA GPU");
  const DatasetKind kind =
      o.dataset.empty() ? data::detect_dataset_kind(o.root) : data::parse_dataset_kind(o.dataset);
  const bool cityscapes = kind == DatasetKind::cityscapes;
  if (!o.json.empty()) check_output_file(o.json);

  // The model first: whether it is a TV3S decides which neighbouring frames Cityscapes needs.
  NoGradGuard no_grad;
  Model model;
  int64_t model_classes = 0;
  if (!o.model.empty()) {
    ModelFile file = load_model_file(o.model, device);
    TV3S_CHECK(file.config.kind == ModelKind::tv3s || file.config.kind == ModelKind::segformer, o.model,
               ": holds a '", file.config.kind, "' model (a backbone only); evaluation needs a head");
    model_classes = file.config.num_classes;
    Weights weights = weights_in_precision(file.weights, o.precision);
    file.weights = Weights();
    model.precision = o.precision;
    if (file.config.kind == ModelKind::tv3s) model.tv3s = std::make_shared<const Tv3s>(file.config, std::move(weights));
    else model.segformer = std::make_shared<const Segformer>(file.config, std::move(weights));
  }
  LoopOptions loop;
  loop.pred_dir = o.pred_dir;
  loop.device = device;
  loop.on_frame = o.on_frame;
  if (o.pred_dir.empty())
    loop.protocols = plan_protocols(o.protocol, o.stream_mode, bool(model.tv3s), cityscapes, o.save_dir);

  // List the set; predicting VSPW's test split (no masks) is possible with --save-pred.
  data::EvalOptions listing;
  listing.split = o.split;
  listing.images = !o.model.empty();
  listing.masks = !(kind == DatasetKind::vspw && o.split == "test" && !o.model.empty() && !o.save_dir.empty());
  listing.videos = o.videos, listing.limit = o.limit;
  if (cityscapes && model.tv3s) listing.context_offsets = cityscapes_context(loop.protocols);
  const EvalSet set = data::list_eval_set(o.root, kind, listing);
  loop.metrics = listing.masks;
  TV3S_CHECK(loop.metrics || o.json.empty(), o.json, ": the ", o.split,
             " split has no masks, so there are no metrics to write (--save-pred only)");
  if (!o.model.empty()) data::check_model_classes(set, model_classes, o.model);

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

  if (o.on_start) o.on_start(set.frames());
  Evaluation e;
  std::vector<ProtocolResult> results = evaluate_set(set, model, loop);
  e.metrics = loop.metrics;
  if (e.metrics) e.results = std::move(results);
  e.frames = set.frames();
  e.videos = int64_t(set.videos.size());
  e.info.dataset = data::dataset_kind_name(kind);
  e.info.split = o.split;
  e.info.root = o.root;
  e.info.source = o.pred_dir.empty() ? "model " + o.model : "predictions " + o.pred_dir;
  if (o.pred_dir.empty() && o.precision != DType::f32)
    e.info.source += std::string(" in ") + precision_name(o.precision);
  e.info.classes = set.classes;
  e.info.classes_from = set.classes_from;
  return e;
}

}  // namespace tv3s::eval
