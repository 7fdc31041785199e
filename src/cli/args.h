// Command-line parsing shared by the subcommands: flags with values, positional
// arguments, and usage errors that the command turns into exit code 2; the value kinds
// every command spells the same way (device, HxW sizes, thread counts); and the timing and
// memory figures they print (ms, FPS, MiB).
#pragma once
#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "tv3s/dtype.h"

namespace tv3s::cli {

// Thrown for a malformed command line; the command prints it after its name and exits 2.
struct UsageError {
  std::string message;
};

class Args {
 public:
  Args(int argc, char** argv) : args_(argv, argv + argc) {}

  bool done() const { return pos_ >= args_.size(); }
  // The next argument, consumed.
  std::string next() { return args_[pos_++]; }
  // The value after flag `flag` (already consumed); a UsageError when there is none.
  std::string value(const std::string& flag);
  // The value as an integer in [lo, hi]; a UsageError otherwise.
  long long integer(const std::string& flag, long long lo, long long hi);
  // The value as a size "HxW" (height first, everywhere: "480x853" is 480 rows of 853
  // pixels), both in [lo, hi]: {H, W}. A UsageError otherwise ("X", "*", signs, a third
  // number are refused); for a non-square value it says "read as H high, W wide", so a
  // size written width first (synth's old spelling) shows which way it was taken.
  std::pair<long long, long long> size(const std::string& flag, long long lo, long long hi);
  // The value as a device: "cpu" or "cuda" (tv3s::device_name spells it back).
  Device device(const std::string& flag);
  // The value as an inference precision: "fp32", "fp16" or "bf16" (tv3s::parse_precision).
  DType precision(const std::string& flag);
  // The value as an OpenMP thread count, 1 to 1024.
  int threads(const std::string& flag) { return int(integer(flag, 1, 1024)); }

 private:
  std::vector<std::string> args_;
  size_t pos_ = 0;
};

// A size "HxW" → {H, W} when both are decimal integers in [lo, hi]; else the usage error's
// message for `flag` (the parser behind Args::size).
std::pair<long long, long long> parse_size(const std::string& flag, const std::string& text, long long lo,
                                           long long hi);

// Timing and memory figures, spelled alike by bench*, segment, eval and train.
double seconds_since(std::chrono::steady_clock::time_point start);
double median(std::vector<double> values);  // the upper median of a non-empty list
int64_t max_rss_bytes();                    // the process's peak resident set, as the OS sees it
std::string ms(double milliseconds);        // "12.3 ms"
std::string fps(double frames_per_second);  // "8.30 FPS"
std::string mib(double bytes, int decimals = 1);  // "12.3 MiB"

}  // namespace tv3s::cli
