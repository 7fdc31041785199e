// A label map (an 8-bit grey or indexed PNG: VSPW's masks, saved predictions) as
// `tv3s eval` reads ground truth and predictions.
#include "src/io/image.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = tv3s::fuzz::write_input(data, size, "mask.png");
  tv3s::fuzz::expect_project_error_only([&] { tv3s::io::read_label_png(path); });
  return 0;
}
