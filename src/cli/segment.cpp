// `tv3s segment MODEL INPUT... [--mode stream|clip|frame]`: label maps (and logits) for
// the frames of videos.
//
// Each INPUT is a folder (one video: its PNG/JPEG frames in natural order) or an image
// file (consecutive files on the command line form one video, in the order given). Frames
// are decoded at their own size (no resize), normalised as the official test pipeline
// does, and pushed through a Segmenter (src/pipeline/segmenter.h) one frame at a time:
//   stream (default for TV3S)  the Mamba state carried from frame to frame
//   clip                       the official 4-frame clips, frames 0–2 per-frame
//   frame (default for SegFormer) the per-frame SegFormer path
// For each frame `<stem>.png` (label map, grey values = class ids) goes to -o DIR and, with
// --save-logits DIR, `<stem>.npy` (float32 [K, H, W] at the input size, the values the
// official EncoderDecoder returns before argmax). With several videos each gets a
// subfolder named after its folder.
#include <omp.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "src/cli/args.h"
#include "src/cli/commands.h"
#include "src/io/frame_list.h"
#include "src/io/image.h"
#include "src/pipeline/preprocess.h"
#include "src/pipeline/segmenter.h"
#include "tv3s/tv3s.hpp"

namespace tv3s::cli {
namespace {

const char* kUsage =
    "usage: tv3s segment MODEL.safetensors INPUT... [--mode stream|clip|frame] [-o DIR]\n"
    "                    [--save-logits DIR] [--device cpu|cuda] [--threads N] [--quiet]\n"
    "  INPUT             a folder of PNG/JPEG frames (one video, natural sort order), or\n"
    "                    image files (consecutive files form one video, in the order given)\n"
    "  --mode stream     TV3S, one frame at a time, state carried over the whole video\n"
    "                    (default for a TV3S model)\n"
    "  --mode clip       TV3S, the official evaluation: 4-frame clips [i-9, i-6, i-3, i]\n"
    "  --mode frame      the per-frame SegFormer path (default for a SegFormer model)\n"
    "  -o, --out DIR     label maps <stem>.png (default: the --save-logits folder)\n"
    "  --save-logits DIR float32 logits <stem>.npy [K, H, W] at the input resolution\n"
    "  --device D        cpu (default) or cuda\n"
    "  --threads N       OpenMP threads for the CPU\n"
    "  --quiet           no per-frame lines\n";

namespace fs = std::filesystem;

void make_dir(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  TV3S_CHECK(!ec && fs::is_directory(dir), dir, ": cannot create the output folder (",
             ec ? ec.message() : "not a folder", ")");
}

struct Video {
  std::string name;                 // output subfolder when there are several videos
  std::vector<std::string> frames;  // image paths in order
};

// Folders are videos; runs of consecutive image files are videos too.
std::vector<Video> collect_videos(const std::vector<std::string>& inputs) {
  std::vector<Video> videos;
  bool in_file_run = false;
  for (const std::string& input : inputs) {
    if (fs::is_directory(input)) {
      std::string name = fs::path(input).lexically_normal().filename().string();
      if (name.empty()) name = fs::path(input).lexically_normal().parent_path().filename().string();
      videos.push_back({name, io::list_frames(input)});
      in_file_run = false;
    } else {
      if (!in_file_run) videos.push_back({"images" + std::to_string(videos.size()), {}});
      videos.back().frames.push_back(input);
      in_file_run = true;
    }
  }
  std::set<std::string> names;
  for (const Video& v : videos) {
    TV3S_CHECK(videos.size() == 1 || names.insert(v.name).second, v.name,
               ": two input videos have this name (their outputs would share a folder)");
    std::set<std::string> stems;
    for (const std::string& f : v.frames) {
      const std::string stem = fs::path(f).stem().string();
      TV3S_CHECK(stems.insert(stem).second, f, ": another frame of the video has the same name '",
                 stem, "' (outputs would overwrite each other)");
    }
  }
  return videos;
}

}  // namespace

int run_segment(int argc, char** argv) {
  Args args(argc, argv);
  std::vector<std::string> positional;
  std::string mode_name, out_dir, logits_dir, device_name = "cpu";
  bool quiet = false;
  try {
    while (!args.done()) {
      const std::string a = args.next();
      if (a == "--help" || a == "-h") {
        std::fputs(kUsage, stdout);
        return 0;
      } else if (a == "--mode") {
        mode_name = args.value(a);
      } else if (a == "-o" || a == "--out") {
        out_dir = args.value(a);
      } else if (a == "--save-logits") {
        logits_dir = args.value(a);
      } else if (a == "--device") {
        device_name = args.value(a);
      } else if (a == "--threads") {
        omp_set_num_threads(int(args.integer(a, 1, 1024)));
      } else if (a == "--quiet") {
        quiet = true;
      } else if (a.size() > 1 && a[0] == '-') {
        throw UsageError{"unknown option '" + a + "'"};
      } else {
        positional.push_back(a);
      }
    }
    if (positional.size() < 2) throw UsageError{"needs a model file and at least one input"};
    if (!mode_name.empty() && mode_name != "frame" && mode_name != "stream" && mode_name != "clip")
      throw UsageError{"unknown --mode '" + mode_name + "' (stream, clip or frame)"};
    if (device_name != "cpu" && device_name != "cuda")
      throw UsageError{"unknown --device '" + device_name + "' (cpu or cuda)"};
    if (out_dir.empty()) out_dir = logits_dir;
    if (out_dir.empty()) throw UsageError{"nothing to write: give -o DIR and/or --save-logits DIR"};
  } catch (const UsageError& e) {
    std::fprintf(stderr, "tv3s segment: %s (see tv3s segment --help)\n", e.message.c_str());
    return 2;
  }

  const Device device = device_name == "cuda" ? Device::CUDA : Device::CPU;
  TV3S_CHECK(device == Device::CPU || cuda_available(), "--device cuda: no usable CUDA GPU");
  const std::vector<Video> videos =
      collect_videos(std::vector<std::string>(positional.begin() + 1, positional.end()));
  NoGradGuard no_grad;
  const std::string& model_path = positional[0];
  ModelFile file = load_model_file(model_path, device);
  const SegmentMode mode =
      mode_name.empty() ? Segmenter::default_mode(file.config) : parse_segment_mode(mode_name);
  Segmenter segmenter = Segmenter::from_file(std::move(file), {mode, device}, model_path);

  int64_t frames = 0;
  double total_ms = 0;
  reset_peak_memory(device);
  for (const Video& video : videos) {
    const fs::path out = videos.size() == 1 ? fs::path(out_dir) : fs::path(out_dir) / video.name;
    const fs::path logits_out =
        logits_dir.empty() ? fs::path() : videos.size() == 1 ? fs::path(logits_dir) : fs::path(logits_dir) / video.name;
    make_dir(out.string());
    if (!logits_out.empty()) make_dir(logits_out.string());
    segmenter.reset();
    int width = 0, height = 0;
    for (const std::string& path : video.frames) {
      const auto t0 = std::chrono::steady_clock::now();
      const io::Image image = io::read_image(path);
      TV3S_CHECK(segmenter.frame_index(0) == 0 || (image.width == width && image.height == height),
                 path, ": frame is ", image.width, "×", image.height, ", the video's first frame ",
                 width, "×", height, " (frames of one video must share a size)");
      width = image.width, height = image.height;
      const Tensor logits = segmenter.push(normalize_image(image, device));  // [1, H, W, K]
      const Tensor labels = argmax(logits, -1).reshape(Shape{height, width});
      const std::string stem = fs::path(path).stem().string();
      io::write_label_png((out / (stem + ".png")).string(), labels.cpu());
      if (!logits_out.empty())
        io::write_npy((logits_out / (stem + ".npy")).string(),
                      permute(logits.reshape(Shape{height, width, logits.size(-1)}), {2, 0, 1}));
      if (device == Device::CUDA) cuda_synchronize();
      const double ms =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      total_ms += ms;
      ++frames;
      if (!quiet)
        std::printf("%s: %d×%d, %s frame %lld, %.1f ms\n", path.c_str(), width, height,
                    segment_mode_name(mode), (long long)segmenter.frame_index(0) - 1, ms);
    }
  }
  if (!quiet)
    std::printf("tv3s segment: %lld frames, %.1f ms per frame (%.2f FPS), carried state %.2f MiB, "
                "peak tensor memory %.1f MiB\n",
                (long long)frames, total_ms / double(frames), 1000.0 * double(frames) / total_ms,
                double(segmenter.state_bytes()) / 1048576.0,
                double(memory_stats(device).peak_bytes) / 1048576.0);
  return 0;
}

}  // namespace tv3s::cli
