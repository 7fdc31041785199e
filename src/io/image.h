// Images in and out: PNG/JPEG decoding through stb_image, PNG encoding through
// stb_image_write, NumPy .npy for logits. Writers are atomic (src/io/atomic_file.h).
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
// non-image file, or one of more than 2^28 pixels.
Image read_image(const std::string& path);

// A label map [H, W] (u8 or i32 values 0..255) as an 8-bit PNG: grey values = labels when
// `palette` is empty, else an RGB PNG coloured by palette[label] (labels beyond the
// palette are an error, as are values outside 0..255).
void write_label_png(const std::string& path, const Tensor& labels,
                     const std::vector<std::array<uint8_t, 3>>& palette = {});

// An RGB image as PNG.
void write_png(const std::string& path, const Image& image);

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
