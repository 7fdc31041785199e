// PNG through libpng, decoding as OpenCV's cv2.imread(path, IMREAD_COLOR) does
// (modules/imgcodecs/src/grfmt_png.cpp): 16-bit samples keep their high byte
// (png_set_strip_16, not a rounded rescale), alpha is dropped (png_set_strip_alpha, no
// compositing), a palette becomes its colours (tRNS is expanded to alpha, then dropped),
// grey of 1/2/4 bits is scaled to 8 and replicated into R, G, B, Adam7 is de-interlaced.
// No gamma or colour-profile handling, as in OpenCV. tests/io/test_image_decode.cpp
// checks each kind bit for bit against cv2.
//
// Errors. libpng reports a fatal error through the error callback, which must not
// return: it longjmps back into one of the small call_* functions below, which hold no
// C++ objects (libpng is C), so no destructor is skipped. Warnings are ignored, silently:
// libpng raises them for ancillary chunks only (a bad CRC there, a bad gAMA or text
// chunk), never for pixels, which are an error when short or corrupt. A stream that ends
// early is an error at once.
#include <csetjmp>
#include <cstdio>
#include <vector>

#include <png.h>

#include "src/io/image_codecs.h"

namespace tv3s::io::codec {
namespace {

struct PngState {
  png_structp png = nullptr;
  png_infop info = nullptr;
  std::istream* in = nullptr;
  std::string* out = nullptr;
  bool writing = false;
  char message[256] = {};
};

// Destroys what was created, whatever happened after.
struct PngStateOwner {
  PngState state;
  ~PngStateOwner() {
    if (state.writing) png_destroy_write_struct(&state.png, &state.info);
    else png_destroy_read_struct(&state.png, &state.info, nullptr);
  }
};

void on_error(png_structp png, png_const_charp message) {
  auto& state = *static_cast<PngState*>(png_get_error_ptr(png));
  std::snprintf(state.message, sizeof state.message, "%s", message);
  png_longjmp(png, 1);
}

void on_warning(png_structp, png_const_charp) {}

void read_bytes(png_structp png, png_bytep data, size_t size) {
  auto& state = *static_cast<PngState*>(png_get_io_ptr(png));
  state.in->read(reinterpret_cast<char*>(data), std::streamsize(size));
  if (size_t(state.in->gcount()) != size) png_error(png, "unexpected end of file");
}

// May run out of memory: that is a libpng error, not an exception through C frames.
void write_bytes(png_structp png, png_bytep data, size_t size) {
  auto& state = *static_cast<PngState*>(png_get_io_ptr(png));
  bool appended = true;
  try {
    state.out->append(reinterpret_cast<const char*>(data), size);
  } catch (...) {
    appended = false;
  }
  if (!appended) png_error(png, "out of memory");  // outside the handler: it longjmps
}

void flush_bytes(png_structp) {}

bool call_read_info(PngState* s) {
  if (setjmp(png_jmpbuf(s->png))) return false;
  png_read_info(s->png, s->info);  // the chunks before the first IDAT
  return true;
}

// OpenCV's transforms for 8-bit colour output (PngDecoder::readData), less png_set_bgr.
bool call_set_transforms(PngState* s) {
  if (setjmp(png_jmpbuf(s->png))) return false;
  png_structp png = s->png;
  const int depth = png_get_bit_depth(png, s->info);
  const int type = png_get_color_type(png, s->info);
  if (depth == 16) png_set_strip_16(png);
  png_set_strip_alpha(png);
  if (type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
  if ((type & PNG_COLOR_MASK_COLOR) == 0) {
    if (depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    png_set_gray_to_rgb(png);
  }
  png_set_interlace_handling(png);
  png_read_update_info(png, s->info);
  return true;
}

bool call_read_image(PngState* s, png_bytepp rows) {
  if (setjmp(png_jmpbuf(s->png))) return false;
  png_read_image(s->png, rows);
  png_read_end(s->png, nullptr);  // the chunks after the pixels, up to IEND
  return true;
}

bool call_write(PngState* s, const Image* image, png_bytepp rows) {
  if (setjmp(png_jmpbuf(s->png))) return false;
  png_set_write_fn(s->png, s, write_bytes, flush_bytes);
  png_set_IHDR(s->png, s->info, png_uint_32(image->width), png_uint_32(image->height), 8,
               PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
               PNG_FILTER_TYPE_DEFAULT);
  png_write_info(s->png, s->info);
  png_write_image(s->png, rows);
  png_write_end(s->png, nullptr);
  return true;
}

std::string corrupt(const std::string& path, const char* message) {
  return str(path, ": corrupt or truncated PNG (libpng: ", message, ")");
}

}  // namespace

Decoded decode_png(const std::string& path, std::istream& in, bool header_only) {
  PngStateOwner owner;
  PngState* s = &owner.state;
  s->in = &in;
  s->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, s, on_error, on_warning);
  if (s->png) s->info = png_create_info_struct(s->png);
  if (!s->info) fail(str(path, ": out of memory for a PNG decoder"));
  png_set_read_fn(s->png, s, read_bytes);
  if (!kVerifyChecksums) png_set_crc_action(s->png, PNG_CRC_QUIET_USE, PNG_CRC_QUIET_USE);
  if (!call_read_info(s)) fail(corrupt(path, s->message));

  Decoded decoded;
  png_uint_32 exif_size = 0;
  png_bytep exif = nullptr;
  if (png_get_eXIf_1(s->png, s->info, &exif_size, &exif) && exif)
    decoded.orientation = exif_orientation(exif, exif_size);
  const png_uint_32 width = png_get_image_width(s->png, s->info);
  const png_uint_32 height = png_get_image_height(s->png, s->info);
  check_image_size(path, width, height);
  decoded.image.width = int(width);
  decoded.image.height = int(height);
  if (header_only) return decoded;

  if (!call_set_transforms(s)) fail(corrupt(path, s->message));
  const size_t stride = size_t(width) * 3;
  TV3S_CHECK(png_get_rowbytes(s->png, s->info) == stride, path,
             ": PNG rows are not 8-bit RGB after conversion (", png_get_rowbytes(s->png, s->info),
             " bytes, expected ", stride, ")");
  decoded.image.rgb.resize(stride * height);
  std::vector<png_bytep> rows(height);
  for (size_t y = 0; y < height; ++y) rows[y] = decoded.image.rgb.data() + y * stride;
  if (!call_read_image(s, rows.data())) fail(corrupt(path, s->message));
  return decoded;
}

std::string encode_png(const std::string& path, const Image& image) {
  PngStateOwner owner;
  PngState* s = &owner.state;
  std::string png;
  s->out = &png;
  s->writing = true;
  s->png = png_create_write_struct(PNG_LIBPNG_VER_STRING, s, on_error, on_warning);
  if (s->png) s->info = png_create_info_struct(s->png);
  if (!s->info) fail(str(path, ": out of memory for a PNG encoder"));
  const size_t stride = size_t(image.width) * 3;
  std::vector<png_bytep> rows(size_t(image.height));
  for (size_t y = 0; y < rows.size(); ++y) rows[y] = const_cast<png_bytep>(image.rgb.data() + y * stride);
  if (!call_write(s, &image, rows.data())) fail(str(path, ": PNG encoding failed (libpng: ", s->message, ")"));
  return png;
}

}  // namespace tv3s::io::codec
