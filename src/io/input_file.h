// Opening a file a user handed over, with one clear message when it cannot be read: a
// missing or unreadable path, a folder, or something that is not a regular file (a pipe
// or device has no size to check a header against).
#pragma once
#include <cstdint>
#include <fstream>
#include <string>

namespace tv3s::io {

struct InputFile {
  std::ifstream stream;  // binary, at the start
  uint64_t size = 0;     // bytes
};

// Throws tv3s::Error "<path>: <why>".
InputFile open_input_file(const std::string& path);

}  // namespace tv3s::io
