// Y4M streams (src/io/y4m.h). What is checked, and how closely:
//  - header fields as ffmpeg writes them, the defaults, X extensions, FRAME parameters;
//  - exact plane arithmetic: hand-made planes against colours computed here from the
//    standards (the RGB → Y'PbPr matrix of BT.601/709/2020 inverted in double, not the
//    reader's closed form), equal to the level; chroma replication at even and odd sizes;
//  - ffmpeg's own streams (tools/gen_y4m_fixtures.py): against ffmpeg's decode to rgb24,
//    within 1 level for 4:4:4, 0 for mono, 3 for 4:2:0/4:2:2 (ffmpeg's fixed-point fast
//    path; its chroma is replicated like ours); against the source RGB, within 2 levels
//    wherever the source chroma is flat over the area swscale's downsampling filter reads;
//  - writer: exact Y/U/V bytes for known colours, writer → reader within 2 levels
//    (4:4:4 anywhere, 4:2:0 on flat 2×2 blocks, odd sizes included);
//  - every bad input, with its exact message; is_y4m_file.
// The stdin path ("-") differs from a file only in the open; the CLI tests cover it.
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <thread>

#include "src/io/image.h"
#include "src/io/y4m.h"
#include "tests/io/io_test_util.h"
#include "tests/test_util.h"

using namespace tv3s;
using tv3s::test::error_message;
using tv3s::test::read_bytes;
using tv3s::test::TempDir;
using tv3s::test::write_bytes;

namespace {

const std::string kData = TV3S_SOURCE_DIR "/tests/data/y4m/";

using Rgb = std::array<int, 3>;

Rgb pixel(const io::Image& image, int x, int y) {
  const uint8_t* p = &image.rgb[3 * (size_t(y) * size_t(image.width) + size_t(x))];
  return {p[0], p[1], p[2]};
}

std::string bytes(std::initializer_list<int> values) {
  std::string s;
  for (int v : values) s += char(uint8_t(v));
  return s;
}

// Kr, Kb of each standard (BT.601-7, BT.709-6, BT.2020-2 non-constant luminance).
std::array<double, 2> weights(io::YuvMatrix matrix) {
  if (matrix == io::YuvMatrix::bt709) return {0.2126, 0.0722};
  if (matrix == io::YuvMatrix::bt2020) return {0.2627, 0.0593};
  return {0.299, 0.114};
}

// The RGB the standards give for 8-bit Y, U, V: E'Y, E'Pb, E'Pr from the quantisation
// rules (limited: Y = 16 + 219 E'Y, C = 128 + 224 E'P; full: Y = 255 E'Y, C = 128 +
// 255 E'P), then the forward matrix E'Y = Kr R + Kg G + Kb B, E'Pb = (B − E'Y)/(2(1−Kb)),
// E'Pr = (R − E'Y)/(2(1−Kr)) solved for R, G, B by Cramer's rule; × 255, rounded, clamped.
Rgb standard_rgb(int y, int u, int v, io::YuvMatrix matrix, bool full) {
  const auto [kr, kb] = weights(matrix);
  const double kg = 1 - kr - kb;
  const double ey = full ? y / 255.0 : (y - 16) / 219.0;
  const double epb = (u - 128) / (full ? 255.0 : 224.0);
  const double epr = (v - 128) / (full ? 255.0 : 224.0);
  const double m[3][3] = {{kr, kg, kb},
                          {-kr / (2 * (1 - kb)), -kg / (2 * (1 - kb)), (1 - kb) / (2 * (1 - kb))},
                          {(1 - kr) / (2 * (1 - kr)), -kg / (2 * (1 - kr)), -kb / (2 * (1 - kr))}};
  const double rhs[3] = {ey, epb, epr};
  auto det = [](const double a[3][3]) {
    return a[0][0] * (a[1][1] * a[2][2] - a[1][2] * a[2][1]) -
           a[0][1] * (a[1][0] * a[2][2] - a[1][2] * a[2][0]) +
           a[0][2] * (a[1][0] * a[2][1] - a[1][1] * a[2][0]);
  };
  const double d = det(m);
  Rgb rgb{};
  for (int c = 0; c < 3; ++c) {
    double mc[3][3];
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 3; ++j) mc[i][j] = j == c ? rhs[i] : m[i][j];
    const double e = std::min(std::max(det(mc) / d, 0.0), 1.0);
    rgb[c] = int(std::floor(e * 255 + 0.5));
  }
  return rgb;
}

// Writes `content` to a file in `dir` and returns its path.
std::string stream_file(const TempDir& dir, const std::string& content,
                        const std::string& name = "s.y4m") {
  const std::string path = dir.file(name);
  write_bytes(path, content);
  return path;
}

io::Y4mHeader header_of(const std::string& header_line) {
  TempDir dir;
  return io::Y4mReader(stream_file(dir, header_line + "\n")).header();
}

// The message the reader throws for `content` (at construction or while reading every
// frame), with the temporary path replaced by "S".
std::string read_error(const std::string& content) {
  TempDir dir;
  const std::string path = stream_file(dir, content);
  std::string message = error_message([&] {
    io::Y4mReader reader(path);
    io::Image frame;
    while (reader.read(frame)) {
    }
  });
  if (message.rfind(path, 0) == 0) message = "S" + message.substr(path.size());
  return message;
}

