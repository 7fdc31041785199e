// open_input_file: stat first, so that a folder or a device is named as such instead of
// failing later with a meaningless size.
#include "src/io/input_file.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "tv3s/error.h"

namespace tv3s::io {

InputFile open_input_file(const std::string& path) {
  struct stat info {};
  if (stat(path.c_str(), &info) != 0) fail(str(path, ": cannot open: ", std::strerror(errno)));
  if (S_ISDIR(info.st_mode)) fail(str(path, ": is a folder, not a file"));
  if (!S_ISREG(info.st_mode)) fail(str(path, ": not a regular file"));
  InputFile file;
  file.stream.open(path, std::ios::binary);
  if (!file.stream) fail(str(path, ": cannot open: ", std::strerror(errno)));
  file.size = uint64_t(info.st_size);
  return file;
}

}  // namespace tv3s::io
