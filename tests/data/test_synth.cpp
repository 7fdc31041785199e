// `tv3s synth` and src/data/synth.h: exact determinism (a fixed hash of every pixel and
// label of a tiny video, identical files from two runs, prefix stability), the VSPW layout
// read back through the project's own readers, the properties that make the data useful
// (all classes appear, objects enter and leave, the camera pans, lighting dips, beacons
// flash), and the command's errors with their exact messages and nothing left behind.
// All checks are exact (integer data); the whole file takes about 2 s on 2 cores.
#include <algorithm>
#include <array>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "src/data/class_tables.h"
#include "src/data/synth.h"
#include "src/io/frame_list.h"
#include "src/io/image.h"
#include "tests/io/io_test_util.h"
#include "tests/test_util.h"

using namespace tv3s;
using tv3s::test::error_message;
using tv3s::test::read_bytes;
using tv3s::test::run_tv3s;
using tv3s::test::TempDir;
using tv3s::test::write_bytes;
namespace fs = std::filesystem;

namespace {

data::SynthOptions tiny(uint64_t seed = 0) {
  data::SynthOptions o;
  o.train_videos = 2, o.val_videos = 0, o.test_videos = 0;
  o.frames = 12, o.width = 64, o.height = 48, o.seed = seed;
  return o;
}

uint64_t fnv1a(uint64_t h, const uint8_t* p, size_t n) {
  for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 0x100000001b3ULL;
  return h;
}

uint64_t hash_video(const std::vector<data::SynthFrame>& frames) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (const data::SynthFrame& f : frames) {
    const uint64_t number = uint64_t(f.number);
    h = fnv1a(h, reinterpret_cast<const uint8_t*>(&number), sizeof number);
    h = fnv1a(h, f.image.rgb.data(), f.image.rgb.size());
    h = fnv1a(h, f.mask.data(), f.mask.size());
  }
  return h;
}

// Every file under `root` (relative path → content).
std::map<std::string, std::string> tree(const std::string& root) {
  std::map<std::string, std::string> files;
  for (const auto& e : fs::recursive_directory_iterator(root))
    if (e.is_regular_file()) files[fs::relative(e.path(), root).string()] = read_bytes(e.path().string());
  return files;
}

std::string dataset_flags(const std::string& dir) {
  return "synth --out " + dir + " --videos 2 --val 1 --test 1 --frames 3 --size 48x64 --quiet";
}

}  // namespace

TEST_CASE("synth: a video is a fixed function of seed, index and size") {
  const std::vector<data::SynthFrame> a = data::render_synth_video(tiny(), 0);
  REQUIRE(a.size() == 12);
  for (const data::SynthFrame& f : a) {
    CHECK((f.image.width == 64 && f.image.height == 48));
    CHECK(f.image.rgb.size() == 64 * 48 * 3);
    CHECK(f.mask.size() == 64 * 48);
  }
  // Integer arithmetic only: this number is the same for every compiler, -march and OS.
  // (It changes when the generator is changed on purpose; then update it.)
  CHECK(hash_video(a) == 0x5e38f6245299b857ULL);
  CHECK(hash_video(data::render_synth_video(tiny(), 0)) == hash_video(a));
  CHECK(hash_video(data::render_synth_video(tiny(1), 0)) != hash_video(a));
  CHECK(hash_video(data::render_synth_video(tiny(), 1)) != hash_video(a));

  // Prefix-stable: a shorter video is the start of the longer one; and a video does not
  // change when the dataset around it does.
  data::SynthOptions shorter = tiny();
  shorter.frames = 5, shorter.train_videos = 7, shorter.test_videos = 3;
  const std::vector<data::SynthFrame> b = data::render_synth_video(shorter, 0);
  REQUIRE(b.size() == 5);
  CHECK(hash_video(b) == hash_video({a.begin(), a.begin() + 5}));

  for (size_t i = 1; i < a.size(); ++i) CHECK(a[i].number > a[i - 1].number);
  CHECK(error_message([] {
          data::SynthOptions o = tiny();
          o.width = 31;
          data::SynthVideo v(o, 0);
        }) == "synth: frame size 31x48: must be 32x32 to 4096x4096 pixels, so that the shapes fit");
}

