// Label PNGs (src/io/label_png.cpp): read_label_png returns exactly the values
// np.array(Image.open(path)) holds — palette indices, grey values, PIL's scaling of 2- and
// 4-bit grey — for files written by PIL and by a hand-written encoder using every filter
// and bit depth (fixtures: tools/gen_image_fixtures.py; exact equality); write_label_png
// round-trips exactly; and every bad file gives its one exact message. The bad files are
// built here, chunk by chunk, from a valid 3x2 image.
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

const std::string kData = TV3S_SOURCE_DIR "/tests/data/image/";

std::vector<uint8_t> npy_values(const std::string& path) {
  const std::vector<int32_t> values = io::read_npy(path).to_vector_i32();
  return std::vector<uint8_t>(values.begin(), values.end());
}

// ---- a PNG built by hand, for the bad-input cases ----------------------------------------

uint32_t crc32(const std::string& bytes) {
  uint32_t crc = 0xFFFFFFFFu;
  for (const char ch : bytes) {
    crc ^= uint8_t(ch);
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1)));
  }
  return ~crc;
}

std::string u32(uint32_t v) { return {char(v >> 24), char(v >> 16), char(v >> 8), char(v)}; }

std::string chunk(const std::string& type, const std::string& data) {
  return u32(uint32_t(data.size())) + type + data + u32(crc32(type + data));
}

std::string ihdr(uint32_t width, uint32_t height, int depth, int colour, int interlace = 0,
                 int compression = 0) {
  return chunk("IHDR", u32(width) + u32(height) + char(depth) + char(colour) + char(compression) +
                           char(0) + char(interlace));
}

std::string deflate(const std::string& raw) {
  return io::zlib_compress(reinterpret_cast<const uint8_t*>(raw.data()), raw.size());
}

const std::string kSignature("\x89PNG\r\n\x1a\n", 8);
// The valid image: 3x2, 8-bit grey, values 1..6; row 0 filter None, row 1 filter Sub
// (4 - 0, 5 - 4, 6 - 5 stored as 4, 1, 1).
const std::string kRaw("\0\1\2\3\1\4\1\1", 8);

std::string grey_png(const std::string& idat_stream, const std::string& header = ihdr(3, 2, 8, 0)) {
  return kSignature + header + chunk("IDAT", idat_stream) + chunk("IEND", "");
}

}  // namespace

TEST_CASE("label png: write_label_png round-trips exactly (grey, indexed, 1x1, odd sizes)") {
  TempDir dir;
  const std::string path = dir.file("labels.png");
  io::Palette palette(256);
  for (size_t i = 0; i < palette.size(); ++i)
    palette[i] = {uint8_t(i), uint8_t(255 - i), uint8_t(i * 7)};
  uint32_t seed = 12345;
  for (const auto& [width, height] :
       std::vector<std::pair<int, int>>{{1, 1}, {1, 17}, {13, 1}, {37, 23}, {256, 3}}) {
    for (const bool indexed : {false, true}) {
      INFO(width, "x", height, indexed ? " indexed" : " grey");
      std::vector<int32_t> values(size_t(width) * size_t(height));
      for (int32_t& v : values) v = int32_t((seed = seed * 1664525u + 1013904223u) >> 24);
      io::write_label_png(path, Tensor::from_vector_i32(values, Shape{height, width}),
                          indexed ? palette : io::Palette{});
      const io::LabelMap map = io::read_label_png(path);
      REQUIRE((map.width == width && map.height == height));
      CHECK(std::vector<int32_t>(map.values.begin(), map.values.end()) == values);
      CHECK(read_bytes(path)[25] == (indexed ? 3 : 0));  // IHDR colour type
    }
  }
}

TEST_CASE("label png: PIL's files read as np.array(Image.open(path)) gives them") {
  // p8/p4/p1: mode "P" stored at 8, 4 and 1 bits; l: mode "L"; 1: mode "1" (booleans).
  for (const char* name : {"p8", "p4", "p1", "l", "1"}) {
    CAPTURE(name);
    const std::string stem = kData + "label_pil_" + name;
    const io::LabelMap map = io::read_label_png(stem + ".png");
    const Tensor expected = io::read_npy(stem + ".npy");
    REQUIRE((map.height == expected.size(0) && map.width == expected.size(1)));
    CHECK(map.values == npy_values(stem + ".npy"));
  }
}

