// `tv3s segment` on videos, end to end through the built command, on the tiny TV3S model
// (tests/data/tv3s: MiT-B0, E 32, window 4, 5 classes; 90×130 frames):
//  - every input kind gives the same label maps as the library does on the same pixels
//    (exact equality of labels: the same code runs on the same floats) — a frame folder,
//    a VSPW video folder (origin/), a Y4M file, a Y4M stream on stdin;
//  - outputs: indexed label PNGs (values = the library's labels), overlays that are the
//    exact blend of frame and palette, an overlay Y4M stream on stdout, --resize at the
//    frame size, the --json summary;
//  - each bad input gets one line naming the file, exit 1, and no output file.
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "src/data/class_tables.h"
#include "src/io/image.h"
#include "src/io/y4m.h"
#include "src/pipeline/segmenter.h"
#include "tests/io/io_test_util.h"
#include "tests/models/parity_util.h"  // convert_with_cli
#include "tests/test_util.h"

using namespace tv3s;
using tv3s::test::run_tv3s;
namespace fs = std::filesystem;

namespace {

const std::string kData = std::string(TV3S_SOURCE_DIR) + "/tests/data/tv3s/";
constexpr int kFrames = 4;  // of the 12 fixture frames: enough for stream state and a clip

std::string q(const std::string& s) { return "'" + s + "'"; }

// The converted tiny model and a folder of its first kFrames frames, made once.
struct Fixture {
  test::TempDir dir;
  std::string model, frames;
  Fixture() {
    model = test::convert_with_cli(kData + "tiny_official.pth", dir.file("tiny.safetensors"));
    frames = dir.file("video");
    fs::create_directories(frames);
    for (int i = 0; i < kFrames; ++i) {
      const std::string name = "00" + std::to_string(i) + ".png";
      fs::copy_file(kData + "tiny_frames/" + name, frames + "/" + name);
    }
  }
};
Fixture& fixture() {
  static Fixture f;
  return f;
}

std::vector<io::Image> read_frames(const std::string& dir) {
  std::vector<io::Image> out;
  for (int i = 0; i < kFrames; ++i) out.push_back(io::read_image(dir + "/00" + std::to_string(i) + ".png"));
  return out;
}

// The library's labels for a video, frame by frame.
std::vector<std::vector<uint8_t>> library_labels(const std::vector<io::Image>& frames,
                                                 SegmenterOptions options = {}) {
  Segmenter seg = Segmenter::load(fixture().model, options);
  std::vector<std::vector<uint8_t>> out;
  for (const io::Image& f : frames) {
    const Segmentation s = seg.segment({RgbFrame{f.rgb.data(), f.width, f.height}});
    const Tensor l = s.labels;
    out.emplace_back(l.data<uint8_t>(), l.data<uint8_t>() + l.numel());
  }
  return out;
}

void check_label_dir(const std::string& dir, const std::vector<std::string>& stems,
                     const std::vector<std::vector<uint8_t>>& expected) {
  REQUIRE(stems.size() == expected.size());
  for (size_t i = 0; i < stems.size(); ++i) {
    const io::LabelMap m = io::read_label_png(dir + "/" + stems[i] + ".png");
    CHECK(m.width == 130);
    CHECK(m.height == 90);
    CHECK_MESSAGE(m.values == expected[i], dir, "/", stems[i], ".png differs from the library");
  }
}

// A Y4M 4:4:4 full-range stream of the frames, written by the project's writer.
std::string write_y4m(const std::vector<io::Image>& frames, const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  REQUIRE(f);
  {
    io::Y4mWriter w(f, path, frames[0].width, frames[0].height, 15, 1, io::Chroma::c444,
                    io::YuvMatrix::bt601, io::YuvRange::full);
    for (const io::Image& im : frames) w.write(im);
  }
  std::fclose(f);
  return path;
}

std::vector<io::Image> decode_y4m(const std::string& path) {
  io::Y4mReader r(path);
  std::vector<io::Image> out;
  io::Image im;
  while (r.read(im)) out.push_back(im);
  return out;
}

}  // namespace

