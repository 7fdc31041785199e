// Prefix and suffix tests and ASCII lower case on strings (parameter names, file names,
// Y4M tags, colour names).
#pragma once
#include <cctype>
#include <string>
#include <string_view>

namespace tv3s {

inline bool starts_with(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

inline bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// A–Z to a–z; every other byte as it is (no locale).
inline std::string ascii_lower(std::string s) {
  for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace tv3s
