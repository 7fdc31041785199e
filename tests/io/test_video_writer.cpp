// VideoWriter (src/io/video_writer.h): videos written by tv3s, read back by VideoReader and
// by ffprobe — frame count, size, timestamps (a variable rate kept), colour tags, pixels
// within the encoder's loss — and the atomic file rules.
#include <filesystem>

#include "src/io/video_writer.h"
#include "tests/io/io_test_util.h"
#include "tests/io/video_test_util.h"

using namespace tv3s;
using namespace tv3s::test;
namespace fs = std::filesystem;

namespace {

// A smooth moving frame (codecs keep smooth content well: the loss stays small).
io::Image moving_frame(int width, int height, int t) {
  io::Image image{width, height, std::vector<uint8_t>(size_t(width) * height * 3)};
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x) {
      uint8_t* p = &image.rgb[(size_t(y) * width + x) * 3];
      p[0] = uint8_t((x * 255) / width);
      p[1] = uint8_t((y * 255) / height);
      p[2] = uint8_t((x + y + 4 * t) % 256 < 128 ? 64 : 192);
    }
  return image;
}

// Mean |a − b| over the first width × height pixels of b's rows (b may be padded).
double mean_abs_diff(const io::Image& a, const io::Image& b) {
  double sum = 0;
  for (int y = 0; y < a.height; ++y)
    for (int x = 0; x < a.width * 3; ++x)
      sum += std::abs(int(a.rgb[size_t(y) * a.width * 3 + x]) - int(b.rgb[size_t(y) * b.width * 3 + x]));
  return sum / (double(a.width) * a.height * 3);
}

}  // namespace

TV3S_FFMPEG_TEST_CASE("video writer: frames, timestamps, size and colour tags survive the round trip") {
  TempDir dir;
  struct Case {
    const char* file;
    int width, height;
    io::YuvMatrix matrix;
  };
  // .mkv and .mp4 (H.264), .webm (VP9); an odd size is padded to even.
  for (const Case& c : {Case{"a.mp4", 160, 96, io::YuvMatrix::bt709}, Case{"b.mkv", 161, 97, io::YuvMatrix::bt601},
                        Case{"c.webm", 96, 64, io::YuvMatrix::automatic}}) {
    CAPTURE(std::string(c.file));
    const std::string path = dir.file(c.file);
    // Variable rate: frame n at n² / 50 s, in a 1/1000 time base.
    std::vector<io::Image> written;
    {
      io::VideoWriter writer(path, c.width, c.height, {1, 1000}, {25, 1}, c.matrix);
      for (int n = 0; n < 8; ++n) {
        written.push_back(moving_frame(c.width, c.height, n));
        writer.write(written.back(), n * n * 20);
      }
      writer.finish();
      CHECK(writer.frames_written() == 8);
      if (std::string(c.file) != "c.webm" && has_encoder("libx264")) CHECK(writer.codec() == "libx264");
    }
    CHECK_FALSE(fs::exists(path + ".partial"));
    const DecodedVideo back = read_video(path);
    REQUIRE(back.frames.size() == 8);
    CHECK(back.frames[0].width == (c.width + 1) / 2 * 2);
    CHECK(back.frames[0].height == (c.height + 1) / 2 * 2);
    const double tb = double(back.info.time_base.num) / back.info.time_base.den;
    for (int n = 0; n < 8; ++n) {
      CHECK(double(back.pts[n] - back.pts[0]) * tb == doctest::Approx(n * n / 50.0).epsilon(1e-3));
      const double e = mean_abs_diff(written[n], back.frames[n]);
      CHECK_MESSAGE(e < 3.0, "frame ", n, ": mean |written − read back| = ", e);
    }
    const io::YuvMatrix expected = c.matrix == io::YuvMatrix::automatic
                                       ? io::automatic_yuv_matrix(c.width, c.height) : c.matrix;
    CHECK(back.info.matrix_tagged);
    CHECK(back.info.matrix == expected);
    CHECK(back.info.range == io::YuvRange::limited);
    CHECK(back.info.range_tagged);
    CHECK(ffprobe_timestamps(path).size() == 8);
  }
}

TV3S_FFMPEG_TEST_CASE("video writer: nothing under the final name until finish(), nothing at all on failure") {
  TempDir dir;
  const std::string path = dir.file("out.mp4");
  {
    io::VideoWriter writer(path, 64, 48, {1, 25}, {25, 1});
    writer.write(moving_frame(64, 48, 0), 0);
    CHECK_FALSE(fs::exists(path));
    CHECK(fs::exists(path + ".partial"));
    // A frame of another size: an error naming the file; the writer is then dropped.
    const std::string msg = error_message([&] { writer.write(moving_frame(32, 48, 1), 1); });
    CHECK(msg == path + ": a video has one frame size; this frame is 32×48, the video 64×48");
  }
  CHECK(dir.entries().empty());

  std::string msg = error_message([&] { io::VideoWriter w(dir.file("out.xyz123"), 64, 48, {1, 25}, {25, 1}); });
  CHECK(msg == dir.file("out.xyz123") +
                   ": FFmpeg knows no video container by this name's extension (use .mp4, .mkv, .webm, ...)");
  msg = error_message([&] { io::check_video_output_name(dir.file("a.xyz123")); });
  CHECK(msg.find("no video container") != std::string::npos);
  CHECK(error_message([&] { io::check_video_output_name(dir.file("a.mkv")); }) == "(no error)");
  msg = error_message([&] { io::VideoWriter w(dir.file("no/such/folder/x.mp4"), 64, 48, {1, 25}, {25, 1}); });
  CHECK_MESSAGE(msg.rfind(dir.file("no/such/folder/x.mp4") + ": cannot create the video file (", 0) == 0, msg);
  CHECK(dir.entries().empty());
}
