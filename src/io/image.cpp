// PNG/JPEG decoding and PNG encoding through stb_image / stb_image_write (this file holds
// their implementation; they are compiled static, so no symbol clashes with another copy
// of stb in the same program, and with only the PNG and JPEG decoders).
//
// read_image rules, each violation an Error "<path>: <what>":
//  - the file opens and is at most 1 GiB (it is read whole into memory);
//  - it starts with the PNG signature or a JPEG start-of-image marker;
//  - its dimensions, read from the header before anything is decoded, are at most
//    2^28 pixels (stb_image also caps each side at 2^24);
//  - stb_image decodes it completely (a truncated or corrupt file fails; its reason is
//    quoted).
// Writers check their input (shape, dtype, label range, the same pixel limit) before
// encoding into memory, then write atomically.
#include "src/io/image.h"

#include <cstdlib>
#include <cstring>
#include <memory>

#include "src/io/atomic_file.h"
#include "src/io/input_file.h"

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"             // static copies of the whole API
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"  // stb's own code
#define STB_IMAGE_STATIC
#define STB_IMAGE_IMPLEMENTATION
#define STBI_ONLY_PNG
#define STBI_ONLY_JPEG
#define STBI_NO_STDIO
#include <stb_image.h>
#define STB_IMAGE_WRITE_STATIC
#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STBI_WRITE_NO_STDIO
#include <stb_image_write.h>
#pragma GCC diagnostic pop

