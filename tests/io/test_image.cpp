// Images: PNGs and a JPEG from other encoders decode to known pixels, bad files give one
// clear message, and the PNG writers round-trip through the reader. Fixtures:
// tools/gen_io_fixtures.py (the pixel formulas are repeated here).
#include <cstdlib>
#include <functional>

#include "src/io/image.h"
#include "src/io/zip_reader.h"  // crc32
#include "tests/io/io_test_util.h"
#include "tests/test_util.h"

using namespace tv3s;
using tv3s::test::error_message;
using tv3s::test::read_bytes;
using tv3s::test::TempDir;
using tv3s::test::write_bytes;

namespace {

const std::string kData = TV3S_SOURCE_DIR "/tests/data/io/";

std::array<int, 3> pixel(const io::Image& image, int x, int y) {
  const uint8_t* p = &image.rgb[3 * (size_t(y) * size_t(image.width) + size_t(x))];
  return {p[0], p[1], p[2]};
}

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.rfind(prefix, 0) == 0;
}

}  // namespace

TEST_CASE("image: decodes PNGs (RGB, palette, grey) to RGB") {
  const io::Image rgb = io::read_image(kData + "rgb_4x3.png");
  REQUIRE(rgb.width == 4);
  REQUIRE(rgb.height == 3);
  REQUIRE(rgb.rgb.size() == 36);
  for (int y = 0; y < 3; ++y)
    for (int x = 0; x < 4; ++x)
      CHECK(pixel(rgb, x, y) == std::array<int, 3>{60 * x, 100 * y, 200 - 10 * (x + y)});

  const io::Image pal = io::read_image(kData + "palette_3x2.png");
  REQUIRE((pal.width == 3 && pal.height == 2));
  const std::array<int, 3> colours[] = {{255, 0, 0}, {0, 255, 0}, {0, 0, 255}, {17, 34, 51}};
  const int index[2][3] = {{0, 1, 2}, {3, 0, 1}};
  for (int y = 0; y < 2; ++y)
    for (int x = 0; x < 3; ++x) CHECK(pixel(pal, x, y) == colours[index[y][x]]);

  const io::Image grey = io::read_image(kData + "grey_2x2.png");
  REQUIRE((grey.width == 2 && grey.height == 2));
  CHECK(pixel(grey, 1, 0) == std::array<int, 3>{85, 85, 85});
  CHECK(pixel(grey, 0, 1) == std::array<int, 3>{170, 170, 170});
}

// The file's exact decode is checked against cv2 in test_image_decode.cpp; this one only
// checks that a JPEG from another encoder (libjpeg's cjpeg path) lands near its colours,
// which any correct decoder does (JPEG is lossy: the tolerance is the encoder's error).
TEST_CASE("image: decodes a libjpeg JPEG within a small tolerance") {
  const io::Image jpg = io::read_image(kData + "blocks_16x16.jpg");
  REQUIRE((jpg.width == 16 && jpg.height == 16));
  const std::array<int, 3> colours[] = {
      {200, 30, 30}, {30, 200, 30}, {30, 30, 200}, {128, 128, 128}};
  int worst = 0;
  for (int y = 0; y < 16; ++y)
    for (int x = 0; x < 16; ++x)
      for (int c = 0; c < 3; ++c)
        worst = std::max(worst, std::abs(pixel(jpg, x, y)[c] - colours[(y / 8) * 2 + x / 8][c]));
  CHECK(worst <= 4);
}

