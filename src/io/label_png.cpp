// Label maps as PNG files, written and read by their pixel values, not their colours.
//
// Labels are the palette indices, which an RGB decoder (read_image) does not give, so this
// file does the PNG container itself (signature, chunks, CRC-32, scanline filters) and
// leaves only deflate to zlib (zlib_compress / zlib_decompress in image.cpp).
//
// Writing: IHDR (8-bit, colour type 0 grey or 3 indexed), PLTE when there is a palette,
// one IDAT with every scanline filtered "None" (label maps are flat regions: deflate's
// run-length matching does the work a filter would), IEND.
//
// Reading accepts what PIL opens in "L", "P" (or "1") mode at 8 bits per pixel or fewer:
// colour type 0 (grey, 1/2/4/8 bits) and 3 (indexed, 1/2/4/8 bits), non-interlaced, the
// five standard filters, and returns the values np.array(Image.open(path)) holds (see
// the unpacking at the end). Every size comes from IHDR and is checked before anything is
// allocated; the inflated size must be exactly what IHDR implies and the deflate ratio
// plausible; chunk lengths are checked against the file; CRCs and the zlib Adler-32 are
// verified. Ancillary chunks (tRNS, gAMA, text, ...) and anything after IEND are ignored.
#include <array>
#include <cstring>

#include "src/io/atomic_file.h"
#include "src/io/image.h"
#include "src/io/input_file.h"
#include "src/io/limits.h"
#include "src/io/zip_reader.h"  // crc32

