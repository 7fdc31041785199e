#include "src/cli/args.h"

#include <sys/resource.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>

namespace tv3s::cli {

std::string Args::value(const std::string& flag) {
  if (done()) throw UsageError{flag + " needs a value"};
  return next();
}

long long Args::integer(const std::string& flag, long long lo, long long hi) {
  const std::string text = value(flag);
  char* end = nullptr;
  const long long v = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || v < lo || v > hi)
    throw UsageError{flag + " needs an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) +
                     "], got '" + text + "'"};
  return v;
}

std::pair<long long, long long> parse_size(const std::string& flag, const std::string& text, long long lo,
                                           long long hi) {
  const size_t x = text.find('x');
  // Digits only: no sign, no spaces, no "0x" prefix games.
  auto number = [](const std::string& part, long long& out) {
    if (part.empty() || part.size() > 9 || !std::all_of(part.begin(), part.end(), [](unsigned char c) {
          return std::isdigit(c) != 0;
        }))
      return false;
    out = std::strtoll(part.c_str(), nullptr, 10);
    return true;
  };
  long long h = 0, w = 0;
  const bool parsed =
      x != std::string::npos && number(text.substr(0, x), h) && number(text.substr(x + 1), w);
  auto fits = [&](long long v) { return v >= lo && v <= hi; };
  if (parsed && fits(h) && fits(w)) return {h, w};
  std::string message = flag + " needs HxW with both in [" + std::to_string(lo) + ", " +
                        std::to_string(hi) + "], got '" + text + "'";
  // Sizes were once written width first (`tv3s synth --size WxH`): say which way round
  // a non-square size was read.
  if (parsed && h != w)
    message += " (read as " + std::to_string(h) + " high, " + std::to_string(w) + " wide)";
  throw UsageError{message};
}

std::pair<long long, long long> Args::size(const std::string& flag, long long lo, long long hi) {
  return parse_size(flag, value(flag), lo, hi);
}

Device Args::device(const std::string& flag) {
  const std::string name = value(flag);
  if (name == "cpu") return Device::CPU;
  if (name == "cuda") return Device::CUDA;
  throw UsageError{"unknown " + flag + " '" + name + "' (cpu or cuda)"};
}

DType Args::precision(const std::string& flag) {
  const std::string name = value(flag);
  if (name != "fp32" && name != "fp16" && name != "bf16")
    throw UsageError{"unknown " + flag + " '" + name + "' (fp32, fp16 or bf16)"};
  return parse_precision(name);
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

int64_t max_rss_bytes() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return int64_t(usage.ru_maxrss) * 1024;  // Linux reports KiB
}

namespace {
std::string format(const char* spec, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, spec, v);
  return buf;
}
}  // namespace

std::string ms(double milliseconds) { return format("%.1f ms", milliseconds); }
std::string fps(double frames_per_second) { return format("%.2f FPS", frames_per_second); }
std::string mib(double bytes, int decimals) {
  return format(decimals == 2 ? "%.2f MiB" : "%.1f MiB", bytes / 1048576.0);
}

}  // namespace tv3s::cli
