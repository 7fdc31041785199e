#include "src/cli/args.h"

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

}  // namespace tv3s::cli
