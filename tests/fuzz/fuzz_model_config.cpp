// The model configuration a model file carries in its safetensors "__metadata__" (the
// tv3s.* keys of src/models/config.h, some of them JSON texts themselves). The input is
// the metadata object's JSON; it is placed in a safetensors file with no tensors and
// opened as `tv3s segment MODEL` opens a model, so the container's own checks run first
// and the configuration parser sees what survives them (a configuration that parses then
// fails at "missing parameter", which is the project's error).
#include <cstring>

#include "src/models/model_file.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // safetensors: u64 little-endian header length, then the header JSON.
  const std::string header =
      "{\"__metadata__\":" + std::string(reinterpret_cast<const char*>(data), size) + "}";
  std::string file(8, '\0');
  for (int i = 0; i < 8; ++i) file[size_t(i)] = char(uint64_t(header.size()) >> (8 * i));
  file += header;
  const std::string path = tv3s::fuzz::write_input(
      reinterpret_cast<const uint8_t*>(file.data()), file.size(), "config.safetensors");
  tv3s::fuzz::expect_project_error_only([&] { tv3s::load_model_file(path); });
  return 0;
}
