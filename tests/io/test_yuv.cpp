// YUV → RGB (src/io/yuv.h) for the layouts it reads: planar 4:2:0 (Y4M) and NV12's
// interleaved chroma. Independent values: the BT.601 and BT.709 equations with their
// textbook coefficients (R = 1.164(Y − 16) + 1.596(V − 128) ... for BT.601 limited),
// evaluated here in double; the library's float arithmetic must be within 1 level.
#include <cmath>
#include <vector>

#include "src/io/yuv.h"
#include "tests/test_util.h"

using namespace tv3s;

namespace {

struct Rgb {
  double r, g, b;
};

// The standards' inverse matrices, written out (0..255 units).
Rgb reference(int y, int u, int v, bool bt709, bool full) {
  const double Y = full ? y : (y - 16) * 255.0 / 219.0;
  const double Pb = full ? u - 128 : (u - 128) * 255.0 / 224.0;
  const double Pr = full ? v - 128 : (v - 128) * 255.0 / 224.0;
  if (bt709) return {Y + 1.5748 * Pr, Y - 0.187324 * Pb - 0.468124 * Pr, Y + 1.8556 * Pb};
  return {Y + 1.402 * Pr, Y - 0.344136 * Pb - 0.714136 * Pr, Y + 1.772 * Pb};
}

double clamp255(double v) { return std::min(255.0, std::max(0.0, v)); }

}  // namespace

TEST_CASE("yuv: NV12 (interleaved chroma, odd size, padded rows) matches the standards' equations") {
  const int width = 7, height = 5, chroma_w = 4, chroma_h = 3;
  const int64_t y_stride = 9, uv_stride = 10;  // rows padded past 7 and 2·4 bytes
  std::vector<uint8_t> y_plane(size_t(y_stride * height)), uv_plane(size_t(uv_stride * chroma_h));
  for (size_t i = 0; i < y_plane.size(); ++i) y_plane[i] = uint8_t(16 + (i * 37) % 220);
  for (size_t i = 0; i < uv_plane.size(); ++i) uv_plane[i] = uint8_t(20 + (i * 53) % 216);
  for (const bool bt709 : {false, true})
    for (const bool full : {false, true}) {
      CAPTURE(bt709);
      CAPTURE(full);
      io::YuvPlanes planes;
      planes.y = y_plane.data(), planes.u = uv_plane.data(), planes.v = uv_plane.data() + 1;
      planes.y_stride = y_stride, planes.chroma_stride = uv_stride, planes.chroma_step = 2;
      std::vector<uint8_t> rgb(size_t(width * height * 3));
      io::yuv_to_rgb(planes, width, height, bt709 ? io::YuvMatrix::bt709 : io::YuvMatrix::bt601,
                     full ? io::YuvRange::full : io::YuvRange::limited, rgb.data());
      for (int y = 0; y < height; ++y)
        for (int x = 0; x < width; ++x) {
          const int cx = x / 2, cy = y / 2;
          REQUIRE(cx < chroma_w);
          const Rgb want = reference(y_plane[size_t(y * y_stride + x)], uv_plane[size_t(cy * uv_stride + 2 * cx)],
                                     uv_plane[size_t(cy * uv_stride + 2 * cx + 1)], bt709, full);
          const uint8_t* got = &rgb[size_t((y * width + x) * 3)];
          CHECK(std::abs(got[0] - clamp255(want.r)) <= 1.0);
          CHECK(std::abs(got[1] - clamp255(want.g)) <= 1.0);
          CHECK(std::abs(got[2] - clamp255(want.b)) <= 1.0);
        }
    }
}

TEST_CASE("yuv: planar 4:2:0 and NV12 of the same samples give the same pixels; grey without chroma") {
  const int width = 6, height = 4;
  std::vector<uint8_t> y(24), u(6), v(6), uv(12);
  for (int i = 0; i < 24; ++i) y[size_t(i)] = uint8_t(30 + 8 * i);
  for (int i = 0; i < 6; ++i) {
    u[size_t(i)] = uint8_t(60 + 20 * i), v[size_t(i)] = uint8_t(200 - 25 * i);
    uv[size_t(2 * i)] = u[size_t(i)], uv[size_t(2 * i + 1)] = v[size_t(i)];
  }
  io::YuvPlanes planar;
  planar.y = y.data(), planar.u = u.data(), planar.v = v.data();
  planar.y_stride = width, planar.chroma_stride = 3;
  io::YuvPlanes nv12 = planar;
  nv12.u = uv.data(), nv12.v = uv.data() + 1, nv12.chroma_stride = 6, nv12.chroma_step = 2;
  std::vector<uint8_t> a(72), b(72), grey(72);
  io::yuv_to_rgb(planar, width, height, io::YuvMatrix::bt601, io::YuvRange::limited, a.data());
  io::yuv_to_rgb(nv12, width, height, io::YuvMatrix::bt601, io::YuvRange::limited, b.data());
  CHECK(a == b);
  io::YuvPlanes mono = planar;
  mono.u = mono.v = nullptr;
  io::yuv_to_rgb(mono, width, height, io::YuvMatrix::bt601, io::YuvRange::full, grey.data());
  for (int i = 0; i < 24; ++i) {
    CHECK(grey[size_t(3 * i)] == y[size_t(i)]);
    CHECK(grey[size_t(3 * i + 2)] == y[size_t(i)]);
  }
}
