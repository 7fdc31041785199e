// VideoReader (src/io/video_reader.h) on videos the `ffmpeg` command encodes, checked
// against what ffmpeg itself decodes from them:
//  - pixels: every frame against `ffmpeg -i V -pix_fmt rgb24` for each codec, pixel format
//    and colour tag below; the tolerance is stated per case (measured: see kCases);
//  - frame counts and timestamps against ffprobe's, at a broadcast rate and at a
//    variable rate;
//  - the colour options overriding the tags, as ffmpeg's scale filter options do;
//  - bad input: one tv3s::Error naming the file (truncated, corrupt, not a video, no
//    video stream, absurd declared size, a silent network stream);
//  - a live stream served over HTTP on the loopback by an ffmpeg process the test starts.
#include <sys/socket.h>
#include <netinet/in.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include "tests/io/io_test_util.h"
#include "tests/io/video_test_util.h"

using namespace tv3s;
using namespace tv3s::test;

namespace {

// The largest |tv3s − ffmpeg| over all samples of all frames, and how many differ.
struct PixelDiff {
  int max_abs = 0;
  int64_t differing = 0;
};
PixelDiff diff_frames(const DecodedVideo& got, const std::vector<std::string>& ref) {
  REQUIRE(got.frames.size() == ref.size());
  PixelDiff d;
  for (size_t f = 0; f < ref.size(); ++f) {
    REQUIRE(got.frames[f].rgb.size() == ref[f].size());
    for (size_t i = 0; i < ref[f].size(); ++i) {
      const int e = std::abs(int(got.frames[f].rgb[i]) - int(uint8_t(ref[f][i])));
      d.max_abs = std::max(d.max_abs, e);
      d.differing += e != 0;
    }
  }
  return d;
}

struct Case {
  const char* name;
  const char* file;
  const char* encode;        // ffmpeg's output options
  const char* needs;         // the encoder it needs
  io::YuvMatrix matrix;      // what the reader must report
  io::YuvRange range;
  bool tagged;
};

// Measured: tv3s's RGB is ffmpeg's, bit for bit, in every case (same libswscale, same
// flags, same coefficients): the tolerance is 0.
const Case kCases[] = {
    {"h264 yuv420p BT.709 tagged", "a.mp4",
     "-c:v libx264 -pix_fmt yuv420p -colorspace bt709 -color_primaries bt709 -color_trc bt709",
     "libx264", io::YuvMatrix::bt709, io::YuvRange::limited, true},
    {"h264 yuv420p untagged (SD: BT.601 guessed, as ffmpeg assumes)", "b.mkv",
     "-c:v libx264 -pix_fmt yuv420p", "libx264", io::YuvMatrix::bt601, io::YuvRange::limited, false},
    {"h264 yuvj420p full range", "c.mp4", "-c:v libx264 -pix_fmt yuvj420p -colorspace bt470bg",
     "libx264", io::YuvMatrix::bt601, io::YuvRange::full, true},
    {"h264 yuv444p BT.601 tagged", "d.mkv", "-c:v libx264 -pix_fmt yuv444p -colorspace smpte170m",
     "libx264", io::YuvMatrix::bt601, io::YuvRange::limited, true},
    {"h264 10-bit yuv420p10le BT.709", "e.mkv", "-c:v libx264 -pix_fmt yuv420p10le -colorspace bt709",
     "libx264", io::YuvMatrix::bt709, io::YuvRange::limited, true},
    {"h265 yuv420p BT.709", "f.mp4",
     "-c:v libx265 -x265-params log-level=error -pix_fmt yuv420p -colorspace bt709", "libx265",
     io::YuvMatrix::bt709, io::YuvRange::limited, true},
    {"vp9 yuv420p BT.709 (webm)", "g.webm",
     "-c:v libvpx-vp9 -deadline realtime -cpu-used 8 -pix_fmt yuv420p -colorspace bt709", "libvpx-vp9",
     io::YuvMatrix::bt709, io::YuvRange::limited, true},
    {"ffv1 yuv444p10le BT.2020 full range", "h.mkv",
     "-c:v ffv1 -pix_fmt yuv444p10le -colorspace bt2020nc -color_range pc", "ffv1",
     io::YuvMatrix::bt2020, io::YuvRange::full, true},
    {"mpeg4 yuv420p untagged (avi)", "i.avi", "-c:v mpeg4 -q:v 3 -pix_fmt yuv420p", "mpeg4",
     io::YuvMatrix::bt601, io::YuvRange::limited, false},
    {"av1 yuv420p BT.709", "j.mkv",
     "-c:v libaom-av1 -cpu-used 8 -row-mt 1 -pix_fmt yuv420p -colorspace bt709", "libaom-av1",
     io::YuvMatrix::bt709, io::YuvRange::limited, true},
};

}  // namespace

