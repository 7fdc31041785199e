// Command-line parsing shared by the subcommands: flags with values, positional
// arguments, and usage errors that the command turns into exit code 2.
#pragma once
#include <string>
#include <utility>
#include <vector>

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
  // The value as two sizes "<a>x<b>" (e.g. a crop "480x480"), both in [lo, hi]; a
  // UsageError otherwise, naming the expected `form` ("HxW", "WxH").
  std::pair<long long, long long> dims(const std::string& flag, const std::string& form, long long lo,
                                       long long hi);

 private:
  std::vector<std::string> args_;
  size_t pos_ = 0;
};

}  // namespace tv3s::cli