TEST_CASE("synth: two runs with the same seed write the same bytes, another seed others") {
  TempDir dir;
  const data::SynthOptions o = tiny();
  data::generate_synth_dataset(dir.file("a"), o);
  data::generate_synth_dataset(dir.file("b"), o);
  data::SynthOptions other = o;
  other.seed = 99;
  data::generate_synth_dataset(dir.file("c"), other);
  const auto a = tree(dir.file("a")), b = tree(dir.file("b")), c = tree(dir.file("c"));
  CHECK(a.size() == 2 * 12 * 2 + 4);  // origin + mask per frame, 3 split files, classes.json
  CHECK(a == b);
  CHECK(a != c);
}

TEST_CASE("synth: VSPW layout, read back with the project's readers") {
  TempDir dir;
  const std::string root = dir.file("synth");
  const auto r = run_tv3s(dataset_flags(root));
  REQUIRE(r.exit_code == 0);
  const std::string summary =
      "tv3s synth: 4 videos (2 train, 1 val, 1 test) x 3 frames of 48x64 (HxW), 9 classes, seed 0 -> " + root;
  CHECK(r.output.rfind(summary + " (", 0) == 0);
  CHECK(std::count(r.output.begin(), r.output.end(), '\n') == 1);

  CHECK(read_bytes(root + "/train.txt") == "000_synth\n001_synth\n");
  CHECK(read_bytes(root + "/val.txt") == "002_synth\n");
  CHECK(read_bytes(root + "/test.txt") == "003_synth\n");
  const data::ClassTable classes = data::read_class_file(root + "/classes.json");
  CHECK(classes.dataset == "synth");
  CHECK(classes.names == data::synth_classes().names);
  CHECK(classes.palette == data::synth_classes().palette);
  CHECK(classes.names == std::vector<std::string>{"ground", "water", "dotted_disc", "striped_disc", "box",
                                                  "beacon", "triangle", "spinner", "ring"});

  std::set<std::string> videos;
  for (const auto& e : fs::directory_iterator(root + "/data")) videos.insert(e.path().filename().string());
  CHECK(videos == std::set<std::string>{"000_synth", "001_synth", "002_synth", "003_synth"});
  for (const std::string& video : videos) {
    const std::string base = root + "/data/" + video;
    const std::vector<std::string> frames = io::list_frames(base + "/origin");
    CHECK(frames.size() == 3);
    CHECK(io::list_frames(base + "/mask").size() == 3);
    for (const std::string& frame : frames) {
      const std::string stem = fs::path(frame).stem().string();
      INFO(frame);
      CHECK(stem.size() == 8);
      CHECK(stem.find_first_not_of("0123456789") == std::string::npos);
      CHECK(fs::path(frame).extension() == ".jpg");
      const io::Image image = io::read_image(frame);
      CHECK((image.width == 64 && image.height == 48));
      const io::LabelMap mask = io::read_label_png(base + "/mask/" + stem + ".png");
      CHECK((mask.width == 64 && mask.height == 48));
      CHECK(*std::max_element(mask.values.begin(), mask.values.end()) <= 9);  // raw ids, no 255
    }
    // Nothing else in the video folder (no temporary files left over).
    int64_t entries = 0;
    for (const auto& e : fs::recursive_directory_iterator(base)) entries += e.is_regular_file();
    CHECK(entries == 6);
  }

  // The masks are the in-memory labels; --png frames are the in-memory pixels exactly.
  const auto png = run_tv3s("synth --out " + dir.file("png") + " --videos 1 --val 0 --test 0 --frames 4 "
                            "--size 48x64 --png --seed 3 --quiet");
  REQUIRE(png.exit_code == 0);
  data::SynthOptions o = tiny(3);
  o.frames = 4;
  for (const data::SynthFrame& f : data::render_synth_video(o, 0)) {
    char stem[16];
    std::snprintf(stem, sizeof stem, "%08lld", (long long)f.number);
    const io::Image image = io::read_image(dir.file("png") + "/data/000_synth/origin/" + stem + ".png");
    CHECK(image.rgb == f.image.rgb);
    CHECK(io::read_label_png(dir.file("png") + "/data/000_synth/mask/" + stem + ".png").values == f.mask);
  }
}