TV3S_FFMPEG_TEST_CASE("video reader: every frame is ffmpeg's own RGB, for each codec, pixel format and colour tag") {
  TempDir dir;
  for (const Case& c : kCases) {
    CAPTURE(std::string(c.name));
    if (!has_encoder(c.needs)) {
      MESSAGE("not checked: this FFmpeg has no ", c.needs, " encoder");
      continue;
    }
    const std::string path = dir.file(c.file);
    make_test_video(path, 160, 96, 5, c.encode);
    const DecodedVideo got = read_video(path);
    const PixelDiff d = diff_frames(got, ffmpeg_rgb_frames(path, 160, 96));
    CHECK(got.frames.size() == 5);
    CHECK(got.frames[0].width == 160);
    CHECK(got.frames[0].height == 96);
    CHECK_MESSAGE(d.max_abs == 0, d.differing, " samples differ, by up to ", d.max_abs);
    CHECK(got.info.matrix == c.matrix);
    CHECK(got.info.range == c.range);
    CHECK(got.info.matrix_tagged == c.tagged);
    CHECK(got.info.declared_frames != 0);
  }
}

TV3S_FFMPEG_TEST_CASE("video reader: widths that are no multiple of 16 convert whole (libswscale works in blocks)") {
  // The scaler's vector code converts 8 or 16 pixels at a time: into rows of exactly
  // 3·width bytes it wrote past the end (heap corruption at 136 and 120) or left the last
  // columns black (50). 854×480 is VSPW's frame size.
  TempDir dir;
  for (const auto& [width, height] : {std::pair{50, 40}, {120, 96}, {136, 96}, {854, 480}}) {
    CAPTURE(width);
    const std::string path = dir.file("w" + std::to_string(width) + ".mkv");
    make_test_video(path, width, height, 2, "-c:v libx264 -pix_fmt yuv420p");
    const DecodedVideo got = read_video(path);
    REQUIRE(got.frames.size() == 2);
    CHECK(diff_frames(got, ffmpeg_rgb_frames(path, width, height)).max_abs == 0);
  }
}

TV3S_FFMPEG_TEST_CASE("video reader: --yuv-matrix and --yuv-range override the tags as ffmpeg's scale options do") {
  TempDir dir;
  const std::string path = dir.file("tagged601.mp4");
  make_test_video(path, 160, 96, 3, "-c:v libx264 -pix_fmt yuv420p -colorspace smpte170m");
  const DecodedVideo as709 = read_video(path, io::YuvMatrix::bt709);
  CHECK(as709.info.matrix == io::YuvMatrix::bt709);
  CHECK(diff_frames(as709, ffmpeg_rgb_frames(path, 160, 96, "scale=in_color_matrix=bt709")).max_abs == 0);
  const DecodedVideo full = read_video(path, io::YuvMatrix::automatic, io::YuvRange::full);
  CHECK(full.info.range == io::YuvRange::full);
  CHECK(diff_frames(full, ffmpeg_rgb_frames(path, 160, 96, "scale=in_range=full")).max_abs == 0);
  // And the override changes pixels: the test above is not vacuous.
  CHECK(diff_frames(as709, ffmpeg_rgb_frames(path, 160, 96)).max_abs > 0);
}

