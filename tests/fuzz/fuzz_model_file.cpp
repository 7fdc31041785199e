// A tv3s model file (.safetensors) as `tv3s segment MODEL` opens it: the safetensors
// container, the configuration in its metadata, every tensor checked against that
// configuration's parameters and converted to f32.
#include "src/models/model_file.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = tv3s::fuzz::write_input(data, size, "model.safetensors");
  tv3s::fuzz::expect_project_error_only([&] { tv3s::load_model_file(path); });
  return 0;
}
