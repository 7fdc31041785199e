// The metric accumulators (src/eval/metrics.h) on tiny label maps whose results are
// computed by hand in the comments: mIoU with mmseg semantics (dataset-wide sums, ignore
// 255, NaN classes left out of the mean, IoU 0 classes kept in, NumPy's bins for values
// outside 0..K−1), fwIoU, and mVC as VC_perclip.py (videos of ≤ 16 frames skipped, N − n
// windows, GT 255 consistent, NaN windows left out, windows pooled over videos). Large
// frames (the OpenMP path) are checked against the same pixels counted in small pieces, and
// the run-length mVC against a literal AND over each window. Exact up to 1e-12 (the results
// are ratios of integer counts).
#include <cmath>
#include <vector>

#include "src/eval/metrics.h"
#include "tests/io/io_test_util.h"

using namespace tv3s;
using eval::IouAccumulator;
using eval::VcAccumulator;

namespace {

constexpr double kEps = 1e-12;

void add(IouAccumulator& acc, const std::vector<uint8_t>& gt, const std::vector<uint8_t>& pred) {
  REQUIRE(gt.size() == pred.size());
  acc.add(gt.data(), pred.data(), gt.size());
}

void add(VcAccumulator& acc, const std::vector<uint8_t>& gt, const std::vector<uint8_t>& pred) {
  REQUIRE(gt.size() == pred.size());
  acc.add(gt.data(), pred.data(), gt.size());
}

}  // namespace

TEST_CASE("metrics: mIoU sums the counts over all frames (not a per-frame mean); 255 ignored") {
  IouAccumulator acc(3);
  // Frame 1 (2×3):  gt   0 0 1      pred 0 1 1
  //                      1 255 2         2 0 2
  // The 255 pixel is dropped with its prediction. Pairs (g, p): (0,0) (0,1) (1,1) (1,2) (2,2)
  //   I = [1, 1, 1]   P = [1, 2, 2]   G = [2, 2, 1]
  add(acc, {0, 0, 1, 1, 255, 2}, {0, 1, 1, 2, 0, 2});
  // Frame 2 (2×2): gt all 2, pred 2 2 0 2: pairs (2,2)×3, (2,0)
  //   I = [0, 0, 3]   P = [1, 0, 3]   G = [0, 0, 4]
  add(acc, {2, 2, 2, 2}, {2, 2, 0, 2});
  // Sums: I = [1, 1, 4], P = [2, 2, 5], G = [2, 2, 5], U = P + G − I = [3, 3, 6]
  //   IoU = [1/3, 1/3, 2/3] → mIoU = 4/9       (the per-frame mean would be
  //   ((1/2 + 1/3 + 1/2)/3 + (0 + 3/4)/2) / 2 = 0.41…)
  //   Acc = [1/2, 1/2, 4/5] → mAcc = 0.6, aAcc = 6/9
  //   fwIoU = 2/9·1/3 + 2/9·1/3 + 5/9·2/3 = 14/27
  const eval::IouResult r = acc.result();
  CHECK(acc.frames() == 2);
  CHECK(r.intersect == std::vector<int64_t>{1, 1, 4});
  CHECK(r.pred_area == std::vector<int64_t>{2, 2, 5});
  CHECK(r.gt_area == std::vector<int64_t>{2, 2, 5});
  CHECK(r.uni == std::vector<int64_t>{3, 3, 6});
  CHECK(std::fabs(r.iou[0] - 1.0 / 3) < kEps);
  CHECK(std::fabs(r.iou[2] - 2.0 / 3) < kEps);
  CHECK(std::fabs(r.miou - 4.0 / 9) < kEps);
  CHECK(std::fabs(r.macc - 0.6) < kEps);
  CHECK(std::fabs(r.aacc - 6.0 / 9) < kEps);
  CHECK(std::fabs(r.fwiou - 14.0 / 27) < kEps);
}

TEST_CASE("metrics: a class absent from GT and prediction is NaN and left out; predicted-only is IoU 0") {
  IouAccumulator acc(4);
  // gt   0 0 1 1 255 255      pred 0 0 1 3 2 2
  // Class 2 is predicted only on ignored pixels: dropped, so U_2 = 0 → NaN, not in the mean.
  // Class 3 is predicted on a valid pixel and is not in the GT: U_3 = 1, IoU 0, in the mean.
  //   I = [2, 1, 0, 0]  P = [2, 1, 0, 1]  G = [2, 2, 0, 0]  U = [2, 2, 0, 1]
  //   IoU = [1, 1/2, NaN, 0] → mIoU = 1.5 / 3 = 0.5
  //   Acc = [1, 1/2, NaN, NaN] → mAcc = 0.75;  aAcc = 3/4
  //   fwIoU = 2/4·1 + 2/4·1/2 = 0.75
  add(acc, {0, 0, 1, 1, 255, 255}, {0, 0, 1, 3, 2, 2});
  const eval::IouResult r = acc.result();
  CHECK(std::isnan(r.iou[2]));
  CHECK(r.iou[3] == 0.0);
  CHECK(std::isnan(r.acc[3]));
  CHECK(std::fabs(r.miou - 0.5) < kEps);
  CHECK(std::fabs(r.macc - 0.75) < kEps);
  CHECK(std::fabs(r.aacc - 0.75) < kEps);
  CHECK(std::fabs(r.fwiou - 0.75) < kEps);

  // Nothing valid at all: every class NaN, every summary NaN.
  IouAccumulator empty(2);
  add(empty, {255, 255}, {0, 1});
  const eval::IouResult e = empty.result();
  CHECK(std::isnan(e.miou));
  CHECK(std::isnan(e.aacc));
  CHECK(std::isnan(e.fwiou));
}

