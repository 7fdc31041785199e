// Video out through FFmpeg's libraries: RGB frames encoded into a video file whose
// container is the file name's (.mp4, .mkv, .webm, .avi, .mov, ...).
//
// Codec: H.264 (libx264, CRF 20, preset "fast", yuv420p; any other H.264 encoder of the
// system's FFmpeg if libx264 is missing) when the container takes it, else the
// container's own default codec (VP9 for .webm); without any H.264 encoder, .mp4 and .mkv
// get MPEG-4 part 2, which every libavcodec has. codec() says which one was used.
//
// Colours: RGB → 4:2:0 YUV by libswscale in the given matrix and limited range, and the
// stream is tagged with both (and the matching primaries and transfer), so players
// convert back with the same matrix. H.264 4:2:0 needs even sizes: an odd width or
// height is padded by one column or row repeating the last one.
//
// Timestamps: each frame's presentation time in the writer's time base (the input's, so
// a variable frame rate survives); a timestamp that does not increase is moved to one
// tick after the previous one.
//
// Atomic: frames go to "<path>.partial" (created at construction, so an unwritable place
// fails before any work); finish() flushes the encoder, writes the trailer, syncs and
// renames to `path`. A writer destroyed before finish() removes the partial file.
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "src/io/image.h"
#include "src/io/video_reader.h"  // Rational, YuvMatrix, YuvRange

namespace tv3s::io {

// Throws an Error when `path` names no container FFmpeg can write (judged by its
// extension) or this build has no FFmpeg: for checking a command line up front.
void check_video_output_name(const std::string& path);

class VideoWriter {
 public:
  // `frame_rate`: the nominal rate written into the file; `time_base`: the unit of the
  // timestamps given to write(). matrix automatic: automatic_yuv_matrix of the size.
  VideoWriter(const std::string& path, int width, int height, Rational time_base, Rational frame_rate,
              YuvMatrix matrix = YuvMatrix::automatic);
  ~VideoWriter();
  VideoWriter(const VideoWriter&) = delete;
  VideoWriter& operator=(const VideoWriter&) = delete;

  void write(const Image& frame, int64_t pts);
  void finish();
  const std::string& codec() const { return codec_; }
  int64_t frames_written() const { return frames_written_; }

 private:
  struct Encoder;  // FFmpeg's contexts (video_writer.cpp)
  std::string path_, codec_;
  std::unique_ptr<Encoder> encoder_;
  int64_t frames_written_ = 0;
};

}  // namespace tv3s::io