std::vector<io::Image> read_all(const std::string& path,
                                io::YuvMatrix matrix = io::YuvMatrix::automatic,
                                io::YuvRange range = io::YuvRange::automatic) {
  io::Y4mReader reader(path, matrix, range);
  std::vector<io::Image> frames;
  io::Image frame;
  while (reader.read(frame)) frames.push_back(frame);
  return frames;
}

// A fixture video, uint8 [frames, H, W, 3].
struct Video {
  int frames = 0, height = 0, width = 0;
  std::vector<uint8_t> rgb;
  int at(int f, int y, int x, int c) const {
    return rgb[((size_t(f) * height + y) * width + x) * 3 + c];
  }
};

Video load_video(const std::string& path) {
  const Tensor t = io::read_npy(path);
  REQUIRE(t.ndim() == 4);
  Video v{int(t.size(0)), int(t.size(1)), int(t.size(2)), {}};
  v.rgb.assign(t.data<uint8_t>(), t.data<uint8_t>() + t.numel());
  return v;
}

// Largest |frames − video| over the pixels where `where(f, y, x)` holds.
template <class Where>
int max_difference(const std::vector<io::Image>& frames, const Video& video, Where where) {
  int worst = 0;
  for (int f = 0; f < video.frames; ++f)
    for (int y = 0; y < video.height; ++y)
      for (int x = 0; x < video.width; ++x) {
        if (!where(f, y, x)) continue;
        const Rgb p = pixel(frames[size_t(f)], x, y);
        for (int c = 0; c < 3; ++c) worst = std::max(worst, std::abs(p[c] - video.at(f, y, x, c)));
      }
  return worst;
}

const auto everywhere = [](int, int, int) { return true; };

}  // namespace

TEST_CASE("y4m: header fields as ffmpeg writes them, defaults and extensions") {
  io::Y4mHeader h =
      header_of("YUV4MPEG2 W36 H21 F30000:1001 It A1:1 C420mpeg2 XYSCSS=420MPEG2 XCOLORRANGE=FULL");
  CHECK((h.width == 36 && h.height == 21));
  CHECK((h.fps_num == 30000 && h.fps_den == 1001));
  CHECK(h.interlace == 't');
  CHECK(h.chroma == io::Chroma::c420);
  CHECK(h.chroma_tag == "420mpeg2");
  CHECK(h.range == io::YuvRange::full);
  CHECK(h.frame_bytes == 36 * 21 + 2 * 18 * 11);

  // The fewest fields a stream may have: everything else takes the format's defaults.
  TempDir dir;
  {
    io::Y4mReader reader(stream_file(dir, "YUV4MPEG2 W3 H2\n"));
    const io::Y4mHeader& d = reader.header();
    CHECK((d.fps_num == 25 && d.fps_den == 1 && d.interlace == 'p'));
    CHECK((d.chroma == io::Chroma::c420 && d.chroma_tag == "420jpeg"));
    CHECK(d.range == io::YuvRange::automatic);
    CHECK(d.frame_bytes == 6 + 2 * 2 * 1);
    CHECK(reader.range() == io::YuvRange::limited);
    CHECK(reader.matrix() == io::YuvMatrix::bt601);
    CHECK(reader.name() == dir.file("s.y4m"));
  }

  // Every chroma tag ffmpeg reads in 8 bits, and its plane sizes at an odd size.
  const struct {
    const char* tag;
    io::Chroma chroma;
    int64_t bytes;  // W5 H3
  } tags[] = {{"C420jpeg", io::Chroma::c420, 15 + 2 * 3 * 2},
              {"C420paldv", io::Chroma::c420, 15 + 2 * 3 * 2},
              {"C420", io::Chroma::c420, 15 + 2 * 3 * 2},
              {"C422", io::Chroma::c422, 15 + 2 * 3 * 3},
              {"C444", io::Chroma::c444, 45},
              {"Cmono", io::Chroma::mono, 15}};
  for (const auto& t : tags) {
    CAPTURE(t.tag);
    const io::Y4mHeader th = header_of(std::string("YUV4MPEG2 W5 H3 ") + t.tag);
    CHECK(th.chroma == t.chroma);
    CHECK("C" + th.chroma_tag == t.tag);
    CHECK(th.frame_bytes == t.bytes);
  }

  // F0:0 and A0:0 mean "unknown"; XYSCSS gives the chroma when C is absent (C wins when
  // both are there); unknown fields, unknown X extensions and doubled spaces are skipped.
  h = header_of("YUV4MPEG2 W4 H2 F0:0 A0:0 I? XYSCSS=444 Zzz XFOO=1  XCOLORRANGE=LIMITED");
  CHECK((h.fps_num == 25 && h.fps_den == 1 && h.interlace == '?'));
  CHECK(h.chroma == io::Chroma::c444);
  CHECK(h.range == io::YuvRange::limited);
  CHECK(header_of("YUV4MPEG2 W4 H2 C422 XYSCSS=444").chroma == io::Chroma::c422);
  CHECK(header_of("YUV4MPEG2 W4 H2 Im").interlace == 'm');

  // Mono: full range unless the stream says otherwise (ffmpeg's gray is full range).
  CHECK(io::Y4mReader(stream_file(dir, "YUV4MPEG2 W4 H2 Cmono\n")).range() == io::YuvRange::full);
  CHECK(io::Y4mReader(stream_file(dir, "YUV4MPEG2 W4 H2 Cmono XCOLORRANGE=LIMITED\n")).range() ==
        io::YuvRange::limited);
  // The caller's matrix and range win over the stream's and the size's.
  io::Y4mReader forced(stream_file(dir, "YUV4MPEG2 W4 H2 XCOLORRANGE=LIMITED\n"),
                       io::YuvMatrix::bt2020, io::YuvRange::full);
  CHECK((forced.matrix() == io::YuvMatrix::bt2020 && forced.range() == io::YuvRange::full));
  CHECK(io::Y4mReader(stream_file(dir, "YUV4MPEG2 W1920 H800\n")).matrix() == io::YuvMatrix::bt709);
}

