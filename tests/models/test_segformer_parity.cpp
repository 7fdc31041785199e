// Parity of the per-frame SegFormer model with an independent implementation: Hugging
// Face transformers' Segformer in PyTorch (float64), random seeded weights, BN running
// statistics included (tools/gen_segformer_fixtures.py → tests/data/segformer/).
//
// For MiT-B0 and MiT-B1, both checkpoint naming schemes (official mmseg `.pth` and HF
// `pytorch_model.bin`, plus HF names in a .safetensors) go through `tv3s convert`; the
// converted model runs at a size divisible by 32 (64×96) and an odd one (67×101).
// Tolerance: max |got − ref| ≤ 1e-4 · max |ref| in f32 on CPU for c1..c4, the 1/4-
// resolution logits and the logits at input size; argmax agreement ≥ 99.9 %.
#include <algorithm>
#include <filesystem>
#include <string>

#include "src/io/image.h"
#include "src/io/safetensors.h"
#include "src/io/torch_checkpoint.h"
#include "src/models/model_file.h"
#include "src/models/segformer.h"
#include "src/pipeline/preprocess.h"
#include "tests/models/parity_util.h"
#include "tests/test_util.h"

using namespace tv3s;
using test::to_chw;

namespace {

const std::string kData = std::string(TV3S_SOURCE_DIR) + "/tests/data/segformer/";
constexpr double kTol = 1e-4;

// Fraction of pixels where argmax over channels (dim 0 of [K, H, W]) agrees.
double argmax_agreement(const Tensor& got_chw, const Tensor& ref_chw) {
  const std::vector<int32_t> a = argmax(got_chw.cpu(), 0).to_vector_i32();
  const std::vector<int32_t> b = argmax(ref_chw.cpu(), 0).to_vector_i32();
  size_t same = 0;
  for (size_t i = 0; i < a.size(); ++i) same += a[i] == b[i];
  return double(same) / double(a.size());
}

// `tv3s convert IN OUT` must succeed; returns OUT.
std::string convert(const std::string& in, const std::string& out) {
  const test::CommandResult r = test::run_tv3s("convert '" + in + "' '" + out + "'");
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  return out;
}

// Every output of `model` on the fixture case `<arch>_<size>` within kTol.
void check_case(const Segformer& model, const std::string& arch, const std::string& size,
                Device device = Device::CPU) {
  const std::string stem = kData + arch + "_" + size;
  const io::Image image = io::read_image(stem + ".png");
  NoGradGuard no_grad;
  const Tensor input = normalize_image(image, device);
  const SegformerOutput out = model.forward(input);
  double worst = 0;  // the largest rel error of this case, reported below
  auto check = [&](const Tensor& got, const Tensor& ref, const std::string& what) {
    worst = std::max(worst, test::compare(got, ref).rel);
    test::check_close(got, ref, kTol, arch + " " + size + " " + what);
  };
  for (int k = 0; k < 4; ++k) {
    const std::string name = "c" + std::to_string(k + 1);
    check(to_chw(out.features[k]), io::read_npy(stem + "_" + name + ".npy"), name);
  }
  check(to_chw(out.logits), io::read_npy(stem + "_logits.npy"), "logits");
  const Tensor full = to_chw(resize_bilinear(out.logits, image.height, image.width));
  const Tensor ref_full = io::read_npy(stem + "_full.npy");
  check(full, ref_full, "logits at input size");
  const double agreement = argmax_agreement(full, ref_full);
  CHECK(agreement >= 0.999);
  MESSAGE("parity ", arch, " ", size, " on ", std::string(device_name(device)), ": max rel error ", worst,
          " (tolerance ", kTol, "), argmax agreement ", agreement * 100, " %");
}

}  // namespace

TEST_CASE("segformer parity: MiT-B0/B1 from official and HF checkpoints match transformers") {
  const tv3s::test::TempDir tmp;
  const std::string dir = tmp.path();
  for (const std::string arch : {"b0", "b1"}) {
    CAPTURE(arch);
    const std::string from_official = convert(kData + arch + "_official.pth", dir + "/" + arch + "_official.safetensors");
    const std::string from_hf_bin = convert(kData + arch + "_hf.bin", dir + "/" + arch + "_hf_bin.safetensors");
    // HF names in a .safetensors file (the Hub's other format): the .bin's tensors re-saved.
    const std::string hf_st = dir + "/" + arch + "_hf_names.safetensors";
    io::write_safetensors(hf_st, io::read_torch_checkpoint(kData + arch + "_hf.bin").tensors);
    const std::string from_hf_st = convert(hf_st, dir + "/" + arch + "_hf_st.safetensors");

    // The three conversions hold the same parameters, bit for bit.
    const ModelFile a = load_model_file(from_official), b = load_model_file(from_hf_bin),
                    c = load_model_file(from_hf_st);
    CHECK(a.config.backbone == "mit_" + arch);
    CHECK(a.config.num_classes == 8);
    CHECK(a.config.class_names.size() == 8);  // from the mmseg meta
    REQUIRE(a.weights.all().size() == b.weights.all().size());
    for (auto& [name, t] : a.weights.all()) {
      CAPTURE(name);
      CHECK(t.to_vector() == b.weights.get(name).to_vector());
      CHECK(t.to_vector() == c.weights.get(name).to_vector());
    }
    for (const std::string& path : {from_official, from_hf_bin}) {
      const Segformer model = Segformer::load(path);
      check_case(model, arch, "64x96");
      check_case(model, arch, "67x101");
    }
  }
}

TEST_CASE("segformer parity: `tv3s segment --mode frame` writes the reference logits and labels") {
  const tv3s::test::TempDir tmp;
  const std::string dir = tmp.path();
  const std::string model = convert(kData + "b0_official.pth", dir + "/b0.safetensors");
  const std::string input = kData + "b0_67x101.png";
  const test::CommandResult r = test::run_tv3s("segment '" + model + "' '" + input +
                                               "' --mode frame --save-logits '" + dir + "/out' --quiet");
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  const Tensor logits = io::read_npy(dir + "/out/b0_67x101.npy");
  const Tensor ref = io::read_npy(kData + "b0_67x101_full.npy");
  test::check_close(logits, ref, kTol, "segment --save-logits");
  // The label map is the argmax of those logits, as the values of an indexed PNG.
  const io::LabelMap labels = io::read_label_png(dir + "/out/b0_67x101.png");
  REQUIRE(labels.width == 101);
  REQUIRE(labels.height == 67);
  const std::vector<int32_t> want = argmax(logits, 0).to_vector_i32();
  size_t same = 0;
  for (size_t i = 0; i < want.size(); ++i) same += labels.values[i] == want[i];
  CHECK(same == want.size());
}

TV3S_CUDA_TEST_CASE("segformer parity: the CUDA model meets the same reference tolerance (MiT-B0, B1)") {
  const tv3s::test::TempDir tmp;
  const std::string dir = tmp.path();
  for (const std::string arch : {"b0", "b1"}) {
    const std::string path = convert(kData + arch + "_official.pth", dir + "/" + arch + ".safetensors");
    const Segformer model = Segformer::load(path, Device::CUDA);
    check_case(model, arch, "67x101", Device::CUDA);
    check_case(model, arch, "64x96", Device::CUDA);
  }
}
