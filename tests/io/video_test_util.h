// Test videos made by the `ffmpeg` command, and what ffmpeg itself decodes from them:
// the references the video reader and writer are checked against.
#pragma once
#include <string>
#include <vector>

#include "src/io/video_reader.h"
#include "tests/test_util.h"

namespace tv3s::test {

inline std::string shell_quoted(const std::string& s) { return "'" + s + "'"; }

// `ffmpeg -y -v error <args>`; REQUIREs success, returns the output.
inline std::string ffmpeg(const std::string& args) {
  const CommandResult r = run_command("ffmpeg -nostdin -y -v error " + args);
  REQUIRE_MESSAGE(r.exit_code == 0, "ffmpeg ", args, ": ", r.output);
  return r.output;
}

// `frames` frames of ffmpeg's moving colour test pattern (testsrc2), width × height at
// `rate`, encoded with `encode` (codec, pixel format, tags) into `path`.
inline void make_test_video(const std::string& path, int width, int height, int frames,
                            const std::string& encode, const std::string& rate = "25") {
  ffmpeg("-f lavfi -i testsrc2=size=" + std::to_string(width) + "x" + std::to_string(height) +
         ":rate=" + rate + " -frames:v " + std::to_string(frames) + " " + encode + " " + shell_quoted(path));
}

// Every frame as ffmpeg converts it to RGB (`-pix_fmt rgb24`, its default scaler), each
// width × height × 3 bytes; `filter` (e.g. "scale=in_color_matrix=bt709") goes before.
inline std::vector<std::string> ffmpeg_rgb_frames(const std::string& path, int width, int height,
                                                  const std::string& filter = "") {
  const CommandResult r = run_command("ffmpeg -nostdin -v error -i " + shell_quoted(path) +
                                          (filter.empty() ? "" : " -vf " + filter) +
                                          " -f rawvideo -pix_fmt rgb24 -",
                                      /*merge_stderr=*/false);
  REQUIRE_MESSAGE(r.exit_code == 0, "ffmpeg could not decode ", path);
  const size_t frame_bytes = size_t(width) * height * 3;
  REQUIRE(r.output.size() % frame_bytes == 0);
  std::vector<std::string> frames;
  for (size_t at = 0; at < r.output.size(); at += frame_bytes) frames.push_back(r.output.substr(at, frame_bytes));
  return frames;
}

// ffprobe's best-effort timestamps of the video stream's frames, in its time base.
inline std::vector<int64_t> ffprobe_timestamps(const std::string& path) {
  const CommandResult r = run_command("ffprobe -v error -select_streams v:0 -show_entries "
                                      "frame=best_effort_timestamp -of csv=p=0 " + shell_quoted(path),
                                      /*merge_stderr=*/false);
  REQUIRE(r.exit_code == 0);
  std::vector<int64_t> pts;
  size_t at = 0;
  while (at < r.output.size()) {
    const size_t end = r.output.find('\n', at);
    const std::string line = r.output.substr(at, end == std::string::npos ? std::string::npos : end - at);
    if (!line.empty()) pts.push_back(std::stoll(line));
    if (end == std::string::npos) break;
    at = end + 1;
  }
  return pts;
}

// True when the system's FFmpeg has this encoder (libx265, libaom-av1, ...).
inline bool has_encoder(const std::string& name) {
  return run_command("ffmpeg -hide_banner -encoders 2>/dev/null | grep -qw " + name).exit_code == 0;
}

// Every frame of `path` through tv3s's reader, with timestamps.
struct DecodedVideo {
  std::vector<io::Image> frames;
  std::vector<int64_t> pts;
  io::VideoInfo info;
};
inline DecodedVideo read_video(const std::string& path, io::YuvMatrix matrix = io::YuvMatrix::automatic,
                               io::YuvRange range = io::YuvRange::automatic) {
  io::VideoReader reader(path, matrix, range);
  DecodedVideo v;
  io::Image frame;
  int64_t pts = 0;
  while (reader.read(frame, pts)) v.frames.push_back(frame), v.pts.push_back(pts);
  v.info = reader.info();
  return v;
}

}  // namespace tv3s::test
