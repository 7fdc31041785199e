// A Hugging Face checkpoint (pytorch_model.bin: the torch zip format with transformers'
// parameter names, tied/shared storages) as `tv3s convert` reads it. Same container as
// fuzz_torch_pth, other names, so the HF name mapping and its checks are what differ.
#include "src/convert/checkpoint.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string in = tv3s::fuzz::write_input(data, size, "pytorch_model.bin");
  const std::string out = tv3s::fuzz::scratch_dir() + "/converted.safetensors";
  tv3s::fuzz::expect_project_error_only([&] {
    tv3s::convert::convert_checkpoint(in, out, {}, [](const std::string&) {});
  });
  return 0;
}