TEST_CASE("metrics: values outside 0..K-1 follow NumPy's bins (K counts as K-1, above K dropped)") {
  IouAccumulator acc(3);
  // gt   0 1 2   2 1 3      pred 3 3 200 2 1 3
  // np.histogram(x, bins=arange(4)): the last bin [2, 3] is closed, so 3 lands in bin 2;
  // 200 is outside [0, 3] and dropped. gt 3 = pred 3 is an intersection, in bin 2.
  //   I = [0, 1, 2]   (the pairs (2,2), (1,1), (3,3))
  //   P = [0, 1, 4]   (3, 3, 2, 3 in bin 2; 1 in bin 1; 200 nowhere)
  //   G = [1, 2, 3]   U = [1, 2, 5]
  //   IoU = [0, 1/2, 2/5] → mIoU = 0.3
  add(acc, {0, 1, 2, 2, 1, 3}, {3, 3, 200, 2, 1, 3});
  const eval::IouResult r = acc.result();
  CHECK(r.intersect == std::vector<int64_t>{0, 1, 2});
  CHECK(r.pred_area == std::vector<int64_t>{0, 1, 4});
  CHECK(r.gt_area == std::vector<int64_t>{1, 2, 3});
  CHECK(std::fabs(r.miou - 0.3) < kEps);
}

TEST_CASE("metrics: a large frame (threads) counts exactly what its pieces count") {
  const size_t n = 300 * 300;  // above the one-thread limit
  std::vector<uint8_t> gt(n), pred(n);
  uint32_t s = 12345;
  for (size_t i = 0; i < n; ++i) {
    s = s * 1664525u + 1013904223u;
    gt[i] = (s >> 24) % 7 == 0 ? 255 : uint8_t((s >> 16) % 5);
    pred[i] = (s >> 8) % 3 == 0 ? uint8_t((s >> 4) % 6) : gt[i];
  }
  IouAccumulator whole(5), pieces(5);
  whole.add(gt.data(), pred.data(), n);
  for (size_t i = 0; i < n; i += 300) pieces.add(gt.data() + i, pred.data() + i, 300);
  const eval::IouResult a = whole.result(), b = pieces.result();
  CHECK(a.intersect == b.intersect);
  CHECK(a.pred_area == b.pred_area);
  CHECK(a.gt_area == b.gt_area);
}

TEST_CASE("metrics: mVC skips videos of 16 frames or fewer, for n = 8 as well") {
  VcAccumulator acc;
  acc.begin_video(16);
  for (int t = 0; t < 16; ++t) add(acc, {1, 2}, {1, 2});
  const eval::VcResult r = acc.result();
  CHECK(r.videos == 0);
  CHECK(r.windows8 == 0);
  CHECK(r.windows16 == 0);
  CHECK(std::isnan(r.mvc8));
  CHECK(std::isnan(r.mvc16));
}

TEST_CASE("metrics: mVC on 17 frames: 1 window of 16, 9 of 8; GT 255 counts as consistent") {
  // Four pixels over t = 0..16:
  //   p0  gt 1 always,                  pred 1 always           consistent everywhere
  //   p1  gt 2 always,                  pred 2 for t < 12, 3 after
  //   p2  gt 255 always (void),         pred 0 always           GT-consistent: counts
  //   p3  gt 0 for t < 4, 1 after,      pred 1 always
  // n = 16, window i = 0 (frames 0..15): Gc = {p0, p1, p2}, Gc ∧ Pc = {p0, p2} → 2/3.
  //   (The window starting at 1 would end on the last frame: VC_perclip's range(N − n)
  //   never scores it.)
  // n = 8, windows i = 0..8 (frames i..i+7; i = 9 is not scored):
  //   p3 is GT-consistent when i ≥ 4; p1's prediction is constant when i + 7 < 12, i.e. i < 5.
  //   i = 0..3: Gc = 3, num = 3 → 1;   i = 4: Gc = 4, num = 4 → 1;
  //   i = 5..8: Gc = 4, num = 3 → 3/4.
  //   mVC8 = (5·1 + 4·3/4) / 9 = 8/9   (with the unscored window i = 9 it would be 8.75/10).
  VcAccumulator acc;
  acc.begin_video(17);
  for (int t = 0; t < 17; ++t)
    add(acc, {1, 2, 255, uint8_t(t < 4 ? 0 : 1)}, {1, uint8_t(t < 12 ? 2 : 3), 0, 1});
  const eval::VcResult r = acc.result();
  CHECK(r.videos == 1);
  CHECK(r.windows16 == 1);
  CHECK(r.windows8 == 9);
  CHECK(std::fabs(r.mvc16 - 2.0 / 3) < kEps);
  CHECK(std::fabs(r.mvc8 - 8.0 / 9) < kEps);
}

