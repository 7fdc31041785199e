// Y4M streams (src/io/y4m.h): the header parser, the frame reader with YUV → RGB, and the
// writer with RGB → YUV. Everything read from the stream is checked before it is used:
// the header line is bounded (1 KiB), numbers are parsed digit by digit with a bound (no
// strtol overflow), the frame size is computed in 64 bits from W·H ≤ 2^28 (limits.h), a
// regular file must hold the whole frame before its buffer is allocated, and a pipe's is
// filled in chunks that grow it only as bytes arrive; a short count says "truncated".

#include "src/io/y4m.h"

#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <climits>
#include <cstring>

#include "src/core/text.h"
#include "src/io/limits.h"
#include "tv3s/error.h"

namespace tv3s::io {
namespace {

constexpr char kMagic[] = "YUV4MPEG2 ";
constexpr size_t kMagicSize = sizeof(kMagic) - 1;
constexpr size_t kMaxLine = kMaxY4mLineBytes;  // header and FRAME lines
constexpr int64_t kMaxPixels = kMaxY4mPixels;

// ---- small parsers -------------------------------------------------------------------

// A decimal integer 0..INT_MAX, digits only (no sign, no spaces); false otherwise.
bool parse_int(const std::string& text, int& value) {
  if (text.empty() || text.size() > 10) return false;
  int64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  if (v > INT_MAX) return false;
  value = int(v);
  return true;
}

// "<n>:<d>" with both parts parse_int.
bool parse_ratio(const std::string& text, int& num, int& den) {
  const size_t colon = text.find(':');
  return colon != std::string::npos && parse_int(text.substr(0, colon), num) &&
         parse_int(text.substr(colon + 1), den);
}

// A chroma tag, lower case ("420jpeg", "444", "420p10"...) as C or XYSCSS spells it.
// `token` is the header token as written, for the message.
void set_chroma(const std::string& tag, const std::string& token, const std::string& name,
                Y4mHeader& header) {
  static const struct {
    const char* tag;
    Chroma chroma;
  } kSupported[] = {{"420jpeg", Chroma::c420},  {"420mpeg2", Chroma::c420},
                    {"420paldv", Chroma::c420}, {"420", Chroma::c420},
                    {"422", Chroma::c422},      {"444", Chroma::c444},
                    {"mono", Chroma::mono}};
  for (const auto& s : kSupported) {
    if (tag == s.tag) {
      header.chroma = s.chroma;
      header.chroma_tag = s.tag;
      return;
    }
  }
  // ffmpeg's deeper formats: 420p9..420p16, 422p*, 444p*, mono9..mono16. Samples are 16
  // bits little-endian; converting them is ffmpeg's job.
  int bits = 0;
  const bool deep =
      (starts_with(tag, "mono") && parse_int(tag.substr(4), bits)) ||
      ((starts_with(tag, "420p") || starts_with(tag, "422p") || starts_with(tag, "444p")) &&
       parse_int(tag.substr(4), bits));
  if (deep && bits > 8 && bits <= 16) {
    fail(str(name, ": Y4M chroma format ", token, " has ", bits,
             "-bit samples; tv3s reads 8-bit streams (ffmpeg: -pix_fmt yuv420p, yuv444p or "
             "gray)"));
  }
  fail(str(name, ": unsupported Y4M chroma format ", token,
           " (supported: 420jpeg, 420mpeg2, 420paldv, 420, 422, 444, mono)"));
}

// The header line after the magic, without its newline.
Y4mHeader parse_header(const std::string& line, const std::string& name) {
  Y4mHeader header;
  bool has_width = false, has_height = false, has_chroma = false;
  std::string yscss, yscss_token;  // ffmpeg's older XYSCSS=..., used when C is absent
  size_t pos = 0;
  while (pos < line.size()) {
    size_t end = line.find(' ', pos);
    if (end == std::string::npos) end = line.size();
    const std::string token = line.substr(pos, end - pos);
    pos = end + 1;
    if (token.empty()) continue;  // repeated spaces
    const std::string value = token.substr(1);
    switch (token[0]) {
      case 'W':
      case 'H': {
        int v = 0;
        TV3S_CHECK(parse_int(value, v) && v > 0, name, ": bad Y4M ",
                   token[0] == 'W' ? "width" : "height", " \"", token,
                   "\" (expected a positive integer)");
        (token[0] == 'W' ? header.width : header.height) = v;
        (token[0] == 'W' ? has_width : has_height) = true;
        break;
      }
      case 'F': {
        int num = 0, den = 0;
        const bool ok = parse_ratio(value, num, den) && (num > 0) == (den > 0);
        TV3S_CHECK(ok, name, ": bad Y4M frame rate \"", token,
                   "\" (expected F<num>:<den>, both positive, or F0:0 for unknown)");
        if (num > 0) header.fps_num = num, header.fps_den = den;
        break;
      }
      case 'A': {
        int num = 0, den = 0;
        TV3S_CHECK(parse_ratio(value, num, den), name, ": bad Y4M pixel aspect \"", token,
                   "\" (expected A<num>:<den>)");
        break;
      }
      case 'I':
        TV3S_CHECK(value.size() == 1 && std::strchr("ptbm?", value[0]), name,
                   ": bad Y4M interlace field \"", token, "\" (expected Ip, It, Ib, Im or I?)");
        header.interlace = value[0];
        break;
      case 'C':
        set_chroma(ascii_lower(value), token, name, header);
        has_chroma = true;
        break;
      case 'X':
        if (starts_with(value, "COLORRANGE=")) {
          const std::string range = value.substr(11);
          TV3S_CHECK(range == "FULL" || range == "LIMITED", name, ": bad Y4M colour range \"",
                     token, "\" (expected XCOLORRANGE=FULL or XCOLORRANGE=LIMITED)");
          header.range = range == "FULL" ? YuvRange::full : YuvRange::limited;
        } else if (starts_with(value, "YSCSS=")) {
          yscss = ascii_lower(value.substr(6));
          yscss_token = token;
        }
        break;         // other extensions are for other programs
      default: break;  // unknown fields are ignored, as ffmpeg and mjpegtools do
    }
  }
  TV3S_CHECK(has_width, name, ": Y4M header has no width (W)");
  TV3S_CHECK(has_height, name, ": Y4M header has no height (H)");
  if (!has_chroma && !yscss.empty()) set_chroma(yscss, yscss_token, name, header);

  const int64_t pixels = int64_t(header.width) * header.height;
  TV3S_CHECK(pixels <= kMaxPixels, name, ": Y4M frame size ", header.width, "x", header.height,
             " is too large (more than 2^28 pixels)");
  const int64_t chroma_w = (header.width + 1) / 2, chroma_h = (header.height + 1) / 2;
  switch (header.chroma) {
    case Chroma::c420: header.frame_bytes = pixels + 2 * chroma_w * chroma_h; break;
    case Chroma::c422: header.frame_bytes = pixels + 2 * chroma_w * header.height; break;
    case Chroma::c444: header.frame_bytes = 3 * pixels; break;
    case Chroma::mono: header.frame_bytes = pixels; break;
  }
  return header;
}

// What a file that is not Y4M probably is, from its first bytes, for the message.
std::string guess_format(const unsigned char* bytes, size_t size) {
  if (size >= 8 && std::memcmp(bytes + 4, "ftyp", 4) == 0)
    return "; it looks like an MP4/MOV file: convert it with ffmpeg -i INPUT -f yuv4mpegpipe -";
  if (size >= 4 && std::memcmp(bytes, "\x1A\x45\xDF\xA3", 4) == 0)
    return "; it looks like a Matroska/WebM file: convert it with ffmpeg -i INPUT -f "
           "yuv4mpegpipe -";
  return "";
}

// ---- colour --------------------------------------------------------------------------

void yuv_to_rgb(const uint8_t* planes, const Y4mHeader& h, YuvMatrix matrix, YuvRange range,
                uint8_t* rgb) {
  // Chroma subsampling as shifts: 4:2:0 halves both axes, 4:2:2 only x.
  YuvPlanes p;
  p.shift_x = h.chroma == Chroma::c420 || h.chroma == Chroma::c422 ? 1 : 0;
  p.shift_y = h.chroma == Chroma::c420 ? 1 : 0;
  const int64_t chroma_w = (int64_t(h.width) + p.shift_x) >> p.shift_x;
  const int64_t chroma_h = (int64_t(h.height) + p.shift_y) >> p.shift_y;
  p.y = planes;
  p.y_stride = h.width;
  if (h.chroma != Chroma::mono) {
    p.u = planes + int64_t(h.width) * h.height;
    p.v = p.u + chroma_w * chroma_h;
    p.chroma_stride = chroma_w;
  }
  io::yuv_to_rgb(p, h.width, h.height, matrix, range, rgb);
}

// Appends the rest of a line to `line`, without its '\n'; at most kMaxLine bytes.
enum class LineEnd { newline, end_of_file, too_long };
LineEnd read_line(std::FILE* file, std::string& line) {
  for (;;) {
    const int c = std::getc(file);
    if (c == EOF) return LineEnd::end_of_file;
    if (c == '\n') return LineEnd::newline;
    if (line.size() >= kMaxLine) return LineEnd::too_long;
    line.push_back(char(c));
  }
}

}  // namespace

// ---- names ---------------------------------------------------------------------------

// ---- reader --------------------------------------------------------------------------

Y4mReader::Y4mReader(const std::string& path, YuvMatrix matrix, YuvRange range)
    : name_(path == "-" ? "<stdin>" : path) {
  if (path == "-") {
    file_ = stdin;  // POSIX streams have no text mode: stdin reads bytes as they are
  } else {
    struct stat info {};
    if (stat(path.c_str(), &info) != 0) fail(str(path, ": cannot open: ", std::strerror(errno)));
    TV3S_CHECK(!S_ISDIR(info.st_mode), path, ": is a folder, not a file");
    file_ = std::fopen(path.c_str(), "rb");
    if (!file_) fail(str(path, ": cannot open: ", std::strerror(errno)));
    owns_file_ = true;
  }
  try {
    // The magic first, on its own: a binary file (an MP4) has no newline to stop at.
    unsigned char magic[kMagicSize];
    const size_t got = std::fread(magic, 1, kMagicSize, file_);
    TV3S_CHECK(!std::ferror(file_), name_, ": read error: ", std::strerror(errno));
    TV3S_CHECK(got > 0, name_, ": empty input, not a Y4M stream");
    if (std::memcmp(magic, kMagic, got) != 0) {
      fail(str(name_, ": not a Y4M stream (it does not start with \"YUV4MPEG2 \")",
               guess_format(magic, got)));
    }
    std::string line;
    const LineEnd end = got < kMagicSize ? LineEnd::end_of_file : read_line(file_, line);
    TV3S_CHECK(end != LineEnd::too_long, name_, ": Y4M header longer than ", kMaxLine,
               " bytes without a newline");
    TV3S_CHECK(end == LineEnd::newline, name_, ": Y4M header ends without a newline (truncated)");
    header_ = parse_header(line, name_);
    struct stat info {};
    regular_file_ = fstat(fileno(file_), &info) == 0 && S_ISREG(info.st_mode);
  } catch (...) {
    if (owns_file_) std::fclose(file_);
    throw;
  }
  matrix_ =
      matrix != YuvMatrix::automatic ? matrix : automatic_yuv_matrix(header_.width, header_.height);
  range_ = range != YuvRange::automatic           ? range
           : header_.range != YuvRange::automatic ? header_.range
           : header_.chroma == Chroma::mono       ? YuvRange::full
                                                  : YuvRange::limited;
}

Y4mReader::~Y4mReader() {
  if (owns_file_) std::fclose(file_);
}

bool Y4mReader::read(Image& frame) {
  const int64_t index = frames_read_;
  // "FRAME" then parameters (ignored) up to a newline. The first six bytes decide whether
  // this is a marker at all, before any search for a newline in binary data.
  char marker[6];
  const size_t got = std::fread(marker, 1, sizeof(marker), file_);
  TV3S_CHECK(!std::ferror(file_), name_, ": read error: ", std::strerror(errno));
  if (got == 0) return false;  // the end, exactly at a frame boundary
  const bool is_marker = std::memcmp(marker, "FRAME", std::min<size_t>(got, 5)) == 0 &&
                         (got < 6 || marker[5] == '\n' || marker[5] == ' ');
  TV3S_CHECK(is_marker, name_, ": frame ", index,
             ": bad frame marker (expected \"FRAME\"; the header's size or chroma format may "
             "not match the data)");
  TV3S_CHECK(got == 6, name_, ": frame ", index,
             " is truncated (the stream ends in its FRAME line)");
  if (marker[5] == ' ') {
    std::string params;
    const LineEnd end = read_line(file_, params);
    TV3S_CHECK(end != LineEnd::too_long, name_, ": frame ", index, ": FRAME line longer than ",
               kMaxLine, " bytes");
    TV3S_CHECK(end == LineEnd::newline, name_, ": frame ", index,
               " is truncated (the stream ends in its FRAME line)");
  }

  const size_t size = size_t(header_.frame_bytes);
  struct stat info {};
  const long at = regular_file_ && fstat(fileno(file_), &info) == 0 ? std::ftell(file_) : -1;
  if (at >= 0) {  // the size now: a file still being written may have grown
    const int64_t left = std::max<int64_t>(int64_t(info.st_size) - at, 0);
    TV3S_CHECK(left >= int64_t(size), name_, ": frame ", index, " is truncated (", left, " of ", size,
               " bytes)");
  }
  size_t read = 0;
  while (read < size) {
    const size_t chunk = std::min(size - read, kY4mPipeChunkBytes);
    if (planes_.size() < read + chunk) planes_.resize(read + chunk);
    const size_t got = std::fread(planes_.data() + read, 1, chunk, file_);
    read += got;
    if (got < chunk) break;
  }
  TV3S_CHECK(!std::ferror(file_), name_, ": read error: ", std::strerror(errno));
  TV3S_CHECK(read == size, name_, ": frame ", index, " is truncated (", read, " of ", size,
             " bytes)");

  frame.width = header_.width;
  frame.height = header_.height;
  frame.rgb.resize(size_t(header_.width) * size_t(header_.height) * 3);
  yuv_to_rgb(planes_.data(), header_, matrix_, range_, frame.rgb.data());
  ++frames_read_;
  return true;
}

// ---- writer --------------------------------------------------------------------------

Y4mWriter::Y4mWriter(std::FILE* file, std::string name, int width, int height, int fps_num,
                     int fps_den, Chroma chroma, YuvMatrix matrix, YuvRange range)
    : file_(file), name_(std::move(name)), width_(width), height_(height), chroma_(chroma) {
  TV3S_CHECK(chroma == Chroma::c420 || chroma == Chroma::c444, name_,
             ": the Y4M writer writes 4:2:0 or 4:4:4 only");
  TV3S_CHECK(width > 0 && height > 0 && int64_t(width) * height <= kMaxPixels, name_,
             ": cannot write a Y4M stream of ", width, "x", height, " pixels");
  TV3S_CHECK(fps_num > 0 && fps_den > 0, name_, ": bad frame rate ", fps_num, ":", fps_den);
  matrix_ = matrix != YuvMatrix::automatic ? matrix : automatic_yuv_matrix(width, height);
  range_ = range != YuvRange::automatic ? range : YuvRange::limited;
  // The tags ffmpeg's own muxer writes for these formats (XYSCSS for mjpegtools).
  const std::string header =
      str(kMagic, "W", width, " H", height, " F", fps_num, ":", fps_den, " Ip A1:1",
          chroma == Chroma::c420 ? " C420jpeg XYSCSS=420JPEG" : " C444 XYSCSS=444",
          range_ == YuvRange::full ? " XCOLORRANGE=FULL" : " XCOLORRANGE=LIMITED", "\n");
  const bool ok = std::fwrite(header.data(), 1, header.size(), file_) == header.size() &&
                  std::fflush(file_) == 0;
  TV3S_CHECK(ok, name_, ": cannot write the Y4M header: ", std::strerror(errno));
}

void Y4mWriter::write(const Image& frame) {
  const int64_t index = frames_written_;
  TV3S_CHECK(frame.width == width_ && frame.height == height_, name_, ": frame ", index, " is ",
             frame.width, "x", frame.height, ", the stream is ", width_, "x", height_);
  const int64_t width = width_, height = height_, pixels = width * height;
  TV3S_CHECK(int64_t(frame.rgb.size()) == pixels * 3, name_, ": frame ", index, " holds ",
             frame.rgb.size(), " bytes for ", width, "x", height, " RGB pixels");

  const LumaWeights k = luma_weights(matrix_);
  const float kg = 1.0f - k.kr - k.kb;
  const bool full = range_ == YuvRange::full;
  const float y_offset = full ? 0.0f : 16.0f, y_scale = full ? 1.0f : 219.0f / 255.0f;
  const float c_scale = full ? 1.0f : 224.0f / 255.0f;
  const float pb_scale = c_scale / (2.0f * (1.0f - k.kb));  // U − 128 = (B − Y')·pb_scale
  const float pr_scale = c_scale / (2.0f * (1.0f - k.kr));
  const uint8_t* rgb = frame.rgb.data();
  auto luma = [&](int64_t i) {
    return k.kr * rgb[3 * i] + kg * rgb[3 * i + 1] + k.kb * rgb[3 * i + 2];
  };

  const int shift = chroma_ == Chroma::c420 ? 1 : 0;
  const int64_t chroma_w = (width + shift) >> shift, chroma_h = (height + shift) >> shift;
  planes_.resize(size_t(pixels + 2 * chroma_w * chroma_h));
  uint8_t* y_plane = planes_.data();
  uint8_t* u_plane = y_plane + pixels;
  uint8_t* v_plane = u_plane + chroma_w * chroma_h;
#pragma omp parallel for schedule(static) if (pixels > 65536)
  for (int64_t y = 0; y < height; ++y)
    for (int64_t x = 0; x < width; ++x)
      y_plane[y * width + x] = to_u8(y_offset + y_scale * luma(y * width + x));
      // Chroma of each block (1×1, or 2×2 cut by the right and bottom edges at odd sizes):
      // the mean of the pixels' (B − Y') and (R − Y'), rounded once.
#pragma omp parallel for schedule(static) if (pixels > 65536)
  for (int64_t cy = 0; cy < chroma_h; ++cy) {
    for (int64_t cx = 0; cx < chroma_w; ++cx) {
      float b_minus_y = 0, r_minus_y = 0;
      int count = 0;
      for (int64_t y = cy << shift; y < std::min(height, (cy + 1) << shift); ++y) {
        for (int64_t x = cx << shift; x < std::min(width, (cx + 1) << shift); ++x) {
          const int64_t i = y * width + x;
          const float l = luma(i);
          b_minus_y += rgb[3 * i + 2] - l;
          r_minus_y += rgb[3 * i] - l;
          ++count;
        }
      }
      u_plane[cy * chroma_w + cx] = to_u8(128.0f + pb_scale * b_minus_y / float(count));
      v_plane[cy * chroma_w + cx] = to_u8(128.0f + pr_scale * r_minus_y / float(count));
    }
  }

  const bool ok = std::fwrite("FRAME\n", 1, 6, file_) == 6 &&
                  std::fwrite(planes_.data(), 1, planes_.size(), file_) == planes_.size() &&
                  std::fflush(file_) == 0;
  TV3S_CHECK(ok, name_, ": cannot write frame ", index, ": ", std::strerror(errno));
  ++frames_written_;
}

// ---- sniffing ------------------------------------------------------------------------

bool is_y4m_file(const std::string& path) {
  struct stat info {};
  // Only regular files: reading the first bytes of a pipe would take them from the reader.
  if (stat(path.c_str(), &info) != 0 || !S_ISREG(info.st_mode)) return false;
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (!file) return false;
  char magic[kMagicSize];
  const bool y4m = std::fread(magic, 1, kMagicSize, file) == kMagicSize &&
                   std::memcmp(magic, kMagic, kMagicSize) == 0;
  std::fclose(file);
  return y4m;
}

}  // namespace tv3s::io
