// Images in and out: the file checks and format dispatch of read_image/read_image_size,
// the EXIF orientation, the writers' input checks, and zlib. The codecs are beside it:
// src/io/jpeg.cpp (libjpeg-turbo), src/io/png.cpp (libpng); their limits are in
// src/io/image_codecs.h.
//
// read_image rules, each violation an Error "<path>: <what>":
//  - the file opens and is at most 1 GiB (it is streamed to the decoder);
//  - it starts with the PNG signature or a JPEG start-of-image marker;
//  - its dimensions, read from the header before anything is decoded, are within the
//    limits (codec::check_image_size);
//  - the decoder reads it completely (a truncated or corrupt file fails; its reason is
//    quoted).
// Writers check their input (shape, the same limits) before encoding into memory, then
// write atomically.
#include "src/io/image.h"

#include <zlib.h>

#include "src/io/atomic_file.h"
#include "src/io/image_codecs.h"
#include "src/io/input_file.h"

namespace tv3s::io {
namespace codec {

void check_image_size(const std::string& path, int64_t width, int64_t height) {
  if (width <= 0 || height <= 0)
    fail(str(path, ": image is ", width, "x", height, " pixels: empty"));
  if (width > kMaxImageSide || height > kMaxImageSide) {
    fail(str(path, ": image is ", width, "x", height, " pixels, a side longer than the limit of ",
             kMaxImageSide));
  }
  if (width * height > kMaxImagePixels) {
    fail(str(path, ": image is ", width, "x", height, " pixels, more than the limit of ",
             kMaxImagePixels));
  }
}

// TIFF layout: byte order "II"/"MM", 42, the offset of IFD0; IFD0 is a count and 12-byte
// entries (tag, type, count, value). Orientation is tag 0x0112, a SHORT in the value field.
int exif_orientation(const uint8_t* tiff, size_t size) {
  if (size < 8) return 1;
  const bool little = tiff[0] == 'I' && tiff[1] == 'I';
  if (!little && !(tiff[0] == 'M' && tiff[1] == 'M')) return 1;
  const auto u16 = [&](size_t at) {
    return little ? uint32_t(tiff[at] | tiff[at + 1] << 8) : uint32_t(tiff[at] << 8 | tiff[at + 1]);
  };
  const auto u32 = [&](size_t at) {
    return little ? u16(at) | u16(at + 2) << 16 : u16(at) << 16 | u16(at + 2);
  };
  if (u16(2) != 42) return 1;
  const size_t ifd = u32(4);
  if (ifd > size - 2) return 1;
  const size_t entries = u16(ifd);
  for (size_t i = 0; i < entries && ifd + 2 + 12 * (i + 1) <= size; ++i) {
    const size_t entry = ifd + 2 + 12 * i;
    if (u16(entry) != 0x0112) continue;
    const uint32_t value = u16(entry + 8);
    return u16(entry + 2) == 3 && value >= 1 && value <= 8 ? int(value) : 1;
  }
  return 1;
}

}  // namespace codec

namespace {

enum class Format { png, jpeg };

InputFile open_image(const std::string& path, Format& format) {
  InputFile file = open_input_file(path);
  if (file.size > kMaxImageFileBytes)
    fail(str(path, ": file is ", file.size, " bytes, more than the 1 GiB limit for an image"));
  char magic[8] = {};
  file.stream.read(magic, 8);
  const std::string head(magic, size_t(file.stream.gcount()));
  if (head.compare(0, 8, "\x89PNG\r\n\x1a\n") == 0) format = Format::png;
  else if (head.compare(0, 3, "\xff\xd8\xff") == 0) format = Format::jpeg;
  else fail(str(path, ": not a PNG or JPEG file"));
  file.stream.clear();
  file.stream.seekg(0);
  return file;
}

codec::Decoded decode(const std::string& path, bool header_only) {
  Format format;
  InputFile file = open_image(path, format);
  return format == Format::png ? codec::decode_png(path, file.stream, header_only)
                               : codec::decode_jpeg(path, file.stream, header_only);
}

// EXIF orientations 5..8 turn the image a quarter (width and height swap).
bool transposes(int orientation) { return orientation >= 5; }

// The EXIF orientation applied as OpenCV's imread and imdecode apply it by default
// (ApplyExifOrientation in loadsave.cpp: 2 mirrors, 3 turns half way, 4 flips, 5..8
// transpose and then mirror (6), turn (7) or flip (8)). The official pipeline decodes
// frames with mmcv.imfrombytes(..., flag='color'), i.e. cv2.imdecode(IMREAD_COLOR),
// which does this (checked with cv2 5.1 on JPEG APP1 and PNG eXIf orientations).
// Video frames carry no EXIF, so for VSPW this changes nothing.
Image orient(Image in, int orientation) {
  if (orientation == 1) return in;
  const bool swap = transposes(orientation);
  const bool mirror = orientation == 2 || orientation == 3 || orientation == 6 || orientation == 7;
  const bool flip = orientation == 3 || orientation == 4 || orientation == 7 || orientation == 8;
  Image out;
  out.width = swap ? in.height : in.width;
  out.height = swap ? in.width : in.height;
  out.rgb.resize(in.rgb.size());
  for (int y = 0; y < out.height; ++y) {
    for (int x = 0; x < out.width; ++x) {
      const int sx = mirror ? out.width - 1 - x : x, sy = flip ? out.height - 1 - y : y;
      const size_t from = swap ? size_t(sx) * size_t(in.width) + size_t(sy)
                               : size_t(sy) * size_t(in.width) + size_t(sx);
      const size_t to = size_t(y) * size_t(out.width) + size_t(x);
      for (int c = 0; c < 3; ++c) out.rgb[3 * to + size_t(c)] = in.rgb[3 * from + size_t(c)];
    }
  }
  return out;
}

void check_rgb(const std::string& path, const char* writer, const Image& image) {
  codec::check_image_size(path, image.width, image.height);
  const size_t expected = size_t(image.width) * size_t(image.height) * 3;
  if (image.rgb.size() != expected) {
    fail(str(path, ": ", writer, ": ", image.width, "x", image.height, " RGB needs ", expected,
             " bytes, the image holds ", image.rgb.size()));
  }
}

}  // namespace

Image read_image(const std::string& path) {
  codec::Decoded decoded = decode(path, false);
  return orient(std::move(decoded.image), decoded.orientation);
}

ImageSize2D read_image_size(const std::string& path) {
  const codec::Decoded decoded = decode(path, true);
  if (transposes(decoded.orientation)) return {decoded.image.height, decoded.image.width};
  return {decoded.image.width, decoded.image.height};
}

void write_png(const std::string& path, const Image& image) {
  check_rgb(path, "write_png", image);
  write_file_atomic(path, codec::encode_png(path, image));
}

void write_jpeg(const std::string& path, const Image& image, int quality) {
  check_rgb(path, "write_jpeg", image);
  TV3S_CHECK(quality >= 1 && quality <= 100, path, ": JPEG quality ", quality, " is not in 1..100");
  write_file_atomic(path, codec::encode_jpeg(path, image, quality));
}

std::string zlib_compress(const uint8_t* data, size_t size) {
  TV3S_CHECK(size < (size_t(1) << 31), "zlib_compress: ", size, " bytes is more than 2 GiB");
  uLongf out_size = compressBound(uLong(size));
  std::string out(out_size, '\0');
  const int status = compress2(reinterpret_cast<Bytef*>(out.data()), &out_size, data, uLong(size),
                               Z_DEFAULT_COMPRESSION);
  TV3S_CHECK(status == Z_OK, "zlib_compress: zlib error ", status);
  out.resize(out_size);
  return out;
}

bool zlib_decompress(const uint8_t* data, size_t size, size_t expected_size,
                     std::vector<uint8_t>& out) {
  if (size >= (size_t(1) << 31) || expected_size >= (size_t(1) << 31) - 1) return false;
  // One byte of room beyond the expected size: a stream that fills it is too long.
  out.assign(expected_size + 1, 0);
  z_stream stream{};
  if (inflateInit(&stream) != Z_OK) return false;
  stream.next_in = const_cast<Bytef*>(data);
  stream.avail_in = uInt(size);
  stream.next_out = out.data();
  stream.avail_out = uInt(out.size());
  const int status = inflate(&stream, Z_FINISH);
  const uLong produced = stream.total_out;
  inflateEnd(&stream);
  if (status != Z_STREAM_END || produced != expected_size) return false;
  out.resize(expected_size);
  return true;
}

}  // namespace tv3s::io
