// A PyTorch checkpoint (.pth: torch.save's zip with its pickle and storages; the official
// TV3S/SegFormer/Swin releases, mmseg's {"meta", "state_dict"}) as `tv3s convert` reads
// it: zip container, pickle, tensor views over storages, the name mapping and the
// configuration inferred from the tensors; a model file is written on success.
#include "src/convert/checkpoint.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string in = tv3s::fuzz::write_input(data, size, "checkpoint.pth");
  const std::string out = tv3s::fuzz::scratch_dir() + "/converted.safetensors";
  tv3s::fuzz::expect_project_error_only([&] {
    tv3s::convert::convert_checkpoint(in, out, {}, [](const std::string&) {});
  });
  return 0;
}