TEST_CASE("synth: what makes it useful — all classes, enter/leave, camera, dips, flashing beacons") {
  data::SynthOptions o;  // the defaults: 12 videos × 32 frames × 128×128
  const int64_t videos = o.train_videos + o.val_videos + o.test_videos;
  std::set<int> raw_values;
  int64_t videos_with_enter_or_leave = 0, videos_with_pan = 0, videos_with_dip = 0, flashing_beacons = 0;
  for (int64_t v = 0; v < videos; ++v) {
    const std::vector<data::SynthFrame> frames = data::render_synth_video(o, v);
    const size_t pixels = frames[0].mask.size();
    // Per frame: which raw values are present, the mean brightness, beacon colour.
    std::vector<std::array<bool, 10>> present(frames.size());
    std::vector<double> brightness(frames.size());
    int beacon_magenta = 0, beacon_yellow = 0;
    for (size_t t = 0; t < frames.size(); ++t) {
      present[t].fill(false);
      double sum = 0, beacon_r = 0, beacon_g = 0, beacon_b = 0, beacon_n = 0;
      for (size_t i = 0; i < pixels; ++i) {
        const int m = frames[t].mask[i];
        raw_values.insert(m);
        if (m < 10) present[t][size_t(m)] = true;
        const uint8_t* p = &frames[t].image.rgb[3 * i];
        sum += p[0] + p[1] + p[2];
        if (m == 6) beacon_r += p[0], beacon_g += p[1], beacon_b += p[2], ++beacon_n;  // raw 6 = beacon
      }
      brightness[t] = sum / double(3 * pixels);
      if (beacon_n > 20 && beacon_b > beacon_g + 40 * beacon_n) ++beacon_magenta;
      if (beacon_n > 20 && beacon_g > beacon_b + 40 * beacon_n) ++beacon_yellow;
    }
    flashing_beacons += beacon_magenta > 0 && beacon_yellow > 0;
    // Objects enter and leave: some shape class is in some frames and not in others.
    bool toggles = false;
    for (size_t c = 3; c < 10; ++c)
      for (size_t t = 1; t < frames.size(); ++t) toggles |= present[t][c] != present[t - 1][c];
    videos_with_enter_or_leave += toggles;
    // The camera pans: the ground/water layout under the objects shifts between frames.
    int64_t moved = 0;
    for (size_t i = 0; i < pixels; ++i) {
      const int a = frames[0].mask[i], b = frames[8].mask[i];
      moved += (a == 1 && b == 2) || (a == 2 && b == 1);
    }
    videos_with_pan += moved > 0;
    // Lighting dips: a frame far darker than the one before.
    for (size_t t = 1; t < frames.size(); ++t) videos_with_dip += brightness[t] < 0.5 * brightness[t - 1];
  }
  for (int raw = 0; raw <= 9; ++raw) CHECK_MESSAGE(raw_values.count(raw) == 1, "raw mask value ", raw);
  CHECK(raw_values.size() == 10);  // nothing else: no 255
  CHECK(videos_with_enter_or_leave >= videos / 2);
  CHECK(videos_with_pan >= videos / 2);
  CHECK(videos_with_dip >= 3);
  CHECK(flashing_beacons >= 2);
  MESSAGE("of ", videos, " videos: ", videos_with_enter_or_leave, " with enter/leave, ", videos_with_pan,
          " with a visible pan, ", videos_with_dip, " lighting dips, ", flashing_beacons,
          " with a flashing beacon");
}

TEST_CASE("synth: bad flag values are usage errors (exit 2) and create nothing") {
  TempDir dir;
  const std::string out = dir.file("out");
  const std::string synth = "synth --out " + out + " ";
  const std::string seed_range = "--seed needs an integer in [0, 18446744073709551615], got ";
  const std::string size_range = "--size needs HxW with both in [32, 4096], got ";
  const std::pair<std::string, std::string> cases[] = {
      {"synth", "needs --out DIR"},
      {synth + "--size 16x16", size_range + "'16x16'"},
      {synth + "--size 5000x64", size_range + "'5000x64' (read as 5000 high, 64 wide)"},
      {synth + "--size 64", size_range + "'64'"},
      {synth + "--size 64x-4", size_range + "'64x-4'"},
      {synth + "--frames 0", "--frames needs an integer in [1, 100000], got '0'"},
      {synth + "--videos 0 --val 0 --test 0", "no videos to make: train, val and test counts are all 0"},
      {synth + "--videos -1", "--videos needs an integer in [0, 100000], got '-1'"},
      {synth + "--jpeg-quality 101", "--jpeg-quality needs an integer in [1, 100], got '101'"},
      {synth + "--seed -1", seed_range + "'-1'"},
      {synth + "--seed 18446744073709551616", seed_range + "'18446744073709551616'"},
      {synth + "--frobnicate", "unknown option '--frobnicate'"},
      {"synth " + out, "unexpected argument '" + out + "' (the folder goes after --out)"},
  };
  for (const auto& [args, message] : cases) {
    const auto r = run_tv3s(args);
    INFO(args);
    CHECK(r.exit_code == 2);
    CHECK(r.output == "tv3s synth: " + message + " (see tv3s synth --help)\n");
  }
  CHECK(dir.entries().empty());
  const auto help = run_tv3s("synth --help");
  CHECK(help.exit_code == 0);
  CHECK(help.output.rfind("usage: tv3s synth --out DIR", 0) == 0);
}