namespace tv3s::io {
namespace {

const char kSignature[9] = "\x89PNG\r\n\x1a\n";

void put_u32(std::string& out, uint32_t v) {
  const char bytes[4] = {char(v >> 24), char(v >> 16), char(v >> 8), char(v)};
  out.append(bytes, 4);
}

uint32_t get_u32(const uint8_t* p) {
  return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | uint32_t(p[3]);
}

void put_chunk(std::string& out, const char type[4], const std::string& data) {
  put_u32(out, uint32_t(data.size()));
  const size_t start = out.size();
  out.append(type, 4);
  out += data;
  put_u32(out, crc32(reinterpret_cast<const uint8_t*>(out.data() + start), out.size() - start));
}

// The PNG scanline filters' predictor (PNG spec §9.4).
uint8_t paeth(int a, int b, int c) {
  const int p = a + b - c, pa = std::abs(p - a), pb = std::abs(p - b), pc = std::abs(p - c);
  if (pa <= pb && pa <= pc) return uint8_t(a);
  return uint8_t(pb <= pc ? b : c);
}

}  // namespace

void write_label_png(const std::string& path, const Tensor& labels, const Palette& palette) {
  if (!labels.defined() || labels.ndim() != 2 ||
      (labels.dtype() != DType::u8 && labels.dtype() != DType::i32)) {
    fail(str(path, ": write_label_png: labels must be a [H, W] u8 or i32 tensor, got ",
             labels.defined() ? labels.desc() : "an undefined tensor"));
  }
  const int64_t height = labels.size(0), width = labels.size(1);
  if (width <= 0 || height <= 0) fail(str(path, ": image is ", width, "x", height, " pixels: empty"));
  if (width * height > kMaxImagePixels) {
    fail(str(path, ": image is ", width, "x", height, " pixels, more than the limit of ",
             kMaxImagePixels));
  }
  if (palette.size() > 256)
    fail(str(path, ": write_label_png: a PNG palette holds at most 256 colours, got ",
             palette.size()));
  const std::vector<int32_t> values = labels.to_vector_i32();
  const int32_t limit = palette.empty() ? 256 : int32_t(palette.size());

  // Scanlines: a filter byte (0 = None), then one byte per pixel.
  std::vector<uint8_t> raw(size_t(height) * size_t(width + 1));
  for (int64_t y = 0; y < height; ++y) {
    uint8_t* row = &raw[size_t(y) * size_t(width + 1)];
    row[0] = 0;
    for (int64_t x = 0; x < width; ++x) {
      const int32_t v = values[size_t(y * width + x)];
      if (v < 0 || v >= limit) {
        fail(str(path, ": label ", v, " at row ", y, ", column ", x,
                 palette.empty() ? " is outside 0..255"
                                 : str(" has no colour (the palette has ", palette.size(), ")")));
      }
      row[1 + x] = uint8_t(v);
    }
  }

  std::string png(kSignature, 8);
  std::string ihdr;
  put_u32(ihdr, uint32_t(width));
  put_u32(ihdr, uint32_t(height));
  ihdr += char(8);                         // bit depth
  ihdr += char(palette.empty() ? 0 : 3);   // colour type: grey or indexed
  ihdr += std::string(3, '\0');            // deflate, adaptive filtering, no interlace
  put_chunk(png, "IHDR", ihdr);
  if (!palette.empty()) {
    std::string plte;
    for (const auto& rgb : palette) plte.append(reinterpret_cast<const char*>(rgb.data()), 3);
    put_chunk(png, "PLTE", plte);
  }
  put_chunk(png, "IDAT", zlib_compress(raw.data(), raw.size()));
  put_chunk(png, "IEND", "");
  write_file_atomic(path, png);
}

namespace {

struct Header {
  int width = 0, height = 0, depth = 0, colour = -1;
};

// IHDR, checked field by field before anything is allocated from it.
Header parse_ihdr(const std::string& path, const uint8_t* data, uint32_t length) {
  if (length != 13) fail(str(path, ": corrupt PNG (IHDR of ", length, " bytes)"));
  const uint32_t w = get_u32(data), h = get_u32(data + 4);
  if (w == 0 || h == 0 || uint64_t(w) * h > uint64_t(kMaxImagePixels))
    fail(str(path, ": image is ", w, "x", h, " pixels: empty or more than the limit of ",
             kMaxImagePixels));
  Header header;
  header.width = int(w), header.height = int(h), header.depth = data[8], header.colour = data[9];
  const char* kind = header.colour == 2 ? "an RGB" : header.colour == 4 ? "a grey+alpha"
                     : header.colour == 6 ? "an RGBA" : nullptr;
  if (kind)
    fail(str(path, ": is ", kind,
             " PNG; a label map must be a greyscale or indexed (palette) PNG"));
  if (header.colour != 0 && header.colour != 3)
    fail(str(path, ": corrupt PNG (colour type ", header.colour, ")"));
  if (header.depth == 16)
    fail(str(path, ": 16-bit PNG; a label map must have at most 8 bits per pixel"));
  if (header.depth != 1 && header.depth != 2 && header.depth != 4 && header.depth != 8)
    fail(str(path, ": corrupt PNG (bit depth ", header.depth, ")"));
  if (data[10] != 0 || data[11] != 0)
    fail(str(path, ": corrupt PNG (unknown compression or filter method)"));
  if (data[12] == 1) fail(str(path, ": interlaced PNG; re-save it without interlacing"));
  if (data[12] != 0) fail(str(path, ": corrupt PNG (interlace method ", int(data[12]), ")"));
  return header;
}

// Adler-32 (RFC 1950), the checksum that ends a zlib stream. zlib verifies it as well
// (stb_image, the earlier inflater, did not); checked here too, where the reason is known.
uint32_t adler32(const uint8_t* data, size_t size) {
  uint32_t a = 1, b = 0;
  for (size_t i = 0; i < size; ++i) {
    a = (a + data[i]) % 65521;
    b = (b + a) % 65521;
  }
  return b << 16 | a;
}

}  // namespace

LabelMap read_label_png(const std::string& path) {
  InputFile file = open_input_file(path);
  if (file.size > kMaxImageFileBytes)
    fail(str(path, ": file is ", file.size, " bytes, more than the 1 GiB limit for an image"));
  std::vector<uint8_t> bytes(size_t(file.size));
  if (!file.stream.read(reinterpret_cast<char*>(bytes.data()), std::streamsize(file.size)))
    fail(str(path, ": read failed"));
  if (bytes.size() < 8 || std::memcmp(bytes.data(), kSignature, 8) != 0) {
    if (!bytes.empty() && bytes.size() < 8 &&
        std::memcmp(bytes.data(), kSignature, bytes.size()) == 0)
      fail(str(path, ": truncated PNG (the file ends inside the signature)"));
    fail(str(path, bytes.size() >= 3 && bytes[0] == 0xFF && bytes[1] == 0xD8
                       ? ": is a JPEG; a label map must be a PNG (JPEG would alter the labels)"
                       : ": not a PNG file"));
  }

  // The chunks: lengths checked against the file, CRCs verified, IHDR first and once,
  // the IDAT contents concatenated (they form one zlib stream), IEND required.
  Header header;
  std::vector<uint8_t> idat;
  bool ended = false;
  for (size_t pos = 8; !ended;) {
    if (pos == bytes.size())
      fail(str(path, pos == 8 ? ": truncated PNG (nothing after the signature)"
                              : ": truncated PNG (no IEND chunk)"));
    if (bytes.size() - pos < 12) fail(str(path, ": truncated PNG (a chunk is cut off)"));
    const uint32_t length = get_u32(&bytes[pos]);
    if (length > bytes.size() - pos - 12)
      fail(str(path, ": truncated or corrupt PNG (a chunk of ", length, " bytes runs past the end)"));
    const uint8_t* type = &bytes[pos + 4];
    const uint8_t* data = type + 4;
    if (kVerifyChecksums && get_u32(data + length) != crc32(type, length + 4))
      fail(str(path, ": corrupt PNG (CRC mismatch in chunk '", std::string(type, type + 4), "')"));
    const std::string name(type, type + 4);
    if (pos == 8 && name != "IHDR") fail(str(path, ": corrupt PNG (the first chunk is not IHDR)"));
    if (name == "IHDR") {
      if (pos != 8) fail(str(path, ": corrupt PNG (a second IHDR chunk)"));
      header = parse_ihdr(path, data, length);
    } else if (name == "IDAT") {
      idat.insert(idat.end(), data, data + length);
    } else if (name == "IEND") {
      ended = true;
    }
    pos += 12 + size_t(length);
  }
  if (idat.empty()) fail(str(path, ": corrupt PNG (no image data)"));

  // Inflate into exactly what IHDR implies: a filter byte and `stride` bytes per row.
  // Deflate expands at most 1032:1 (a 258-byte match in 2 bits), so a claim beyond that
  // is refused before the buffer is allocated.
  const size_t stride = (size_t(header.width) * size_t(header.depth) + 7) / 8;
  const size_t raw_size = size_t(header.height) * (stride + 1);
  std::vector<uint8_t> raw;
  if (raw_size / 1032 > idat.size() ||
      !zlib_decompress(idat.data(), idat.size(), raw_size, raw) ||
      idat.size() < 6 || adler32(raw.data(), raw.size()) != get_u32(&idat[idat.size() - 4]))
    fail(str(path, ": corrupt or truncated PNG image data"));

  // Undo the filters in place, scanline by scanline (PNG spec §9.2; for 8 bits per pixel
  // or fewer, "the byte to the left" is one byte back).
  std::vector<uint8_t> zero(stride, 0);
  for (int y = 0; y < header.height; ++y) {
    uint8_t* row = &raw[size_t(y) * (stride + 1)];
    const uint8_t filter = row[0];
    uint8_t* cur = row + 1;
    const uint8_t* up = y > 0 ? &raw[size_t(y - 1) * (stride + 1) + 1] : zero.data();
    for (size_t x = 0; x < stride; ++x) {
      const int a = x > 0 ? cur[x - 1] : 0, b = up[x], c = x > 0 ? up[x - 1] : 0;
      switch (filter) {
        case 0: break;
        case 1: cur[x] = uint8_t(cur[x] + a); break;
        case 2: cur[x] = uint8_t(cur[x] + b); break;
        case 3: cur[x] = uint8_t(cur[x] + ((a + b) >> 1)); break;
        case 4: cur[x] = uint8_t(cur[x] + paeth(a, b, c)); break;
        default: fail(str(path, ": corrupt PNG (unknown filter ", int(filter), " in row ", y, ")"));
      }
    }
  }

  // Unpack the samples, most significant bits first. Values are what PIL's np.array gives:
  // palette indices as they are; 8-bit and 1-bit grey as they are (PIL's mode "1" becomes
  // False/True); 2- and 4-bit grey scaled to 0..255 (×85, ×17), as PIL decodes them in "L".
  const int depth = header.depth, per_byte = 8 / depth, mask = (1 << depth) - 1;
  const int grey_scale = header.colour == 0 && (depth == 2 || depth == 4) ? 255 / mask : 1;
  LabelMap map;
  map.width = header.width, map.height = header.height;
  map.values.resize(size_t(map.width) * size_t(map.height));
  for (int y = 0; y < map.height; ++y) {
    const uint8_t* cur = &raw[size_t(y) * (stride + 1) + 1];
    uint8_t* out = &map.values[size_t(y) * size_t(map.width)];
    for (int x = 0; x < map.width; ++x) {
      const int byte = cur[x / per_byte], shift = 8 - depth * (x % per_byte + 1);
      out[x] = uint8_t(((byte >> shift) & mask) * grey_scale);
    }
  }
  return map;
}

}  // namespace tv3s::io
