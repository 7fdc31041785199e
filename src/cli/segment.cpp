// `tv3s segment MODEL INPUT...`: label maps, colour overlays, logits and overlay videos
// for the frames of videos.
//
// Inputs (src/io/video_source.h): video files, cameras and network streams (through
// FFmpeg), frame folders, VSPW video folders (origin/), image files, Y4M streams from a
// file or stdin. Every frame goes through a Segmenter (include/tv3s/segmenter.h) in its
// mode — stream (default for TV3S), clip (the official 4-frame clips) or frame (per-frame
// SegFormer) — at its own size or, with --resize, at the official test size with the
// outputs resized back. Outputs per frame `<stem>`:
//   -o DIR            <stem>.png, an indexed PNG: pixel value = class id, palette colours
//                     (the official result_submission format)
//   --overlay DIR     <stem>.png, the frame with the class colours blended in (--alpha)
//   --save-logits DIR <stem>.npy, float32 [K, H, W] at the frame size
//   --video-out FILE  the overlays (or the label colours) as one video, encoded by FFmpeg
//                     with the input's frame rate and timestamps
//   --y4m-out FILE|-  the same as a Y4M stream (stdout for `| ffmpeg -i - out.mp4`)
// With several videos each gets a subfolder named after it. Files are written atomically;
// the two video outputs go to <name>.partial and are renamed at the end. When the input
// breaks off (a corrupt or truncated video), everything decoded before is written — the
// per-frame files, and the videos finished with those frames — and then the error is
// reported (exit 1). Progress goes to stderr on a terminal; --json writes a summary.
#include <omp.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "src/cli/args.h"
#include "src/cli/commands.h"
#include "src/cli/progress.h"
#include "src/data/class_tables.h"
#include "src/io/atomic_file.h"
#include "src/io/overlay.h"
#include "src/io/video_source.h"
#include "src/io/video_writer.h"
#include "src/pipeline/segmenter.h"
#include "tv3s/tv3s.hpp"