TEST_CASE("y4m: automatic matrix and the option names") {
  CHECK(io::automatic_yuv_matrix(720, 576) == io::YuvMatrix::bt601);
  CHECK(io::automatic_yuv_matrix(640, 480) == io::YuvMatrix::bt601);
  CHECK(io::automatic_yuv_matrix(1024, 576) == io::YuvMatrix::bt601);
  CHECK(io::automatic_yuv_matrix(1280, 720) == io::YuvMatrix::bt709);
  CHECK(io::automatic_yuv_matrix(1280, 536) == io::YuvMatrix::bt709);  // cropped HD film
  CHECK(io::automatic_yuv_matrix(960, 720) == io::YuvMatrix::bt709);
  CHECK(io::automatic_yuv_matrix(36, 20) == io::YuvMatrix::bt601);

  CHECK(io::parse_yuv_matrix("601") == io::YuvMatrix::bt601);
  CHECK(io::parse_yuv_matrix("bt709") == io::YuvMatrix::bt709);
  CHECK(io::parse_yuv_matrix("2020") == io::YuvMatrix::bt2020);
  CHECK(io::parse_yuv_matrix("auto") == io::YuvMatrix::automatic);
  CHECK(io::parse_yuv_range("limited") == io::YuvRange::limited);
  CHECK(io::parse_yuv_range("tv") == io::YuvRange::limited);
  CHECK(io::parse_yuv_range("full") == io::YuvRange::full);
  CHECK(io::parse_yuv_range("pc") == io::YuvRange::full);
  CHECK(io::parse_yuv_range("auto") == io::YuvRange::automatic);
  CHECK(error_message([] { io::parse_yuv_matrix("470"); }) ==
        "unknown YUV matrix \"470\" (expected 601, 709, 2020 or auto)");
  CHECK(error_message([] { io::parse_yuv_range("studio"); }) ==
        "unknown YUV range \"studio\" (expected limited, full or auto)");
  CHECK(std::string(io::yuv_matrix_name(io::YuvMatrix::bt709)) == "BT.709");
  CHECK(std::string(io::yuv_range_name(io::YuvRange::full)) == "full");
}

TEST_CASE("y4m: FRAME parameters are skipped and the stream ends at a frame boundary") {
  TempDir dir;
  const std::string planes = bytes({16, 235, 128, 128});  // W2 H1 4:2:0: Y Y U V
  const std::string path = stream_file(dir, "YUV4MPEG2 W2 H1 F25:1 Ip A1:1 C420jpeg\nFRAME\n" +
                                                planes + "FRAME Ib XFOO=1\n" + planes);
  io::Y4mReader reader(path);
  io::Image frame;
  REQUIRE(reader.read(frame));
  CHECK((frame.width == 2 && frame.height == 1));
  CHECK(pixel(frame, 0, 0) == Rgb{0, 0, 0});
  CHECK(pixel(frame, 1, 0) == Rgb{255, 255, 255});
  REQUIRE(reader.read(frame));
  CHECK(pixel(frame, 1, 0) == Rgb{255, 255, 255});
  CHECK_FALSE(reader.read(frame));
  CHECK_FALSE(reader.read(frame));  // stays at the end
  CHECK(reader.frames_read() == 2);

  // A header and no frame at all is an empty video, not an error.
  CHECK(read_all(stream_file(dir, "YUV4MPEG2 W2 H1\n", "none.y4m")).empty());
}

