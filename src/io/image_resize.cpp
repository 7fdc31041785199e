// resize_linear_u8 (image_resize.h): OpenCV's cv2.resize(..., INTER_LINEAR) on 8-bit
// images reproduced bit for bit, so that a frame reaches the network exactly as it does in
// the official pipelines (test-time resize, src/pipeline/official_resize.cpp; training
// augmentation, src/data/augment.cpp).
//
// How OpenCV resizes CV_8U with INTER_LINEAR (modules/imgproc/src/resize.cpp, the same in
// 3.4, 4.x and 5.0; checked against the installed cv2 5.0 by tools/gen_image_fixtures.py):
//  - same size: a copy. Exactly half the size in both directions: the INTER_AREA fast
//    path, each output the rounded mean (a + b + c + d + 2) >> 2 of its 2×2 block.
//  - otherwise, per output coordinate d along an axis with scale = 1 / (dst / src) (both
//    divisions in double): f = float((d + 0.5)·scale − 0.5), s = floor(f), f −= s; the
//    weights are the 11-bit fixed-point numbers round(2048·(1 − f)) and round(2048·f),
//    each rounded on its own (half to even).
//  - horizontal pass first, into int32: S[x0]·w0 + S[x1]·w1 (exact integers). A column
//    left of the first pixel or right of the last one takes that pixel with weights
//    (2048, 0).
//  - vertical pass: rows clamped to the image, but the weights of the unclamped
//    coordinate are kept. Rounding: ((b0·(R0 >> 4)) >> 16) + ((b1·(R1 >> 4)) >> 16) + 2) >> 2,
//    the formula of OpenCV's SIMD kernel (VResizeLinearVec_32s8u) and of its scalar
//    tail, which copies it so that every column rounds alike. It is not the textbook
//    (b0·R0 + b1·R1 + 2^21) >> 22: the two can differ by one.
#include "src/io/image_resize.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "tv3s/error.h"

