// `tv3s segment` on video files through FFmpeg, end to end through the built command, on
// the tiny TV3S model (tests/data/tv3s: MiT-B0, E 32, window 4, 5 classes; 130×90 frames
// made into an H.264 video by the ffmpeg command):
//  - the label maps are the library's on the frames VideoReader decodes (exact);
//  - --video-out: the overlay video read back has the input's frame count and
//    timestamps; --video-shows labels writes the palette colours;
//  - a truncated video: one line, exit 1, and everything decoded before is written (the
//    label maps, and a finished video of those frames under the final name);
//  - command-line errors, and the help naming every input kind.
#include <filesystem>
#include <nlohmann/json.hpp>

#include "src/data/class_tables.h"
#include "src/io/image.h"
#include "src/io/video_reader.h"
#include "src/pipeline/segmenter.h"
#include "tests/io/io_test_util.h"
#include "tests/io/video_test_util.h"
#include "tests/models/parity_util.h"  // convert_with_cli

using namespace tv3s;
using namespace tv3s::test;
namespace fs = std::filesystem;

namespace {

const std::string kData = std::string(TV3S_SOURCE_DIR) + "/tests/data/tv3s/";

// The converted tiny model and the fixture's 12 frames as an H.264 video at 15 fps.
struct VideoFixture {
  TempDir dir;
  std::string model, video;
  VideoFixture() {
    model = convert_with_cli(kData + "tiny_official.pth", dir.file("tiny.safetensors"));
    video = dir.file("street.mp4");
    ffmpeg("-framerate 15 -i " + shell_quoted(kData + "tiny_frames/%03d.png") +
           " -c:v libx264 -pix_fmt yuv420p -colorspace bt709 -movflags +faststart " + shell_quoted(video));
  }
};
VideoFixture& fixture() {
  static VideoFixture f;
  return f;
}

// The library's label maps for the frames of a decoded video, in stream mode.
std::vector<std::vector<uint8_t>> library_labels(const std::vector<io::Image>& frames) {
  Segmenter seg = Segmenter::load(fixture().model);
  std::vector<std::vector<uint8_t>> out;
  for (const io::Image& f : frames) {
    const Tensor l = seg.segment({RgbFrame{f.rgb.data(), f.width, f.height}}).labels;
    out.emplace_back(l.data<uint8_t>(), l.data<uint8_t>() + l.numel());
  }
  return out;
}

std::string frame_stem(size_t i) {
  char name[16];
  std::snprintf(name, sizeof name, "%08zu", i);
  return name;
}

}  // namespace