namespace tv3s::cli {
namespace {

const char* kUsage =
    "usage: tv3s segment MODEL.safetensors INPUT... [options]\n"
    "  INPUT is one of:\n"
    "    street.mp4          a video file: any container and codec the system's FFmpeg\n"
    "                        decodes (.mp4 .mkv .webm .avi .mov .ts ...; H.264, H.265, VP9, AV1)\n"
    "    /dev/video0         a V4L2 camera (stop with Ctrl-C: the outputs so far are kept)\n"
    "    rtsp://cam/stream   a network stream FFmpeg opens (rtsp://, http://, udp://, ...)\n"
    "    frames/             a folder of PNG/JPEG frames (natural order: 2 before 10)\n"
    "    VSPW/data/127_x/    a VSPW video folder (frames in origin/)\n"
    "    a.png b.jpg ...     image files (consecutive files on the line = one video)\n"
    "    clip.y4m            a YUV4MPEG2 stream; - reads one from stdin:\n"
    "                          ffmpeg -i in.mp4 -f yuv4mpegpipe - | tv3s segment MODEL - -o out\n"
    "outputs (at least one):\n"
    "  -o, --out DIR       label maps <frame>.png (indexed PNG: value = class id); default:\n"
    "                      the --save-logits folder\n"
    "  --overlay DIR       colour overlays <frame>.png\n"
    "  --save-logits DIR   float32 logits <frame>.npy [K, H, W]\n"
    "  --video-out FILE    the overlays as a video (.mp4, .mkv, .webm, ...: H.264 where the\n"
    "                      container takes it) at the input's frame rate and timestamps:\n"
    "                        tv3s segment MODEL street.mp4 --video-out street_seg.mp4\n"
    "  --video-shows S     overlay (default) or labels (the class colours alone), for\n"
    "                      --video-out and --y4m-out\n"
    "  --y4m-out FILE|-    the same as a Y4M stream (- = stdout):\n"
    "                        ... --y4m-out - | ffmpeg -f yuv4mpegpipe -i - overlay.mp4\n"
    "options:\n"
    "  --mode M            stream (TV3S default: state carried over the video), clip (the\n"
    "                      official 4-frame clips) or frame (per-frame SegFormer)\n"
    "  --resize R          none (default), vspw or cityscapes: the network sees the frame\n"
    "                      resized as the official test pipeline does; outputs keep the\n"
    "                      frame's size\n"
    "  --alpha A           overlay opacity 0..1 (default 0.5)\n"
    "  --palette P         vspw, cityscapes or a classes.json (default: the model's classes)\n"
    "  --yuv-matrix M      auto (the video's tag; untagged: BT.709 for HD sizes, else BT.601,\n"
    "                      as players guess), 601, 709 or 2020: overrides the tag\n"
    "  --yuv-range R       auto (the video's tag, Y4M's XCOLORRANGE; else limited), limited\n"
    "                      or full\n"
    "  --json FILE|-       summary as JSON: frames, FPS, latency, peak memory\n"
    "  --device D          cpu (default) or cuda\n"
    "  --precision P       fp32 (default), fp16 or bf16: the model in 16 bits (f32 kept in\n"
    "                      norms, softmax, the scan's state); on the CPU emulated: the\n"
    "                      accuracy of a GPU's 16-bit run, not its speed\n"
    "  --threads N         OpenMP threads for the CPU\n"
    "  --quiet             no progress bar, no summary line\n"
    "FFmpeg's own messages stay silent (quoted in errors); TV3S_FFMPEG_LOG=warning shows them.\n";

namespace fs = std::filesystem;

struct Options {
  std::vector<std::string> inputs;
  std::string model, mode, out_dir, overlay_dir, logits_dir, y4m_out, video_out, json, palette;
  std::string resize = "none", yuv_matrix = "auto", yuv_range = "auto", video_shows = "overlay";
  Device device = Device::CPU;
  DType precision = DType::f32;
  float alpha = 0.5f;
  bool quiet = false;
};

Options parse(int argc, char** argv) {
  Args args(argc, argv);
  Options o;
  std::vector<std::string> positional;
  while (!args.done()) {
    const std::string a = args.next();
    if (a == "--mode") o.mode = args.value(a);
    else if (a == "-o" || a == "--out") o.out_dir = args.value(a);
    else if (a == "--overlay") o.overlay_dir = args.value(a);
    else if (a == "--save-logits") o.logits_dir = args.value(a);
    else if (a == "--y4m-out") o.y4m_out = args.value(a);
    else if (a == "--video-out") o.video_out = args.value(a);
    else if (a == "--video-shows") o.video_shows = args.value(a);
    else if (a == "--json") o.json = args.value(a);
    else if (a == "--palette") o.palette = args.value(a);
    else if (a == "--resize") o.resize = args.value(a);
    else if (a == "--yuv-matrix") o.yuv_matrix = args.value(a);
    else if (a == "--yuv-range") o.yuv_range = args.value(a);
    else if (a == "--device") o.device = args.device(a);
    else if (a == "--precision") o.precision = args.precision(a);
    else if (a == "--threads") omp_set_num_threads(args.threads(a));
    else if (a == "--quiet") o.quiet = true;
    else if (a == "--alpha") {
      const std::string v = args.value(a);
      char* end = nullptr;
      o.alpha = std::strtof(v.c_str(), &end);
      if (v.empty() || *end || !(o.alpha >= 0.0f && o.alpha <= 1.0f))
        throw UsageError{"--alpha '" + v + "' is not a number in 0..1"};
    } else if (a != "-" && a.size() > 1 && a[0] == '-') {
      throw UsageError{"unknown option '" + a + "'"};
    } else {
      positional.push_back(a);
    }
  }
  if (positional.size() < 2) throw UsageError{"needs a model file and at least one input"};
  o.model = positional[0];
  o.inputs.assign(positional.begin() + 1, positional.end());
  if (!o.mode.empty() && o.mode != "frame" && o.mode != "stream" && o.mode != "clip")
    throw UsageError{"unknown --mode '" + o.mode + "' (stream, clip or frame)"};
  if (o.resize != "none" && o.resize != "vspw" && o.resize != "cityscapes")
    throw UsageError{"unknown --resize '" + o.resize + "' (none, vspw or cityscapes)"};
  if (o.video_shows != "overlay" && o.video_shows != "labels")
    throw UsageError{"unknown --video-shows '" + o.video_shows + "' (overlay or labels)"};
  try {
    io::parse_yuv_matrix(o.yuv_matrix), io::parse_yuv_range(o.yuv_range);
    if (!o.video_out.empty()) io::check_video_output_name(o.video_out);
  } catch (const Error& e) {
    throw UsageError{e.what()};
  }
  if (o.out_dir.empty()) o.out_dir = o.logits_dir;  // label maps beside the logits
  if (o.out_dir.empty() && o.overlay_dir.empty() && o.y4m_out.empty() && o.video_out.empty())
    throw UsageError{"nothing to write: give -o DIR, --overlay DIR, --save-logits DIR, --video-out "
                     "FILE and/or --y4m-out"};
  if (o.y4m_out == "-" && o.json == "-")
    throw UsageError{"--y4m-out - and --json - would both write to stdout"};
  return o;
}

// One output folder per kind (and per video when there are several), made before the
// first frame so an unwritable place fails before any work.
std::string output_dir(const std::string& root, const io::VideoInput& video, size_t videos) {
  if (root.empty()) return "";
  const std::string dir = videos == 1 ? root : (fs::path(root) / video.name).string();
  io::make_output_folder(dir);
  return dir;
}

// The overlay stream, opened at the first frame (the stream's size is that frame's). A
// file is written as <path>.partial and renamed when the run succeeds; stdout is a pipe.
class Y4mOutput {
 public:
  explicit Y4mOutput(std::string path) : path_(std::move(path)) {}
  ~Y4mOutput() {
    if (file_ && file_ != stdout) {
      std::fclose(file_);
      std::remove(partial().c_str());  // not finished: a failed run leaves nothing
    }
  }

