// `tv3s synth --out DIR`: writes the deterministic synthetic video dataset of
// src/data/synth.h in VSPW layout, for tests, `make demo` and training smoke tests.
// Malformed flags and unusable values are usage errors (exit 2); an output folder that
// cannot be written, or holds something and no --force, is an error (exit 1).
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "src/cli/args.h"
#include "src/cli/commands.h"
#include "src/data/synth.h"
#include "tv3s/error.h"

namespace tv3s::cli {
namespace {

const char* kUsage =
    "usage: tv3s synth --out DIR [--videos N] [--val N] [--test N] [--frames N] [--size HxW]\n"
    "                  [--seed S] [--jpeg-quality Q] [--png] [--force] [--quiet]\n"
    "  --out DIR          where to write: DIR/{train,val,test}.txt, DIR/classes.json,\n"
    "                     DIR/data/<video>/origin/<%08d>.jpg and mask/<%08d>.png (VSPW layout)\n"
    "  --videos N         training videos (default 8)\n"
    "  --val N            validation videos (default 2)\n"
    "  --test N           test videos, with masks (default 2)\n"
    "  --frames N         frames per video (default 32; mVC needs more than 16)\n"
    "  --size HxW         frame size in pixels, height x width, 32x32 to 4096x4096\n"
    "                     (default 128x128)\n"
    "  --seed S           random seed, 0 to 2^64-1 (default 0): same seed, same files\n"
    "  --jpeg-quality Q   quality of the JPEG frames, 1 to 100 (default 95)\n"
    "  --png              lossless PNG frames instead of JPEG\n"
    "  --force            write into a folder that is not empty (replaces an earlier dataset's\n"
    "                     split files, classes.json and data/<video> folders of the same names)\n"
    "  --quiet            no per-video lines (the summary line stays)\n";

uint64_t parse_seed(const std::string& text) {
  char* end = nullptr;
  errno = 0;
  const unsigned long long v = std::strtoull(text.c_str(), &end, 10);
  if (text.empty() || text[0] == '-' || text[0] == '+' || *end != '\0' || errno == ERANGE)
    throw UsageError{"--seed needs an integer in [0, 18446744073709551615], got '" + text + "'"};
  return uint64_t(v);
}

}  // namespace

int run_synth(int argc, char** argv) {
  Args args(argc, argv);
  data::SynthOptions options;
  std::string out;
  bool quiet = false;
  try {
    while (!args.done()) {
      const std::string a = args.next();
      if (a == "--help" || a == "-h") {
        std::fputs(kUsage, stdout);
        return 0;
      } else if (a == "--out" || a == "-o") {
        out = args.value(a);
      } else if (a == "--videos") {
        options.train_videos = args.integer(a, 0, data::kSynthMaxVideos);
      } else if (a == "--val") {
        options.val_videos = args.integer(a, 0, data::kSynthMaxVideos);
      } else if (a == "--test") {
        options.test_videos = args.integer(a, 0, data::kSynthMaxVideos);
      } else if (a == "--frames") {
        options.frames = args.integer(a, 1, data::kSynthMaxFrames);
      } else if (a == "--size") {
        const auto [height, width] = args.size(a, data::kSynthMinSide, data::kSynthMaxSide);
        options.height = int(height), options.width = int(width);
      } else if (a == "--seed") {
        options.seed = parse_seed(args.value(a));
      } else if (a == "--jpeg-quality") {
        options.jpeg_quality = int(args.integer(a, 1, 100));
      } else if (a == "--png") {
        options.png_frames = true;
      } else if (a == "--force") {
        options.force = true;
      } else if (a == "--quiet") {
        quiet = true;
      } else if (a.size() > 1 && a[0] == '-') {
        throw UsageError{"unknown option '" + a + "'"};
      } else {
        throw UsageError{"unexpected argument '" + a + "' (the folder goes after --out)"};
      }
    }
    if (out.empty()) throw UsageError{"needs --out DIR"};
    const std::string problem = data::synth_options_problem(options);
    if (!problem.empty()) throw UsageError{problem};
  } catch (const UsageError& e) {
    std::fprintf(stderr, "tv3s synth: %s (see tv3s synth --help)\n", e.message.c_str());
    return 2;
  }

  const auto start = std::chrono::steady_clock::now();
  data::generate_synth_dataset(out, options, [&](const std::string& video, const std::string& split,
                                                 int64_t done, int64_t total) {
    if (quiet) return;
    std::printf("[%lld/%lld] %s (%s): %lld frames\n", (long long)done, (long long)total, video.c_str(),
                split.c_str(), (long long)options.frames);
    std::fflush(stdout);
  });
  const double seconds = seconds_since(start);
  const int64_t videos = options.train_videos + options.val_videos + options.test_videos;
  std::printf("tv3s synth: %lld videos (%lld train, %lld val, %lld test) x %lld frames of %dx%d (HxW), "
              "%lld classes, seed %llu -> %s (%.1f s)\n",
              (long long)videos, (long long)options.train_videos, (long long)options.val_videos,
              (long long)options.test_videos, (long long)options.frames, options.height, options.width,
              (long long)data::synth_classes().size(), (unsigned long long)options.seed, out.c_str(),
              seconds);
  return 0;
}

}  // namespace tv3s::cli
