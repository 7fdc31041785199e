// Where the frames of a video come from, as `tv3s segment` takes them on its command line:
//
//   DIR              a folder of PNG/JPEG frames, natural order (frame2 before frame10)
//   DIR/ with origin/  a VSPW video folder: the frames are DIR/origin/*, the video is DIR
//   a.png b.jpg ...  image files; consecutive files on the command line form one video
//   x.y4m            a YUV4MPEG2 stream (recognised by its first bytes, not its name; a
//                    pipe or FIFO is always read as one)
//   -                a YUV4MPEG2 stream on stdin (`ffmpeg ... -f yuv4mpegpipe - | tv3s ...`)
//
// Frames of files and folders are checked up front (headers only): one size per video,
// every file a PNG or JPEG. A stream can only be checked as it arrives.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "src/io/image.h"
#include "src/io/y4m.h"

namespace tv3s::io {

struct VideoInput {
  std::string name;                 // the video's name: folder name, stream file stem, "stdin"
  std::vector<std::string> frames;  // image files in order (empty for a stream)
  std::string stream;               // Y4M path or "-" (empty for image frames)
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
  // numbers for a stream). False at the end of the video.
  bool next(Image& frame, std::string& stem);
  int64_t count() const;  // frames in the video, or -1 for a stream (unknown)
  // Frame rate for an output stream: the input stream's, else 25/1.
  int fps_num() const;
  int fps_den() const;
  const Y4mReader* stream() const { return y4m_.get(); }

 private:
  const VideoInput& video_;
  size_t next_ = 0;
  std::unique_ptr<Y4mReader> y4m_;
};

}  // namespace tv3s::io