  void write(const io::Image& frame, const io::FrameReader& reader, io::YuvMatrix matrix,
             io::YuvRange range) {
    if (!writer_) {
      file_ = path_ == "-" ? stdout : std::fopen(partial().c_str(), "wb");
      TV3S_CHECK(file_ != nullptr, path_, ": cannot create the output stream (",
                 std::strerror(errno), ")");
      // The input stream's colours when there is one, else the usual choice by height.
      if (const io::Y4mReader* in = reader.stream()) matrix = in->matrix(), range = in->range();
      if (matrix == io::YuvMatrix::automatic) matrix = io::automatic_yuv_matrix(frame.width, frame.height);
      if (range == io::YuvRange::automatic) range = io::YuvRange::limited;
      const io::Rational rate = reader.frame_rate();
      writer_ = std::make_unique<io::Y4mWriter>(file_, path_ == "-" ? "<stdout>" : path_, frame.width,
                                                frame.height, rate.num, rate.den, io::Chroma::c420,
                                                matrix, range);
      width_ = frame.width, height_ = frame.height;
    }
    TV3S_CHECK(frame.width == width_ && frame.height == height_, path_, ": a Y4M stream has one "
               "frame size; this video is ", frame.width, "×", frame.height, ", the stream ", width_,
               "×", height_);
    writer_->write(frame);
  }

  void finish() {
    if (!file_) return;
    if (file_ == stdout) {
      TV3S_CHECK(std::fflush(stdout) == 0, "<stdout>: write failed (", std::strerror(errno), ")");
      return;
    }
    const bool ok = std::fflush(file_) == 0 && fsync(fileno(file_)) == 0;
    std::fclose(file_);
    file_ = nullptr;
    TV3S_CHECK(ok && std::rename(partial().c_str(), path_.c_str()) == 0, path_,
               ": cannot finish the output stream (", std::strerror(errno), ")");
  }

 private:
  std::string partial() const { return path_ + ".partial"; }
  std::string path_;
  std::FILE* file_ = nullptr;
  std::unique_ptr<io::Y4mWriter> writer_;
  int width_ = 0, height_ = 0;
};

// The overlay video, opened at the first frame (its size is that frame's), in the input's
// time base and colour matrix.
class VideoOutput {
 public:
  explicit VideoOutput(std::string path) : path_(std::move(path)) {}

  void write(const io::Image& frame, const io::FrameReader& reader, io::YuvMatrix matrix) {
    if (!writer_) {
      if (const io::VideoReader* in = reader.video()) matrix = in->info().matrix;
      else if (const io::Y4mReader* in = reader.stream()) matrix = in->matrix();
      writer_ = std::make_unique<io::VideoWriter>(path_, frame.width, frame.height, reader.time_base(),
                                                  reader.frame_rate(), matrix);
    }
    writer_->write(frame, reader.pts());
  }
  void finish() {
    if (writer_) writer_->finish();
  }
  std::string codec() const { return writer_ ? writer_->codec() : ""; }

