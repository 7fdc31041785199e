// YUV4MPEG2 (Y4M) video streams: what `ffmpeg -f yuv4mpegpipe` writes and reads.
//
// A stream is one text header line, "YUV4MPEG2 W<w> H<h> F<n>:<d> I<p|t|b|m|?> A<n>:<d>
// C<chroma> X<ext>...\n", then per frame "FRAME[ params]\n" and the planes Y, U, V (or Y
// alone for mono), 8 bits per sample, row after row, no padding. Chroma tags read:
// 420jpeg, 420mpeg2, 420paldv, 420 (all 4:2:0, planes ceil(w/2)×ceil(h/2)), 422
// (ceil(w/2)×h), 444, mono; without a C tag, ffmpeg's older XYSCSS=... tag, else 420jpeg
// (the format's default). Deeper samples (420p10, mono16, ...), 411 and 444alpha are
// refused with a message that says how to convert. Interlaced streams are read as whole
// frames (the fields stay woven); frame parameters after "FRAME" are skipped.
//
// Colour: Y4M has no matrix field, and ffmpeg writes only XCOLORRANGE=LIMITED|FULL (FULL
// for yuvj* and gray). Unless the caller names one, the matrix is guessed from the frame
// size as video players do for untagged video (automatic_yuv_matrix below), and the range
// is the stream's XCOLORRANGE, else limited — except for mono, which ffmpeg treats as
// full range whatever the tag says and always marks FULL when it writes it, so untagged
// mono is read as full range too.
//
// Conversion to RGB: chroma upsampled by sample replication (pixel x, y takes chroma
// sample x/2, y/2): ffmpeg's own default yuv420p/yuv422p → rgb24 conversion replicates
// too (its bilinear/bicubic paths are only taken with -sws_flags accurate_rnd or
// full_chroma_int), so the siting tags (420jpeg/mpeg2/paldv: a quarter-sample phase) make
// no difference. Then the inverse of the matrix in float, rounded and clamped to 0..255.
// Measured against ffmpeg's decode (tests/io/test_y4m.cpp): 4:4:4 within 1 level, 4:2:0
// and 4:2:2 within 3 (ffmpeg's fixed-point fast path; this code is the exact formula).
#pragma once
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "src/io/image.h"
#include "src/io/yuv.h"

namespace tv3s::io {

enum class Chroma { c420, c422, c444, mono };

struct Y4mHeader {
  int width = 0, height = 0;
  int fps_num = 25, fps_den = 1;  // F (25:1 when absent or F0:0, "unknown")
  Chroma chroma = Chroma::c420;   // C (420jpeg when absent, as the format says)
  std::string chroma_tag = "420jpeg";
  char interlace = 'p';                  // I: p, t, b, m or ?
  YuvRange range = YuvRange::automatic;  // XCOLORRANGE; automatic when the stream says nothing
  int64_t frame_bytes = 0;               // Y, U, V planes of one frame (without the FRAME line)
};

class Y4mReader {
 public:
  // `path` "-" reads stdin (named "<stdin>" in messages; everything but the open is the
  // same code). Named pipes are fine (the stream is read front to back, never seeked).
  // The header is read and checked here; an Error names the path and the problem: not a
  // Y4M stream (e.g. an MP4 piped in by mistake), an unsupported chroma format or bit
  // depth (e.g. 420p10), a missing or absurd size (W·H ≤ 2^28), a malformed field, a
  // header line over 1 KiB.
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
  // boundary). A truncated frame or a bad FRAME marker is an Error naming the frame,
  // counted from 0 ("<name>: frame 3 is truncated (...)" is the fourth frame). The frame
  // buffer never runs ahead of the data: a regular file must hold the whole frame before
  // it is allocated, and from a pipe it grows with the bytes that arrive.
  bool read(Image& frame);
  int64_t frames_read() const { return frames_read_; }

 private:
  std::string name_;
  std::FILE* file_ = nullptr;
  bool owns_file_ = false;
  bool regular_file_ = false;  // has a size that a frame must fit before it is allocated
  Y4mHeader header_;
  YuvMatrix matrix_;
  YuvRange range_;
  int64_t frames_read_ = 0;
  std::vector<uint8_t> planes_;  // one frame's Y, U, V
};

// Writes RGB frames as a Y4M stream to a FILE (stdout for a pipe into ffmpeg), 4:4:4 or
// 4:2:0 (chroma averaged over each 2×2 block, so the chroma sits at the block centre:
// C420jpeg), in the given matrix and range (automatic: automatic_yuv_matrix, which is
// what a player assumes for the untagged video ffmpeg makes of it; limited). The header
// is written by the constructor and carries XCOLORRANGE, so ffmpeg reads the range back.
// Each frame is flushed, so a pipe sees it at once. Errors (another chroma format, a
// frame of another size, a write that fails — e.g. the reading end of the pipe closed:
// the caller must ignore SIGPIPE to get that message instead of being killed) name
// `name`. The FILE is not closed.
class Y4mWriter {
 public:
  Y4mWriter(std::FILE* file, std::string name, int width, int height, int fps_num, int fps_den,
            Chroma chroma = Chroma::c420, YuvMatrix matrix = YuvMatrix::automatic,
            YuvRange range = YuvRange::limited);
  void write(const Image& frame);
  int64_t frames_written() const { return frames_written_; }
  YuvMatrix matrix() const { return matrix_; }

 private:
  std::FILE* file_;
  std::string name_;
  int width_, height_;
  Chroma chroma_;
  YuvMatrix matrix_;
  YuvRange range_;
  int64_t frames_written_ = 0;
  std::vector<uint8_t> planes_;
};

// True when the first bytes of `path` are "YUV4MPEG2 " (used to tell a .y4m file from an
// image without trusting the extension). False for unreadable files, folders, and anything
// that is not a regular file: the first bytes of a pipe (a named pipe, /dev/stdin, bash's
// <(ffmpeg ...)) cannot be peeked without taking them from the reader, so a caller that
// accepts pipes opens them with Y4mReader directly (an image cannot come from a pipe:
// read_image refuses non-regular files).
bool is_y4m_file(const std::string& path);

}  // namespace tv3s::io
