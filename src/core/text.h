// Prefix and suffix tests on strings (parameter names, file names, Y4M tags).
#pragma once
#include <string_view>

namespace tv3s {

inline bool starts_with(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

inline bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

}  // namespace tv3s
