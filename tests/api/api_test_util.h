// Shared by the API tests: a tiny random TV3S model file (written once per run), the
// frame generator of examples/segment_c.c (the same bytes, so the tests can compute what
// the example must print), and a way to run a program and collect its output.
#pragma once
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <string>
#include <vector>

#include "src/io/safetensors.h"
#include "src/models/parameters.h"
#include "src/models/random_weights.h"
#include "src/nn/weights.h"
#include "tests/test_util.h"

namespace tv3s::test {

// MiT-B0, E = 32, window 4, shift 2 (tests/models/test_tv3s_model.cpp's tiny model), 5 classes
// with names and colours in its metadata. 13.7 MB, written once, removed at exit.
inline const std::string& tiny_model_path() {
  static TempDir dir;
  static const std::string path = [] {
    ModelConfig c;
    c.kind = ModelKind::tv3s;
    c.backbone = "mit_b0";
    c.num_classes = 5;
    c.embed_dim = 32;
    c.window = 4;
    c.shift = 2;
    c.class_names = {"sky", "tree", "road", "car", "person"};
    c.palette = {{{70, 130, 180}}, {{107, 142, 35}}, {{128, 64, 128}}, {{0, 0, 142}}, {{220, 20, 60}}};
    const Weights weights = random_weights(model_parameters(c), 11);
    std::vector<std::pair<std::string, Tensor>> tensors(weights.all().begin(), weights.all().end());
    const std::string file = dir.file("tiny.safetensors");
    io::write_safetensors(file, tensors, c.to_metadata());
    return file;
  }();
  return path;
}

// examples/segment_c.c's make_frame: frame t of video v, width × height RGB.
inline std::vector<uint8_t> example_frame(int video, int t, int width = 64, int height = 48) {
  std::vector<uint8_t> rgb(size_t(width) * size_t(height) * 3);
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x)
      for (int c = 0; c < 3; ++c)
        rgb[size_t((y * width + x) * 3 + c)] =
            uint8_t((x * 4 + y * 2 + t * 8 + video * 64 + c * 85) % 256);
  return rgb;
}

struct ProgramResult {
  int exit_code;
  std::string output;  // stdout, then stderr when merged
};

// Runs a shell command line; stderr goes to the output too when `merge_stderr`.
inline ProgramResult run_program(const std::string& command, bool merge_stderr = true) {
  const CommandResult r = run_command(command, merge_stderr);
  return {r.exit_code, r.output};
}

}  // namespace tv3s::test