TEST_CASE("y4m: exact colours from hand-made 4:4:4 planes, every matrix and range") {
  // Black, white, mid grey, the extremes of the code ranges (clamped) and a spread of
  // colours; one 4:4:4 frame of N×1 pixels per matrix and range.
  const std::vector<std::array<int, 3>> yuv = {
      {16, 128, 128},  {235, 128, 128}, {126, 128, 128}, {0, 0, 0},       {255, 255, 255},
      {81, 90, 240},   {145, 54, 34},   {41, 240, 110},  {210, 16, 146},  {170, 166, 16},
      {106, 202, 222}, {60, 100, 180},  {200, 150, 90},  {128, 60, 200},  {30, 190, 60},
      {235, 16, 240},  {16, 240, 16},   {99, 131, 127},  {180, 129, 125}, {52, 77, 203}};
  const int n = int(yuv.size());
  std::string planes(size_t(3 * n), '\0');
  for (int i = 0; i < n; ++i)
    for (int c = 0; c < 3; ++c) planes[size_t(c * n + i)] = char(uint8_t(yuv[size_t(i)][c]));
  TempDir dir;
  for (io::YuvMatrix matrix : {io::YuvMatrix::bt601, io::YuvMatrix::bt709, io::YuvMatrix::bt2020}) {
    for (bool full : {false, true}) {
      CAPTURE(io::yuv_matrix_name(matrix));
      CAPTURE(full);
      const std::string path =
          stream_file(dir, str("YUV4MPEG2 W", n, " H1 C444 XCOLORRANGE=", full ? "FULL" : "LIMITED",
                               "\nFRAME\n", planes));
      const std::vector<io::Image> frames = read_all(path, matrix);
      REQUIRE(frames.size() == 1);
      for (int i = 0; i < n; ++i) {
        const auto& [y, u, v] = yuv[size_t(i)];
        CAPTURE(i);
        CHECK(pixel(frames[0], i, 0) == standard_rgb(y, u, v, matrix, full));
      }
    }
  }
  // The landmarks, spelled out: limited black and white; the 8-bit codes of pure red
  // (BT.601: 81, 90, 240; BT.709: 63, 102, 240) come back within a level of it.
  CHECK(standard_rgb(16, 128, 128, io::YuvMatrix::bt601, false) == Rgb{0, 0, 0});
  CHECK(standard_rgb(235, 128, 128, io::YuvMatrix::bt601, false) == Rgb{255, 255, 255});
  const Rgb red601 = standard_rgb(81, 90, 240, io::YuvMatrix::bt601, false);
  const Rgb red709 = standard_rgb(63, 102, 240, io::YuvMatrix::bt709, false);
  for (const Rgb& red : {red601, red709}) CHECK((red[0] >= 254 && red[1] <= 1 && red[2] <= 1));
}

TEST_CASE("y4m: chroma replication for 4:2:0 and 4:2:2, even and odd sizes; mono") {
  TempDir dir;
  // 3×3 4:2:0: chroma 2×2; Y flat 126, U/V distinct per chroma sample. Pixel (x, y) must
  // take chroma sample (x/2, y/2), including the last row and column alone in their block.
  const std::string y9(9, char(126));
  const std::string u = bytes({60, 100, 160, 200}), v = bytes({200, 90, 128, 40});
  std::vector<io::Image> frames =
      read_all(stream_file(dir, "YUV4MPEG2 W3 H3 C420jpeg\nFRAME\n" + y9 + u + v));
  REQUIRE(frames.size() == 1);
  for (int y = 0; y < 3; ++y)
    for (int x = 0; x < 3; ++x) {
      const int c = (y / 2) * 2 + x / 2;
      CAPTURE(x);
      CAPTURE(y);
      CHECK(pixel(frames[0], x, y) == standard_rgb(126, uint8_t(u[size_t(c)]),
                                                   uint8_t(v[size_t(c)]), io::YuvMatrix::bt601,
                                                   false));
    }

  // 3×2 4:2:2: chroma 2 wide, 2 tall.
  const std::string y6(6, char(126));
  frames = read_all(stream_file(dir, "YUV4MPEG2 W3 H2 C422\nFRAME\n" + y6 + u + v));
  REQUIRE(frames.size() == 1);
  for (int y = 0; y < 2; ++y)
    for (int x = 0; x < 3; ++x) {
      const int c = y * 2 + x / 2;
      CHECK(pixel(frames[0], x, y) == standard_rgb(126, uint8_t(u[size_t(c)]),
                                                   uint8_t(v[size_t(c)]), io::YuvMatrix::bt601,
                                                   false));
    }

  // Mono: Y only; limited range stretches 16..235, full range is Y itself.
  const std::string mono = "FRAME\n" + bytes({16, 126, 235, 0});
  frames = read_all(stream_file(dir, "YUV4MPEG2 W4 H1 Cmono XCOLORRANGE=LIMITED\n" + mono));
  CHECK(pixel(frames[0], 0, 0) == Rgb{0, 0, 0});
  CHECK(pixel(frames[0], 1, 0) == Rgb{128, 128, 128});
  CHECK(pixel(frames[0], 2, 0) == Rgb{255, 255, 255});
  CHECK(pixel(frames[0], 3, 0) == Rgb{0, 0, 0});
  frames = read_all(stream_file(dir, "YUV4MPEG2 W4 H1 Cmono\n" + mono));
  CHECK(pixel(frames[0], 1, 0) == Rgb{126, 126, 126});
}

