// The results of `tv3s eval` as people and programs read them: a text table (per-class
// IoU/Acc with names, then the paper's summary lines) and a JSON document. One or two
// protocols side by side. Numbers are in percent as the paper prints them (×100); the
// table rounds to 2 decimals, the JSON keeps full precision; NaN (a class that is neither
// in the ground truth nor predicted, mVC with no scorable window) prints as "n/a" and is
// null in JSON.
#pragma once
#include <string>
#include <vector>

#include "src/data/class_tables.h"
#include "src/eval/metrics.h"

namespace tv3s::eval {

struct ProtocolResult {
  std::string protocol;  // "official", "stream", or "pred" (saved predictions)
  std::string mode;      // how the model ran: "clip" | "stream" | "frame" ("" for pred)
  std::string resize;    // "vspw" | "cityscapes" | "none" ("" for pred)
  IouResult iou;
  VcResult vc;
  bool has_vc = true;    // false on Cityscapes (mVC is not defined there)
  int64_t frames = 0, videos = 0;
  double fps = -1;       // scored frames per second of inference; < 0: not measured
};

struct ReportInfo {
  std::string dataset, split, root;
  std::string source;  // "model <path>" or "predictions <dir>"
  data::ClassTable classes;
  std::string classes_from;
};

std::string format_report(const ReportInfo& info, const std::vector<ProtocolResult>& results);

// One protocol: its keys at the top level (mIoU, mVC8, mVC16, aAcc, mAcc, fwIoU,
// per_class [{name, IoU, Acc}], frames, videos, protocol, fps, ...); two: {"official":
// {...}, "stream": {...}} with the dataset keys beside them.
std::string report_json(const ReportInfo& info, const std::vector<ProtocolResult>& results);

}  // namespace tv3s::eval
