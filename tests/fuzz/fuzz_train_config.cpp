// A training configuration (`tv3s train CONFIG.json`) as the trainer reads it, every
// field checked before a run starts.
#include "src/train/train_config.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = tv3s::fuzz::write_input(data, size, "train.json");
  tv3s::fuzz::expect_project_error_only([&] { tv3s::train::read_train_config(path); });
  return 0;
}
