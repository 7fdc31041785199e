// A video file as `tv3s segment MODEL street.mp4` reads it (src/io/video_reader.h): FFmpeg
// opens it (any container it recognises), then every frame is decoded and converted to
// RGB until the end. The FFmpeg libraries are Debian's, not instrumented: the target
// checks tv3s's side (the size limits, the error paths, the scaler buffers) and that
// every failure is a tv3s::Error.
#include "src/io/video_reader.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = tv3s::fuzz::write_input(data, size, "video");
  tv3s::fuzz::expect_project_error_only([&] {
    tv3s::io::VideoReader reader(path);
    tv3s::io::Image frame;
    int64_t pts = 0;
    while (reader.read(frame, pts)) {
    }
  });
  return 0;
}
