// Video in through FFmpeg's libraries (libavformat, libavcodec, libswscale; libavdevice
// for cameras): whatever the system's FFmpeg opens.
//
//   street.mp4, .mkv, .webm, .avi, .ts, ...   files, any codec FFmpeg decodes
//   /dev/video0                               a V4L2 camera (needs libavdevice)
//   rtsp://..., http://..., udp://..., ...    network streams
//
// Every frame comes out as 8-bit RGB at the stream's size, with its presentation
// timestamp. The conversion is libswscale's, set up as the `ffmpeg` command sets it up
// (`ffmpeg -i IN -pix_fmt rgb24`: bicubic, the frame's colour matrix and range), so a
// frame matches ffmpeg's own RGB (tests/io/test_video_reader.cpp states the measured
// difference per pixel format).
//
// Colour: the matrix and range come from the stream's tags (per frame, as decoders
// report them). Where the stream says nothing, the matrix is guessed from the frame
// size as players guess it (automatic_yuv_matrix, src/io/y4m.h) and the range is
// limited (full for the old yuvj* formats, whose name says so). A matrix or range the
// caller names wins over the tags (for mistagged video).
//
// Errors are tv3s::Error, one line naming the source: cannot open, no video stream,
// a codec FFmpeg cannot decode, a frame beyond the image limits (src/io/limits.h: each
// side ≤ 16384, ≤ 2^26 pixels, checked before the decoder allocates: its max_pixels), a
// stream that changes size, corrupt data (the decoder's complaint quoted), a file that
// ends before the frames its container declares, a network stream silent for longer than
// the stall limit (VideoTimeouts). FFmpeg's own log is silent unless TV3S_FFMPEG_LOG names a level
// (error, warning, info, debug): its last error line is quoted in the message instead.
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "src/io/image.h"
#include "src/io/limits.h"
#include "src/io/y4m.h"  // YuvMatrix, YuvRange, automatic_yuv_matrix

namespace tv3s::io {

struct Rational {
  int num = 0, den = 1;
};

struct VideoInfo {
  int width = 0, height = 0;
  std::string container;     // FFmpeg's demuxer name, e.g. "mov,mp4,m4a,3gp,3g2,mj2"
  std::string codec;         // e.g. "h264"
  std::string pixel_format;  // the decoder's, e.g. "yuv420p", "yuv420p10le"
  Rational time_base;        // the unit of the timestamps read() returns
  Rational frame_rate;       // the stream's average rate, else its nominal one, else 25/1
  int64_t declared_frames = -1;  // the frame count the container states, -1 if none
  bool live = false;         // a camera or network stream (no end to wait for)
  // The colours of the first frame, after the rules above; *_tagged: said by the stream.
  YuvMatrix matrix = YuvMatrix::automatic;
  YuvRange range = YuvRange::automatic;
  bool matrix_tagged = false, range_tagged = false;
};

// True when this build has the FFmpeg libraries (TV3S_WITH_FFMPEG); without them every
// constructor below throws an Error that names the packages to install.
bool ffmpeg_available();
// "libavformat 59.27.100, libavcodec 59.37.100, cameras yes, H.264 encoder libx264" (what
// `tv3s info` shows), or "not built".
std::string ffmpeg_summary();
// What to install when ffmpeg_available() is false (Debian's names), for messages.
inline constexpr const char* kFfmpegPackages =
    "libavformat-dev libavcodec-dev libswscale-dev libavutil-dev (and libavdevice-dev for cameras)";
// True for what only FFmpeg opens: a URL (scheme://) or a V4L2 device (/dev/video*).
inline bool is_video_url(const std::string& source) {
  return source.find("://") != std::string::npos || source.rfind("/dev/video", 0) == 0;
}

// How long the reader waits (src/io/limits.h has the defaults and why).
struct VideoTimeouts {
  double open_seconds = kVideoOpenSeconds;    // to open and find the first frames
  double stall_seconds = kVideoStallSeconds;  // for each packet after that
};

class VideoReader {
 public:
  // Opens the source and reads its header (and for a file, the first packets FFmpeg needs
  // to know the stream): a bad source fails here.
  explicit VideoReader(const std::string& source, YuvMatrix matrix = YuvMatrix::automatic,
                       YuvRange range = YuvRange::automatic, VideoTimeouts timeouts = {});
  ~VideoReader();
  VideoReader(const VideoReader&) = delete;
  VideoReader& operator=(const VideoReader&) = delete;

  const VideoInfo& info() const;
  const std::string& name() const { return name_; }

  // The next frame in presentation order and its timestamp in info().time_base (a frame
  // without one gets the previous one's plus one frame's duration). False at the end.
  bool read(Image& frame, int64_t& pts);
  int64_t frames_read() const { return frames_read_; }

 private:
  struct Decoder;  // FFmpeg's contexts (video_reader.cpp)
  void stop_input(const std::string& why);
  std::string name_;
  std::unique_ptr<Decoder> decoder_;
  int64_t frames_read_ = 0;
};

}  // namespace tv3s::io