namespace tv3s::io {

double multiply_then_add(double a, double b, double c) {
  volatile double product = a * b;
  return product + c;
}

namespace {

constexpr int kCoefScale = 1 << 11;  // OpenCV's INTER_RESIZE_COEF_SCALE
constexpr int64_t kMaxPixels = int64_t(1) << 28;

// Where output row or column `d` reads along an axis (scale = source size / output size,
// computed as OpenCV does): the first source index, unclamped, and the two fixed-point
// weights.
struct Tap {
  int source;
  int weight0, weight1;
};

Tap linear_tap(int d, double scale) {
  float f = float(multiply_then_add(d + 0.5, scale, -0.5));
  const int source = int(std::floor(f));
  f -= float(source);
  // saturate_cast<short>(float) rounds half to even (lrint under the default rounding mode).
  return {source, int(std::lrint((1.f - f) * float(kCoefScale))),
          int(std::lrint(f * float(kCoefScale)))};
}

// 2×2 block means: OpenCV's INTER_AREA fast path, which INTER_LINEAR takes for an exact
// halving in both directions.
Image halve(const Image& image) {
  Image out;
  out.width = image.width / 2, out.height = image.height / 2;
  out.rgb.resize(size_t(out.width) * size_t(out.height) * 3);
  const size_t src_stride = size_t(image.width) * 3;
#pragma omp parallel for if (out.rgb.size() > (1 << 16))
  for (int y = 0; y < out.height; ++y) {
    const uint8_t* top = &image.rgb[size_t(2 * y) * src_stride];
    const uint8_t* bottom = top + src_stride;
    uint8_t* dst = &out.rgb[size_t(y) * size_t(out.width) * 3];
    for (int x = 0; x < out.width; ++x)
      for (int c = 0; c < 3; ++c) {
        const int i = 6 * x + c;
        dst[3 * x + c] = uint8_t((top[i] + top[i + 3] + bottom[i] + bottom[i + 3] + 2) >> 2);
      }
  }
  return out;
}

}  // namespace

Image resize_linear_u8(const Image& image, int width, int height) {
  TV3S_CHECK(image.width > 0 && image.height > 0, "resize_linear_u8: the image is ", image.width,
             "x", image.height, " pixels: empty");
  TV3S_CHECK(image.rgb.size() == size_t(image.width) * size_t(image.height) * 3,
             "resize_linear_u8: a ", image.width, "x", image.height, " RGB image holds ",
             size_t(image.width) * size_t(image.height) * 3, " bytes, got ", image.rgb.size());
  TV3S_CHECK(width > 0 && height > 0, "resize_linear_u8: target size ", width, "x", height,
             " is not positive");
  TV3S_CHECK(int64_t(width) * height <= kMaxPixels, "resize_linear_u8: target size ", width, "x",
             height, " is more than the limit of ", kMaxPixels, " pixels");
  if (width == image.width && height == image.height) return image;
  // cv::resize's test, (dst/src) inverted in double equal to 2 within DBL_EPSILON, holds
  // exactly when the source is twice the target on both axes.
  if (image.width == 2 * width && image.height == 2 * height) return halve(image);

  const double scale_x = 1.0 / (double(width) / image.width);
  const double scale_y = 1.0 / (double(height) / image.height);

  // Columns: clamped at both edges with weights (2048, 0), as OpenCV's table does.
  struct Column {
    int x0, x1, weight0, weight1;
  };
  std::vector<Column> columns(static_cast<size_t>(width));
  for (int dx = 0; dx < width; ++dx) {
    Tap tap = linear_tap(dx, scale_x);
    if (tap.source < 0 || tap.source >= image.width - 1) {
      tap.source = std::clamp(tap.source, 0, image.width - 1);
      tap.weight0 = kCoefScale, tap.weight1 = 0;
    }
    columns[size_t(dx)] = {tap.source, std::min(tap.source + 1, image.width - 1), tap.weight0,
                           tap.weight1};
  }
  // Rows: the source rows are clamped, the weights are not.
  std::vector<Tap> rows(static_cast<size_t>(height));
  std::vector<char> row_needed(static_cast<size_t>(image.height), 0);
  for (int dy = 0; dy < height; ++dy) {
    rows[size_t(dy)] = linear_tap(dy, scale_y);
    const int sy = rows[size_t(dy)].source;
    row_needed[size_t(std::clamp(sy, 0, image.height - 1))] = 1;
    row_needed[size_t(std::clamp(sy + 1, 0, image.height - 1))] = 1;
  }

  // Horizontal pass over the source rows that some output row reads.
  const size_t out_stride = size_t(width) * 3;
  std::vector<int32_t> horizontal(size_t(image.height) * out_stride);
#pragma omp parallel for if (horizontal.size() > (1 << 16))
  for (int sy = 0; sy < image.height; ++sy) {
    if (!row_needed[size_t(sy)]) continue;
    const uint8_t* src = &image.rgb[size_t(sy) * size_t(image.width) * 3];
    int32_t* dst = &horizontal[size_t(sy) * out_stride];
    for (int dx = 0; dx < width; ++dx) {
      const Column& column = columns[size_t(dx)];
      const uint8_t* p0 = src + 3 * column.x0;
      const uint8_t* p1 = src + 3 * column.x1;
      for (int c = 0; c < 3; ++c) dst[3 * dx + c] = p0[c] * column.weight0 + p1[c] * column.weight1;
    }
  }

  // Vertical pass with OpenCV's rounding (see the top of this file).
  Image out;
  out.width = width, out.height = height;
  out.rgb.resize(size_t(height) * out_stride);
#pragma omp parallel for if (out.rgb.size() > (1 << 16))
  for (int dy = 0; dy < height; ++dy) {
    const Tap& tap = rows[size_t(dy)];
    const int32_t* r0 =
        &horizontal[size_t(std::clamp(tap.source, 0, image.height - 1)) * out_stride];
    const int32_t* r1 =
        &horizontal[size_t(std::clamp(tap.source + 1, 0, image.height - 1)) * out_stride];
    uint8_t* dst = &out.rgb[size_t(dy) * out_stride];
    for (size_t i = 0; i < out_stride; ++i) {
      const int v = ((tap.weight0 * (r0[i] >> 4)) >> 16) + ((tap.weight1 * (r1[i] >> 4)) >> 16);
      dst[i] = uint8_t((v + 2) >> 2);
    }
  }
  return out;
}
}  // namespace tv3s::io