 private:
  std::string path_;
  std::unique_ptr<io::VideoWriter> writer_;
};

}  // namespace

int run_segment(int argc, char** argv) {
  Options o;
  try {
    for (int i = 0; i < argc; ++i) {
      if (std::string(argv[i]) == "--help" || std::string(argv[i]) == "-h") {
        std::fputs(kUsage, stdout);
        return 0;
      }
    }
    o = parse(argc, argv);
  } catch (const UsageError& e) {
    std::fprintf(stderr, "tv3s segment: %s (see tv3s segment --help)\n", e.message.c_str());
    return 2;
  }

  // A closed pipe (ffmpeg gone) must be a write error with a message, not a silent kill.
  if (o.y4m_out == "-") std::signal(SIGPIPE, SIG_IGN);
  const Device device = o.device;
  TV3S_CHECK(device == Device::CPU || cuda_available(), "--device cuda: no usable CUDA GPU");
  const io::YuvMatrix matrix = io::parse_yuv_matrix(o.yuv_matrix);
  const io::YuvRange range = io::parse_yuv_range(o.yuv_range);
  // Inputs first — folders listed and their frame headers checked, stream headers read —
  // so that a bad input fails before the model is loaded or an output folder is made.
  const std::vector<io::VideoInput> videos = io::collect_videos(o.inputs);
  TV3S_CHECK(o.video_out.empty() || videos.size() == 1, o.video_out, ": --video-out takes one input "
             "video and this command line has ", videos.size(), " (run once per video)");
  std::vector<std::unique_ptr<io::FrameReader>> readers;
  for (const io::VideoInput& v : videos) readers.push_back(std::make_unique<io::FrameReader>(v, matrix, range));

  NoGradGuard no_grad;
  ModelFile file = load_model_file(o.model, device);
  SegmenterOptions options;
  if (!o.mode.empty()) options.mode = parse_segment_mode(o.mode);
  options.device = device;
  options.resize = parse_input_resize(o.resize);
  options.precision = o.precision;
  const data::ClassTable classes = o.palette.empty()
                                       ? data::classes_of(file.config.num_classes, file.config.class_names, file.config.palette)
                                       : data::class_table_by_name(o.palette, file.config.num_classes);
  const io::Palette palette(classes.palette.begin(), classes.palette.begin() + file.config.num_classes);
  Segmenter segmenter = Segmenter::from_file(std::move(file), options, o.model);

  struct Dirs {
    std::string labels, overlays, logits;
  };
  std::vector<Dirs> dirs;
  for (const io::VideoInput& v : videos)
    dirs.push_back({output_dir(o.out_dir, v, videos.size()), output_dir(o.overlay_dir, v, videos.size()),
                    output_dir(o.logits_dir, v, videos.size())});
  Y4mOutput y4m(o.y4m_out);
  VideoOutput video_out(o.video_out);

  int64_t total = 0;  // frames to do, or −1 when one input cannot say
  for (const auto& reader : readers) {
    if (reader->count() < 0) {
      total = -1;
      break;
    }
    total += reader->count();
  }
  // Ctrl-C (a camera has no end): the frame in progress is finished, the outputs are
  // closed as at the end of the input, and the run exits 130. A second Ctrl-C kills.
  static volatile std::sig_atomic_t interrupted = 0;
  std::signal(SIGINT, [](int) {
    interrupted = 1;
    std::signal(SIGINT, SIG_DFL);
  });
  Progress progress(total, "frames", !o.quiet);
  reset_peak_memory(device);
  int64_t frames = 0;
  std::string input_error;  // the input broke off: reported after the outputs are finished
  for (size_t vi = 0; vi < videos.size() && input_error.empty() && !interrupted; ++vi) {
    const io::VideoInput& video = videos[vi];
    io::FrameReader& reader = *readers[vi];
    segmenter.reset();
    io::Image image;
    std::string stem;
    int width = 0, height = 0;
    for (;;) {
      if (interrupted) break;
      try {
        if (!reader.next(image, stem)) break;
      } catch (const Error& e) {
        input_error = e.what();
        break;
      }
      // Frames of a folder were checked up front; a stream's size is fixed by its header.
      if (segmenter.frame_index(0) == 0) width = image.width, height = image.height;
      TV3S_CHECK(image.width == width && image.height == height, video.name, ": frame ", stem,
                 " is ", image.width, "×", image.height, ", the video's first frame ", width, "×",
                 height);
      const bool want_logits = !dirs[vi].logits.empty();
      const Segmentation out =
          segmenter.segment({RgbFrame{image.rgb.data(), image.width, image.height}}, want_logits);
      const Tensor labels = out.labels.reshape(Shape{height, width});
      if (!dirs[vi].labels.empty())
        io::write_label_png((fs::path(dirs[vi].labels) / (stem + ".png")).string(), labels, palette);
      const bool to_video = !o.y4m_out.empty() || !o.video_out.empty();
      if (!dirs[vi].overlays.empty() || (to_video && o.video_shows == "overlay")) {
        const io::Image overlay = io::blend_overlay(image, labels.data<uint8_t>(), palette, o.alpha);
        if (!dirs[vi].overlays.empty())
          io::write_png((fs::path(dirs[vi].overlays) / (stem + ".png")).string(), overlay);
        if (to_video && o.video_shows == "overlay") {
          if (!o.y4m_out.empty()) y4m.write(overlay, reader, matrix, range);
          if (!o.video_out.empty()) video_out.write(overlay, reader, matrix);
        }
      }
      if (to_video && o.video_shows == "labels") {
        // Opacity 1: the palette colours alone (blend_overlay's weights are then exact).
        const io::Image colours = io::blend_overlay(image, labels.data<uint8_t>(), palette, 1.0f);
        if (!o.y4m_out.empty()) y4m.write(colours, reader, matrix, range);
        if (!o.video_out.empty()) video_out.write(colours, reader, matrix);
      }
      if (want_logits)
        io::write_npy((fs::path(dirs[vi].logits) / (stem + ".npy")).string(),
                      permute(out.logits.reshape(Shape{height, width, out.logits.size(-1)}), {2, 0, 1}));
      ++frames;
      progress.step();
    }
    if (input_error.empty() && !interrupted)
      TV3S_CHECK(segmenter.frame_index(0) > 0,
                 !video.video.empty() ? video.video : video.stream == "-" ? "<stdin>" : video.stream,
                 ": the input holds no frames");
  }
  if (device == Device::CUDA) cuda_synchronize();
  y4m.finish();
  video_out.finish();
  const double seconds = progress.seconds();
  progress.finish();

  nlohmann::json summary = {
      {"frames", frames},
      {"videos", int64_t(videos.size())},
      {"seconds", seconds},
      {"fps", seconds > 0 ? double(frames) / seconds : 0.0},
      {"ms_per_frame", frames > 0 ? 1000.0 * seconds / double(frames) : 0.0},
      {"mode", segment_mode_name(segmenter.mode())},
      {"resize", input_resize_name(segmenter.resize())},
      {"device", device_name(device)},
      {"precision", precision_name(segmenter.precision())},
      {"threads", device == Device::CPU ? omp_get_max_threads() : 0},
      {"video_codec", video_out.codec()},
      {"state_bytes", int64_t(segmenter.state_bytes())},
      {"peak_tensor_bytes", int64_t(memory_stats(device).peak_bytes)},
      {"max_rss_bytes", max_rss_bytes()},
  };
  if (o.json == "-") std::printf("%s\n", summary.dump(2).c_str());
  else if (!o.json.empty()) io::write_file_atomic(o.json, summary.dump(2) + "\n");
  if (!o.quiet && input_error.empty())  // (a broken input's line says how many were written)
    std::fprintf(stderr, "tv3s segment: %lld frames in %.1f s (%s, %s mode), carried state %s, peak "
                 "tensor memory %s\n",
                 (long long)frames, seconds, fps(summary["fps"].get<double>()).c_str(),
                 segment_mode_name(segmenter.mode()), mib(double(segmenter.state_bytes()), 2).c_str(),
                 mib(double(memory_stats(device).peak_bytes)).c_str());
  if (!input_error.empty()) {
    if (frames > 0)
      std::fprintf(stderr, "tv3s segment: %s (the %lld frames before it are written)\n", input_error.c_str(),
                   (long long)frames);
    else
      std::fprintf(stderr, "tv3s segment: %s\n", input_error.c_str());
    return 1;
  }
  if (interrupted) {
    std::fprintf(stderr, "tv3s segment: interrupted after %lld frames (their outputs are written)\n",
                 (long long)frames);
    return 130;
  }
  return 0;
}

}  // namespace tv3s::cli