TEST_CASE("y4m: ffmpeg's streams decode like ffmpeg and like the source") {
  const Video bars = load_video(kData + "src_36x20.npy");
  const Video quads = load_video(kData + "src_35x21.npy");
  // Bars (rows 0..9) are flat over 2×2 blocks, and swscale's horizontal chroma
  // downsampling stays inside a bar, but its vertical filter reaches the gradient below
  // for 4 rows: rows 0..5 are flat for the 4:2:0 chroma; all bar rows for 4:2:2 (no
  // vertical subsampling).
  const auto top_bars = [](int, int y, int) { return y < 6; };
  const auto all_bars = [](int, int y, int) { return y < 10; };
  // Quadrants split at x = 17 + 2f (odd width 35: swscale's chroma phase drifts) and
  // y = 10: pixels 5 or more columns and 4 or more rows away from the splits.
  const auto quad_interior = [](int f, int y, int x) {
    return std::abs(x - (17 + 2 * f)) >= 5 && (y < 6 || y >= 14);
  };
  const struct {
    const char* name;
    io::Chroma chroma;
    io::YuvMatrix matrix;  // what the fixture was encoded with
    io::YuvRange range;    // what its header says
    int vs_ffmpeg;         // max |ours − ffmpeg's decode|, everywhere
    int vs_source;         // max |ours − source| where the chroma is flat (4:4:4: everywhere)
  } cases[] = {
      {"yuv444p", io::Chroma::c444, io::YuvMatrix::bt601, io::YuvRange::limited, 1, 2},
      {"yuv420p", io::Chroma::c420, io::YuvMatrix::bt601, io::YuvRange::limited, 3, 2},
      {"yuv420p_709", io::Chroma::c420, io::YuvMatrix::bt709, io::YuvRange::limited, 3, 2},
      {"yuvj420p", io::Chroma::c420, io::YuvMatrix::bt601, io::YuvRange::full, 3, 2},
      {"yuv422p", io::Chroma::c422, io::YuvMatrix::bt601, io::YuvRange::limited, 3, 2},
      {"odd_yuv420p", io::Chroma::c420, io::YuvMatrix::bt601, io::YuvRange::limited, 3, 2},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    const std::string path = kData + c.name + ".y4m";
    const bool odd = std::string(c.name).rfind("odd", 0) == 0;
    io::Y4mReader reader(path);
    CHECK(reader.header().chroma == c.chroma);
    CHECK(reader.header().range == c.range);
    CHECK(reader.matrix() == io::YuvMatrix::bt601);  // automatic, at this size
    const std::vector<io::Image> frames = read_all(path, c.matrix);
    const Video& source = odd ? quads : bars;
    const Video ffmpeg = load_video(kData + c.name + ".ffmpeg_rgb.npy");
    REQUIRE(frames.size() == size_t(source.frames));
    // At the odd size ffmpeg's own decoder resamples the chroma with a drifting phase
    // too, so it is comparable only where the chroma is flat.
    CHECK(max_difference(frames, ffmpeg, [&](int f, int y, int x) {
            return !odd || quad_interior(f, y, x);
          }) <= c.vs_ffmpeg);
    if (odd)
      CHECK(max_difference(frames, source, quad_interior) <= c.vs_source);
    else if (c.chroma == io::Chroma::c444)
      CHECK(max_difference(frames, source, everywhere) <= c.vs_source);
    else if (c.chroma == io::Chroma::c420)
      CHECK(max_difference(frames, source, top_bars) <= c.vs_source);
    else
      CHECK(max_difference(frames, source, all_bars) <= c.vs_source);
  }

  // Gray: ffmpeg writes full-range luma and marks it; the decode is that luma.
  const std::vector<io::Image> grey = read_all(kData + "gray.y4m");
  REQUIRE(grey.size() == 3);
  CHECK(max_difference(grey, load_video(kData + "gray.ffmpeg_rgb.npy"), everywhere) == 0);
  int worst = 0;  // against BT.601 luma of the source (the matrix ffmpeg's RGB → gray uses)
  for (int f = 0; f < 3; ++f)
    for (int y = 0; y < 20; ++y)
      for (int x = 0; x < 36; ++x) {
        const double luma =
            0.299 * bars.at(f, y, x, 0) + 0.587 * bars.at(f, y, x, 1) + 0.114 * bars.at(f, y, x, 2);
        worst = std::max(worst, int(std::lround(std::abs(pixel(grey[size_t(f)], x, y)[0] - luma))));
      }
  CHECK(worst <= 1);

  // 10-bit: refused with the way out.
  CHECK(error_message([] { io::Y4mReader(kData + "yuv420p10.y4m"); }) ==
        kData +
            "yuv420p10.y4m: Y4M chroma format C420p10 has 10-bit samples; tv3s reads 8-bit "
            "streams (ffmpeg: -pix_fmt yuv420p, yuv444p or gray)");
}

TEST_CASE("y4m: the writer's bytes for known colours") {
  TempDir dir;
  // Black, white, red, blue at 4:4:4 (one row), then the same as 2×2 blocks at 4:2:0.
  io::Image image{4, 1, {0, 0, 0, 255, 255, 255, 255, 0, 0, 0, 0, 255}};
  const struct {
    io::YuvMatrix matrix;
    io::YuvRange range;
    const char* range_tag;
    std::string planes;  // Y × 4, U × 4, V × 4: the standards' values
  } cases[] = {
      {io::YuvMatrix::bt601, io::YuvRange::limited, "LIMITED",
       bytes({16, 235, 81, 41, 128, 128, 90, 240, 128, 128, 240, 110})},
      {io::YuvMatrix::bt709, io::YuvRange::limited, "LIMITED",
       bytes({16, 235, 63, 32, 128, 128, 102, 240, 128, 128, 240, 118})},
      {io::YuvMatrix::bt601, io::YuvRange::full, "FULL",
       bytes({0, 255, 76, 29, 128, 128, 85, 255, 128, 128, 255, 107})},
  };
  for (const auto& c : cases) {
    CAPTURE(c.range_tag);
    const std::string path = dir.file("w.y4m");
    std::FILE* file = std::fopen(path.c_str(), "wb");
    REQUIRE(file);
    {
      io::Y4mWriter writer(file, "w", 4, 1, 30000, 1001, io::Chroma::c444, c.matrix, c.range);
      writer.write(image);
      CHECK(writer.frames_written() == 1);
    }
    std::fclose(file);
    CHECK(read_bytes(path) ==
          str("YUV4MPEG2 W4 H1 F30000:1001 Ip A1:1 C444 XYSCSS=444 XCOLORRANGE=", c.range_tag,
              "\nFRAME\n", c.planes));
  }

  // 4:2:0, 3×3: blocks are 2×2, 1×2, 2×1 and 1×1; each block's chroma is the mean of its
  // pixels' (B − Y', R − Y'), so a flat block keeps its colour's chroma exactly.
  io::Image odd{3, 3, {}};
  const Rgb colours[4] = {{255, 0, 0}, {0, 0, 255}, {255, 255, 255}, {0, 0, 0}};
  for (int y = 0; y < 3; ++y)
    for (int x = 0; x < 3; ++x)
      for (int c = 0; c < 3; ++c) odd.rgb.push_back(uint8_t(colours[(y / 2) * 2 + x / 2][c]));
  const std::string path = dir.file("odd.y4m");
  std::FILE* file = std::fopen(path.c_str(), "wb");
  REQUIRE(file);
  io::Y4mWriter(file, "odd", 3, 3, 25, 1, io::Chroma::c420, io::YuvMatrix::automatic).write(odd);
  std::fclose(file);
  CHECK(read_bytes(path) ==
        "YUV4MPEG2 W3 H3 F25:1 Ip A1:1 C420jpeg XYSCSS=420JPEG XCOLORRANGE=LIMITED\nFRAME\n" +
            bytes({81, 81, 41, 81, 81, 41, 235, 235, 16}) + bytes({90, 240, 128, 128}) +
            bytes({240, 110, 128, 128}));
}

