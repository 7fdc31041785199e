// The model parity tests' shared steps (test_tv3s_parity.cpp, test_swin_parity.cpp): a
// checkpoint through `tv3s convert`, a video's frames through a Segmenter (the library)
// or through `tv3s segment` (the command), logits compared with the PyTorch fixtures
// ([K, h, w] float32 .npy at the c1 size, as tools/gen_tv3s_fixtures.py and
// tools/gen_swin_fixtures.py write them) within the stated tolerance, numbers printed.
#pragma once
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "src/io/frame_list.h"
#include "src/io/image.h"
#include "src/pipeline/preprocess.h"
#include "src/pipeline/segmenter.h"
#include "tests/test_util.h"

namespace tv3s::test {

// The tolerance of the model parity tests (the issues'): max |got − ref| ≤ kParityTol · max |ref|
// in f32, argmax agreement ≥ kArgmaxAgreement.
constexpr double kParityTol = 1e-4;
constexpr double kArgmaxAgreement = 0.999;

inline std::string frame_name(int64_t i) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%03lld", (long long)i);
  return buf;
}

// [1, H, W, C] (channels-last) → [C, H, W], the fixtures' layout of one frame's maps.
inline Tensor to_chw(const Tensor& nhwc) {
  return permute(nhwc.reshape(Shape{nhwc.size(1), nhwc.size(2), nhwc.size(3)}), {2, 0, 1});
}

// A fixture [K, h, w] as [1, h, w, K].
inline Tensor read_logits(const std::string& path) {
  const Tensor chw = io::read_npy(path);
  return permute(chw, {1, 2, 0}).reshape(Shape{1, chw.size(1), chw.size(2), chw.size(0)});
}

inline double argmax_agreement(const Tensor& got, const Tensor& ref) {
  const std::vector<int32_t> a = argmax(got.cpu(), -1).to_vector_i32();
  const std::vector<int32_t> b = argmax(ref.cpu(), -1).to_vector_i32();
  size_t same = 0;
  for (size_t i = 0; i < a.size(); ++i) same += a[i] == b[i];
  return double(same) / double(a.size());
}

// got and ref [1, h, w, K]: the stated tolerance and argmax agreement; prints the numbers.
inline void check_logits(const Tensor& got, const Tensor& ref, const std::string& what, double& worst,
                  double& worst_agreement) {
  const Diff d = compare(got, ref);
  const double agreement = argmax_agreement(got, ref);
  worst = std::max(worst, d.rel);
  worst_agreement = std::min(worst_agreement, agreement);
  INFO(what, ": ", to_string(d), ", argmax agreement ", agreement);
  CHECK(got.shape() == ref.shape());
  CHECK(d.nonfinite == 0);
  CHECK(d.rel <= kParityTol);
  CHECK(agreement >= kArgmaxAgreement);
}

inline std::string convert_with_cli(const std::string& pth, const std::string& out) {
  const CommandResult r = run_tv3s("convert '" + pth + "' '" + out + "'");
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  return out;
}

// The library path: every frame through a Segmenter, c1-size logits against the fixture
// of every stored frame.
inline void check_library(const std::string& model, const std::string& fixtures, const std::string& frames_dir,
                   const std::string& prefix, const std::vector<int64_t>& stored, Device device) {
  NoGradGuard no_grad;
  for (SegmentMode mode : {SegmentMode::clip, SegmentMode::stream}) {
    Segmenter segmenter = Segmenter::load(model, {mode, device});
    double worst = 0, agreement = 1;
    size_t next = 0;
    const std::vector<std::string> frames = io::list_frames(frames_dir);
    for (int64_t i = 0; i < int64_t(frames.size()); ++i) {
      const Tensor logits =
          segmenter.push(normalize_image(io::read_image(frames[size_t(i)]), device), false);
      if (next < stored.size() && stored[next] == i) {
        const std::string name = prefix + "_" + segment_mode_name(mode) + "_" + frame_name(i);
        check_logits(logits.cpu(), read_logits(fixtures + name + ".npy"), name, worst, agreement);
        ++next;
      }
    }
    CHECK(next == stored.size());
    MESSAGE(prefix, " ", std::string(segment_mode_name(mode)), " (library, c1 size, ",
            std::string(device_name(device)),
            "): max rel error ", worst, ", argmax agreement ", agreement);
  }
}

// The command-line path: `tv3s segment DIR --mode M --save-logits OUT` for each of `modes`,
// input-size logits against the resized fixture.
inline void check_cli(const std::string& model, const std::string& fixtures, const std::string& frames_dir,
                      const std::string& prefix, const std::vector<int64_t>& stored,
                      const std::string& device,
                      const std::vector<std::string>& modes = {"clip", "stream"}) {
  for (const std::string& mode : modes) {
    TempDir out;
    const CommandResult r =
        run_tv3s("segment '" + model + "' '" + frames_dir + "' --mode " + mode +
                       " --save-logits '" + out.path() + "' --quiet --device " + device);
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    double worst = 0, agreement = 1;
    for (int64_t i : stored) {
      const std::string name = prefix + "_" + mode + "_" + frame_name(i);
      const Tensor got = read_logits(out.file(frame_name(i) + ".npy"));
      const Tensor ref = resize_bilinear(read_logits(fixtures + name + ".npy"), got.size(1), got.size(2));
      check_logits(got, ref, name + " (tv3s segment)", worst, agreement);
      CHECK(std::filesystem::is_regular_file(out.file(frame_name(i) + ".png")));
    }
    MESSAGE(prefix, " ", mode, " (tv3s segment, input size, ", device,
            "): max rel error ", worst,
            ", argmax agreement ", agreement);
  }
}

inline std::vector<int64_t> all_frames(int64_t n) {
  std::vector<int64_t> v;
  for (int64_t i = 0; i < n; ++i) v.push_back(i);
  return v;
}

}  // namespace tv3s::test