TV3S_FFMPEG_TEST_CASE("video reader: frame counts and timestamps are ffprobe's (NTSC rate, variable rate)") {
  TempDir dir;
  // 29.97 fps in Matroska (time base 1/1000: timestamps 0, 33, 67, ...).
  const std::string ntsc = dir.file("ntsc.mkv");
  make_test_video(ntsc, 64, 48, 9, "-c:v libx264 -pix_fmt yuv420p", "30000/1001");
  const DecodedVideo a = read_video(ntsc);
  CHECK(a.pts == ffprobe_timestamps(ntsc));
  CHECK(a.pts.size() == 9);
  CHECK(a.info.frame_rate.num == 30000);
  CHECK(a.info.frame_rate.den == 1001);
  CHECK(a.info.time_base.den == 1000);
  // Variable rate: frame n at n² / 25 s, B-frames reordered by the decoder.
  const std::string vfr = dir.file("vfr.mp4");
  make_test_video(vfr, 64, 48, 6, "-vf setpts=N*N -fps_mode passthrough -c:v libx264 -bf 2 -pix_fmt yuv420p");
  const DecodedVideo b = read_video(vfr);
  const std::vector<int64_t> probe = ffprobe_timestamps(vfr);
  CHECK(b.pts == probe);
  REQUIRE(b.pts.size() == 6);
  const double tb = double(b.info.time_base.num) / b.info.time_base.den;
  for (int n = 0; n < 6; ++n) CHECK(double(b.pts[n]) * tb == doctest::Approx(n * n / 25.0).epsilon(1e-6));
  CHECK(b.info.declared_frames == 6);
}