namespace tv3s::io {
namespace {

constexpr int64_t kMaxPixels = int64_t(1) << 28;
constexpr uint64_t kMaxImageFileBytes = uint64_t(1) << 30;

std::string read_image_file(const std::string& path) {
  InputFile file = open_input_file(path);
  if (file.size > kMaxImageFileBytes)
    fail(str(path, ": file is ", file.size, " bytes, more than the 1 GiB limit for an image"));
  std::string bytes(size_t(file.size), '\0');
  if (!file.stream.read(bytes.data(), std::streamsize(file.size))) fail(str(path, ": read failed"));
  return bytes;
}

enum class Format { png, jpeg, unknown };

Format sniff(const std::string& bytes) {
  if (bytes.compare(0, 8, "\x89PNG\r\n\x1a\n") == 0) return Format::png;
  if (bytes.compare(0, 3, "\xff\xd8\xff") == 0) return Format::jpeg;
  return Format::unknown;
}

// stb_image's reason, when it is about this file: stb tries the PNG decoder first, so a
// JPEG whose decoder fails without giving a reason would report the PNG's "bad png sig".
std::string stb_reason(Format format) {
  const char* reason = stbi_failure_reason();
  if (!reason || !*reason || (format == Format::jpeg && std::strcmp(reason, "bad png sig") == 0))
    return "";
  return str(" (stb_image: ", reason, ")");
}

void check_pixels(const std::string& path, int64_t width, int64_t height) {
  if (width <= 0 || height <= 0)
    fail(str(path, ": image is ", width, "x", height, " pixels: empty"));
  if (width * height > kMaxPixels) {
    fail(str(path, ": image is ", width, "x", height, " pixels, more than the limit of ",
             kMaxPixels));
  }
}

void write_png_pixels(const std::string& path, int width, int height, int channels,
                      const uint8_t* pixels) {
  std::string png;
  const auto append = [](void* context, void* data, int size) {
    static_cast<std::string*>(context)->append(static_cast<const char*>(data), size_t(size));
  };
  if (!stbi_write_png_to_func(append, &png, width, height, channels, pixels, width * channels))
    fail(str(path, ": PNG encoding failed"));
  write_file_atomic(path, png);
}

}  // namespace

Image read_image(const std::string& path) {
  const std::string bytes = read_image_file(path);
  const Format format = sniff(bytes);
  if (format == Format::unknown) fail(str(path, ": not a PNG or JPEG file"));
  const char* kind = format == Format::png ? "PNG" : "JPEG";
  const auto* data = reinterpret_cast<const stbi_uc*>(bytes.data());
  const int size = int(bytes.size());  // ≤ 1 GiB, checked above

  int width = 0, height = 0, channels = 0;
  // stb's reason is useless here: after this decoder fails it tries the others.
  if (!stbi_info_from_memory(data, size, &width, &height, &channels))
    fail(str(path, ": corrupt or truncated ", kind, " header"));
  check_pixels(path, width, height);
  stbi__err("", "");  // forget a reason left by an earlier call: some failures set none
  const std::unique_ptr<stbi_uc, void (*)(void*)> pixels(
      stbi_load_from_memory(data, size, &width, &height, &channels, 3), stbi_image_free);
  if (!pixels) fail(str(path, ": corrupt or truncated ", kind, stb_reason(format)));

  Image image;
  image.width = width;
  image.height = height;
  image.rgb.assign(pixels.get(), pixels.get() + size_t(width) * size_t(height) * 3);
  return image;
}

ImageSize2D read_image_size(const std::string& path) {
  InputFile file = open_input_file(path);
  if (file.size > kMaxImageFileBytes)
    fail(str(path, ": file is ", file.size, " bytes, more than the 1 GiB limit for an image"));
  // stb reads the header through callbacks: only the bytes up to the size fields.
  stbi_io_callbacks io;
  io.read = [](void* user, char* data, int size) -> int {
    auto& in = *static_cast<std::ifstream*>(user);
    in.read(data, size);
    return int(in.gcount());
  };
  io.skip = [](void* user, int n) { static_cast<std::ifstream*>(user)->seekg(n, std::ios::cur); };
  io.eof = [](void* user) -> int { return static_cast<std::ifstream*>(user)->peek() == EOF; };
  char magic[8] = {};
  file.stream.read(magic, 8);
  const Format format = sniff(std::string(magic, size_t(file.stream.gcount())));
  if (format == Format::unknown) fail(str(path, ": not a PNG or JPEG file"));
  file.stream.clear();
  file.stream.seekg(0);
  int width = 0, height = 0, channels = 0;
  if (!stbi_info_from_callbacks(&io, &file.stream, &width, &height, &channels))
    fail(str(path, ": corrupt or truncated ", format == Format::png ? "PNG" : "JPEG", " header"));
  check_pixels(path, width, height);
  return {width, height};
}

void write_png(const std::string& path, const Image& image) {
  check_pixels(path, image.width, image.height);
  const size_t expected = size_t(image.width) * size_t(image.height) * 3;
  if (image.rgb.size() != expected) {
    fail(str(path, ": write_png: ", image.width, "x", image.height, " RGB needs ", expected,
             " bytes, the image holds ", image.rgb.size()));
  }
  write_png_pixels(path, image.width, image.height, 3, image.rgb.data());
}

void write_jpeg(const std::string& path, const Image& image, int quality) {
  check_pixels(path, image.width, image.height);
  TV3S_CHECK(quality >= 1 && quality <= 100, path, ": JPEG quality ", quality, " is not in 1..100");
  const size_t expected = size_t(image.width) * size_t(image.height) * 3;
  if (image.rgb.size() != expected) {
    fail(str(path, ": write_jpeg: ", image.width, "x", image.height, " RGB needs ", expected,
             " bytes, the image holds ", image.rgb.size()));
  }
  std::string jpeg;
  const auto append = [](void* context, void* data, int size) {
    static_cast<std::string*>(context)->append(static_cast<const char*>(data), size_t(size));
  };
  if (!stbi_write_jpg_to_func(append, &jpeg, image.width, image.height, 3, image.rgb.data(),
                              quality))
    fail(str(path, ": JPEG encoding failed"));
  write_file_atomic(path, jpeg);
}

std::string zlib_compress(const uint8_t* data, size_t size) {
  TV3S_CHECK(size < (size_t(1) << 31), "zlib_compress: ", size, " bytes is more than 2 GiB");
  int out_size = 0;
  const std::unique_ptr<unsigned char, void (*)(void*)> out(
      stbi_zlib_compress(const_cast<uint8_t*>(data), int(size), &out_size, 8), std::free);
  TV3S_CHECK(out != nullptr, "zlib_compress: out of memory");
  return std::string(reinterpret_cast<const char*>(out.get()), size_t(out_size));
}

bool zlib_decompress(const uint8_t* data, size_t size, size_t expected_size,
                     std::vector<uint8_t>& out) {
  if (size >= (size_t(1) << 31) || expected_size >= (size_t(1) << 31) - 1) return false;
  // One byte of room beyond the expected size: a stream that fills it is too long.
  out.assign(expected_size + 1, 0);
  const int got = stbi_zlib_decode_buffer(reinterpret_cast<char*>(out.data()), int(out.size()),
                                          reinterpret_cast<const char*>(data), int(size));
  if (got < 0 || size_t(got) != expected_size) return false;
  out.resize(expected_size);
  return true;
}

}  // namespace tv3s::io
