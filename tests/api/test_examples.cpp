// The example programs (examples/), as built by the main build, run on the tiny random
// TV3S model of tests/api/api_test_util.h:
//  - segment_ppm (C++ API): three PPM frames (one header with a comment) → the PGM label
//    maps hold exactly the labels of a C++ Segmenter (stream mode) on the same frames, and
//    each histogram line counts them; bad PPM files and a bad model give one line naming
//    the file and a non-zero exit;
//  - segment_c (C API, C99): its whole output equals the one computed here with the C++
//    Segmenter on the same generated frames (two videos, one batch); a bad model path
//    prints tv3s_last_error() and exits 1;
//  - segment_nv12 (C API, C99, NV12 frames, a precision): its output equals the C++
//    Segmenter's on the same NV12 frames (Segmenter::segment of Nv12Frame), in fp32 and
//    fp16; bad arguments exit 2.
// Exact comparisons: the programs and the tests run the same code.
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "src/pipeline/segmenter.h"
#include "tests/api/api_test_util.h"
#include "tests/io/io_test_util.h"
#include "tv3s/model_classes.h"

#if defined(TV3S_EXAMPLE_PPM_PATH) && defined(TV3S_EXAMPLE_C_PATH) && defined(TV3S_EXAMPLE_NV12_PATH)

using namespace tv3s;

namespace {

// "name=count ..." for the classes present in labels[0, n).
std::string histogram(const std::vector<ClassInfo>& classes, const uint8_t* labels, size_t n) {
  std::vector<long> counts(classes.size(), 0);
  for (size_t p = 0; p < n; ++p) ++counts[labels[p]];
  std::string line;
  for (size_t k = 0; k < classes.size(); ++k)
    if (counts[k] > 0) line += " " + classes[k].name + "=" + std::to_string(counts[k]);
  return line;
}

std::string ppm(int width, int height, const std::vector<uint8_t>& rgb, const std::string& comment = "") {
  return "P6\n" + comment + std::to_string(width) + " " + std::to_string(height) + "\n255\n" +
         std::string(rgb.begin(), rgb.end());
}

}  // namespace

TEST_CASE("examples: segment_ppm writes the C++ Segmenter's labels as PGM and histograms") {
  NoGradGuard no_grad;
  test::TempDir tmp;
  const int W = 56, H = 40;
  std::vector<std::string> frames;
  std::string args;
  for (int t = 0; t < 3; ++t) {
    frames.push_back(tmp.file("f" + std::to_string(t) + ".ppm"));
    test::write_bytes(frames.back(),
                      ppm(W, H, test::example_frame(0, t, W, H), t == 1 ? "# a comment\n" : ""));
    args += " '" + frames.back() + "'";
  }
  const test::ProgramResult r = test::run_program(std::string(TV3S_EXAMPLE_PPM_PATH) + " '" +
                                                  test::tiny_model_path() + "' '" +
                                                  tmp.file("out") + "'" + args);
  INFO(r.output);
  REQUIRE(r.exit_code == 0);

  Segmenter segmenter = Segmenter::load(test::tiny_model_path());
  const std::vector<ClassInfo> classes = model_classes(segmenter);
  std::string expected;
  for (int t = 0; t < 3; ++t) {
    const std::vector<uint8_t> rgb = test::example_frame(0, t, W, H);
    const Segmentation s = segmenter.segment({{rgb.data(), W, H}});
    const uint8_t* labels = s.labels.data<uint8_t>();
    expected += "f" + std::to_string(t) + ":" + histogram(classes, labels, size_t(W * H)) + "\n";
    const std::string pgm = test::read_bytes(tmp.file("out/f" + std::to_string(t) + ".pgm"));
    CHECK(pgm == "P5\n56 40\n255\n" + std::string(labels, labels + W * H));
  }
  CHECK(r.output == expected);
}

TEST_CASE("examples: segment_ppm rejects bad PPM files and a bad model, one line each") {
  test::TempDir tmp;
  const std::string model = test::tiny_model_path();
  const std::vector<uint8_t> rgb = test::example_frame(0, 0, 4, 2);
  struct Case {
    std::string bytes, message;
  };
  const std::vector<Case> cases = {
      {"P3\n4 2\n255\n", "not a binary PPM (no P6 magic)"},
      {"P6\n4 2\n65535\n" + std::string(48, '\0'), "PPM maxval 65535 (only 8-bit, 255)"},
      {"P6\n4 0\n255\n", "PPM size 4x0 (each side 1 to 32768)"},
      {"P6\n4 x\n255\n", "PPM header: expected a number"},
      {"P6\n4 2000000\n255\n", "PPM header: number too large"},
      {ppm(4, 2, rgb).substr(0, 20), "truncated: 9 bytes of pixels, 4x2 needs 24"},
  };
  for (const Case& c : cases) {
    const std::string path = tmp.file("bad.ppm");
    test::write_bytes(path, c.bytes);
    const test::ProgramResult r = test::run_program(std::string(TV3S_EXAMPLE_PPM_PATH) + " '" +
                                                    model + "' '" + tmp.file("out") + "' '" + path + "'");
    CHECK(r.exit_code == 1);
    CHECK(r.output == "segment_ppm: " + path + ": " + c.message + "\n");
  }
  const std::string missing = tmp.file("missing.safetensors");
  const test::ProgramResult r = test::run_program(std::string(TV3S_EXAMPLE_PPM_PATH) + " '" +
                                                  missing + "' '" + tmp.file("out") + "' x.ppm");
  CHECK(r.exit_code == 1);
  CHECK(r.output == "segment_ppm: " + missing + ": cannot open: No such file or directory\n");
}

