// Text table and JSON for `tv3s eval` (src/eval/report.h).
#include "src/eval/report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

namespace tv3s::eval {
namespace {

// A fraction as the paper prints it: percent, 2 decimals; "n/a" for NaN.
std::string percent(double fraction) {
  if (std::isnan(fraction)) return "n/a";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", 100.0 * fraction);
  return buf;
}

nlohmann::json percent_json(double fraction) {
  return std::isnan(fraction) ? nlohmann::json(nullptr) : nlohmann::json(100.0 * fraction);
}

std::string pad(const std::string& s, size_t width, bool right) {
  if (s.size() >= width) return s;
  return right ? std::string(width - s.size(), ' ') + s : s + std::string(width - s.size(), ' ');
}

double vc_value(const ProtocolResult& r, int n) {
  if (!r.has_vc) return std::nan("");
  return n == 8 ? r.vc.mvc8 : r.vc.mvc16;
}

nlohmann::json protocol_json(const ReportInfo& info, const ProtocolResult& r) {
  nlohmann::json per_class = nlohmann::json::array();
  for (size_t c = 0; c < r.iou.iou.size(); ++c)
    per_class.push_back({{"name", info.classes.names[c]},
                         {"IoU", percent_json(r.iou.iou[c])},
                         {"Acc", percent_json(r.iou.acc[c])}});
  nlohmann::json j = {
      {"protocol", r.protocol},
      {"mIoU", percent_json(r.iou.miou)},
      {"mVC8", percent_json(vc_value(r, 8))},
      {"mVC16", percent_json(vc_value(r, 16))},
      {"aAcc", percent_json(r.iou.aacc)},
      {"mAcc", percent_json(r.iou.macc)},
      {"fwIoU", percent_json(r.iou.fwiou)},
      {"per_class", per_class},
      {"frames", r.frames},
      {"videos", r.videos},
      {"fps", r.fps < 0 ? nlohmann::json(nullptr) : nlohmann::json(r.fps)},
  };
  if (!r.mode.empty()) j["mode"] = r.mode, j["resize"] = r.resize;
  if (r.has_vc)
    j["vc"] = {{"videos", r.vc.videos},
               {"windows8", r.vc.windows8},
               {"windows16", r.vc.windows16},
               {"nan_windows8", r.vc.nan_windows8},
               {"nan_windows16", r.vc.nan_windows16}};
  return j;
}

}  // namespace

std::string format_report(const ReportInfo& info, const std::vector<ProtocolResult>& results) {
  std::string out;
  const ProtocolResult& first = results.front();
  out += info.dataset + " " + info.split + " (" + info.root + "): " + std::to_string(first.videos) +
         " videos, " + std::to_string(first.frames) + " frames, " +
         std::to_string(info.classes.size()) + " classes (" + info.classes_from + ")\n";
  out += info.source;
  for (const ProtocolResult& r : results)
    if (!r.mode.empty())
      out += (&r == &first ? ", " : "; ") + r.protocol + " = " + r.mode + " mode, resize " + r.resize;
  out += "\n\n";

  size_t name_width = 5;
  for (const std::string& n : info.classes.names) name_width = std::max(name_width, n.size());
  name_width = std::min<size_t>(name_width + 2, 40);
  const size_t col = 8;
  if (results.size() > 1) {
    std::string header = pad("", name_width, false);
    for (const ProtocolResult& r : results) header += pad(r.protocol, 2 * col, true);
    out += header + "\n";
  }
  std::string header = pad("class", name_width, false);
  for (size_t i = 0; i < results.size(); ++i) header += pad("IoU", col, true) + pad("Acc", col, true);
  out += header + "\n";
  for (size_t c = 0; c < size_t(info.classes.size()); ++c) {
    std::string line = pad(info.classes.names[c], name_width, false);
    for (const ProtocolResult& r : results)
      line += pad(percent(r.iou.iou[c]), col, true) + pad(percent(r.iou.acc[c]), col, true);
    out += line + "\n";
  }
  out += "\n";
  // Summary values sit under the IoU column of their protocol.
  auto summary = [&](const std::string& label, auto value) {
    std::string line = pad(label, name_width, false);
    for (const ProtocolResult& r : results) line += pad(value(r), col, true) + std::string(col, ' ');
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  };
  if (results.size() > 1) summary("", [](const ProtocolResult& r) { return r.protocol; });
  summary("mIoU", [](const ProtocolResult& r) { return percent(r.iou.miou); });
  summary("mVC8", [](const ProtocolResult& r) { return percent(vc_value(r, 8)); });
  summary("mVC16", [](const ProtocolResult& r) { return percent(vc_value(r, 16)); });
  summary("aAcc", [](const ProtocolResult& r) { return percent(r.iou.aacc); });
  summary("mAcc", [](const ProtocolResult& r) { return percent(r.iou.macc); });
  summary("fwIoU", [](const ProtocolResult& r) { return percent(r.iou.fwiou); });
  if (first.fps >= 0) {
    summary("FPS", [](const ProtocolResult& r) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.2f", r.fps);
      return std::string(buf);
    });
  }
  if (!first.has_vc) {
    out += "(mVC is not defined on Cityscapes: one annotated frame per snippet)\n";
  } else {
    out += "(mVC over " + std::to_string(first.vc.videos) + " videos with more than 16 frames: " +
           std::to_string(first.vc.windows8) + " windows of 8, " + std::to_string(first.vc.windows16) +
           " of 16";
    if (first.vc.videos == 0) out += "; no video is long enough";
    out += ")\n";
  }
  return out;
}

std::string report_json(const ReportInfo& info, const std::vector<ProtocolResult>& results) {
  nlohmann::json j;
  if (results.size() == 1) {
    j = protocol_json(info, results.front());
  } else {
    for (const ProtocolResult& r : results) j[r.protocol] = protocol_json(info, r);
    j["frames"] = results.front().frames;
    j["videos"] = results.front().videos;
  }
  j["dataset"] = info.dataset;
  j["split"] = info.split;
  j["root"] = info.root;
  j["source"] = info.source;
  j["classes"] = info.classes.size();
  return j.dump(2) + "\n";
}

}  // namespace tv3s::eval
