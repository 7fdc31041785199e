// A NumPy .npy array (logits and fixtures; np.save's format 1.0/2.0) through read_npy.
#include "src/io/image.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = tv3s::fuzz::write_input(data, size, "array.npy");
  tv3s::fuzz::expect_project_error_only([&] { tv3s::io::read_npy(path); });
  return 0;
}
