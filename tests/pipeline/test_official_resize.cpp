// The official test-time resize (src/pipeline/official_resize.h) against OpenCV and the
// official Python formulas, from tools/gen_image_fixtures.py (cv2 5.0, mmcv 1.x rules):
//  - resize_linear_u8 equals cv2.resize(INTER_LINEAR) exactly — every byte, tolerance 0 —
//    on up-, down-, 2× down (INTER_AREA path), one-axis and mixed cases and 80 random
//    small sizes; on a mismatch the max |difference| and the fraction of equal bytes are
//    printed;
//  - the VSPW and Cityscapes rules end to end at real frame sizes (CRC-32 of the output,
//    which must equal that of the official pipeline's cv2 calls);
//  - test_input_size equals the official formulas on a table of frame sizes;
//  - same size is a copy; bad sizes and names give one clear message.
#include <array>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>

#include "src/io/image.h"
#include "src/pipeline/official_resize.h"
#include "tests/io/io_test_util.h"
#include "tests/test_util.h"

using namespace tv3s;
using tv3s::test::error_message;

namespace {

const std::string kData = TV3S_SOURCE_DIR "/tests/data/image/";

nlohmann::json read_json(const std::string& name) {
  std::ifstream in(kData + name);
  REQUIRE(in);
  return nlohmann::json::parse(in);
}

std::vector<uint8_t> npy_bytes(const std::string& name) {
  const std::vector<int32_t> values = io::read_npy(kData + name).to_vector_i32();
  return std::vector<uint8_t>(values.begin(), values.end());
}

// CHECKs exact equality; on a mismatch reports how far off and how much matched.
void check_identical(const std::vector<uint8_t>& got, const std::vector<uint8_t>& want,
                     const std::string& what) {
  REQUIRE(got.size() == want.size());
  int max_abs = 0;
  size_t equal = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    max_abs = std::max(max_abs, std::abs(int(got[i]) - int(want[i])));
    equal += got[i] == want[i];
  }
  INFO(what, ": max |difference| ", max_abs, ", ", equal, " of ", got.size(), " bytes equal");
  CHECK(max_abs == 0);
}

io::Image image_from(const std::vector<uint8_t>& bytes, size_t offset, int width, int height) {
  io::Image image;
  image.width = width, image.height = height;
  image.rgb.assign(bytes.begin() + std::ptrdiff_t(offset),
                   bytes.begin() + std::ptrdiff_t(offset + size_t(width) * size_t(height) * 3));
  return image;
}

