#include "src/io/video_source.h"

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <set>

#include "src/io/frame_list.h"

namespace tv3s::io {
namespace fs = std::filesystem;

namespace {

std::string folder_name(const std::string& dir) {
  const fs::path p = fs::path(dir).lexically_normal();
  std::string name = p.filename().string();
  if (name.empty() || name == ".") name = fs::absolute(p).parent_path().filename().string();
  return name.empty() ? "video" : name;
}

// Every frame a PNG/JPEG of the first frame's size, from the headers alone.
void check_frames(const VideoInput& video) {
  const ImageSize2D first = read_image_size(video.frames[0]);
  for (size_t i = 1; i < video.frames.size(); ++i) {
    const ImageSize2D size = read_image_size(video.frames[i]);
    TV3S_CHECK(size.width == first.width && size.height == first.height, video.frames[i],
               ": frame is ", size.width, "×", size.height, ", the video's first frame (",
               video.frames[0], ") ", first.width, "×", first.height,
               " (frames of one video must share a size)");
  }
  std::set<std::string> stems;
  for (const std::string& f : video.frames) {
    const std::string stem = fs::path(f).stem().string();
    TV3S_CHECK(stems.insert(stem).second, f, ": another frame of the video has the same name '",
               stem, "' (outputs would overwrite each other)");
  }
}

// An image by name (then a broken one gets the image decoder's own message) or by its
// first bytes.
bool is_image_file(const std::string& path) {
  if (has_image_extension(path)) return true;
  unsigned char head[8] = {};
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (!file) return false;
  const size_t n = std::fread(head, 1, sizeof head, file);
  std::fclose(file);
  const bool png = n == 8 && std::memcmp(head, "\x89PNG\r\n\x1a\n", 8) == 0;
  const bool jpeg = n >= 3 && head[0] == 0xFF && head[1] == 0xD8 && head[2] == 0xFF;
  return png || jpeg;
}

}  // namespace

std::vector<VideoInput> collect_videos(const std::vector<std::string>& inputs) {
  std::vector<VideoInput> videos;
  bool in_file_run = false;
  for (const std::string& input : inputs) {
    std::error_code ec;
    if (input == "-") {
      videos.push_back({"stdin", {}, "-", ""});
      in_file_run = false;
    } else if (is_video_url(input)) {
      const std::string stem = fs::path(input).stem().string();
      videos.push_back({stem.empty() ? "stream" : stem, {}, "", input});
      in_file_run = false;
    } else if (fs::is_directory(input, ec)) {
      // A VSPW video folder holds its frames in origin/ (and its masks in mask/).
      const fs::path origin = fs::path(input) / "origin";
      const std::string frames_dir = fs::is_directory(origin, ec) ? origin.string() : input;
      videos.push_back({folder_name(input), list_frames(frames_dir), "", ""});
      in_file_run = false;
    } else {
      TV3S_CHECK(fs::exists(input, ec), input, ": no such file or folder");
      // A pipe (/dev/stdin, a FIFO, <(ffmpeg ...)) cannot be peeked at without taking its
      // bytes: anything that is not a regular file is read as a stream.
      if (!fs::is_regular_file(input, ec) || is_y4m_file(input)) {
        videos.push_back({fs::path(input).stem().string(), {}, input, ""});
        in_file_run = false;
        continue;
      }
      if (!is_image_file(input)) {
        videos.push_back({fs::path(input).stem().string(), {}, "", input});
        in_file_run = false;
        continue;
      }
      if (!in_file_run) videos.push_back({"images" + std::to_string(videos.size()), {}, "", ""});
      videos.back().frames.push_back(input);
      in_file_run = true;
    }
  }
  int stdin_inputs = 0;
  std::set<std::string> names;
  for (const VideoInput& v : videos) {
    stdin_inputs += v.stream == "-";
    TV3S_CHECK(videos.size() == 1 || names.insert(v.name).second, v.name,
               ": two input videos have this name (their outputs would share a folder)");
  }
  TV3S_CHECK(stdin_inputs <= 1, "-: stdin can be read once; give '-' at most once");
  for (const VideoInput& v : videos)
    if (!v.frames.empty()) check_frames(v);
  return videos;
}

FrameReader::FrameReader(const VideoInput& input, YuvMatrix matrix, YuvRange range)
    : input_(input) {
  if (!input.stream.empty()) y4m_ = std::make_unique<Y4mReader>(input.stream, matrix, range);
  if (!input.video.empty()) video_reader_ = std::make_unique<VideoReader>(input.video, matrix, range);
}

namespace {
std::string frame_number(int64_t index) {
  char name[32];
  std::snprintf(name, sizeof name, "%08lld", (long long)index);
  return name;
}
}  // namespace

bool FrameReader::next(Image& frame, std::string& stem) {
  if (video_reader_) {
    if (!video_reader_->read(frame, pts_)) return false;
    stem = frame_number(video_reader_->frames_read() - 1);
    return true;
  }
  if (y4m_) {
    if (!y4m_->read(frame)) return false;
    stem = frame_number(y4m_->frames_read() - 1);
    pts_ = y4m_->frames_read() - 1;
    return true;
  }
  if (next_ >= input_.frames.size()) return false;
  const std::string& path = input_.frames[next_++];
  frame = read_image(path);
  stem = fs::path(path).stem().string();
  pts_ = int64_t(next_) - 1;
  return true;
}

int64_t FrameReader::count() const {
  if (video_reader_) return video_reader_->info().declared_frames;
  return y4m_ ? -1 : int64_t(input_.frames.size());
}

Rational FrameReader::frame_rate() const {
  if (video_reader_) return video_reader_->info().frame_rate;
  if (y4m_) return {y4m_->header().fps_num, y4m_->header().fps_den};
  return {25, 1};
}

Rational FrameReader::time_base() const {
  if (video_reader_) return video_reader_->info().time_base;
  const Rational rate = frame_rate();
  return {rate.den, rate.num};
}

}  // namespace tv3s::io
