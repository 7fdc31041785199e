// What src/io/image.cpp shares with the codec files beside it (jpeg.cpp: libjpeg-turbo,
// png.cpp: libpng): the limits every decoder enforces, stated once here, and each codec's
// entry points. Internal to src/io; the public contract is src/io/image.h.
#pragma once
#include <cstdint>
#include <istream>
#include <string>

#include "src/io/image.h"
#include "src/io/limits.h"

namespace tv3s::io::codec {

// The limits every decoder enforces are in src/io/limits.h (Images).

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