TEST_CASE("y4m: writer → reader round trips") {
  TempDir dir;
  // A smooth random-ish picture (every RGB combination the formula can produce), odd size.
  const int w = 35, h = 21;
  io::Image image{w, h, {}};
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      image.rgb.push_back(uint8_t((x * 37 + y * 11) % 256));
      image.rgb.push_back(uint8_t((x * 13 + y * 53 + 90) % 256));
      image.rgb.push_back(uint8_t((x * 7 * y + 200) % 256));
    }
  // The same picture with each 2×2 block (cut at the edges) flat.
  io::Image blocks = image;
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < 3; ++c)
        blocks.rgb[3 * size_t(y * w + x) + size_t(c)] =
            image.rgb[3 * size_t((y & ~1) * w + (x & ~1)) + size_t(c)];

  auto round_trip = [&](const io::Image& in, io::Chroma chroma, io::YuvMatrix matrix,
                        io::YuvRange range) {
    const std::string path = dir.file("rt.y4m");
    std::FILE* file = std::fopen(path.c_str(), "wb");
    REQUIRE(file);
    io::Y4mWriter writer(file, path, w, h, 25, 1, chroma, matrix, range);
    writer.write(in);
    writer.write(in);
    std::fclose(file);
    const std::vector<io::Image> frames = read_all(path, matrix);
    REQUIRE(frames.size() == 2);
    int worst = 0;
    for (size_t i = 0; i < in.rgb.size(); ++i)
      worst = std::max(worst, std::abs(int(frames[1].rgb[i]) - int(in.rgb[i])));
    return worst;
  };
  for (io::YuvMatrix matrix : {io::YuvMatrix::bt601, io::YuvMatrix::bt709, io::YuvMatrix::bt2020}) {
    for (io::YuvRange range : {io::YuvRange::limited, io::YuvRange::full}) {
      CAPTURE(io::yuv_matrix_name(matrix));
      CAPTURE(io::yuv_range_name(range));
      CHECK(round_trip(image, io::Chroma::c444, matrix, range) <= 2);
      CHECK(round_trip(blocks, io::Chroma::c420, matrix, range) <= 2);
    }
  }
}

TEST_CASE("y4m: writer errors") {
  TempDir dir;
  const std::string path = dir.file("w.y4m");
  std::FILE* file = std::fopen(path.c_str(), "wb");
  REQUIRE(file);
  io::Y4mWriter writer(file, "out.y4m", 4, 2, 25, 1);
  CHECK(error_message([&] {
          writer.write(io::Image{2, 2, std::vector<uint8_t>(12)});
        }) == "out.y4m: frame 0 is 2x2, the stream is 4x2");
  CHECK(error_message([&] {
          writer.write(io::Image{4, 2, std::vector<uint8_t>(5)});
        }) == "out.y4m: frame 0 holds 5 bytes for 4x2 RGB pixels");
  writer.write(io::Image{4, 2, std::vector<uint8_t>(24)});
  std::fclose(file);
  CHECK(error_message([&] { io::Y4mWriter(stdout, "x", 4, 2, 25, 1, io::Chroma::c422); }) ==
        "x: the Y4M writer writes 4:2:0 or 4:4:4 only");
  CHECK(error_message([&] { io::Y4mWriter(stdout, "x", 0, 2, 25, 1); }) ==
        "x: cannot write a Y4M stream of 0x2 pixels");
  CHECK(error_message([&] { io::Y4mWriter(stdout, "x", 4, 2, 25, 0); }) ==
        "x: bad frame rate 25:0");
  // A stream that cannot be written (here: opened for reading; in use, a closed pipe).
  std::FILE* read_only = std::fopen(path.c_str(), "rb");
  REQUIRE(read_only);
  CHECK(error_message([&] { io::Y4mWriter(read_only, "<stdout>", 4, 2, 25, 1); }) ==
        "<stdout>: cannot write the Y4M header: Bad file descriptor");
  std::fclose(read_only);
}

