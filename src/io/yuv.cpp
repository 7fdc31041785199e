// YUV colour (src/io/yuv.h): names, the matrices' weights and the conversion to RGB.
#include "src/io/yuv.h"

#include "src/core/text.h"
#include "tv3s/error.h"

namespace tv3s::io {

namespace {

// Y, U, V samples → R, G, B in 0..255 (before rounding): the equations in yuv.h.
struct YuvToRgb {
  float y_offset, y_scale, c_scale;  // Y' = (Y − y_offset)·y_scale, P = (C − 128)·c_scale
  float r_pr, g_pb, g_pr, b_pb;

  YuvToRgb(YuvMatrix matrix, YuvRange range) {
    const LumaWeights k = luma_weights(matrix);
    const float kg = 1.0f - k.kr - k.kb;
    const bool full = range == YuvRange::full;
    y_offset = full ? 0.0f : 16.0f;
    y_scale = full ? 1.0f : 255.0f / 219.0f;
    c_scale = full ? 1.0f : 255.0f / 224.0f;
    r_pr = 2.0f * (1.0f - k.kr);
    b_pb = 2.0f * (1.0f - k.kb);
    g_pb = 2.0f * k.kb * (1.0f - k.kb) / kg;
    g_pr = 2.0f * k.kr * (1.0f - k.kr) / kg;
  }
};

}  // namespace

LumaWeights luma_weights(YuvMatrix matrix) {
  switch (matrix) {
    case YuvMatrix::bt709: return {0.2126f, 0.0722f};
    case YuvMatrix::bt2020: return {0.2627f, 0.0593f};
    default: return {0.299f, 0.114f};
  }
}

YuvMatrix parse_yuv_matrix(const std::string& name) {
  const std::string n = ascii_lower(name);
  if (n == "auto") return YuvMatrix::automatic;
  if (n == "601" || n == "bt601") return YuvMatrix::bt601;
  if (n == "709" || n == "bt709") return YuvMatrix::bt709;
  if (n == "2020" || n == "bt2020") return YuvMatrix::bt2020;
  fail(str("unknown YUV matrix \"", name, "\" (expected 601, 709, 2020 or auto)"));
}

YuvRange parse_yuv_range(const std::string& name) {
  const std::string n = ascii_lower(name);
  if (n == "auto") return YuvRange::automatic;
  if (n == "limited" || n == "tv") return YuvRange::limited;
  if (n == "full" || n == "pc") return YuvRange::full;
  fail(str("unknown YUV range \"", name, "\" (expected limited, full or auto)"));
}

const char* yuv_matrix_name(YuvMatrix matrix) {
  switch (matrix) {
    case YuvMatrix::bt601: return "BT.601";
    case YuvMatrix::bt709: return "BT.709";
    case YuvMatrix::bt2020: return "BT.2020";
    default: return "auto";
  }
}

const char* yuv_range_name(YuvRange range) {
  switch (range) {
    case YuvRange::limited: return "limited";
    case YuvRange::full: return "full";
    default: return "auto";
  }
}

YuvMatrix automatic_yuv_matrix(int width, int height) {
  return width >= 1280 || height > 576 ? YuvMatrix::bt709 : YuvMatrix::bt601;
}

void yuv_to_rgb(const YuvPlanes& p, int width, int height, YuvMatrix matrix, YuvRange range,
                uint8_t* rgb) {
  const YuvToRgb m(matrix, range);
#pragma omp parallel for schedule(static) if (int64_t(width) * height > 65536)
  for (int64_t y = 0; y < height; ++y) {
    const uint8_t* y_row = p.y + y * p.y_stride;
    uint8_t* out = rgb + y * int64_t(width) * 3;
    if (!p.u || !p.v) {  // grey
      for (int64_t x = 0; x < width; ++x) {
        const uint8_t v = to_u8((float(y_row[x]) - m.y_offset) * m.y_scale);
        out[3 * x] = out[3 * x + 1] = out[3 * x + 2] = v;
      }
      continue;
    }
    const uint8_t* u_row = p.u + (y >> p.shift_y) * p.chroma_stride;
    const uint8_t* v_row = p.v + (y >> p.shift_y) * p.chroma_stride;
    for (int64_t x = 0; x < width; ++x) {
      const int64_t c = (x >> p.shift_x) * p.chroma_step;
      const float luma = (float(y_row[x]) - m.y_offset) * m.y_scale;
      const float pb = (float(u_row[c]) - 128.0f) * m.c_scale;
      const float pr = (float(v_row[c]) - 128.0f) * m.c_scale;
      out[3 * x] = to_u8(luma + m.r_pr * pr);
      out[3 * x + 1] = to_u8(luma - m.g_pb * pb - m.g_pr * pr);
      out[3 * x + 2] = to_u8(luma + m.b_pb * pb);
    }
  }
}

}  // namespace tv3s::io
