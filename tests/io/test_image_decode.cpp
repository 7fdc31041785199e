// read_image decodes as the official pipeline's cv2.imread(path, IMREAD_COLOR) does, bit
// for bit, for every kind of JPEG and PNG (fixtures and the expected pixels written by
// cv2: tools/gen_decode_fixtures.py); read_image_size agrees; and hostile files (found by
// fuzzing stb_image, tests/data/io/hostile/) fail with one line, at the data's end.
#include <cstdint>
#include <cstring>

#include "src/io/image.h"
#include "tests/io/io_test_util.h"
#include "tests/test_util.h"

using namespace tv3s;
using tv3s::test::error_message;
using tv3s::test::read_bytes;
using tv3s::test::TempDir;
using tv3s::test::write_bytes;

namespace {

const std::string kDecode = TV3S_SOURCE_DIR "/tests/data/decode/";
const std::string kHostile = TV3S_SOURCE_DIR "/tests/data/io/hostile/";

const char* const kFixtures[] = {
    "jpeg_420.jpg", "jpeg_422.jpg", "jpeg_444.jpg", "jpeg_440.jpg", "jpeg_411.jpg",
    "jpeg_grey.jpg", "jpeg_progressive.jpg", "jpeg_restart.jpg", "jpeg_cmyk.jpg",
    "jpeg_exif_2.jpg", "jpeg_exif_3.jpg", "jpeg_exif_4.jpg", "jpeg_exif_5.jpg",
    "jpeg_exif_6.jpg", "jpeg_exif_7.jpg", "jpeg_exif_8.jpg", "png_exif_6.png",
    "png_rgb8.png", "png_rgb16.png", "png_rgba8.png", "png_rgba16.png", "png_grey8.png",
    "png_grey16.png", "png_grey1.png", "png_grey2.png", "png_grey4.png",
    "png_grey_alpha8.png", "png_grey_alpha16.png", "png_palette8.png",
    "png_palette4_trns.png", "png_palette1.png", "png_grey8_trns.png", "png_rgb8_trns.png",
    "png_adam7_rgb8.png", "png_adam7_palette4.png", "png_adam7_grey16.png",
    "png_adam7_rgba8.png"};

std::string stem(const std::string& name) { return name.substr(0, name.rfind('.')); }

}  // namespace

TEST_CASE("image decode: every JPEG and PNG kind equals cv2.imread bit for bit") {
  for (const char* name : kFixtures) {
    CAPTURE(name);
    const Tensor expected = io::read_npy(kDecode + stem(name) + ".npy");
    REQUIRE((expected.dtype() == DType::u8 && expected.ndim() == 3 && expected.size(2) == 3));
    const io::Image image = io::read_image(kDecode + name);
    REQUIRE(image.height == int(expected.size(0)));
    REQUIRE(image.width == int(expected.size(1)));
    const uint8_t* want = expected.data<uint8_t>();
    int differing = 0;
    for (size_t i = 0; i < image.rgb.size(); ++i) differing += image.rgb[i] != want[i];
    CHECK(differing == 0);

    const io::ImageSize2D size = io::read_image_size(kDecode + name);
    CHECK(size.width == image.width);
    CHECK(size.height == image.height);
  }
}

TEST_CASE("image decode: EXIF orientations 5..8 swap the sides, in read_image_size too") {
  CHECK(io::read_image(kDecode + "jpeg_exif_4.jpg").width == 11);
  for (const char* name : {"jpeg_exif_6.jpg", "png_exif_6.png"}) {
    CAPTURE(name);
    const io::ImageSize2D size = io::read_image_size(kDecode + name);
    CHECK((size.width == 7 && size.height == 11));
  }
}

TEST_CASE("image decode: a JPEG corrupt or cut anywhere fails with libjpeg's reason") {
  TempDir dir;
  const std::string jpg = read_bytes(kDecode + "jpeg_progressive.jpg");
  const std::string cut = dir.file("cut.jpg");
  for (const size_t size : {size_t(3), size_t(100), jpg.size() / 2, jpg.size() - 2}) {
    CAPTURE(size);
    write_bytes(cut, jpg.substr(0, size));
    CHECK(error_message([&] { io::read_image(cut); }) ==
          cut + ": corrupt or truncated JPEG (libjpeg: Premature end of input file)");
  }
  // A byte of entropy-coded data changed: libjpeg's first corrupt-data warning is the error.
  std::string bad = read_bytes(kDecode + "jpeg_420.jpg");
  const size_t scan = bad.find("\xff\xda");
  REQUIRE(scan != std::string::npos);
  for (size_t i = scan + 20; i < bad.size() - 2; i += 7) bad[i] = char(0xff);
  write_bytes(cut, bad);
  const std::string why = error_message([&] { io::read_image(cut); });
  CHECK(why.rfind(cut + ": corrupt or truncated JPEG (libjpeg: Corrupt JPEG data: ", 0) == 0);
  CHECK(why.find('\n') == std::string::npos);
}