TEST_CASE("cli segment video: folder, VSPW folder, Y4M file and stdin give the library's labels") {
  Fixture& fx = fixture();
  test::TempDir out;
  const std::vector<std::string> stems = {"000", "001", "002", "003"};
  const auto expected = library_labels(read_frames(fx.frames));

  auto r = run_tv3s("segment " + q(fx.model) + " " + q(fx.frames) + " -o " + q(out.file("a")) + " --quiet");
  REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  CHECK(r.output.empty());  // quiet and not a terminal: nothing
  check_label_dir(out.file("a"), stems, expected);

  // A VSPW video folder: the frames are in origin/.
  const std::string vspw = out.file("127_video");
  fs::create_directories(vspw);
  fs::copy(fx.frames, vspw + "/origin");
  r = run_tv3s("segment " + q(fx.model) + " " + q(vspw) + " -o " + q(out.file("b")) + " --quiet");
  REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  check_label_dir(out.file("b"), stems, expected);

  // Y4M: the labels of the decoded pixels (a YUV round trip changes them slightly).
  const std::string y4m = write_y4m(read_frames(fx.frames), out.file("clip.y4m"));
  const auto expected_y4m = library_labels(decode_y4m(y4m));
  const std::vector<std::string> numbered = {"00000000", "00000001", "00000002", "00000003"};
  r = run_tv3s("segment " + q(fx.model) + " " + q(y4m) + " -o " + q(out.file("c")) + " --quiet");
  REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  check_label_dir(out.file("c"), numbered, expected_y4m);
  r = run_tv3s("segment " + q(fx.model) + " - -o " + q(out.file("d")) + " --quiet < " + q(y4m));
  REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  check_label_dir(out.file("d"), numbered, expected_y4m);
}

TEST_CASE("cli segment video: palette PNGs, exact overlays, Y4M to stdout, --resize, --json") {
  Fixture& fx = fixture();
  test::TempDir out;
  const auto frames = read_frames(fx.frames);
  const auto expected = library_labels(frames);
  const ModelConfig config = load_model_file(fx.model).config;
  const data::ClassTable classes = data::classes_of(config.num_classes, config.class_names, config.palette);

  auto r = run_tv3s("segment " + q(fx.model) + " " + q(fx.frames) + " -o " + q(out.file("labels")) +
                    " --overlay " + q(out.file("overlay")) + " --alpha 1 --json " +
                    q(out.file("summary.json")) + " --quiet");
  REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  // The label PNG is indexed (colour type 3): decoded as colours it shows the palette.
  const io::Image coloured = io::read_image(out.file("labels/000.png"));
  for (size_t i = 0; i < expected[0].size(); i += 97)
    for (int k = 0; k < 3; ++k)
      CHECK(coloured.rgb[3 * i + size_t(k)] == classes.palette[expected[0][i]][size_t(k)]);
  // alpha 1: the overlay is the palette colour of every pixel.
  const io::Image overlay = io::read_image(out.file("overlay/002.png"));
  for (size_t i = 0; i < expected[2].size(); i += 89)
    for (int k = 0; k < 3; ++k)
      CHECK(overlay.rgb[3 * i + size_t(k)] == classes.palette[expected[2][i]][size_t(k)]);
  std::ifstream json_file(out.file("summary.json"));
  const nlohmann::json summary = nlohmann::json::parse(json_file);
  CHECK(summary["frames"] == kFrames);
  CHECK(summary["mode"] == "stream");
  CHECK(summary["fps"].get<double>() > 0);
  CHECK(summary["peak_tensor_bytes"].get<int64_t>() > 0);
  CHECK(summary["state_bytes"].get<int64_t>() > 0);

  // alpha 0: the overlay is the frame; as a Y4M stream on stdout it decodes to 4 frames.
  r = run_tv3s("segment " + q(fx.model) + " " + q(fx.frames) + " --y4m-out - --alpha 0 --quiet > " +
                   q(out.file("overlay.y4m")), false);
  REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  const auto decoded = decode_y4m(out.file("overlay.y4m"));
  REQUIRE(decoded.size() == size_t(kFrames));
  CHECK(decoded[0].width == 130);
  CHECK(decoded[0].height == 90);
  int max_diff = 0;  // 4:2:0 round trip of the frame itself
  double mean_diff = 0;
  for (size_t i = 0; i < frames[1].rgb.size(); ++i) {
    const int d = std::abs(int(decoded[1].rgb[i]) - int(frames[1].rgb[i]));
    max_diff = std::max(max_diff, d);
    mean_diff += d;
  }
  mean_diff /= double(frames[1].rgb.size());
  INFO("Y4M 4:2:0 round trip: max ", max_diff, ", mean ", mean_diff);
  CHECK(mean_diff < 3.0);  // measured 1.39 (chroma subsampling at colour edges)

  // --resize vspw: the network sees 480×704, the outputs are at 90×130 and equal the
  // library's with the same option. Two frames keep it quick.
  const std::string two = out.file("two");
  fs::create_directories(two);
  for (const char* n : {"000.png", "001.png"}) fs::copy_file(fx.frames + "/" + n, two + "/" + n);
  r = run_tv3s("segment " + q(fx.model) + " " + q(two) + " --resize vspw -o " + q(out.file("resized")) +
               " --quiet");
  REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  SegmenterOptions options;
  options.resize = InputResize::vspw;
  auto resized = library_labels({frames[0], frames[1]}, options);
  check_label_dir(out.file("resized"), {"000", "001"}, resized);
  CHECK(resized[1] != expected[1]);  // the resize is not a no-op
}