TV3S_FFMPEG_TEST_CASE("cli segment ffmpeg: a video file gives the library's labels and an overlay video with its timing") {
  VideoFixture& fx = fixture();
  TempDir out;
  const DecodedVideo input = read_video(fx.video);
  REQUIRE(input.frames.size() == 12);
  const auto expected = library_labels(input.frames);

  const std::string video_out = out.file("street_seg.mp4");
  auto r = run_tv3s("segment " + shell_quoted(fx.model) + " " + shell_quoted(fx.video) + " -o " + shell_quoted(out.file("labels")) +
                    " --video-out " + shell_quoted(video_out) + " --json " + shell_quoted(out.file("summary.json")) + " --quiet");
  REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  for (size_t i = 0; i < expected.size(); ++i) {
    const io::LabelMap m = io::read_label_png(out.file("labels/" + frame_stem(i) + ".png"));
    CHECK_MESSAGE(m.values == expected[i], "frame ", i, " differs from the library");
  }
  CHECK_FALSE(fs::exists(video_out + ".partial"));
  const DecodedVideo back = read_video(video_out);
  REQUIRE(back.frames.size() == 12);
  CHECK(back.frames[0].width == 130);
  CHECK(back.frames[0].height == 90);
  CHECK(back.info.frame_rate.num == 15);
  CHECK(back.info.frame_rate.den == 1);
  CHECK(back.info.matrix == io::YuvMatrix::bt709);  // the input's matrix
  const double tb_in = double(input.info.time_base.num) / input.info.time_base.den;
  const double tb_out = double(back.info.time_base.num) / back.info.time_base.den;
  for (size_t i = 0; i < 12; ++i)
    CHECK(double(back.pts[i] - back.pts[0]) * tb_out == doctest::Approx(double(input.pts[i] - input.pts[0]) * tb_in));
  const nlohmann::json summary = nlohmann::json::parse(read_bytes(out.file("summary.json")));
  CHECK(summary["frames"] == 12);
  if (has_encoder("libx264")) CHECK(summary["video_codec"] == "libx264");

  // --video-shows labels: the class colours alone. Class edges lose colour to 4:2:0 chroma
  // and the encoder, so the check is that each pixel's nearest class colour is its class
  // (measured: 94.5 % of the pixels; the tiny model's label maps are mostly edges).
  const std::string colours = out.file("labels.mkv");
  r = run_tv3s("segment " + shell_quoted(fx.model) + " " + shell_quoted(fx.video) + " --video-out " + shell_quoted(colours) +
               " --video-shows labels --palette vspw --quiet");
  REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  const DecodedVideo shown = read_video(colours);
  REQUIRE(shown.frames.size() == 12);
  const io::LabelMap first = io::read_label_png(out.file("labels/" + frame_stem(0) + ".png"));
  const auto& palette = data::class_table_by_name("vspw", 5).palette;
  size_t recovered = 0;
  for (size_t p = 0; p < first.values.size(); ++p) {
    int nearest = 0, best = 1 << 30;
    for (int k = 0; k < 5; ++k) {
      int d = 0;
      for (int c = 0; c < 3; ++c) d += std::abs(int(shown.frames[0].rgb[3 * p + c]) - int(palette[k][c]));
      if (d < best) best = d, nearest = k;
    }
    recovered += nearest == first.values[p];
  }
  const double share = double(recovered) / double(first.values.size());
  CHECK_MESSAGE(share > 0.9, "the class of ", 100 * share, " % of the pixels is their nearest colour");
}

TV3S_FFMPEG_TEST_CASE("cli segment ffmpeg: a truncated video writes what was decoded, then one line and exit 1") {
  VideoFixture& fx = fixture();
  TempDir out;
  const std::string bytes = read_bytes(fx.video);
  const std::string cut = out.file("cut.mp4");
  write_bytes(cut, bytes.substr(0, bytes.size() * 7 / 10));
  const std::string video_out = out.file("cut_seg.mkv");
  const auto r = run_tv3s("segment " + shell_quoted(fx.model) + " " + shell_quoted(cut) + " -o " + shell_quoted(out.file("labels")) +
                          " --video-out " + shell_quoted(video_out) + " --quiet");
  CHECK(r.exit_code == 1);
  const std::string prefix = "tv3s segment: " + cut + ": truncated or corrupt after ";
  REQUIRE_MESSAGE(r.output.rfind(prefix, 0) == 0, r.output);
  CHECK(std::count(r.output.begin(), r.output.end(), '\n') == 1);
  const int decoded = std::stoi(r.output.substr(prefix.size()));
  CHECK(decoded > 0);
  CHECK(decoded < 12);
  CHECK_MESSAGE(r.output.find("(the " + std::to_string(decoded) + " frames before it are written)") != std::string::npos,
                r.output);
  size_t label_files = 0;
  for (const auto& e : fs::directory_iterator(out.file("labels"))) label_files += e.path().extension() == ".png";
  CHECK(label_files == size_t(decoded));
  CHECK(read_video(video_out).frames.size() == size_t(decoded));
  CHECK_FALSE(fs::exists(video_out + ".partial"));
}