TEST_CASE("image decode: writers round-trip, and write the same bytes twice") {
  io::Image image;
  image.width = 37;
  image.height = 29;
  const Tensor pattern = io::read_npy(kDecode + "png_rgb8.npy");
  image.rgb.assign(pattern.data<uint8_t>(), pattern.data<uint8_t>() + 37 * 29 * 3);
  TempDir dir;
  io::write_png(dir.file("a.png"), image);
  CHECK(io::read_image(dir.file("a.png")).rgb == image.rgb);
  io::write_jpeg(dir.file("a.jpg"), image, 90);
  io::write_jpeg(dir.file("b.jpg"), image, 90);
  CHECK(read_bytes(dir.file("a.jpg")) == read_bytes(dir.file("b.jpg")));
  const io::Image back = io::read_image(dir.file("a.jpg"));
  int worst = 0;
  for (size_t i = 0; i < back.rgb.size(); ++i) worst = std::max(worst, std::abs(back.rgb[i] - image.rgb[i]));
  CHECK(worst > 0);   // lossy, so it did encode
  CHECK(worst < 100);  // and near (4:2:0 chroma on hard edges and noise)
  CHECK(io::read_image_size(dir.file("a.jpg")).width == 37);
}

TEST_CASE("image decode: zlib round trip, and streams of the wrong length are refused") {
  std::vector<uint8_t> data(1000);
  for (size_t i = 0; i < data.size(); ++i) data[i] = uint8_t(i * i % 251);
  const std::string z = io::zlib_compress(data.data(), data.size());
  const auto* bytes = reinterpret_cast<const uint8_t*>(z.data());
  std::vector<uint8_t> out;
  CHECK(io::zlib_decompress(bytes, z.size(), 1000, out));
  CHECK(out == data);
  CHECK_FALSE(io::zlib_decompress(bytes, z.size(), 999, out));   // longer than expected
  CHECK(out.size() <= 1000);                                     // expected + 1 at most
  CHECK_FALSE(io::zlib_decompress(bytes, z.size(), 1001, out));  // shorter
  CHECK_FALSE(io::zlib_decompress(bytes, z.size() - 3, 1000, out));  // cut
}

// Inputs that crashed or stalled stb_image (out-of-bounds writes, a minute on a 555-byte
// file). Each is a one-line error; the ones declaring a large image stop at the data's
// end ("Premature end of input file": the decoder read all of it and wanted more), not
// after decoding the declared pixels. (Timed: each fails in under 0.1 s, against a
// minute for stb and 0.4-1.4 s for cv2.imread; not asserted, as timings are not tests.)
TEST_CASE("image decode: hostile JPEGs found by fuzzing fail at once with one line") {
  const std::pair<const char*, const char*> cases[] = {
      {"slow_jpeg_4192x9472.jpg",
       "corrupt or truncated JPEG (libjpeg: Corrupt JPEG data: premature end of data segment)"},
      {"slow_jpeg_7264x16128.jpg", "image is 7264x16128 pixels, more than the limit of 67108864"},
      {"stb_dht_table_over_256_codes.jpg", "corrupt or truncated JPEG (libjpeg: Premature end of input file)"},
      {"stb_undefined_ac_huffman_table.jpg",
       "corrupt or truncated JPEG (libjpeg: Corrupt JPEG data: premature end of data segment)"},
      {"stb_undefined_ac_huffman_table_2.jpg",
       "corrupt or truncated JPEG (libjpeg: Inconsistent progression sequence for component 0 "
       "coefficient 0)"},
  };
  for (const auto& [name, why] : cases) {
    CAPTURE(name);
    const std::string path = kHostile + name;
    CHECK(error_message([&] { io::read_image(path); }) == path + ": " + why);
  }
}
