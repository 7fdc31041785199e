// A video frame (JPEG or PNG) as `tv3s segment` and `tv3s eval` read it: the header-only
// size check a folder of frames gets first, then the whole decode.
#include "src/io/image.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = tv3s::fuzz::write_input(data, size, "frame");
  tv3s::fuzz::expect_project_error_only([&] { tv3s::io::read_image_size(path); });
  tv3s::fuzz::expect_project_error_only([&] { tv3s::io::read_image(path); });
  return 0;
}