// tools/gen_image_fixtures.py's synthetic_frame.
io::Image synthetic_frame(int width, int height) {
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

TEST_CASE("official resize: cv2 INTER_LINEAR bit for bit (up, down, 2x down, one axis, mixed)") {
  for (const char* name : {"up", "down", "half", "stretch", "mixed"}) {
    CAPTURE(name);
    const io::Image input = io::read_image(kData + "resize_" + name + "_in.png");
    const Tensor expected = io::read_npy(kData + "resize_" + name + "_out.npy");
    REQUIRE(expected.ndim() == 3);
    const int width = int(expected.size(1)), height = int(expected.size(0));
    const io::Image resized = resize_linear_u8(input, width, height);
    REQUIRE((resized.width == width && resized.height == height));
    check_identical(resized.rgb, npy_bytes(std::string("resize_") + name + "_out.npy"), name);
  }
}

TEST_CASE("official resize: cv2 INTER_LINEAR bit for bit on 80 random sizes") {
  const nlohmann::json cases = read_json("resize_sweep.json");
  const std::vector<uint8_t> inputs = npy_bytes("resize_sweep_in.npy");
  const std::vector<uint8_t> outputs = npy_bytes("resize_sweep_out.npy");
  REQUIRE(cases.size() == 80);
  for (const auto& c : cases) {
    const int sw = c["src"][0], sh = c["src"][1], dw = c["dst"][0], dh = c["dst"][1];
    const std::string what = str(sw, "x", sh, " -> ", dw, "x", dh);
    CAPTURE(what);
    const io::Image resized =
        resize_linear_u8(image_from(inputs, c["in_offset"].get<size_t>(), sw, sh), dw, dh);
    check_identical(resized.rgb, image_from(outputs, c["out_offset"].get<size_t>(), dw, dh).rgb,
                    what);
  }
}

TEST_CASE("official resize: a resize to the same size, and the none rule, copy the frame") {
  const io::Image frame = synthetic_frame(13, 7);
  CHECK(resize_linear_u8(frame, 13, 7).rgb == frame.rgb);
  CHECK(apply_test_resize(TestResize::none, frame).rgb == frame.rgb);
  const ImageSize size = test_input_size(TestResize::none, 13, 7);
  CHECK((size.width == 13 && size.height == 7));
}

TEST_CASE("official resize: network input sizes equal the official formulas") {
  const nlohmann::json table = read_json("test_sizes.json");
  REQUIRE(table.size() == 75);
  for (const auto& row : table) {
    const TestResize rule = parse_test_resize(row["rule"]);
    const int width = row["width"], height = row["height"];
    const std::string what = str(row["rule"].get<std::string>(), " ", width, "x", height);
    CAPTURE(what);
    if (row["expected"].is_null()) {
      CHECK(error_message([&] { test_input_size(rule, width, height); }) != "(no error)");
      continue;
    }
    const ImageSize size = test_input_size(rule, width, height);
    CHECK(size.width == row["expected"][0].get<int>());
    CHECK(size.height == row["expected"][1].get<int>());
  }
  const ImageSize vspw = test_input_size(TestResize::vspw, 853, 480);
  CHECK((vspw.width == 864 && vspw.height == 480));
  const ImageSize cityscapes = test_input_size(TestResize::cityscapes, 2048, 1024);
  CHECK((cityscapes.width == 1024 && cityscapes.height == 512));
  CHECK(error_message([] { test_input_size(TestResize::vspw, 1, 2000); }) ==
        "test resize vspw: a 1x2000 frame would be resized to 0x853 (too narrow)");
}

TEST_CASE("official resize: the VSPW and Cityscapes rules equal the official cv2 calls") {
  const nlohmann::json cases = read_json("test_rules.json");
  REQUIRE(cases.size() == 8);
  for (const auto& c : cases) {
    const TestResize rule = parse_test_resize(c["rule"]);
    const int width = c["width"], height = c["height"];
    CAPTURE(str(c["rule"].get<std::string>(), " ", width, "x", height));
    const io::Image resized = apply_test_resize(rule, synthetic_frame(width, height));
    CHECK(resized.width == c["out_width"].get<int>());
    CHECK(resized.height == c["out_height"].get<int>());
    const ImageSize size = test_input_size(rule, width, height);
    CHECK((size.width == resized.width && size.height == resized.height));
    CHECK(crc32(resized.rgb) == c["crc32"].get<uint32_t>());
  }
}

TEST_CASE("official resize: bad sizes and names give one clear message") {
  io::Image empty;
  CHECK(error_message([&] { resize_linear_u8(empty, 4, 4); }) ==
        "resize_linear_u8: the image is 0x0 pixels: empty");
  io::Image short_buffer = synthetic_frame(4, 3);
  short_buffer.rgb.pop_back();
  CHECK(error_message([&] { resize_linear_u8(short_buffer, 8, 6); }) ==
        "resize_linear_u8: a 4x3 RGB image holds 36 bytes, got 35");
  const io::Image frame = synthetic_frame(4, 3);
  CHECK(error_message([&] { resize_linear_u8(frame, 0, 6); }) ==
        "resize_linear_u8: target size 0x6 is not positive");
  CHECK(error_message([&] { resize_linear_u8(frame, 5, -1); }) ==
        "resize_linear_u8: target size 5x-1 is not positive");
  CHECK(error_message([&] { resize_linear_u8(frame, 1 << 15, 1 << 14); }) ==
        "resize_linear_u8: target size 32768x16384 is more than the limit of 268435456 pixels");
  CHECK(error_message([] { test_input_size(TestResize::cityscapes, 0, 5); }) ==
        "test resize cityscapes: frame size 0x5 is not positive");
  CHECK(error_message([] { test_input_size(TestResize::none, 3, -2); }) ==
        "test resize none: frame size 3x-2 is not positive");
  CHECK(error_message([&] { apply_test_resize(TestResize::vspw, empty); }) ==
        "test resize vspw: frame size 0x0 is not positive");
  CHECK(error_message([] { parse_test_resize("ade20k"); }) ==
        "unknown test resize 'ade20k' (expected none, vspw or cityscapes)");
  for (const TestResize rule : {TestResize::none, TestResize::vspw, TestResize::cityscapes})
    CHECK(parse_test_resize(test_resize_name(rule)) == rule);
}
