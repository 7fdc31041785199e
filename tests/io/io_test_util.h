// Helpers for the file-format tests (TempDir is in tests/test_util.h): raw file writes for crafted bad
// inputs, the message of the tv3s::Error an expression throws, and the image fixtures
// (tests/data/image/, from tools/gen_image_fixtures.py) shared by the resize tests.
#pragma once
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "src/io/image.h"
#include "tests/test_util.h"
#include "tv3s/error.h"

namespace tv3s::test {

inline void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary).write(bytes.data(), std::streamsize(bytes.size()));
}

inline std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// The message of the tv3s::Error that `f` throws; "(no error)" when it returns.
inline std::string error_message(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

inline const std::string kImageFixtures = TV3S_SOURCE_DIR "/tests/data/image/";

// A JSON file of the image fixtures.
inline nlohmann::json read_image_fixture_json(const std::string& name) {
  std::ifstream in(kImageFixtures + name);
  REQUIRE(in);
  return nlohmann::json::parse(in);
}

// tools/gen_image_fixtures.py's synthetic_frame.
inline io::Image synthetic_frame(int width, int height) {
  io::Image image;
  image.width = width, image.height = height;
  image.rgb.resize(size_t(width) * size_t(height) * 3);
  for (int64_t y = 0; y < height; ++y)
    for (int64_t x = 0; x < width; ++x)
      for (int64_t c = 0; c < 3; ++c)
        image.rgb[size_t((y * width + x) * 3 + c)] =
            uint8_t((x * x * (c + 1) + y * (31 + 17 * c) + x * y + 7 * c) % 256);
  return image;
}

}  // namespace tv3s::test
