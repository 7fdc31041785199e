#include "src/io/frame_list.h"

#include <algorithm>
#include <cctype>
#include <filesystem>

#include "src/core/text.h"
#include "tv3s/error.h"

namespace tv3s::io {

namespace fs = std::filesystem;

bool natural_less(const std::string& a, const std::string& b) {
  size_t i = 0, j = 0;
  auto digit = [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; };
  while (i < a.size() && j < b.size()) {
    if (digit(a[i]) && digit(b[j])) {
      // Compare the two numbers without converting them (they may be long): skip leading
      // zeros, then the longer run is larger, then the first differing digit decides.
      size_t i0 = i, j0 = j;
      while (i0 < a.size() && a[i0] == '0') ++i0;
      while (j0 < b.size() && b[j0] == '0') ++j0;
      size_t i1 = i0, j1 = j0;
      while (i1 < a.size() && digit(a[i1])) ++i1;
      while (j1 < b.size() && digit(b[j1])) ++j1;
      if (i1 - i0 != j1 - j0) return i1 - i0 < j1 - j0;
      const int c = a.compare(i0, i1 - i0, b, j0, j1 - j0);
      if (c != 0) return c < 0;
      i = i1, j = j1;
    } else {
      if (a[i] != b[j]) return static_cast<unsigned char>(a[i]) < static_cast<unsigned char>(b[j]);
      ++i, ++j;
    }
  }
  if (i < a.size() || j < b.size()) return j < b.size();  // a prefix sorts first
  return a < b;  // equal up to zeros: "01" vs "1"
}

bool has_image_extension(const std::string& path) {
  const std::string ext = ascii_lower(fs::path(path).extension().string());
  return ext == ".png" || ext == ".jpg" || ext == ".jpeg";
}

std::vector<std::string> list_frames(const std::string& dir) {
  std::error_code ec;
  TV3S_CHECK(fs::is_directory(dir, ec), dir, ": not a folder");
  std::vector<std::string> names;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (!it->is_regular_file(ec)) continue;
    if (has_image_extension(it->path().string())) names.push_back(it->path().filename().string());
  }
  TV3S_CHECK(!ec, dir, ": cannot list the folder (", ec.message(), ")");
  TV3S_CHECK(!names.empty(), dir, ": no PNG or JPEG frames in the folder");
  std::sort(names.begin(), names.end(), natural_less);
  std::vector<std::string> paths;
  for (const std::string& n : names) paths.push_back((fs::path(dir) / n).string());
  return paths;
}

}  // namespace tv3s::io
