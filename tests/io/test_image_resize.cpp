// OpenCV's bilinear resize (src/io/image_resize.h) against cv2 5.0, from
// tools/gen_image_fixtures.py: resize_linear_u8 equals cv2.resize(INTER_LINEAR) exactly —
// every byte, tolerance 0 — on up-, down-, 2× down (INTER_AREA path), one-axis and mixed
// cases and 80 random small sizes; on a mismatch the max |difference| and the fraction of
// equal bytes are printed. Same size is a copy; bad sizes give one clear message.
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "src/io/image.h"
#include "src/io/image_resize.h"
#include "tests/io/io_test_util.h"
#include "tests/test_util.h"

using namespace tv3s;
using tv3s::test::error_message;

namespace {

const std::string& kData = test::kImageFixtures;

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

}  // namespace

TEST_CASE("image resize: cv2 INTER_LINEAR bit for bit (up, down, 2x down, one axis, mixed)") {
  for (const char* name : {"up", "down", "half", "stretch", "mixed"}) {
    CAPTURE(name);
    const io::Image input = io::read_image(kData + "resize_" + name + "_in.png");
    const Tensor expected = io::read_npy(kData + "resize_" + name + "_out.npy");
    REQUIRE(expected.ndim() == 3);
    const int width = int(expected.size(1)), height = int(expected.size(0));
    const io::Image resized = io::resize_linear_u8(input, width, height);
    REQUIRE((resized.width == width && resized.height == height));
    check_identical(resized.rgb, npy_bytes(std::string("resize_") + name + "_out.npy"), name);
  }
}

TEST_CASE("image resize: cv2 INTER_LINEAR bit for bit on 80 random sizes") {
  const nlohmann::json cases = test::read_image_fixture_json("resize_sweep.json");
  const std::vector<uint8_t> inputs = npy_bytes("resize_sweep_in.npy");
  const std::vector<uint8_t> outputs = npy_bytes("resize_sweep_out.npy");
  REQUIRE(cases.size() == 80);
  for (const auto& c : cases) {
    const int sw = c["src"][0], sh = c["src"][1], dw = c["dst"][0], dh = c["dst"][1];
    const std::string what = str(sw, "x", sh, " -> ", dw, "x", dh);
    CAPTURE(what);
    const io::Image resized =
        io::resize_linear_u8(image_from(inputs, c["in_offset"].get<size_t>(), sw, sh), dw, dh);
    check_identical(resized.rgb, image_from(outputs, c["out_offset"].get<size_t>(), dw, dh).rgb,
                    what);
  }
}

TEST_CASE("image resize: a resize to the same size copies the image") {
  const io::Image frame = test::synthetic_frame(13, 7);
  CHECK(io::resize_linear_u8(frame, 13, 7).rgb == frame.rgb);
}

TEST_CASE("image resize: bad sizes give one clear message") {
  io::Image empty;
  CHECK(error_message([&] { io::resize_linear_u8(empty, 4, 4); }) ==
        "resize_linear_u8: the image is 0x0 pixels: empty");
  io::Image short_buffer = test::synthetic_frame(4, 3);
  short_buffer.rgb.pop_back();
  CHECK(error_message([&] { io::resize_linear_u8(short_buffer, 8, 6); }) ==
        "resize_linear_u8: a 4x3 RGB image holds 36 bytes, got 35");
  const io::Image frame = test::synthetic_frame(4, 3);
  CHECK(error_message([&] { io::resize_linear_u8(frame, 0, 6); }) ==
        "resize_linear_u8: target size 0x6 is not positive");
  CHECK(error_message([&] { io::resize_linear_u8(frame, 5, -1); }) ==
        "resize_linear_u8: target size 5x-1 is not positive");
  CHECK(error_message([&] { io::resize_linear_u8(frame, 1 << 15, 1 << 14); }) ==
        "resize_linear_u8: target size 32768x16384 is more than the limit of 268435456 pixels");
}
