// 16-bit inference (src/models/precision.h, SegmenterOptions::precision) against the f32
// references of the parity tests: the PyTorch fixtures of tests/data/segformer (MiT-B1
// frame, 64×96 and 67×101, logits at the input size) and tests/data/tv3s (TV3S-B1 at
// 320×480, clip and stream, frames 2 and 5 — frame 5's clip is [0, 2, 4, 5] — logits at
// the c1 size; frame 9 too when TV3S_LONG_TESTS is set: 40 % more time). The f32 model meets
// those to 1e-4 (the parity tests), so they stand for the f32 model here. In the CUDA device
// emulator (~6 s a TV3S-B1 frame) each precision runs in one mode, fp16 stream and bf16
// clip, unless TV3S_LONG_TESTS is set; a GPU runs all four.
//
// Tolerance. The issue asks for argmax agreement ≥ 99.5 %. These fixtures come from
// random weights (4 and 8 classes), whose logits have far smaller margins than a trained
// model's: in bf16 (8 significant bits) TV3S-B1 flips 0.7–1.0 % of its c1-size pixels
// (fp16: ≤ 0.52 %), every one of them a near-tie. So each stored frame must meet:
//   - every pixel whose reference margin (top-1 minus top-2 logit) exceeds twice the
//     frame's max |got − ref| keeps its class — no confident pixel flips;
//   - argmax agreement ≥ min_agreement(precision): 99.5 % for MiT-B1 in both precisions
//     and TV3S-B1 in fp16 but its clip mode (99.4 %), 98.5 % for TV3S-B1 in bf16 — each
//     below the measured value (the MESSAGE lines; README "16-bit inference");
//   - max |got − ref| / max |ref| ≤ max_rel(precision), about twice the worst measured.
// The trained shipped model meets 99.5 % in both precisions (test_shipped_model.cpp).
// On the CPU the 16-bit products are emulated (autocast); on CUDA — a GPU or the device
// emulator build — the model really stores f16/bf16.
#include <algorithm>
#include <cmath>
#include <map>
#include <string>

#include "src/io/image.h"
#include "src/models/model_file.h"
#include "src/models/precision.h"
#include "src/pipeline/preprocess.h"
#include "tests/models/parity_util.h"
#include "tests/test_util.h"

using namespace tv3s;