TV3S_FFMPEG_TEST_CASE("video reader: bad input is one line naming the file") {
  TempDir dir;
  const std::string good = dir.file("good.mp4");
  make_test_video(good, 160, 96, 12, "-c:v libx264 -pix_fmt yuv420p -movflags +faststart");
  const std::string bytes = read_bytes(good);

  // Truncated with its index in front: the frames the file still holds, then an error.
  const std::string cut = dir.file("cut.mp4");
  write_bytes(cut, bytes.substr(0, bytes.size() * 6 / 10));
  {
    io::VideoReader reader(cut);
    io::Image frame;
    int64_t pts = 0;
    const std::string msg = error_message([&] {
      while (reader.read(frame, pts)) {
      }
    });
    CHECK_MESSAGE(msg.rfind(cut + ": truncated or corrupt after ", 0) == 0, msg);
    CHECK(reader.frames_read() > 0);
    CHECK(reader.frames_read() < 12);
  }
  // Truncated with its index at the end (written last): nothing to open.
  const std::string plain = dir.file("plain.mp4");
  make_test_video(plain, 160, 96, 12, "-c:v libx264 -pix_fmt yuv420p");
  const std::string plain_bytes = read_bytes(plain);
  const std::string cut_plain = dir.file("cut_plain.mp4");
  write_bytes(cut_plain, plain_bytes.substr(0, plain_bytes.size() / 2));
  std::string msg = error_message([&] { io::VideoReader r(cut_plain); });
  CHECK_MESSAGE(msg.rfind(cut_plain + ": not a video FFmpeg can open (", 0) == 0, msg);

  // Truncated Matroska (no frame count in the header): the last packet is cut short.
  const std::string mkv = dir.file("good.mkv");
  make_test_video(mkv, 160, 96, 12, "-c:v libx264 -pix_fmt yuv420p");
  const std::string mkv_bytes = read_bytes(mkv);
  const std::string cut_mkv = dir.file("cut.mkv");
  write_bytes(cut_mkv, mkv_bytes.substr(0, mkv_bytes.size() * 6 / 10));
  msg = error_message([&] { read_video(cut_mkv); });
  CHECK_MESSAGE(msg.rfind(cut_mkv + ": truncated or corrupt after ", 0) == 0, msg);

  // Damaged inside: the 5th frame's first NAL unit claims 2 GB. (Damage that keeps the
  // bitstream valid — most random bytes in CABAC data — decodes to wrong pixels that no
  // decoder can notice, ffmpeg's included; this damage every H.264 decoder notices.)
  // The frames are Matroska SimpleBlocks: A3, a 2-byte size 4x xx, track 81, 2 bytes of
  // time, 1 of flags, then the 4-byte length of the first NAL unit.
  std::string damaged_bytes = mkv_bytes;
  std::vector<size_t> blocks;
  for (size_t i = 0; i + 11 < damaged_bytes.size(); ++i)
    if (uint8_t(damaged_bytes[i]) == 0xA3 && (uint8_t(damaged_bytes[i + 1]) & 0xC0) == 0x40 &&
        uint8_t(damaged_bytes[i + 3]) == 0x81)
      blocks.push_back(i);
  REQUIRE(blocks.size() >= 12);
  damaged_bytes.replace(blocks[blocks.size() - 8] + 7, 4, "\x7f\xff\xff\xff");
  const std::string damaged = dir.file("damaged.mkv");
  write_bytes(damaged, damaged_bytes);
  {
    io::VideoReader reader(damaged);
    io::Image frame;
    int64_t pts = 0;
    msg = error_message([&] {
      while (reader.read(frame, pts)) {
      }
    });
    CHECK_MESSAGE(msg.rfind(damaged + ": truncated or corrupt after 4 frames (", 0) == 0, msg);
    CHECK(reader.frames_read() == 4);  // the frames before the damage
  }

  // Not a video at all; no such file; audio only.
  const std::string text = dir.file("notes.mp4");
  write_bytes(text, "these are not the frames you are looking for\n");
  msg = error_message([&] { io::VideoReader r(text); });
  CHECK_MESSAGE(msg.rfind(text + ": not a video FFmpeg can open (", 0) == 0, msg);
  msg = error_message([&] { io::VideoReader r(dir.file("missing.mp4")); });
  CHECK(msg == dir.file("missing.mp4") + ": no such file or folder");
  const std::string audio = dir.file("tone.mka");
  ffmpeg("-f lavfi -i sine=duration=0.2 " + shell_quoted(audio));
  msg = error_message([&] { io::VideoReader r(audio); });
  CHECK(msg == audio + ": holds no video stream");
  CHECK(msg.find('\n') == std::string::npos);
}

TV3S_FFMPEG_TEST_CASE("video reader: a header declaring absurd frames fails before the decoder allocates") {
  TempDir dir;
  // FFV1 in Matroska: the frame size is in the container (PixelWidth 0xB0 = 320 and
  // PixelHeight 0xBA = 256, each 2 bytes), patched to 16000 × 16000: 2^27.9 pixels, over
  // the budget of 2^26 (an RGB frame of 768 MB).
  const std::string path = dir.file("small.mkv");
  make_test_video(path, 320, 256, 2, "-c:v ffv1");
  std::string bytes = read_bytes(path);
  const std::string width("\xB0\x82\x01\x40", 4), height("\xBA\x82\x01\x00", 4);
  const size_t w_at = bytes.find(width), h_at = bytes.find(height);
  REQUIRE(w_at != std::string::npos);
  REQUIRE(h_at != std::string::npos);
  bytes.replace(w_at, 4, std::string("\xB0\x82\x3E\x80", 4));
  bytes.replace(h_at, 4, std::string("\xBA\x82\x3E\x80", 4));
  const std::string huge = dir.file("huge.mkv");
  write_bytes(huge, bytes);
  const std::string msg = error_message([&] { read_video(huge); });
  CHECK_MESSAGE(msg.rfind(huge + ": ", 0) == 0, msg);
  CHECK_MESSAGE(msg.find("16000×16000") != std::string::npos, msg);
  CHECK(msg.find('\n') == std::string::npos);
}

