// The include layers (README, Layout; cmake/check_layers.cmake, run by every build):
// the tree obeys them, and the check catches a planted upward include, naming the file,
// the include and the two folders — so a check that passes is a check that can fail.
#include <filesystem>
#include <fstream>

#include "tests/test_util.h"

namespace fs = std::filesystem;
using tv3s::test::CommandResult;

namespace {

CommandResult check_layers(const std::string& root) {
  return tv3s::test::run_command(std::string("'") + TV3S_CMAKE_COMMAND + "' -DTV3S_ROOT='" + root +
                                 "' -P '" TV3S_SOURCE_DIR "/cmake/check_layers.cmake'");
}

void write_file(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path) << text;
}

}  // namespace

TEST_CASE("include layers: the source tree includes only downwards") {
  const CommandResult r = check_layers(TV3S_SOURCE_DIR);
  INFO(r.output);
  CHECK(r.exit_code == 0);
}

TEST_CASE("include layers: an upward include fails the check, naming it") {
  tv3s::test::TempDir dir;
  const fs::path root = dir.path();
  write_file(root / "src/core/tensor.cpp", "#include \"tv3s/tensor.h\"\n#include \"src/core/storage.h\"\n");
  write_file(root / "src/models/mit.cpp", "#include \"src/nn/layers.h\"\n#include \"tv3s/ops.h\"\n");
  write_file(root / "cuda/gemm.cu", "#include \"tv3s/ops/matmul.h\"\n");
  CHECK(check_layers(root.string()).exit_code == 0);  // all downwards so far

  write_file(root / "src/io/image.h", "#include \"src/models/config.h\"\n");
  write_file(root / "src/core/storage.h", "  #  include \"tv3s/autograd.h\"  // a comment\n");
  write_file(root / "cuda/layernorm.cu", "#include \"src/ops/layernorm.h\"\n");
  const CommandResult r = check_layers(root.string());
  INFO(r.output);
  CHECK(r.exit_code != 0);
  CHECK(r.output.find("src/io/image.h includes src/models/config.h: io may not include models") !=
        std::string::npos);
  CHECK(r.output.find("src/core/storage.h includes tv3s/autograd.h: core may not include autograd") !=
        std::string::npos);
  CHECK(r.output.find("cuda/layernorm.cu includes src/ops/layernorm.h: cuda may not include ops") !=
        std::string::npos);
}

TEST_CASE("include layers: a folder outside the table is reported") {
  tv3s::test::TempDir dir;
  write_file(fs::path(dir.path()) / "src/plugins/x.cpp", "#include \"tv3s/tensor.h\"\n");
  const CommandResult r = check_layers(dir.path());
  CHECK(r.exit_code != 0);
  CHECK(r.output.find("src/plugins/x.cpp: folder src/plugins has no place in the layer table") !=
        std::string::npos);
}