TEST_CASE("image: missing, folder, non-image, truncated and oversized files") {
  TempDir dir;
  const std::string missing = dir.file("missing.png");
  CHECK(error_message([&] { io::read_image(missing); }) ==
        missing + ": cannot open: No such file or directory");

  const std::string folder = dir.file("folder.png");
  std::filesystem::create_directory(folder);
  CHECK(error_message([&] { io::read_image(folder); }) == folder + ": is a folder, not a file");

  const std::string text = dir.file("text.png");
  write_bytes(text, "hello, I am not an image\n");
  CHECK(error_message([&] { io::read_image(text); }) == text + ": not a PNG or JPEG file");
  const std::string empty = dir.file("empty.jpg");
  write_bytes(empty, "");
  CHECK(error_message([&] { io::read_image(empty); }) == empty + ": not a PNG or JPEG file");

  const std::string png = read_bytes(kData + "rgb_4x3.png");
  const std::string cut_png = dir.file("cut.png");
  write_bytes(cut_png, png.substr(0, 60));
  CHECK(starts_with(error_message([&] { io::read_image(cut_png); }),
                    cut_png + ": corrupt or truncated PNG"));
  write_bytes(cut_png, png.substr(0, 20));  // inside the IHDR chunk
  CHECK(error_message([&] { io::read_image(cut_png); }) ==
        cut_png + ": corrupt or truncated PNG (libpng: unexpected end of file)");
  CHECK(error_message([&] { io::read_image_size(cut_png); }) ==
        cut_png + ": corrupt or truncated PNG (libpng: unexpected end of file)");

  const std::string jpg = read_bytes(kData + "blocks_16x16.jpg");
  const std::string cut_jpg = dir.file("cut.jpg");
  for (const size_t size : {jpg.size() - 2, jpg.size() / 2}) {  // minus the end marker; half
    CAPTURE(size);
    write_bytes(cut_jpg, jpg.substr(0, size));
    CHECK(starts_with(error_message([&] { io::read_image(cut_jpg); }),
                      cut_jpg + ": corrupt or truncated JPEG"));
  }

  // PNG headers claiming too many pixels are refused before anything is decoded (no
  // IDAT follows: a decoder that went on would fail differently).
  const auto png_header = [&](uint32_t w, uint32_t h) {
    std::string big = png.substr(0, 33);
    for (int i = 0; i < 4; ++i) {
      big[16 + i] = char(uint8_t(w >> (24 - 8 * i)));
      big[20 + i] = char(uint8_t(h >> (24 - 8 * i)));
    }
    const uint32_t crc = io::crc32(big.data() + 12, 17);  // IHDR's type and data
    for (int i = 0; i < 4; ++i) big[29 + i] = char(uint8_t(crc >> (24 - 8 * i)));
    // An empty IDAT chunk (length 0, type, CRC): where the pixels would start.
    big += std::string("\0\0\0\0IDAT", 8);
    const uint32_t idat_crc = io::crc32("IDAT", 4);
    for (int i = 0; i < 4; ++i) big += char(uint8_t(idat_crc >> (24 - 8 * i)));
    const std::string path = dir.file("big.png");
    write_bytes(path, big);
    return path;
  };
  const std::string big_path = png_header(17000, 16000);
  for (const auto& read : {std::function<void()>([&] { io::read_image(big_path); }),
                           std::function<void()>([&] { io::read_image_size(big_path); })}) {
    CHECK(error_message(read) ==
          big_path + ": image is 17000x16000 pixels, a side longer than the limit of 16384");
  }
  png_header(16000, 16000);
  CHECK(error_message([&] { io::read_image(big_path); }) ==
        big_path + ": image is 16000x16000 pixels, more than the limit of 67108864");
  png_header(16384, 4096);  // at the limits: refused only for its missing pixels
  CHECK(io::read_image_size(big_path).width == 16384);
  CHECK(starts_with(error_message([&] { io::read_image(big_path); }),
                    big_path + ": corrupt or truncated PNG (libpng: "));
}

TEST_CASE("image: write_png round-trips through read_image") {
  io::Image image;
  image.width = 5;
  image.height = 4;
  for (int i = 0; i < 60; ++i) image.rgb.push_back(uint8_t(i * 37 % 256));
  TempDir dir;
  const std::string path = dir.file("out.png");
  io::write_png(path, image);
  const io::Image back = io::read_image(path);
  CHECK(back.width == 5);
  CHECK(back.height == 4);
  CHECK(back.rgb == image.rgb);

  image.rgb.pop_back();
  CHECK(error_message([&] { io::write_png(path, image); }) ==
        path + ": write_png: 5x4 RGB needs 60 bytes, the image holds 59");
  image.width = 0;
  CHECK(error_message([&] { io::write_png(path, image); }) ==
        path + ": image is 0x4 pixels: empty");
  CHECK(dir.entries() == std::vector<std::string>{"out.png"});
}

