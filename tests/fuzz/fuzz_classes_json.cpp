// A dataset's classes.json (names and palette colours; `tv3s eval --classes FILE`, a
// dataset root, `tv3s train`) as the class-table reader opens it.
#include "src/data/class_tables.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = tv3s::fuzz::write_input(data, size, "classes.json");
  tv3s::fuzz::expect_project_error_only([&] { tv3s::data::read_class_file(path); });
  return 0;
}
