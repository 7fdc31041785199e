// YUV colour: the matrices and ranges of 8-bit video, and YUV → RGB for any plane layout
// (Y4M's planar 4:2:0 / 4:2:2 / 4:4:4 / mono, NV12's interleaved chroma).
//
// The colour maths, in 0..255 units (E' = 255·E for the standard's 0..1 signals):
//   limited range  Y' = (Y − 16)·255/219     Pb, Pr = (U, V − 128)·255/224
//   full range     Y' = Y                    Pb, Pr = U, V − 128
//   R = Y' + 2(1 − Kr)·Pr
//   G = Y' − 2Kb(1 − Kb)/Kg·Pb − 2Kr(1 − Kr)/Kg·Pr        (Kg = 1 − Kr − Kb)
//   B = Y' + 2(1 − Kb)·Pb
// with Kr, Kb from BT.601 (0.299, 0.114), BT.709 (0.2126, 0.0722) and BT.2020
// non-constant luminance (0.2627, 0.0593). The writer applies the forward equations
// (Y' = Kr·R + Kg·G + Kb·B, Pb = (B − Y')/(2(1 − Kb)), Pr = (R − Y')/(2(1 − Kr))).
//
// Chroma is upsampled by sample replication (pixel x, y takes chroma sample x >> shift_x,
// y >> shift_y), as ffmpeg's default conversion does; the result is rounded and clamped to
// 0..255.
#pragma once
#include <cstdint>
#include <string>

namespace tv3s::io {

enum class YuvMatrix { automatic, bt601, bt709, bt2020 };
enum class YuvRange { automatic, limited, full };

// "601" | "709" | "2020" (also "bt601", "bt709", "bt2020") | "auto"; "limited" | "full"
// (also ffmpeg's "tv", "pc") | "auto". Throw an Error naming the value otherwise.
YuvMatrix parse_yuv_matrix(const std::string& name);
YuvRange parse_yuv_range(const std::string& name);
// "BT.601", "BT.709", "BT.2020", "auto"; "limited", "full", "auto" (for log lines).
const char* yuv_matrix_name(YuvMatrix matrix);
const char* yuv_range_name(YuvRange range);

// The matrix of untagged video of this size: BT.709 when the frame is HD (width ≥ 1280 or
// height > 576), else BT.601. This is mpv's guess (mp_csp_guess_colorspace; VLC and Kodi
// guess alike): SD formats (480 and 576 lines, BT.601 by their standards and by CEA-861)
// against HD formats (720 lines and up, BT.709). Width counts too because HD films are
// often cropped below 720 lines (1920×800, 1280×536) and are still BT.709. ffmpeg itself
// assumes BT.601 for every size; pass bt601 explicitly to match it.
YuvMatrix automatic_yuv_matrix(int width, int height);

// One 8-bit YUV frame's planes. Chroma sample (cx, cy) of U is u[cy·chroma_stride +
// cx·chroma_step], of V likewise from v: planar formats have chroma_step 1; NV12 has one
// interleaved plane, u = uv, v = uv + 1, chroma_step 2. u and v null: grey (mono).
struct YuvPlanes {
  const uint8_t* y = nullptr;
  const uint8_t* u = nullptr;
  const uint8_t* v = nullptr;
  int64_t y_stride = 0, chroma_stride = 0;
  int chroma_step = 1;
  int shift_x = 1, shift_y = 1;  // chroma subsampling: 4:2:0 is 1, 1; 4:2:2 1, 0; 4:4:4 0, 0
};

// width × height pixels of `planes` → rgb (3 bytes per pixel, rows width·3 apart).
// `matrix` and `range` must be resolved (not automatic): automatic_yuv_matrix, and a range
// the caller knows.
void yuv_to_rgb(const YuvPlanes& planes, int width, int height, YuvMatrix matrix, YuvRange range,
                uint8_t* rgb);

// Kr and Kb of a matrix (BT.601 for automatic), for RGB → YUV writers.
struct LumaWeights {
  float kr, kb;
};
LumaWeights luma_weights(YuvMatrix matrix);

// Rounded to nearest (halves up) and clamped to 0..255.
inline uint8_t to_u8(float v) { return uint8_t((v < 0.0f ? 0.0f : v > 255.0f ? 255.0f : v) + 0.5f); }

}  // namespace tv3s::io