TEST_CASE("image: write_label_png as grey values or through a palette") {
  TempDir dir;
  const std::string path = dir.file("labels.png");
  const std::vector<int32_t> values = {0, 1, 2, 3, 255, 7, 3, 2, 1, 0, 19, 200};
  for (const DType dtype : {DType::u8, DType::i32}) {
    CAPTURE(dtype_name(dtype));
    const Tensor labels = Tensor::from_vector_i32(values, Shape{3, 4}).to(dtype);
    io::write_label_png(path, labels);
    const io::Image grey = io::read_image(path);
    REQUIRE((grey.width == 4 && grey.height == 3));
    for (int i = 0; i < 12; ++i)
      CHECK(pixel(grey, i % 4, i / 4) == std::array<int, 3>{values[i], values[i], values[i]});
  }

  const std::vector<std::array<uint8_t, 3>> palette = {
      {0, 0, 0}, {128, 64, 128}, {244, 35, 232}, {70, 70, 70}};
  const Tensor labels = Tensor::from_vector_i32({0, 1, 2, 3, 3, 1}, Shape{2, 3});
  io::write_label_png(path, labels, palette);
  const io::Image coloured = io::read_image(path);
  REQUIRE((coloured.width == 3 && coloured.height == 2));
  const std::vector<int32_t> ids = labels.to_vector_i32();
  for (int i = 0; i < 6; ++i) {
    const auto& c = palette[size_t(ids[size_t(i)])];
    CHECK(pixel(coloured, i % 3, i / 3) == std::array<int, 3>{c[0], c[1], c[2]});
  }
}

TEST_CASE("image: write_label_png rejects bad labels and writes nothing") {
  TempDir dir;
  const std::string path = dir.file("labels.png");
  const std::vector<std::array<uint8_t, 3>> palette = {{0, 0, 0}, {255, 255, 255}};
  CHECK(error_message([&] {
          io::write_label_png(path, Tensor::from_vector_i32({0, 1, 1, 0, 1, 2}, Shape{2, 3}),
                              palette);
        }) == path + ": label 2 at row 1, column 2 has no colour (the palette has 2)");
  CHECK(error_message([&] {
          io::write_label_png(path, Tensor::from_vector_i32({0, 256}, Shape{1, 2}));
        }) == path + ": label 256 at row 0, column 1 is outside 0..255");
  CHECK(error_message([&] {
          io::write_label_png(path, Tensor::from_vector_i32({-1}, Shape{1, 1}));
        }) == path + ": label -1 at row 0, column 0 is outside 0..255");
  CHECK(error_message([&] {
          io::write_label_png(path, Tensor::zeros(Shape{2, 2}));
        }) ==
        path + ": write_label_png: labels must be a [H, W] u8 or i32 tensor, got f32[2, 2] cpu");
  CHECK(error_message([&] {
          io::write_label_png(path, Tensor::zeros(Shape{1, 2, 2}, DType::u8));
        }) ==
        path + ": write_label_png: labels must be a [H, W] u8 or i32 tensor, got u8[1, 2, 2] cpu");
  CHECK(error_message([&] {
          io::write_label_png(path, Tensor::zeros(Shape{0, 2}, DType::u8));
        }) == path + ": image is 2x0 pixels: empty");
  CHECK(dir.entries().empty());
}

TEST_CASE("image: writing into a missing folder throws and leaves nothing") {
  TempDir dir;
  const std::string path = dir.file("missing/out.png");
  io::Image image;
  image.width = image.height = 1;
  image.rgb = {1, 2, 3};
  const std::string why = path + ": cannot create a file there: No such file or directory";
  CHECK(error_message([&] { io::write_png(path, image); }) == why);
  CHECK(error_message([&] {
          io::write_label_png(path, Tensor::zeros(Shape{1, 1}, DType::u8));
        }) == why);
  CHECK(dir.entries().empty());
}