TEST_CASE("label png: hand-made files with every filter and bit depth read as PIL reads them") {
  // 13x10, rows filtered None/Sub/Up/Average/Paeth in turn, the zlib stream split over
  // three IDAT chunks; indexed (p) and grey (g) at 1, 2, 4, 8 bits; the 4-bit files carry
  // a tEXt chunk. Grey at 2 and 4 bits reads as PIL scales it (x85, x17).
  for (const char* kind : {"p", "g"}) {
    for (const int depth : {1, 2, 4, 8}) {
      INFO(kind, depth);
      const std::string stem = kData + "label_hand_" + kind + std::to_string(depth);
      const io::LabelMap map = io::read_label_png(stem + ".png");
      REQUIRE((map.width == 13 && map.height == 10));
      CHECK(map.values == npy_values(stem + ".npy"));
    }
  }
}

TEST_CASE("label png: the hand-built base image is valid") {
  TempDir dir;
  const std::string path = dir.file("base.png");
  write_bytes(path, grey_png(deflate(kRaw)));
  const io::LabelMap map = io::read_label_png(path);
  REQUIRE((map.width == 3 && map.height == 2));
  CHECK(map.values == std::vector<uint8_t>{1, 2, 3, 4, 5, 6});
}

TEST_CASE("label png: files that are not grey or indexed PNGs are refused by name") {
  TempDir dir;
  const std::string path = dir.file("bad.png");
  const auto message = [&](const std::string& bytes) {
    write_bytes(path, bytes);
    return error_message([&] { io::read_label_png(path); });
  };
  CHECK(message("hello, world\n") == path + ": not a PNG file");
  CHECK(message("") == path + ": not a PNG file");
  const std::string kind = " a label map must be a greyscale or indexed (palette) PNG";
  CHECK(message(grey_png(deflate(kRaw), ihdr(3, 2, 8, 2))) == path + ": is an RGB PNG;" + kind);
  CHECK(message(grey_png(deflate(kRaw), ihdr(3, 2, 8, 6))) == path + ": is an RGBA PNG;" + kind);
  CHECK(message(grey_png(deflate(kRaw), ihdr(3, 2, 8, 4))) ==
        path + ": is a grey+alpha PNG;" + kind);
  CHECK(message(grey_png(deflate(kRaw), ihdr(3, 2, 8, 5))) ==
        path + ": corrupt PNG (colour type 5)");
  CHECK(message(grey_png(deflate(kRaw), ihdr(3, 2, 16, 0))) ==
        path + ": 16-bit PNG; a label map must have at most 8 bits per pixel");
  CHECK(message(grey_png(deflate(kRaw), ihdr(3, 2, 3, 3))) == path + ": corrupt PNG (bit depth 3)");
  CHECK(message(grey_png(deflate(kRaw), ihdr(3, 2, 8, 0, 1))) ==
        path + ": interlaced PNG; re-save it without interlacing");
  CHECK(message(grey_png(deflate(kRaw), ihdr(3, 2, 8, 0, 2))) ==
        path + ": corrupt PNG (interlace method 2)");
  CHECK(message(grey_png(deflate(kRaw), ihdr(3, 2, 8, 0, 0, 1))) ==
        path + ": corrupt PNG (unknown compression or filter method)");

  // A JPEG and an RGB PNG from the image writers.
  io::Image rgb;
  rgb.width = 4, rgb.height = 2;
  rgb.rgb.assign(24, 100);
  io::write_jpeg(path, rgb);
  CHECK(error_message([&] { io::read_label_png(path); }) ==
        path + ": is a JPEG; a label map must be a PNG (JPEG would alter the labels)");
  io::write_png(path, rgb);
  CHECK(error_message([&] { io::read_label_png(path); }) == path + ": is an RGB PNG;" + kind);

  CHECK(error_message([&] { io::read_label_png(dir.file("missing.png")); }) ==
        dir.file("missing.png") + ": cannot open: No such file or directory");
  CHECK(error_message([&] { io::read_label_png(dir.path()); }) ==
        dir.path() + ": is a folder, not a file");
}

