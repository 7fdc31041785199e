// A training checkpoint (`tv3s train --resume`): a safetensors file of model and AdamW
// tensors whose metadata holds the iteration, RNG and loss-scale state, both
// configurations and a CRC-32 of everything — read and checked as resuming reads it.
#include "src/train/checkpoint.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = tv3s::fuzz::write_input(data, size, "checkpoint.safetensors");
  tv3s::fuzz::expect_project_error_only([&] { tv3s::train::load_checkpoint(path); });
  return 0;
}
