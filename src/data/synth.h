// A deterministic synthetic video dataset in VSPW layout (datasets.md §1): textured shapes
// moving over a panning background, for tests, demos and training smoke tests
// (`tv3s synth`). The scene design, and why a video model can beat a per-frame model on
// it, is described at the top of src/data/synth.cpp.
//
// Same seed and options → the same pixels and labels on every machine: every value that
// decides a pixel or a label is computed in integer arithmetic from xoshiro256**
// (tv3s/rng.h) and integer hashes. The masks and PNG frames are therefore byte-identical
// everywhere; JPEG frames too, for one version of libjpeg-turbo (see synth.cpp).
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "src/data/class_tables.h"
#include "src/io/image.h"

namespace tv3s::data {

struct SynthOptions {
  int64_t train_videos = 8;  // listed in train.txt
  int64_t val_videos = 2;    // val.txt
  int64_t test_videos = 2;   // test.txt (with masks too, unlike VSPW's test split)
  int64_t frames = 32;       // per video (mVC_8/16 skip videos of 16 frames or fewer)
  int width = 128, height = 128;
  uint64_t seed = 0;
  int jpeg_quality = 95;     // origin/*.jpg quality, 1..100
  bool png_frames = false;   // origin/*.png, lossless, instead of JPEG
  bool force = false;        // write into a folder that is not empty (see generate_synth_dataset)
};

// Limits the options must respect.
constexpr int kSynthMinSide = 32;    // below this the shapes and textures do not fit
constexpr int kSynthMaxSide = 4096;
constexpr int64_t kSynthMaxFrames = 100000;
constexpr int64_t kSynthMaxVideos = 100000;  // per split

// "" when the options can be used; otherwise one line saying what is wrong (the CLI turns
// it into a usage error, generate_synth_dataset into an Error).
std::string synth_options_problem(const SynthOptions& options);

// The 9 classes in train-id order (raw mask value = train id + 1), dataset "synth":
// ground, water, dotted_disc, striped_disc, box, beacon, triangle, spinner, ring.
const ClassTable& synth_classes();

// Raw mask values (VSPW encoding): 0 = "others" (the grey debris object; ignored after
// reduce_zero_label), 1..9 = train id + 1. 255 (void) is never written.
constexpr uint8_t kSynthOthers = 0;

struct SynthFrame {
  int64_t number = 0;          // the frame's file number (stem %08d); increasing, may skip
  io::Image image;             // RGB, options.width × options.height
  std::vector<uint8_t> mask;   // height × width raw mask values
};

// One video, rendered frame after frame without touching the disk. Its frames depend only
// on (seed, video_index, width, height): the first n frames are the same whatever the
// video's length, and a video does not change when other videos are added.
class SynthVideo {
 public:
  SynthVideo(const SynthOptions& options, int64_t video_index);
  ~SynthVideo();
  SynthVideo(SynthVideo&&) noexcept;
  SynthVideo& operator=(SynthVideo&&) noexcept;

  bool done() const;   // options.frames frames have been returned
  SynthFrame next();   // the next frame

  struct Scene;        // camera, objects, lighting events (synth.cpp)
 private:
  std::unique_ptr<Scene> scene_;
};

// Convenience for tests: all frames of one video.
std::vector<SynthFrame> render_synth_video(const SynthOptions& options, int64_t video_index);

// "000_synth", "001_synth", ...: index zero-padded to at least 3 digits (more when
// `total_videos` needs them, so that names sort in index order).
std::string synth_video_name(int64_t index, int64_t total_videos);

// Called after each video is written (from one thread at a time): its name, its split
// ("train", "val" or "test"), videos done so far and in all. May throw to stop.
using SynthProgress = std::function<void(const std::string& video, const std::string& split,
                                         int64_t done, int64_t total)>;

// Writes the dataset under `root`:
//   ROOT/data/<video>/origin/<%08d>.jpg (or .png), ROOT/data/<video>/mask/<%08d>.png
//   ROOT/classes.json, then ROOT/train.txt, val.txt, test.txt (last, so an interrupted run
//   never looks complete). Videos are numbered train first, then val, then test.
// Every file is written atomically. `root` may be missing or an empty folder; a folder
// with anything in it is refused unless options.force, which removes the split files,
// classes.json and the data/<video> folders of the videos about to be written (nothing
// else) before writing. On failure, the folders this call created are removed again.
void generate_synth_dataset(const std::string& root, const SynthOptions& options,
                            const SynthProgress& progress = {});

}  // namespace tv3s::data