TEST_CASE("examples: segment_c prints what the C++ Segmenter computes; errors exit 1") {
  NoGradGuard no_grad;
  const int frames = 2, videos = 2, W = 64, H = 48;
  const test::ProgramResult r = test::run_program(std::string(TV3S_EXAMPLE_C_PATH) + " '" +
                                                  test::tiny_model_path() + "' " +
                                                  std::to_string(frames));
  INFO(r.output);
  REQUIRE(r.exit_code == 0);

  Segmenter segmenter =
      Segmenter::load(test::tiny_model_path(), {SegmentMode::stream, Device::CPU, videos});
  const std::vector<ClassInfo> classes = model_classes(segmenter);
  std::string expected = std::string("tv3s ") + TV3S_VERSION_STRING + ", 5 classes:";
  const char* colors[] = {"#4682b4", "#6b8e23", "#804080", "#00008e", "#dc143c"};
  for (size_t k = 0; k < classes.size(); ++k) expected += " " + classes[k].name + " " + colors[k];
  expected += "\n";
  for (int t = 0; t < frames; ++t) {
    const std::vector<uint8_t> a = test::example_frame(0, t), b = test::example_frame(1, t);
    const Segmentation s = segmenter.segment({{a.data(), W, H}, {b.data(), W, H}});
    for (int v = 0; v < videos; ++v)
      expected += "video " + std::to_string(v) + " frame " + std::to_string(t) + ":" +
                  histogram(classes, s.labels.data<uint8_t>() + v * W * H, size_t(W * H)) + "\n";
  }
  expected += "carried state: " + std::to_string(segmenter.state_bytes()) + " bytes\n";
  CHECK(r.output == expected);

  test::TempDir tmp;
  const std::string missing = tmp.file("missing.safetensors");
  const test::ProgramResult bad = test::run_program(std::string(TV3S_EXAMPLE_C_PATH) + " '" + missing + "'");
  CHECK(bad.exit_code == 1);
  CHECK(bad.output == "segment_c: tv3s_segmenter_create failed (model error): " + missing +
                          ": cannot open: No such file or directory\n");
}

TEST_CASE("examples: segment_nv12 prints what the C++ Segmenter computes from NV12 frames") {
  NoGradGuard no_grad;
  const int frames = 3, videos = 2, W = 64, H = 48, stride = 80;
  for (const char* precision : {"fp32", "fp16"}) {
    CAPTURE(precision);
    const test::ProgramResult r = test::run_program(std::string(TV3S_EXAMPLE_NV12_PATH) + " '" +
                                                    test::tiny_model_path() + "' " +
                                                    std::to_string(frames) + " " + precision);
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    SegmenterOptions options;
    options.videos = videos, options.precision = parse_precision(precision);
    Segmenter segmenter = Segmenter::load(test::tiny_model_path(), options);
    const std::vector<ClassInfo> classes = model_classes(segmenter);
    std::string expected;
    for (int t = 0; t < frames; ++t) {
      // examples/segment_nv12.c's make_nv12.
      std::vector<std::vector<uint8_t>> y(videos, std::vector<uint8_t>(H * stride)),
          uv(videos, std::vector<uint8_t>(H / 2 * stride));
      std::vector<Nv12Frame> batch;
      for (int v = 0; v < videos; ++v) {
        for (int row = 0; row < H; ++row)
          for (int x = 0; x < stride; ++x)
            y[v][size_t(row * stride + x)] = uint8_t(16 + (x * 3 + row * 2 + t * 5 + v * 50) % 220);
        for (int row = 0; row < H / 2; ++row)
          for (int x = 0; x < stride; ++x)
            uv[v][size_t(row * stride + x)] = uint8_t(40 + (x * 7 + row * 3 + t * 9 + v * 30) % 180);
        Nv12Frame f;
        f.y = y[v].data(), f.uv = uv[v].data(), f.width = W, f.height = H;
        f.y_stride = stride, f.uv_stride = stride;
        batch.push_back(f);
      }
      const Segmentation s = segmenter.segment(batch);
      expected += "frame " + std::to_string(t) + ":";
      for (int v = 0; v < videos; ++v) {
        std::vector<long> counts(classes.size(), 0);
        for (int p = 0; p < W * H; ++p) ++counts[s.labels.data<uint8_t>()[v * W * H + p]];
        size_t top = 0;
        for (size_t k = 1; k < counts.size(); ++k)
          if (counts[k] > counts[top]) top = k;
        expected += " video " + std::to_string(v) + " " + classes[top].name + " " +
                    std::to_string(counts[top]) + "/" + std::to_string(W * H);
      }
      expected += "\n";
    }
    expected += std::string(precision) + " on cpu, carried state " +
                std::to_string(segmenter.state_bytes()) + " bytes for 2 videos\n";
    CHECK(r.output == expected);
  }
  const test::ProgramResult bad = test::run_program(std::string(TV3S_EXAMPLE_NV12_PATH) + " '" +
                                                    test::tiny_model_path() + "' 2 fp64");
  CHECK(bad.exit_code == 2);
}

#endif