TEST_CASE("label png: truncated, corrupt and inconsistent files give one exact message") {
  TempDir dir;
  const std::string path = dir.file("bad.png");
  const auto message = [&](const std::string& bytes) {
    write_bytes(path, bytes);
    return error_message([&] { io::read_label_png(path); });
  };
  const std::string good = grey_png(deflate(kRaw));
  const size_t idat_at = 8 + 25, iend_at = good.size() - 12;

  // Cut at several points: inside the signature, right after it, inside IHDR's length,
  // inside IHDR's data, inside IDAT, before IEND, inside IEND.
  CHECK(message(good.substr(0, 4)) ==
        path + ": truncated PNG (the file ends inside the signature)");
  CHECK(message(good.substr(0, 8)) == path + ": truncated PNG (nothing after the signature)");
  CHECK(message(good.substr(0, 13)) == path + ": truncated PNG (a chunk is cut off)");
  CHECK(message(good.substr(0, 28)) ==
        path + ": truncated or corrupt PNG (a chunk of 13 bytes runs past the end)");
  const uint32_t idat_length = uint32_t(iend_at - idat_at - 12);
  CHECK(message(good.substr(0, idat_at + 15)) ==
        path + str(": truncated or corrupt PNG (a chunk of ", idat_length,
                   " bytes runs past the end)"));
  CHECK(message(good.substr(0, iend_at)) == path + ": truncated PNG (no IEND chunk)");
  CHECK(message(good.substr(0, good.size() - 3)) == path + ": truncated PNG (a chunk is cut off)");

  // A flipped byte: the chunk's CRC no longer matches.
  std::string flipped = good;
  flipped[idat_at + 9] = char(flipped[idat_at + 9] ^ 0x40);
  CHECK(message(flipped) == path + ": corrupt PNG (CRC mismatch in chunk 'IDAT')");
  std::string bad_crc = good;
  bad_crc[8 + 21] = char(bad_crc[8 + 21] ^ 1);
  CHECK(message(bad_crc) == path + ": corrupt PNG (CRC mismatch in chunk 'IHDR')");

  // Consistent CRCs, damaged image data: not deflate; inflating to too few or too many
  // bytes; the right size but a wrong Adler-32 (a stored block with one byte changed).
  const std::string data_error = path + ": corrupt or truncated PNG image data";
  CHECK(message(grey_png(std::string("\x78\x9c\xff\xff\xff\xff\xff\xff", 8))) == data_error);
  CHECK(message(grey_png(deflate(kRaw.substr(0, 4)))) == data_error);
  CHECK(message(grey_png(deflate(kRaw + std::string(1, '\0')))) == data_error);
  std::string stream = deflate(kRaw);
  stream.resize(stream.size() - 4);  // without its checksum
  CHECK(message(grey_png(stream)) == data_error);
  std::string stored("\x78\x01\x01\x08\x00\xf7\xff", 7);  // zlib header, one final stored block
  stored += kRaw;
  stored += u32(0);  // an Adler-32 that is not kRaw's
  CHECK(message(grey_png(stored)) == data_error);

  // A scanline with filter type 5.
  std::string bad_filter = kRaw;
  bad_filter[4] = 5;
  CHECK(message(grey_png(deflate(bad_filter))) ==
        path + ": corrupt PNG (unknown filter 5 in row 1)");

  // No IEND at all; no IDAT; IHDR not first, twice, or of the wrong length.
  CHECK(message(kSignature + ihdr(3, 2, 8, 0) + chunk("IDAT", deflate(kRaw))) ==
        path + ": truncated PNG (no IEND chunk)");
  CHECK(message(kSignature + ihdr(3, 2, 8, 0) + chunk("IEND", "")) ==
        path + ": corrupt PNG (no image data)");
  CHECK(message(kSignature + chunk("tEXt", "a\0b") + good.substr(8)) ==
        path + ": corrupt PNG (the first chunk is not IHDR)");
  CHECK(message(kSignature + ihdr(3, 2, 8, 0) + good.substr(8)) ==
        path + ": corrupt PNG (a second IHDR chunk)");
  CHECK(message(kSignature + chunk("IHDR", std::string(12, '\1')) + good.substr(idat_at)) ==
        path + ": corrupt PNG (IHDR of 12 bytes)");
  CHECK(message(kSignature + u32(0xFFFFFFFFu) + "IHDR" + std::string(20, '\0')) ==
        path + ": truncated or corrupt PNG (a chunk of 4294967295 bytes runs past the end)");
}

TEST_CASE("label png: sizes claimed by IHDR are refused before anything is allocated") {
  TempDir dir;
  const std::string path = dir.file("huge.png");
  const auto message = [&](const std::string& bytes) {
    write_bytes(path, bytes);
    return error_message([&] { io::read_label_png(path); });
  };
  CHECK(message(grey_png(deflate(kRaw), ihdr(100000, 100000, 8, 0))) ==
        path + ": image is 100000x100000 pixels: empty or more than the limit of 67108864");
  CHECK(message(grey_png(deflate(kRaw), ihdr(0xFFFFFFFFu, 1, 8, 0))) ==
        path + ": image is 4294967295x1 pixels: empty or more than the limit of 67108864");
  CHECK(message(grey_png(deflate(kRaw), ihdr(0, 2, 8, 0))) ==
        path + ": image is 0x2 pixels: empty or more than the limit of 67108864");
  // Within the pixel limit, but 64 MiB from a 14-byte stream is more than deflate can
  // expand (1032:1): refused without inflating.
  CHECK(message(grey_png(deflate(kRaw), ihdr(16384, 4096, 8, 0))) ==
        path + ": corrupt or truncated PNG image data");
}