namespace {

const std::string kSegformerData = std::string(TV3S_SOURCE_DIR) + "/tests/data/segformer/";
const std::string kTv3sData = std::string(TV3S_SOURCE_DIR) + "/tests/data/tv3s/";

double max_rel(DType precision) { return precision == DType::bf16 ? 8e-2 : 2e-2; }

struct Worst {
  double rel = 0, agreement = 1;
  int64_t near_ties = 0, pixels = 0;  // reference margins ≤ 2·max error, of all pixels
};

// got, ref [1, h, w, K]; min_agreement as above.
void check_16bit(const Tensor& got, const Tensor& ref, DType precision, double min_agreement,
                 const std::string& what, Worst& worst) {
  REQUIRE(got.shape() == ref.shape());
  const test::Diff d = test::compare(got, ref);
  const double agreement = test::argmax_agreement(got, ref);
  const int64_t K = ref.size(3), pixels = ref.numel() / K;
  const std::vector<float> g = got.to_vector(), r = ref.to_vector();
  int64_t near_ties = 0, confident_flips = 0;
  for (int64_t p = 0; p < pixels; ++p) {
    const float* rp = &r[size_t(p * K)];
    const float* gp = &g[size_t(p * K)];
    const int64_t top = std::max_element(rp, rp + K) - rp;
    float second = -INFINITY;
    for (int64_t k = 0; k < K; ++k)
      if (k != top) second = std::max(second, rp[k]);
    const bool near_tie = rp[top] - second <= 2 * d.max_abs;
    near_ties += near_tie;
    confident_flips += !near_tie && std::max_element(gp, gp + K) - gp != top;
  }
  worst.rel = std::max(worst.rel, d.rel);
  worst.agreement = std::min(worst.agreement, agreement);
  worst.near_ties += near_ties, worst.pixels += pixels;
  INFO(what, ": ", test::to_string(d), ", argmax agreement ", agreement, ", near-ties ", near_ties,
       " of ", pixels);
  CHECK(d.nonfinite == 0);
  CHECK(confident_flips == 0);
  CHECK(agreement >= min_agreement);
  CHECK(d.rel <= max_rel(precision));
}

// MiT-B1 per frame: the SegFormer file of the parity fixtures, each image through a
// Segmenter in `precision`, logits at the input size against the fixture's.
void check_segformer_b1(Device device) {
  test::TempDir tmp;
  const std::string model = test::convert_with_cli(kSegformerData + "b1_official.pth", tmp.file("b1.safetensors"));
  NoGradGuard no_grad;
  for (DType precision : {DType::f16, DType::bf16}) {
    SegmenterOptions options;
    options.device = device, options.precision = precision;
    Segmenter segmenter = Segmenter::load(model, options);
    Worst worst;
    for (const char* size : {"64x96", "67x101"}) {
      const std::string stem = kSegformerData + "b1_" + size;
      const Tensor logits = segmenter.push(normalize_image(io::read_image(stem + ".png"), device));
      CHECK(logits.dtype() == DType::f32);
      const Tensor ref = io::read_npy(stem + "_full.npy");  // [K, H, W]
      const Tensor ref_nhwc = permute(ref, {1, 2, 0}).reshape(Shape{1, ref.size(1), ref.size(2), ref.size(0)});
      check_16bit(logits.cpu(), ref_nhwc, precision, 0.995, std::string("MiT-B1 ") + size, worst);
    }
    MESSAGE("MiT-B1 frame in ", std::string(precision_name(precision)), " on ",
            std::string(device_name(device)), ": max rel error ", worst.rel, ", argmax agreement ",
            worst.agreement * 100, " %, near-ties ", worst.near_ties, " of ", worst.pixels, " pixels");
  }
}

// TV3S-B1 at 320×480: the frames through a Segmenter in `precision`, clip and stream,
// c1-size logits of frames 2, 5 (and 9) against the fixtures.
void check_tv3s_b1(Device device) {
  test::TempDir tmp;
  const std::string model = test::convert_with_cli(kTv3sData + "b1_official.pth", tmp.file("b1.safetensors"));
  const std::vector<std::string> frames = io::list_frames(kTv3sData + "b1_320x480");
  const int64_t last = test::long_tests() ? 9 : 5;
  const bool every_mode = test::runs_whole_on(device);
  NoGradGuard no_grad;
  for (DType precision : {DType::f16, DType::bf16}) {
    for (SegmentMode mode : {SegmentMode::stream, SegmentMode::clip}) {
      if (!every_mode && mode != (precision == DType::f16 ? SegmentMode::stream : SegmentMode::clip))
        continue;
      SegmenterOptions options;
      options.mode = mode, options.device = device, options.precision = precision;
      Segmenter segmenter = Segmenter::load(model, options);
      Worst worst;
      for (int64_t i = 0; i <= last; ++i) {
        const Tensor logits =
            segmenter.push(normalize_image(io::read_image(frames[size_t(i)]), device), false);
        if (i != 2 && i != 5 && i != 9) continue;
        const std::string name = std::string("b1_320x480_") + segment_mode_name(mode) + "_" + test::frame_name(i);
        const double min_agreement =
            precision == DType::bf16 ? 0.985 : mode == SegmentMode::clip ? 0.994 : 0.995;
        check_16bit(logits.cpu(), test::read_logits(kTv3sData + name + ".npy"), precision,
                    min_agreement, name, worst);
      }
      MESSAGE("TV3S-B1 320x480 ", std::string(segment_mode_name(mode)), " in ",
              std::string(precision_name(precision)), " on ", std::string(device_name(device)),
              ": max rel error ", worst.rel, ", argmax agreement ", worst.agreement * 100,
              " %, near-ties ", worst.near_ties, " of ", worst.pixels, " pixels");
    }
  }
}

}  // namespace

TEST_CASE("precision: the names fp32, fp16, bf16 and nothing else") {
  CHECK(parse_precision("fp32") == DType::f32);
  CHECK(parse_precision("fp16") == DType::f16);
  CHECK(parse_precision("bf16") == DType::bf16);
  CHECK(std::string(precision_name(DType::f16)) == "fp16");
  CHECK_THROWS_WITH(parse_precision("f16"), "unknown precision 'f16' (fp32, fp16 or bf16)");
  CHECK_THROWS_AS(parse_precision("FP16"), Error);
}

