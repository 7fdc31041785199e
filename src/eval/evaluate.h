// Evaluation: the protocols (which model mode, which test resize, which neighbouring frames)
// and the loop — dataset list → segment → accumulate metrics → results — shared by
// `tv3s eval` (src/cli/eval.cpp parses, calls evaluate(), prints) and by training's
// validation (src/train/validate.cpp calls evaluate_set() with the training model).
//
// Protocols for a model run:
//   official  the published evaluation (model-spec §8.1): the official test resize
//             (VSPW: align to multiples of 32; Cityscapes: 2048×1024 → 1024×512) and
//             clip mode — 4-frame clips [i−9, i−6, i−3, i] (official_clip()), frames 0–2
//             per-frame; on Cityscapes the clip of frames n−9, n−6, n−3, n of the target's
//             snippet.
//   stream    streaming at native size: the Mamba state carried over the whole video; on
//             Cityscapes the frames n−9, n−8, …, n streamed from zero state, n scored.
//             With stream_mode "clip" a TV3S runs the official clips instead, still at
//             native size.
//   both      the two side by side, from one decode of every frame.
// A per-frame SegFormer runs in frame mode under both names (official = resize + per-frame).
// A model converted from a TV3SHead_shift_city checkpoint (ModelConfig::city_head, e.g.
// the released Swin-T VSPW one) answers class 0 for a VSPW video's frames 0–2 under
// "official", as that head's test mode does (model-spec §7.4); "stream" gives them the
// SegFormer logits, as TV3SHead_shift does.
// Saved predictions (pred_dir) are scored as protocol "pred". The metrics (metrics.h) are
// the same for every protocol; mVC follows VC_perclip.py (videos of ≤ 16 frames skipped,
// N − n windows per video, pooled). On Cityscapes each annotated frame is its own short
// video (no mVC).
//
// Saved predictions are matched to the ground truth by name, as VC_perclip does; every
// listed frame needs its prediction (a missing one is an error before anything is scored),
// so mIoU and mVC see the same frames; files that name no listed frame are ignored.
// save_dir writes that layout (palette PNGs of the dataset's colours, atomically), so saving
// then scoring the saved predictions reproduces a model run's numbers exactly.
// fps in the results: scored frames per second of model time (preprocessing, network,
// resize back and argmax; file decoding excluded; on Cityscapes the neighbours' cost is
// included).
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "src/data/eval_dataset.h"
#include "src/eval/report.h"
#include "src/models/segformer.h"
#include "src/models/tv3s_model.h"
#include "tv3s/segmenter.h"

namespace tv3s::eval {

// One protocol of a model run: how the model runs and where its predictions go.
struct Protocol {
  std::string name;  // "official", "stream" (training's validation: "val")
  SegmentMode mode = SegmentMode::stream;  // frame for a per-frame SegFormer
  InputResize resize = InputResize::none;
  std::string save_dir;  // palette PNGs of the predictions; "" = not saved
};

// The protocols that `protocol` ("stream", "official" or "both") names for a TV3S
// (tv3s = true) or a per-frame SegFormer; stream_mode ("stream" or "clip") is how a TV3S
// runs under "stream". With save_dir and two protocols each saves into save_dir/<name>/.
std::vector<Protocol> plan_protocols(const std::string& protocol, const std::string& stream_mode, bool tv3s,
                                     bool cityscapes, const std::string& save_dir = "");

// Cityscapes: the neighbouring frames (offsets from the annotated frame, oldest first) a
// TV3S needs under `mode`: the official clip's −9, −6, −3 in clip mode, −9 … −1 streaming.
std::vector<int> cityscapes_context(SegmentMode mode);
// The neighbours to list for all `protocols` at once (the union, oldest first); empty for
// a per-frame SegFormer.
std::vector<int> cityscapes_context(const std::vector<Protocol>& protocols);

// The model under evaluation: exactly one of the two.
struct Model {
  std::shared_ptr<const Tv3s> tv3s;
  std::shared_ptr<const Segformer> segformer;
  DType precision = DType::f32;  // what its weights were made for (src/models/precision.h)
};

struct LoopOptions {
  std::vector<Protocol> protocols;  // model runs (empty when scoring pred_dir)
  std::string pred_dir;             // saved predictions to score instead of a model
  Device device = Device::CPU;      // where a Cityscapes neighbour is normalised
  bool metrics = true;              // false: the set has no masks (predict and save only)
  std::function<void()> on_frame;   // after each frame (progress)
};

// The loop: every frame of every video of `set`, each protocol's prediction (or the saved
// one), accumulated into mIoU and (not Cityscapes) mVC. One result per protocol, in order.
// Throws for frames of one video that differ in size, a frame and mask that differ, a
// saved prediction that cannot be read.
std::vector<ProtocolResult> evaluate_set(const data::EvalSet& set, const Model& model,
                                         const LoopOptions& options);

// `tv3s eval` as a library call: the model file (or pred_dir), the set, the protocols.
struct EvalRequest {
  std::string model, root, dataset, split = "val", pred_dir, protocol = "stream", save_dir;
  std::string json;                   // checked to be writable before the run (the caller writes it)
  std::string stream_mode = "stream"; // how a TV3S runs under the stream protocol: stream or clip
  Device device = Device::CPU;
  DType precision = DType::f32;       // the model in f32, or f16/bf16 (tv3s/segmenter.h)
  std::vector<std::string> videos;
  int64_t limit = 0;
  // Called once with the number of frames before the loop, then after each frame.
  std::function<void(int64_t frames)> on_start;
  std::function<void()> on_frame;
};

struct Evaluation {
  ReportInfo info;
  std::vector<ProtocolResult> results;  // empty when !metrics
  bool metrics = true;                  // false: VSPW's test split, predictions saved only
  int64_t frames = 0, videos = 0;
};

// Loads and checks everything before the run (model file and classes, the listing, every
// saved prediction, the JSON path's folder), then runs evaluate_set().
Evaluation evaluate(const EvalRequest& request);

}  // namespace tv3s::eval
