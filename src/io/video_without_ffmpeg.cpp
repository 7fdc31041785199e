// VideoReader and VideoWriter in a build without the FFmpeg libraries (CMakeLists.txt
// compiles this file instead of video_reader.cpp, video_writer.cpp and ffmpeg_common.cpp):
// every use says what to install. Frames, folders and Y4M streams need no FFmpeg.
#include "src/io/video_reader.h"
#include "src/io/video_writer.h"
#include "tv3s/error.h"

namespace tv3s::io {

bool ffmpeg_available() { return false; }
std::string ffmpeg_summary() { return "not built"; }

struct VideoReader::Decoder {
  VideoInfo info;
};

VideoReader::VideoReader(const std::string& source, YuvMatrix, YuvRange, VideoTimeouts) : name_(source) {
  TV3S_CHECK(false, source, ": not a PNG, JPEG or Y4M file, and this tv3s was built without "
             "FFmpeg, which reads video files, cameras and streams (apt-get install ",
             kFfmpegPackages, ", then rebuild)");
}
VideoReader::~VideoReader() = default;
const VideoInfo& VideoReader::info() const { return decoder_->info; }
bool VideoReader::read(Image&, int64_t&) { return false; }

void check_video_output_name(const std::string& path) {
  TV3S_CHECK(false, path, ": writing video needs a tv3s built with FFmpeg (apt-get install ",
             kFfmpegPackages, ", then rebuild); --y4m-out writes a stream for the ffmpeg command");
}

struct VideoWriter::Encoder {};

VideoWriter::VideoWriter(const std::string& path, int, int, Rational, Rational, YuvMatrix) : path_(path) {
  check_video_output_name(path);
}
VideoWriter::~VideoWriter() = default;
void VideoWriter::write(const Image&, int64_t) {}
void VideoWriter::finish() {}

}  // namespace tv3s::io