TEST_CASE("y4m: bad streams, each with its message") {
  TempDir dir;
  const std::string missing = dir.file("missing.y4m");
  CHECK(error_message([&] { io::Y4mReader{missing}; }) ==
        missing + ": cannot open: No such file or directory");
  CHECK(error_message([&] { io::Y4mReader{dir.path()}; }) ==
        dir.path() + ": is a folder, not a file");

  const std::string ok_header = "YUV4MPEG2 W2 H3\n";
  const std::string frame_2x3 =
      "FRAME\n" + std::string(6 + 2 * 1 * 2, char(128));  // Y 2×3, U, V 1×2
  const struct {
    std::string content, message;
  } cases[] = {
      {"", "S: empty input, not a Y4M stream"},
      {std::string("\0\0\0\x20"
                   "ftypisom\0\0\2\0",
                   16),
       "S: not a Y4M stream (it does not start with \"YUV4MPEG2 \"); it looks like an MP4/MOV "
       "file: convert it with ffmpeg -i INPUT -f yuv4mpegpipe -"},
      {"\x1A\x45\xDF\xA3\x01\x00\x00\x00\x00\x00",
       "S: not a Y4M stream (it does not start with \"YUV4MPEG2 \"); it looks like a "
       "Matroska/WebM file: convert it with ffmpeg -i INPUT -f yuv4mpegpipe -"},
      {"P6\n2 2\n255\n", "S: not a Y4M stream (it does not start with \"YUV4MPEG2 \")"},
      {"YUV4MPEG", "S: Y4M header ends without a newline (truncated)"},
      {"YUV4MPEG2 W2 H2", "S: Y4M header ends without a newline (truncated)"},
      {"YUV4MPEG2 W2 H2 " + std::string(2000, 'X'),
       "S: Y4M header longer than 1024 bytes without a newline"},
      {"YUV4MPEG2 H2 C444\n", "S: Y4M header has no width (W)"},
      {"YUV4MPEG2 W2 C444\n", "S: Y4M header has no height (H)"},
      {"YUV4MPEG2 W0 H2\n", "S: bad Y4M width \"W0\" (expected a positive integer)"},
      {"YUV4MPEG2 W-5 H2\n", "S: bad Y4M width \"W-5\" (expected a positive integer)"},
      {"YUV4MPEG2 W2 H99999999999\n",
       "S: bad Y4M height \"H99999999999\" (expected a positive integer)"},
      {"YUV4MPEG2 W2 H\n", "S: bad Y4M height \"H\" (expected a positive integer)"},
      {"YUV4MPEG2 W20000 H20000\n",
       "S: Y4M frame size 20000x20000 is too large (more than 2^28 pixels)"},
      {"YUV4MPEG2 W2 H2 F30:0\n",
       "S: bad Y4M frame rate \"F30:0\" (expected F<num>:<den>, both positive, or F0:0 for "
       "unknown)"},
      {"YUV4MPEG2 W2 H2 F0:1\n",
       "S: bad Y4M frame rate \"F0:1\" (expected F<num>:<den>, both positive, or F0:0 for "
       "unknown)"},
      {"YUV4MPEG2 W2 H2 F25\n",
       "S: bad Y4M frame rate \"F25\" (expected F<num>:<den>, both positive, or F0:0 for "
       "unknown)"},
      {"YUV4MPEG2 W2 H2 A1/1\n", "S: bad Y4M pixel aspect \"A1/1\" (expected A<num>:<den>)"},
      {"YUV4MPEG2 W2 H2 Ix\n", "S: bad Y4M interlace field \"Ix\" (expected Ip, It, Ib, Im or I?)"},
      {"YUV4MPEG2 W2 H2 C411\n",
       "S: unsupported Y4M chroma format C411 (supported: 420jpeg, 420mpeg2, 420paldv, 420, "
       "422, 444, mono)"},
      {"YUV4MPEG2 W2 H2 C444alpha\n",
       "S: unsupported Y4M chroma format C444alpha (supported: 420jpeg, 420mpeg2, 420paldv, "
       "420, 422, 444, mono)"},
      {"YUV4MPEG2 W2 H2 C420p10\n",
       "S: Y4M chroma format C420p10 has 10-bit samples; tv3s reads 8-bit streams (ffmpeg: "
       "-pix_fmt yuv420p, yuv444p or gray)"},
      {"YUV4MPEG2 W2 H2 Cmono16\n",
       "S: Y4M chroma format Cmono16 has 16-bit samples; tv3s reads 8-bit streams (ffmpeg: "
       "-pix_fmt yuv420p, yuv444p or gray)"},
      {"YUV4MPEG2 W2 H2 XYSCSS=420P12\n",
       "S: Y4M chroma format XYSCSS=420P12 has 12-bit samples; tv3s reads 8-bit streams "
       "(ffmpeg: -pix_fmt yuv420p, yuv444p or gray)"},
      {"YUV4MPEG2 W2 H2 XCOLORRANGE=STUDIO\n",
       "S: bad Y4M colour range \"XCOLORRANGE=STUDIO\" (expected XCOLORRANGE=FULL or "
       "XCOLORRANGE=LIMITED)"},
      // Frames: a bad marker (here: the data is longer than the header's size says, so
      // the second marker is off), a stream that stops inside a frame or its FRAME line.
      {ok_header + "FRAMX\n" + frame_2x3.substr(6),
       "S: frame 0: bad frame marker (expected \"FRAME\"; the header's size or chroma format "
       "may not match the data)"},
      {ok_header + frame_2x3 + "\x80\x80" + frame_2x3,
       "S: frame 1: bad frame marker (expected \"FRAME\"; the header's size or chroma format "
       "may not match the data)"},
      {ok_header + frame_2x3 + frame_2x3.substr(0, 12), "S: frame 1 is truncated (6 of 10 bytes)"},
      {ok_header + frame_2x3 + "FRA",
       "S: frame 1 is truncated (the stream ends in its FRAME line)"},
      {ok_header + frame_2x3 + "FRAME",
       "S: frame 1 is truncated (the stream ends in its FRAME line)"},
      {ok_header + "FRAME Ixyz", "S: frame 0 is truncated (the stream ends in its FRAME line)"},
      {ok_header + "FRAME " + std::string(2000, 'x') + "\n",
       "S: frame 0: FRAME line longer than 1024 bytes"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.content.substr(0, 40));
    CHECK(read_error(c.content) == c.message);
  }
}

