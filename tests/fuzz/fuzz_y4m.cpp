// A Y4M stream (what `ffmpeg -f yuv4mpegpipe` writes) as `tv3s segment MODEL video.y4m`
// reads it: the header, then every frame converted to RGB until the end of the stream.
#include "src/io/y4m.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = tv3s::fuzz::write_input(data, size, "video.y4m");
  tv3s::fuzz::expect_project_error_only([&] {
    tv3s::io::Y4mReader reader(path);
    tv3s::io::Image frame;
    while (reader.read(frame)) {
    }
  });
  return 0;
}