TEST_CASE("cli segment video: bad inputs exit 1 with one line and leave no output") {
  Fixture& fx = fixture();
  test::TempDir tmp;
  const auto lines = [](const std::string& s) { return std::count(s.begin(), s.end(), '\n'); };
  const auto fails = [&](const std::string& args, const std::string& needle) {
    const auto r = run_tv3s("segment " + q(fx.model) + " " + args);
    INFO("tv3s segment ", args, " → ", r.output);
    CHECK(r.exit_code == 1);
    CHECK(lines(r.output) == 1);
    CHECK(r.output.find(needle) != std::string::npos);
  };

  // Not a Y4M stream on stdin (a PNG piped in by mistake).
  fails("- -o " + q(tmp.file("o1")) + " < " + q(fx.frames + "/000.png"), "<stdin>");
  CHECK(!fs::exists(tmp.file("o1")));
  // An unsupported chroma format.
  {
    std::ofstream(tmp.file("c411.y4m")) << "YUV4MPEG2 W4 H2 F25:1 C411\nFRAME\n" << std::string(16, 'x');
    fails(q(tmp.file("c411.y4m")) + " -o " + q(tmp.file("o2")), "411");
    CHECK(!fs::exists(tmp.file("o2")));
  }
  // A folder with frames of two sizes: refused before anything is written.
  {
    const std::string mixed = tmp.file("mixed");
    fs::create_directories(mixed);
    fs::copy_file(fx.frames + "/000.png", mixed + "/000.png");
    fs::copy_file(fx.frames + "/001.png", mixed + "/001.png");
    io::Image small;
    small.width = 20, small.height = 10;
    small.rgb.assign(600, 7);
    io::write_png(mixed + "/002.png", small);
    fails(q(mixed) + " -o " + q(tmp.file("o3")), "002.png: frame is 20×10");
    CHECK(!fs::exists(tmp.file("o3")));
  }
  // Corrupt and truncated frames.
  {
    const std::string bad = tmp.file("bad");
    fs::create_directories(bad);
    std::ifstream in(fx.frames + "/000.png", std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), {});
    std::ofstream(bad + "/000.png", std::ios::binary) << bytes.substr(0, bytes.size() / 2);
    fails(q(bad) + " -o " + q(tmp.file("o4")), "000.png");
    CHECK(!fs::exists(tmp.file("o4/000.png")));
  }
  // A palette with fewer colours than the model has classes.
  {
    data::ClassTable three{"three", {"a", "b", "c"}, {{1, 2, 3}, {4, 5, 6}, {7, 8, 9}}};
    data::write_class_file(tmp.file("three.json"), three);
    fails(q(fx.frames) + " -o " + q(tmp.file("o5")) + " --palette " + q(tmp.file("three.json")),
          "palette has 3 colours, the model predicts 5 classes");
    CHECK(!fs::exists(tmp.file("o5")));
  }
  // An output folder that cannot be made (under a regular file).
  {
    std::ofstream(tmp.file("plain.txt")) << "x";
    fails(q(fx.frames) + " -o " + q(tmp.file("plain.txt") + "/out"), "cannot create the output folder");
  }
  // A model file that is not a model.
  {
    std::ofstream(tmp.file("fake.safetensors")) << "not a model";
    const auto r = run_tv3s("segment " + q(tmp.file("fake.safetensors")) + " " + q(fx.frames) + " -o " +
                            q(tmp.file("o6")));
    CHECK(r.exit_code == 1);
    CHECK(r.output.find("fake.safetensors") != std::string::npos);
    CHECK(!fs::exists(tmp.file("o6")));
  }
  // A stream on stdin that ends inside its first frame.
  {
    std::ofstream(tmp.file("cut.y4m")) << "YUV4MPEG2 W4 H2 F25:1 C444\nFRAME\n" << std::string(5, 'x');
    fails("- -o " + q(tmp.file("o7")) + " < " + q(tmp.file("cut.y4m")), "frame 0");
    CHECK(!fs::exists(tmp.file("o7/00000000.png")));
  }
}