TV3S_FFMPEG_TEST_CASE("cli segment ffmpeg: bad command lines and inputs are one line each; --help names every input") {
  VideoFixture& fx = fixture();
  TempDir out;
  auto r = run_tv3s("segment " + shell_quoted(fx.model) + " " + shell_quoted(fx.video) + " --video-out " + shell_quoted(out.file("x.xyz123")));
  CHECK(r.exit_code == 2);
  CHECK_MESSAGE(r.output.find("no video container by this name's extension") != std::string::npos, r.output);
  fs::copy_file(fx.video, out.file("other.mp4"));
  r = run_tv3s("segment " + shell_quoted(fx.model) + " " + shell_quoted(fx.video) + " " + shell_quoted(out.file("other.mp4")) + " --video-out " +
               shell_quoted(out.file("two.mp4")));
  CHECK(r.exit_code == 1);
  CHECK_MESSAGE(r.output == "tv3s segment: " + out.file("two.mp4") + ": --video-out takes one input video and this "
                "command line has 2 (run once per video)\n", r.output);
  const std::string text = out.file("notes.mkv");
  write_bytes(text, "not a video\n");
  r = run_tv3s("segment " + shell_quoted(fx.model) + " " + shell_quoted(text) + " -o " + shell_quoted(out.file("l")));
  CHECK(r.exit_code == 1);
  CHECK_MESSAGE(r.output.rfind("tv3s segment: " + text + ": not a video FFmpeg can open (", 0) == 0, r.output);
  CHECK(std::count(r.output.begin(), r.output.end(), '\n') == 1);
  CHECK_FALSE(fs::exists(out.file("l")));  // inputs are checked before any output is made
  r = run_tv3s("segment " + shell_quoted(fx.model) + " " + shell_quoted(fx.video) + " --video-shows nothing -o x");
  CHECK(r.exit_code == 2);

  r = run_tv3s("segment --help");
  CHECK(r.exit_code == 0);
  for (const char* kind : {"street.mp4", "/dev/video0", "rtsp://", "frames/", "origin/", "a.png b.jpg", "clip.y4m",
                           "--video-out FILE", "--video-shows"})
    CHECK_MESSAGE(r.output.find(kind) != std::string::npos, kind);
  r = run_tv3s("--help");
  CHECK(r.output.find("segment images with a model file") == std::string::npos);  // the old, wrong line
  CHECK(r.output.find("segment videos (files, cameras, streams)") != std::string::npos);
}

TV3S_FFMPEG_TEST_CASE("cli segment ffmpeg: Ctrl-C on a live source finishes the outputs and exits 130") {
  // A source without an end: ffmpeg sends frames at 10 fps (-re) into stdin; after 4 s
  // the command gets SIGINT, finishes the frame in progress, closes the video and exits.
  VideoFixture& fx = fixture();
  TempDir out;
  const std::string video_out = out.file("live.mkv");
  const std::string script =
      "ffmpeg -nostdin -v error -re -f lavfi -i testsrc2=size=130x90:rate=10 -t 60 -f yuv4mpegpipe - | " +
      std::string(TV3S_CLI_PATH) + " segment " + shell_quoted(fx.model) + " - -o " + shell_quoted(out.file("labels")) +
      " --video-out " + shell_quoted(video_out) + " --quiet & p=$!; sleep 4; kill -INT $p; wait $p; echo rc=$?";
  const CommandResult r = run_command("bash -c " + shell_quoted(script));
  REQUIRE_MESSAGE(r.output.find("rc=130") != std::string::npos, r.output);
  CHECK_MESSAGE(r.output.find("tv3s segment: interrupted after ") != std::string::npos, r.output);
  size_t label_files = 0;
  for (const auto& e : fs::directory_iterator(out.file("labels"))) label_files += e.path().extension() == ".png";
  CHECK(label_files > 0);
  CHECK(read_video(video_out).frames.size() == label_files);
  CHECK_FALSE(fs::exists(video_out + ".partial"));
}