TEST_CASE("precision: 16-bit weights keep BatchNorm and the scan's parameters in f32") {
  CHECK(parameter_keeps_f32("decode_head.linear_fuse.bn.running_var"));
  CHECK(parameter_keeps_f32("decode_head.vs.layers.3.mixer.A_log"));
  CHECK(parameter_keeps_f32("decode_head.vs.layers.3.mixer.D"));
  CHECK(parameter_keeps_f32("decode_head.vs.layers.3.mixer.dt_proj.bias"));
  CHECK_FALSE(parameter_keeps_f32("decode_head.vs.layers.3.mixer.dt_proj.weight"));
  CHECK_FALSE(parameter_keeps_f32("decode_head.vs.layers.3.norm.weight"));
  CHECK_FALSE(parameter_keeps_f32("backbone.block1.0.attn.q.weight"));

  // 1 + 2^-12 is not an f16 value (10 fraction bits): rounded to 1 on the CPU, kept f32.
  std::map<std::string, Tensor> tensors;
  tensors["a.weight"] = Tensor::from_vector({1.0f + 0x1p-12f, 3.0f}, Shape{2});
  tensors["m.A_log"] = Tensor::from_vector({1.0f + 0x1p-12f}, Shape{1});
  const Weights f16 = weights_in_precision(Weights(tensors), DType::f16);
  CHECK(f16.get("a.weight").dtype() == DType::f32);  // CPU: f32 storage
  CHECK(f16.get("a.weight").to_vector() == std::vector<float>{1.0f, 3.0f});
  CHECK(f16.get("m.A_log").to_vector() == std::vector<float>{1.0f + 0x1p-12f});
  CHECK(weights_in_precision(Weights(tensors), DType::f32).get("a.weight").to_vector()[0] == 1.0f + 0x1p-12f);
  CHECK_THROWS_WITH(weights_in_precision(Weights(tensors), DType::f64),
                    "model precision must be f32, f16 or bf16, got f64");
}

TEST_CASE("precision: MiT-B1 frame in fp16 and bf16 agrees with f32 (CPU, emulated)") {
  check_segformer_b1(Device::CPU);
}

TEST_CASE("precision: TV3S-B1 at 320×480 stream and clip in fp16 and bf16 agree with f32 (CPU, emulated)") {
  check_tv3s_b1(Device::CPU);
}

TV3S_CUDA_TEST_CASE("precision: MiT-B1 frame in fp16 and bf16 agrees with f32 on CUDA (16-bit storage)") {
  check_segformer_b1(Device::CUDA);
}

TV3S_CUDA_TEST_CASE("precision: TV3S-B1 at 320×480 stream and clip in fp16 and bf16 on CUDA (16-bit storage)") {
  check_tv3s_b1(Device::CUDA);
}

TV3S_CUDA_TEST_CASE("precision: on CUDA a 16-bit model stores 16 bits, the scan's state f32") {
  test::TempDir tmp;
  const std::string model = test::convert_with_cli(kTv3sData + "tiny_official.pth", tmp.file("tiny.safetensors"));
  SegmenterOptions options;
  options.device = Device::CUDA, options.precision = DType::f16;
  Segmenter f16 = Segmenter::load(model, options);
  options.precision = DType::f32;
  Segmenter f32 = Segmenter::load(model, options);
  CHECK(f16.weights().get("backbone.block1.0.attn.q.weight").dtype() == DType::f16);
  CHECK(f16.weights().get("decode_head.vs.layers.0.mixer.A_log").dtype() == DType::f32);
  CHECK(f16.weights().get("decode_head.linear_fuse.bn.weight").dtype() == DType::f32);
  size_t bytes16 = 0, bytes32 = 0;
  for (const auto& [name, t] : f16.weights().all()) bytes16 += t.nbytes();
  for (const auto& [name, t] : f32.weights().all()) bytes32 += t.nbytes();
  CHECK(bytes16 < bytes32 * 0.51);
  // Streaming: the SSM state is f32 (it is most of state_bytes), the conv state 16-bit.
  NoGradGuard no_grad;
  const io::Image image = io::read_image(io::list_frames(kTv3sData + "tiny_frames")[0]);
  f16.push(normalize_image(image, Device::CUDA));
  f32.push(normalize_image(image, Device::CUDA));
  CHECK(f16.state_bytes() < f32.state_bytes());
  CHECK(f16.state_bytes() > f32.state_bytes() * 0.75);
}

TEST_CASE("precision: tv3s segment --precision (and a bad one)") {
  test::TempDir tmp;
  const std::string model = test::convert_with_cli(kTv3sData + "tiny_official.pth", tmp.file("tiny.safetensors"));
  const std::string frames = kTv3sData + "tiny_frames";
  const test::CommandResult ok = test::run_tv3s("segment '" + model + "' '" + frames + "' --precision bf16 --quiet -o '" +
                                                tmp.file("labels") + "' --json -");
  INFO(ok.output);
  CHECK(ok.exit_code == 0);
  CHECK(ok.output.find("\"precision\": \"bf16\"") != std::string::npos);
  const test::CommandResult bad = test::run_tv3s("segment '" + model + "' '" + frames + "' --precision half");
  CHECK(bad.exit_code == 2);
  CHECK(bad.output.find("unknown --precision 'half' (fp32, fp16 or bf16)") != std::string::npos);
}