TEST_CASE("synth: unusable or occupied output folders are errors (exit 1); --force replaces") {
  TempDir dir;
  // A path under a file, and a file in place of the folder.
  write_bytes(dir.file("file"), "x");
  auto r = run_tv3s(dataset_flags(dir.file("file/out")));
  CHECK(r.exit_code == 1);
  CHECK(r.output ==
        "tv3s synth: " + dir.file("file/out") + ": cannot create the folder (Not a directory)\n");
  r = run_tv3s(dataset_flags(dir.file("file")));
  CHECK(r.exit_code == 1);
  CHECK(r.output == "tv3s synth: " + dir.file("file") + ": exists and is not a folder\n");

  // A folder with other files in it.
  const std::string out = dir.file("out");
  fs::create_directories(out);
  write_bytes(out + "/notes.txt", "mine");
  write_bytes(out + "/more.txt", "mine too");
  r = run_tv3s(dataset_flags(out));
  CHECK(r.exit_code == 1);
  CHECK(r.output == "tv3s synth: " + out + ": folder is not empty ('more.txt' and 1 more); " +
                        "--force writes the dataset into it\n");
  CHECK(tree(out).size() == 2);

  // --force writes beside them; then a second run finds the dataset.
  REQUIRE(run_tv3s(dataset_flags(out) + " --force").exit_code == 0);
  r = run_tv3s(dataset_flags(out));
  CHECK(r.exit_code == 1);
  CHECK(r.output == "tv3s synth: " + out + ": already holds a dataset (train.txt); --force replaces it\n");

  // --force over an earlier, different dataset: the videos it writes are replaced whole
  // (no stale frames), the user's files stay.
  const auto before = tree(out);
  REQUIRE(run_tv3s("synth --out " + out + " --videos 1 --val 0 --test 0 --frames 2 --size 48x64 --seed 5 "
                   "--quiet --force").exit_code == 0);
  const auto after = tree(out);
  CHECK(read_bytes(out + "/notes.txt") == "mine");
  CHECK(read_bytes(out + "/train.txt") == "000_synth\n");
  CHECK(read_bytes(out + "/val.txt") == "");
  CHECK(io::list_frames(out + "/data/000_synth/origin").size() == 2);
  CHECK(io::list_frames(out + "/data/000_synth/mask").size() == 2);
  CHECK(after != before);

  // A read-only folder (root ignores permissions, so only checked for other users).
  if (geteuid() != 0) {
    const std::string locked = dir.file("locked");
    fs::create_directories(locked);
    fs::permissions(locked, fs::perms::owner_read | fs::perms::owner_exec);
    r = run_tv3s(dataset_flags(locked));
    fs::permissions(locked, fs::perms::owner_all);
    CHECK(r.exit_code == 1);
    CHECK(r.output == "tv3s synth: " + locked + "/data: cannot create the folder (Permission denied)\n");
    CHECK(tree(locked).empty());
  } else {
    MESSAGE("running as root: the read-only folder case is skipped");
  }
}

TEST_CASE("synth: a run that fails part-way leaves nothing half-written") {
  TempDir dir;
  const data::SynthOptions o = tiny();
  const auto stop_after_first = [](const std::string&, const std::string&, int64_t done, int64_t) {
    if (done == 1) throw Error("stopped");
  };
  // A folder the run created is removed whole.
  CHECK(error_message([&] { data::generate_synth_dataset(dir.file("new/synth"), o, stop_after_first); }) ==
        "stopped");
  CHECK(dir.entries().empty());
  // An empty folder that was there stays, empty.
  fs::create_directories(dir.file("empty"));
  CHECK(error_message([&] { data::generate_synth_dataset(dir.file("empty"), o, stop_after_first); }) ==
        "stopped");
  CHECK(fs::is_empty(dir.file("empty")));
  // The library checks its options too.
  data::SynthOptions bad = o;
  bad.frames = 0;
  CHECK(error_message([&] { data::generate_synth_dataset(dir.file("x"), bad); }) ==
        dir.file("x") + ": frames per video must be 1 to 100000, got 0");
  CHECK(!fs::exists(dir.file("x")));
}
