#include "src/cli/args.h"

#include <cctype>
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

std::pair<long long, long long> Args::dims(const std::string& flag, const std::string& form, long long lo,
                                           long long hi) {
  const std::string text = value(flag);
  const size_t x = text.find('x');
  auto number = [&](const std::string& part, long long& out) {
    char* end = nullptr;
    out = std::strtoll(part.c_str(), &end, 10);
    return !part.empty() && std::isdigit(static_cast<unsigned char>(part[0])) && *end == '\0' && out >= lo &&
           out <= hi;
  };
  long long a = 0, b = 0;
  if (x == std::string::npos || !number(text.substr(0, x), a) || !number(text.substr(x + 1), b))
    throw UsageError{flag + " needs " + form + " with both in [" + std::to_string(lo) + ", " + std::to_string(hi) +
                     "], got '" + text + "'"};
  return {a, b};
}

}  // namespace tv3s::cli
