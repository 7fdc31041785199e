// OpenCV's bilinear resize of 8-bit RGB images, bit for bit: the resize both official
// pipelines apply to frames (the test-time rules in src/pipeline/official_resize.h, the
// training augmentation in src/data/augment.h), so tv3s feeds the network the same bytes.
#pragma once
#include "src/io/image.h"

namespace tv3s::io {

// cv2.resize(src, (width, height), interpolation=cv2.INTER_LINEAR) on an 8-bit RGB image,
// bit for bit (OpenCV 3.4 to 5.0): half-pixel centres, edge clamping, 11-bit fixed-point
// weights and OpenCV's rounding; an exact halving of both sides takes OpenCV's INTER_AREA
// fast path (2×2 means), the same size is a copy. Throws an Error for an empty image, a
// non-positive target size or one over 2^28 pixels.
Image resize_linear_u8(const Image& image, int width, int height);

// a·b + c as two separately rounded double operations, as Python and OpenCV compute it.
// The volatile store keeps the compiler from fusing them into one FMA (the library is
// built with -march=native, and GCC then does fuse): one rounding instead of two can turn
// an exact 0 into −2^-54 (a 3 → 9 resize) or tip int(w·sf + 0.5) over an integer.
double multiply_then_add(double a, double b, double c);

}  // namespace tv3s::io