TEST_CASE("metrics: mVC leaves windows with no consistent GT pixel out (NaN), pools windows over videos") {
  VcAccumulator acc;
  // Video A, 17 frames, one pixel whose GT changes every frame: ΣGc = 0 in every window,
  // all 9 + 1 windows NaN — left out of the mean, not counted as 0.
  acc.begin_video(17);
  for (int t = 0; t < 17; ++t) add(acc, {uint8_t(t % 2)}, {0});
  // Video B, 17 frames, constant GT and prediction: 9 windows of 8 and 1 of 16, vc = 1.
  acc.begin_video(17);
  for (int t = 0; t < 17; ++t) add(acc, {3}, {3});
  // Video C, 20 frames, constant GT, prediction flickering every frame: vc = 0 in its
  // 12 windows of 8 and 4 of 16.
  acc.begin_video(20);
  for (int t = 0; t < 20; ++t) add(acc, {3}, {uint8_t(t % 2)});
  // Pooled over windows, not averaged per video:
  //   mVC8 = (9·1 + 12·0) / 21 = 3/7   (per-video mean: 1/2)
  //   mVC16 = (1·1 + 4·0) / 5 = 1/5
  const eval::VcResult r = acc.result();
  CHECK(r.videos == 3);
  CHECK(r.windows8 == 9 + 9 + 12);
  CHECK(r.nan_windows8 == 9);
  CHECK(r.windows16 == 1 + 1 + 4);
  CHECK(r.nan_windows16 == 1);
  CHECK(std::fabs(r.mvc8 - 3.0 / 7) < kEps);
  CHECK(std::fabs(r.mvc16 - 1.0 / 5) < kEps);
}

TEST_CASE("metrics: run-length mVC equals the literal AND over every window (large frames)") {
  // 18 frames of 256×300 (threads on), labels that persist for random stretches.
  const int64_t N = 18, P = 256 * 300;
  std::vector<std::vector<uint8_t>> gt(N, std::vector<uint8_t>(P)), pred(N, std::vector<uint8_t>(P));
  uint32_t s = 777;
  auto rnd = [&s] { return s = s * 1664525u + 1013904223u, s >> 8; };
  for (int64_t t = 0; t < N; ++t)
    for (int64_t k = 0; k < P; ++k) {
      gt[t][k] = t > 0 && rnd() % 10 != 0 ? gt[t - 1][k] : uint8_t(rnd() % 4 == 0 ? 255 : rnd() % 3);
      pred[t][k] = t > 0 && rnd() % 6 != 0 ? pred[t - 1][k] : uint8_t(rnd() % 3);
    }
  VcAccumulator acc;
  acc.begin_video(N);
  for (int64_t t = 0; t < N; ++t) add(acc, gt[t], pred[t]);
  const eval::VcResult r = acc.result();
  for (int64_t n : {8, 16}) {
    double sum = 0;
    int64_t windows = 0;
    for (int64_t i = 0; i < N - n; ++i) {
      int64_t g = 0, gp = 0;
      for (int64_t k = 0; k < P; ++k) {
        bool gc = true, pc = true;
        for (int64_t j = 1; j < n; ++j) {
          gc = gc && gt[i][k] == gt[i + j][k];
          pc = pc && pred[i][k] == pred[i + j][k];
        }
        g += gc, gp += gc && pc;
      }
      REQUIRE(g > 0);
      sum += double(gp) / double(g);
      ++windows;
    }
    INFO("n = ", n);
    CHECK(windows == (n == 8 ? r.windows8 : r.windows16));
    CHECK(std::fabs(sum / double(windows) - (n == 8 ? r.mvc8 : r.mvc16)) < kEps);
  }
}

TEST_CASE("metrics: misuse of the accumulators is an error") {
  CHECK(test::error_message([] { IouAccumulator acc(0); }) ==
        "IouAccumulator: 0 classes (label maps hold 1 to 256)");
  VcAccumulator acc;
  acc.begin_video(17);
  add(acc, {1, 2}, {1, 2});
  CHECK(test::error_message([&] { add(acc, {1, 2, 3}, {1, 2, 3}); }) ==
        "VcAccumulator: frame 1 has 3 pixels, the video's first 2");
  CHECK(test::error_message([&] { acc.begin_video(17); }) ==
        "VcAccumulator: a video of 17 frames ended after 1");
  VcAccumulator one;
  one.begin_video(1);
  add(one, {0}, {0});
  CHECK(test::error_message([&] { add(one, {0}, {0}); }) ==
        "VcAccumulator: frame 2 of a video announced with 1");
}
