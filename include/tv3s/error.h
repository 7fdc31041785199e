// Errors: every failure in tv3s is a tv3s::Error with a one-line message that names
// the op (or file) and the offending shapes/values. No error codes, no abort().
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>

namespace tv3s {

struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// str(a, b, c) concatenates anything that has an operator<<.
template <class... Args>
std::string str(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}

[[noreturn]] inline void fail(const std::string& message) { throw Error(message); }

}  // namespace tv3s

// TV3S_CHECK(cond, "op: ", what, ...) throws tv3s::Error with the concatenated message.
#define TV3S_CHECK(cond, ...)                     \
  do {                                            \
    if (!(cond)) ::tv3s::fail(::tv3s::str(__VA_ARGS__)); \
  } while (0)
