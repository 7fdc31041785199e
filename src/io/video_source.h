// Where the frames of a video come from, as `tv3s segment` takes them on its command line:
//
//   DIR              a folder of PNG/JPEG frames, natural order (frame2 before frame10)
//   DIR/ with origin/  a VSPW video folder: the frames are DIR/origin/*, the video is DIR
//   a.png b.jpg ...  image files; consecutive files on the command line form one video
//   x.y4m            a YUV4MPEG2 stream (recognised by its first bytes, not its name; a
//                    pipe or FIFO is always read as one)
//   -                a YUV4MPEG2 stream on stdin (`ffmpeg ... -f yuv4mpegpipe - | tv3s ...`)
//   street.mp4       any other file: a video read through FFmpeg (src/io/video_reader.h;
//                    .mp4, .mkv, .webm, .avi, ...: whatever the system's FFmpeg decodes)
//   /dev/video0      a camera, and URLs (rtsp://, http://, ...): through FFmpeg too
//
// A file is an image when its name ends in .png/.jpg/.jpeg or its first bytes are a PNG
// or JPEG signature. Frames of files and folders are checked up front (headers only): one
// size per video, every file a PNG or JPEG. A stream or video can only be checked as its
// frames arrive.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "src/io/image.h"
#include "src/io/video_reader.h"
#include "src/io/y4m.h"

namespace tv3s::io {

struct VideoInput {
  std::string name;                 // the video's name: folder name, stream file stem, "stdin"
  std::vector<std::string> frames;  // image files in order (empty for a stream)
  std::string stream;               // Y4M path or "-" (empty for image frames)
  std::string video;                // a video file, camera or URL for FFmpeg
};

// The command line's inputs as videos (rules above). Throws "<path>: <why>" for a missing
// input, an empty folder, a folder of frames of different sizes, two frames of one video
// with the same stem (their outputs would overwrite each other), or two videos with the
// same name when there are several.
std::vector<VideoInput> collect_videos(const std::vector<std::string>& inputs);

// Reads the frames of one video in order.
class FrameReader {
 public:
  explicit FrameReader(const VideoInput& video, YuvMatrix matrix = YuvMatrix::automatic,
                       YuvRange range = YuvRange::automatic);
  // The next frame and the stem its outputs are named by (the file's stem; 8-digit frame
  // numbers for a stream or video). False at the end of the video.
  bool next(Image& frame, std::string& stem);
  // The frames in the video: a folder's count, a video's declared count, else -1.
  int64_t count() const;
  // Frame rate: a stream's or video's, else 25/1 (image frames have none).
  Rational frame_rate() const;
  // The last frame's presentation time in time_base() units: a video's own timestamps,
  // else the frame's index at frame_rate().
  int64_t pts() const { return pts_; }
  Rational time_base() const;
  const Y4mReader* stream() const { return y4m_.get(); }
  const VideoReader* video() const { return video_reader_.get(); }

 private:
  const VideoInput& input_;
  size_t next_ = 0;
  int64_t pts_ = -1;
  std::unique_ptr<Y4mReader> y4m_;
  std::unique_ptr<VideoReader> video_reader_;
};

}  // namespace tv3s::io