namespace {

// A TCP port on the loopback that nothing listens on now.
int free_port() {
  const int s = socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(s >= 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  socklen_t n = sizeof a;
  REQUIRE(getsockname(s, reinterpret_cast<sockaddr*>(&a), &n) == 0);
  close(s);
  return ntohs(a.sin_port);
}

}  // namespace

TV3S_FFMPEG_TEST_CASE("video reader: a live MPEG-TS stream over HTTP from an ffmpeg server on the loopback") {
  // ffmpeg serves 30 frames at their real rate (-re: 1.2 s) as MPEG-TS over HTTP to the
  // first client; the reader connects (retrying while the server starts), reads to the
  // end of the stream, and the whole test is bounded by `timeout` on the server.
  TempDir dir;
  const int port = free_port();
  const std::string url = "http://127.0.0.1:" + std::to_string(port) + "/live.ts";
  const std::string server = "timeout 30 ffmpeg -nostdin -v error -re -f lavfi -i testsrc2=size=128x72:rate=25 "
                             "-frames:v 30 -c:v libx264 -preset ultrafast -tune zerolatency -pix_fmt yuv420p "
                             "-f mpegts -listen 1 " + url + " > " + dir.file("server.log") + " 2>&1 &";
  REQUIRE(std::system(server.c_str()) == 0);
  std::unique_ptr<io::VideoReader> reader;
  for (int attempt = 0; attempt < 100 && !reader; ++attempt) {
    try {
      reader = std::make_unique<io::VideoReader>(url);
    } catch (const Error&) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  REQUIRE_MESSAGE(reader, "could not connect to ", url, ": ", read_bytes(dir.file("server.log")));
  CHECK(reader->info().live);
  CHECK(reader->info().width == 128);
  CHECK(reader->info().height == 72);
  io::Image frame;
  int64_t pts = 0, first = -1, last = -1;
  while (reader->read(frame, pts)) {
    if (first < 0) first = pts;
    CHECK(pts > last);
    last = pts;
  }
  CHECK(reader->frames_read() == 30);
  // MPEG-TS counts in 1/90000 s: 29 frame intervals of 1/25 s.
  CHECK(reader->info().time_base.den == 90000);
  CHECK(last - first == 29 * 3600);
}

TV3S_FFMPEG_TEST_CASE("video reader: a stream that says nothing fails at the time limit, not never") {
  // A server that accepts the connection and sends nothing: the open gives up at its
  // time limit (here 2 s instead of kVideoOpenSeconds) with a message. The server lives 10 s
  // and makes a file once it listens (a fixed wait lost that race on a loaded machine).
  TempDir dir;
  const int port = free_port();
  const std::string url = "http://127.0.0.1:" + std::to_string(port) + "/silent";
  const std::string listening = dir.file("listening");
  const std::string server = "timeout 10 python3 -c \"import socket,time; s=socket.socket(); "
                             "s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('127.0.0.1'," +
                             std::to_string(port) + ")); s.listen(1); open('" + listening +
                             "', 'w').close(); c,_=s.accept(); time.sleep(9)\" &";
  REQUIRE(std::system(server.c_str()) == 0);
  for (int wait = 0; wait < 100 && !std::filesystem::exists(listening); ++wait)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  REQUIRE_MESSAGE(std::filesystem::exists(listening), "the silent server did not start within 5 s");
  const auto t0 = std::chrono::steady_clock::now();
  const std::string msg = error_message([&] {
    io::VideoReader r(url, io::YuvMatrix::automatic, io::YuvRange::automatic, {2.0, 2.0});
  });
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  CHECK_MESSAGE(msg.rfind(url + ": no answer within 2 s", 0) == 0, msg);
  CHECK(seconds < 5);
}