#if defined(__SANITIZE_ADDRESS__)
#define TV3S_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TV3S_TEST_ASAN 1
#endif
#endif

// The message of the tv3s::Error that `f` throws in a child process whose address space
// may grow by at most `headroom` bytes ("(out of memory)" when it allocates more). Under
// AddressSanitizer, which reserves terabytes of address space, `f` runs without a cap.
// `feed`, when given, runs meanwhile in this process (e.g. writing into a pipe `f` reads).
std::string error_within(uint64_t headroom, const std::function<void()>& f,
                         const std::function<void()>& feed = nullptr) {
#ifdef TV3S_TEST_ASAN
  (void)headroom;
  std::thread feeder(feed ? feed : [] {});
  const std::string message = error_message(f);
  feeder.join();
  return message;
#else
  int fds[2];
  REQUIRE(pipe(fds) == 0);
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    close(fds[0]);
    uint64_t pages = 0;
    std::ifstream("/proc/self/statm") >> pages;
    const rlim_t cap = rlim_t(pages * uint64_t(sysconf(_SC_PAGESIZE)) + headroom);
    const rlimit limit{cap, cap};
    std::string message = "(no error)";
    try {
      if (pages == 0 || setrlimit(RLIMIT_AS, &limit) != 0) throw std::runtime_error("no cap");
      f();
    } catch (const Error& e) {
      message = e.what();
    } catch (const std::bad_alloc&) {
      message = "(out of memory)";
    } catch (const std::exception& e) {
      message = str("(", e.what(), ")");
    }
    const bool written = write(fds[1], message.data(), message.size()) == ssize_t(message.size());
    _exit(written ? 0 : 1);
  }
  close(fds[1]);
  if (feed) feed();
  std::string message;
  char buffer[256];
  for (ssize_t n; (n = read(fds[0], buffer, sizeof buffer)) > 0;) message.append(buffer, size_t(n));
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  CHECK((WIFEXITED(status) && WEXITSTATUS(status) == 0));
  return message;
#endif
}

TEST_CASE("y4m: a frame buffer is never allocated ahead of the data (file or pipe)") {
  // 16384² 4:4:4: 768 MiB a frame, declared by a header of 28 bytes. A regular file must
  // hold the whole frame before its buffer is allocated; from a pipe the buffer grows
  // with the bytes that arrive (limits.h: kY4mPipeChunkBytes). Either way, 3 bytes of
  // frame cost far less than 256 MiB.
  TempDir dir;
  const std::string content = "YUV4MPEG2 W16384 H16384 C444\nFRAME\nabc";
  const std::string want = " frame 0 is truncated (3 of 805306368 bytes)";
  const auto read_all = [](const std::string& path) {
    return [path] {
      io::Y4mReader reader(path);
      io::Image frame;
      while (reader.read(frame)) {
      }
    };
  };
  const std::string file = stream_file(dir, content);
  CHECK(error_within(uint64_t(256) << 20, read_all(file)) == file + ":" + want);

  const std::string fifo = dir.file("pipe.y4m");
  REQUIRE(mkfifo(fifo.c_str(), 0600) == 0);
  // The writer's open blocks until the reader (in the child) opens the pipe.
  CHECK(error_within(uint64_t(256) << 20, read_all(fifo), [&] { write_bytes(fifo, content); }) ==
        fifo + ":" + want);
}

TEST_CASE("y4m: is_y4m_file") {
  TempDir dir;
  CHECK(io::is_y4m_file(kData + "yuv420p.y4m"));
  CHECK(io::is_y4m_file(stream_file(dir, "YUV4MPEG2 W2 H2\n", "a.png")));    // content, not name
  CHECK_FALSE(io::is_y4m_file(stream_file(dir, "YUV4MPEG2", "short.y4m")));  // no space yet
  CHECK_FALSE(io::is_y4m_file(stream_file(dir,
                                          std::string("\0\0\0\x20"
                                                      "ftypisom",
                                                      12),
                                          "v.y4m")));
  CHECK_FALSE(io::is_y4m_file(stream_file(dir, "", "empty.y4m")));
  CHECK_FALSE(io::is_y4m_file(dir.file("missing.y4m")));
  CHECK_FALSE(io::is_y4m_file(dir.path()));
  CHECK_FALSE(io::is_y4m_file(TV3S_SOURCE_DIR "/tests/data/io/rgb_4x3.png"));
}
