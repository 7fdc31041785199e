// YUV4MPEG2 (Y4M) video streams: what `ffmpeg -f yuv4mpegpipe` writes and reads.
//
// A stream is one text header line, "YUV4MPEG2 W<w> H<h> F<n>:<d> I<p|t|b|m> A<n>:<d>
// C<chroma> X<ext>...\n", then per frame "FRAME[ params]\n" and the planes Y, U, V (or Y
// alone for mono), 8 bits per sample, row after row. Chroma tags read: 420jpeg, 420paldv,
// 420mpeg2, 420 (all 4:2:0, planes ceil(w/2)×ceil(h/2)), 422, 444, mono. Colour: Y4M has
// no matrix field; ffmpeg marks the range with XCOLORRANGE=LIMITED|FULL. The matrix is
// BT.601 for frames below 720 lines and BT.709 from 720 lines up (what players assume for
// untagged video), unless the caller names one; the range is limited unless the stream
// says FULL or the caller overrides it.
//
// Conversion to RGB: chroma upsampled by sample replication for every 4:2:0 siting (the
// siting tags only move the chroma phase by a quarter sample); then the inverse of the
// matrix in floating point, rounded and clamped to 0..255.
#pragma once
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "src/io/image.h"

namespace tv3s::io {

enum class Chroma { c420, c422, c444, mono };
enum class YuvMatrix { automatic, bt601, bt709, bt2020 };
enum class YuvRange { automatic, limited, full };

// "601" | "709" | "2020" | "auto"; "limited" | "full" | "auto". Throw an Error otherwise.
YuvMatrix parse_yuv_matrix(const std::string& name);
YuvRange parse_yuv_range(const std::string& name);

struct Y4mHeader {
  int width = 0, height = 0;
  int fps_num = 25, fps_den = 1;     // F (25:1 when absent)
  Chroma chroma = Chroma::c420;      // C (420jpeg when absent, as the format says)
  std::string chroma_tag = "420jpeg";
  char interlace = 'p';              // I
  YuvRange range = YuvRange::limited;  // from XCOLORRANGE, else limited
};

class Y4mReader {
 public:
  // `path` "-" reads stdin. The header is read and checked here; an Error names `path`
  // ("<stdin>" for "-") and the problem: not a Y4M stream (e.g. an MP4 piped in by
  // mistake), an unsupported chroma format or bit depth (e.g. 420p10), a missing or
  // absurd size, a malformed header.
  explicit Y4mReader(const std::string& path, YuvMatrix matrix = YuvMatrix::automatic,
                     YuvRange range = YuvRange::automatic);
  ~Y4mReader();
  Y4mReader(const Y4mReader&) = delete;
  Y4mReader& operator=(const Y4mReader&) = delete;

  const Y4mHeader& header() const { return header_; }
  // The matrix and range used for conversion (after `automatic` was resolved).
  YuvMatrix matrix() const { return matrix_; }
  YuvRange range() const { return range_; }
  const std::string& name() const { return name_; }

  // The next frame as RGB; false at the end of the stream (end of file exactly at a frame
  // boundary). A truncated frame or a bad FRAME marker is an Error naming the frame number.
  bool read(Image& frame);
  int64_t frames_read() const { return frames_read_; }

 private:
  std::string name_;
  std::FILE* file_ = nullptr;
  bool owns_file_ = false;
  Y4mHeader header_;
  YuvMatrix matrix_;
  YuvRange range_;
  int64_t frames_read_ = 0;
  std::vector<uint8_t> planes_;  // one frame's Y, U, V
};

// Writes RGB frames as a Y4M stream to a FILE (stdout for a pipe into ffmpeg), 4:4:4 or
// 4:2:0 (chroma averaged over each 2×2 block), in the given matrix and range; the header
// carries XCOLORRANGE so ffmpeg reads the range back. Errors (a frame of another size, a
// write that fails, e.g. the reading end of the pipe closed) name `name`.
class Y4mWriter {
 public:
  Y4mWriter(std::FILE* file, std::string name, int width, int height, int fps_num, int fps_den,
            Chroma chroma = Chroma::c420, YuvMatrix matrix = YuvMatrix::bt601,
            YuvRange range = YuvRange::limited);
  void write(const Image& frame);

 private:
  std::FILE* file_;
  std::string name_;
  int width_, height_;
  Chroma chroma_;
  YuvMatrix matrix_;
  YuvRange range_;
  std::vector<uint8_t> planes_;
};

// True when the first bytes of `path` are "YUV4MPEG2 " (used to tell a .y4m file from an
// image without trusting the extension). False for unreadable files.
bool is_y4m_file(const std::string& path);

}  // namespace tv3s::io
