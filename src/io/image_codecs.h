// What src/io/image.cpp shares with the codec files beside it (jpeg.cpp: libjpeg-turbo,
// png.cpp: libpng): the limits every decoder enforces, stated once here, and each codec's
// entry points. Internal to src/io; the public contract is src/io/image.h.
#pragma once
#include <cstdint>
#include <istream>
#include <string>

#include "src/io/image.h"

namespace tv3s::io::codec {

// The limits on an image file, all checked before a pixel buffer is allocated.
//
// Each side ≤ 16384 and at most 2^26 pixels (8192², 16384×4096): 30 times a 4K frame and
// 32 times the largest frames tv3s is trained on (2048×1024), so no real video frame is
// refused, while the RGB buffer stays ≤ 192 MiB. (2^28, the budget of stb days, would
// let a 600-byte header ask for 768 MiB of pixels and 1.5 GiB of progressive-JPEG
// coefficients.)
constexpr int kMaxSide = 16384;
constexpr int64_t kMaxPixels = int64_t(1) << 26;
// Files are streamed, not read whole; the cap bounds the time spent on one.
constexpr uint64_t kMaxFileBytes = uint64_t(1) << 30;
// Progressive and multi-scan JPEGs: every scan is a pass over the whole coefficient
// buffer, and a scan of end-of-band runs costs a few bytes, so a small file could buy
// thousands of passes. Encoders write ≤ 10 or so (libjpeg's default progression: 10; the
// standard scripts of mozjpeg and jpegtran -optimize stay under 20); libjpeg-turbo's own
// answer to this is a scan limit (djpeg -maxscans, TJPARAM_SCANLIMIT).
constexpr int kMaxJpegScans = 64;
// libjpeg's memory cap (max_memory_to_use): its only large allocation is the coefficient
// buffer of a progressive/multi-scan file, 2 bytes per sample, ≤ 6 bytes a pixel (4:4:4),
// so 384 MiB covers kMaxPixels. Past it libjpeg would need a backing store, which
// libjpeg-turbo does not have: the decode fails instead.
constexpr long kMaxJpegMemory = 6L * kMaxPixels;

// Throws "<path>: image is WxH pixels, ..." when a side is ≤ 0 or a limit is passed.
void check_image_size(const std::string& path, int64_t width, int64_t height);

// The EXIF orientation (1..8; 1 when absent or unreadable) of a TIFF-structured EXIF
// block: what follows "Exif\0\0" in a JPEG's APP1, or a PNG's eXIf chunk.
int exif_orientation(const uint8_t* tiff, size_t size);

// A decoded file: pixels as stored (before the EXIF orientation is applied).
struct Decoded {
  Image image;          // rgb empty when only the header was read
  int orientation = 1;  // EXIF orientation, 1..8
};

// Decoders read `in` from its start (the signature); `path` names the file in messages.
// With header_only, they stop after the size and orientation are known.
Decoded decode_jpeg(const std::string& path, std::istream& in, bool header_only);
Decoded decode_png(const std::string& path, std::istream& in, bool header_only);

// Encoders of an already checked 8-bit RGB image; they return the file's bytes.
std::string encode_jpeg(const std::string& path, const Image& image, int quality);
std::string encode_png(const std::string& path, const Image& image);

}  // namespace tv3s::io::codec
