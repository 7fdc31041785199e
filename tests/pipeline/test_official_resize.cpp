// The official test-time resize (src/pipeline/official_resize.h) against OpenCV and the
// official Python formulas, from tools/gen_image_fixtures.py (cv2 5.0, mmcv 1.x rules;
// OpenCV's resize itself is tested in tests/io/test_image_resize.cpp):
//  - the VSPW and Cityscapes rules end to end at real frame sizes (CRC-32 of the output,
//    which must equal that of the official pipeline's cv2 calls);
//  - network_input_size equals the official formulas on a table of frame sizes;
//  - the none rule is a copy; bad sizes and names give one clear message.
#include <array>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "src/io/image.h"
#include "src/pipeline/official_resize.h"
#include "tests/io/io_test_util.h"
#include "tests/test_util.h"

using namespace tv3s;
using tv3s::test::error_message;

namespace {

// zlib's CRC-32 (the fixture's checksum of a resized frame).
uint32_t crc32(const std::vector<uint8_t>& bytes) {
  static const std::array<uint32_t, 256> table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t n = 0; n < 256; ++n) {
      uint32_t c = n;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[n] = c;
    }
    return t;
  }();
  uint32_t crc = 0xFFFFFFFFu;
  for (const uint8_t byte : bytes) crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8);
  return ~crc;
}

}  // namespace

TEST_CASE("official resize: a resize to the same size, and the none rule, copy the frame") {
  const io::Image frame = test::synthetic_frame(13, 7);
  CHECK(apply_input_resize(InputResize::none, frame).rgb == frame.rgb);
  const ImageSize size = network_input_size(InputResize::none, 13, 7);
  CHECK((size.width == 13 && size.height == 7));
}

TEST_CASE("official resize: network input sizes equal the official formulas") {
  const nlohmann::json table = test::read_image_fixture_json("test_sizes.json");
  REQUIRE(table.size() == 75);
  for (const auto& row : table) {
    const InputResize rule = parse_input_resize(row["rule"]);
    const int width = row["width"], height = row["height"];
    const std::string what = str(row["rule"].get<std::string>(), " ", width, "x", height);
    CAPTURE(what);
    if (row["expected"].is_null()) {
      CHECK(error_message([&] { network_input_size(rule, width, height); }) != "(no error)");
      continue;
    }
    const ImageSize size = network_input_size(rule, width, height);
    CHECK(size.width == row["expected"][0].get<int>());
    CHECK(size.height == row["expected"][1].get<int>());
  }
  const ImageSize vspw = network_input_size(InputResize::vspw, 853, 480);
  CHECK((vspw.width == 864 && vspw.height == 480));
  const ImageSize cityscapes = network_input_size(InputResize::cityscapes, 2048, 1024);
  CHECK((cityscapes.width == 1024 && cityscapes.height == 512));
  CHECK(error_message([] { network_input_size(InputResize::vspw, 1, 2000); }) ==
        "test resize vspw: a 1x2000 frame would be resized to 0x853 (too narrow)");
}

TEST_CASE("official resize: the VSPW and Cityscapes rules equal the official cv2 calls") {
  const nlohmann::json cases = test::read_image_fixture_json("test_rules.json");
  REQUIRE(cases.size() == 8);
  for (const auto& c : cases) {
    const InputResize rule = parse_input_resize(c["rule"]);
    const int width = c["width"], height = c["height"];
    CAPTURE(str(c["rule"].get<std::string>(), " ", width, "x", height));
    const io::Image resized = apply_input_resize(rule, test::synthetic_frame(width, height));
    CHECK(resized.width == c["out_width"].get<int>());
    CHECK(resized.height == c["out_height"].get<int>());
    const ImageSize size = network_input_size(rule, width, height);
    CHECK((size.width == resized.width && size.height == resized.height));
    CHECK(crc32(resized.rgb) == c["crc32"].get<uint32_t>());
  }
}

TEST_CASE("official resize: bad sizes and names give one clear message") {
  io::Image empty;
  CHECK(error_message([] { network_input_size(InputResize::cityscapes, 0, 5); }) ==
        "test resize cityscapes: frame size 0x5 is not positive");
  CHECK(error_message([] { network_input_size(InputResize::none, 3, -2); }) ==
        "test resize none: frame size 3x-2 is not positive");
  CHECK(error_message([&] { apply_input_resize(InputResize::vspw, empty); }) ==
        "test resize vspw: frame size 0x0 is not positive");
  CHECK(error_message([] { parse_input_resize("ade20k"); }) ==
        "unknown test resize 'ade20k' (expected none, vspw or cityscapes)");
  for (const InputResize rule : {InputResize::none, InputResize::vspw, InputResize::cityscapes})
    CHECK(parse_input_resize(input_resize_name(rule)) == rule);
}
