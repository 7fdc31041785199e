// Images in and out: PNG/JPEG through libpng and libjpeg-turbo (src/io/png.cpp,
// src/io/jpeg.cpp), NumPy .npy for logits. Writers are atomic (src/io/atomic_file.h).
//
// Decoding is OpenCV's: read_image gives the pixels of cv2.imread(path, IMREAD_COLOR)
// (then BGR -> RGB), which the official TV3S pipeline decodes frames with, bit for bit
// (same libraries, same settings: ISLOW IDCT, fancy upsampling, 16-bit PNG samples cut
// to their high byte, alpha dropped, EXIF orientation applied as cv2 applies it).
//
// Limits (src/io/limits.h, all checked before pixels are allocated): a file of at
// most 1 GiB, each side at most 16384, at most 2^26 pixels, a JPEG of at most 64 scans
// decoding in at most 384 MiB of libjpeg memory. A corrupt or truncated file fails at
// the first sign of it (for JPEG: libjpeg's first corrupt-data warning, where libjpeg
// would fill the rest with grey), so a small bad file costs no more than decoding a real
// image of its declared size, usually far less.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "tv3s/tensor.h"

namespace tv3s::io {

struct Image {
  int width = 0, height = 0;
  std::vector<uint8_t> rgb;  // height × width × 3, row-major
};

// Decodes a PNG or JPEG (any channel count and bit depth, converted to 8-bit RGB; alpha
// is dropped). Throws "<path>: <why>" for a missing, unreadable, truncated, corrupt or
// non-image file, or one beyond the limits above; a codec's reason is quoted, e.g.
// "<path>: corrupt or truncated JPEG (libjpeg: Premature end of input file)".
Image read_image(const std::string& path);

// The size of a PNG or JPEG from its header alone (nothing decoded), with the same checks
// and messages as read_image for what the header shows (and the size after the EXIF
// orientation, as read_image returns it). For checking a folder of frames before the
// first output is written.
struct ImageSize2D {
  int width = 0, height = 0;
};
ImageSize2D read_image_size(const std::string& path);

using Palette = std::vector<std::array<uint8_t, 3>>;

// A label map [H, W] (u8 or i32 values 0..255) as an 8-bit PNG whose pixel values are the
// labels: a greyscale PNG when `palette` is empty, else an indexed ("P" mode) PNG with
// `palette` as its PLTE, the format of VSPW masks and of the official result_submission
// (PIL reads both back as the label values; viewers show the palette colours). Values
// outside 0..255 are an error, as are labels beyond a non-empty palette.
// (Indexed PNG encoding: src/io/label_png.cpp.)
void write_label_png(const std::string& path, const Tensor& labels, const Palette& palette = {});

// A label map as it is stored: the pixel values of an 8-bit greyscale or indexed PNG
// (palette indices, not colours — what PIL's Image.open(...) gives in "L" and "P"
// mode). Any other PNG kind (RGB, 16-bit, alpha), a JPEG, a corrupt/truncated file, or
// one beyond the frames' limits above is an Error "<path>: <why>". (src/io/label_png.cpp)
struct LabelMap {
  int width = 0, height = 0;
  std::vector<uint8_t> values;  // height × width
};
LabelMap read_label_png(const std::string& path);

// An RGB image as PNG (libpng, 8-bit RGB, its default compression); as JPEG with quality
// 1..100 (libjpeg's baseline encoder with its defaults: 4:2:0, ISLOW DCT, standard
// Huffman tables; the bytes depend on the pixels, the quality and libjpeg-turbo alone).
void write_png(const std::string& path, const Image& image);
void write_jpeg(const std::string& path, const Image& image, int quality = 95);

// zlib streams (RFC 1950) through zlib: compress at its default level; decompress into
// exactly `expected_size` bytes (anything else — corrupt data, a shorter or longer
// result — returns false, so a file cannot make the reader allocate what it claims).
std::string zlib_compress(const uint8_t* data, size_t size);
bool zlib_decompress(const uint8_t* data, size_t size, size_t expected_size, std::vector<uint8_t>& out);

// A tensor as a NumPy .npy file, byte-identical to np.save (format 1.0, little-endian,
// C order): f32 → '<f4', f64 → '<f8', i32 → '<i4', u8 → '|u1'; f16 and bf16 are widened
// to '<f4' (NumPy has no bfloat16). Any device. (Implemented in src/io/npy.cpp.)
void write_npy(const std::string& path, const Tensor& tensor);

// Reads a .npy (format 1.0 or 2.0, C order) written by NumPy or write_npy: '<f4', '<f8',
// '<i4', '|u1' as they are, '<f2' as f32, '<i8' as i32 (a value outside the i32 range is
// an error), '|b1' as u8. Throws "<path>: npy: <what is wrong>" for anything else or a
// header/data mismatch. Used by tests and tools.
Tensor read_npy(const std::string& path);

}  // namespace tv3s::io
