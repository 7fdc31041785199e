// The evaluation metrics of the paper, as the official code computes them
// (docs/metrics-spec.md): pure accumulators over uint8 label maps, no I/O.
//
//   IouAccumulator  mIoU, aAcc, mAcc, per-class IoU/Acc with mmseg 0.11 `eval_metrics`
//                   semantics (§2), plus the frequency-weighted IoU (fwIoU) that
//                   tools/VC_perclip.py prints (§3.3).
//   VcAccumulator   mVC8 / mVC16 exactly as tools/VC_perclip.py (§3).
//
// Both take one frame at a time (ground truth already in train ids: VSPW masks after
// reduce_zero_label, 255 = ignored), so a whole split streams through them in constant
// memory. Results are fractions in [0, 1] (NaN where undefined); callers print ×100.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace tv3s::eval {

constexpr uint8_t kIgnoreLabel = 255;

// ---- mIoU (metrics-spec §2) -----------------------------------------------------------
//
// Per frame: pixels whose GT is 255 are dropped from both maps; on the rest
//   I_c = #(pred = gt = c),  P_c = #(pred = c),  G_c = #(gt = c),  U_c = P_c + G_c − I_c,
// counted with NumPy's histogram over bins arange(K + 1): values above K are dropped,
// and a value equal to K falls into bin K − 1 (NumPy's last bin is closed) — mmseg's
// behaviour, kept so any input gives mmseg's number. The counts are summed over every
// frame given (one dataset-wide sum, not a per-frame or per-video mean). Then
//   IoU_c = I_c / U_c (NaN when U_c = 0),  Acc_c = I_c / G_c (NaN when G_c = 0),
//   mIoU = nanmean IoU,  mAcc = nanmean Acc,  aAcc = ΣI / ΣG.
// A class absent from the GT but predicted on valid pixels has IoU 0 and counts in the
// mean; a class neither in the GT nor predicted there is NaN and left out.
//
// fwIoU (metrics-spec §3.3, VC_perclip's "FWIoU"): Σ_{c: G_c > 0} (G_c / ΣG) · IoU_c —
// each class's IoU weighted by its share of the valid GT pixels. Computed here from the
// same counts, i.e. over the same frames and valid pixels as mIoU (VC_perclip computes it
// only over the videos with more than 16 frames; with in-range labels the formula is the
// same, the frame set is the only difference).
struct IouResult {
  std::vector<double> iou, acc;  // per class, NaN where undefined
  double miou = 0, aacc = 0, macc = 0, fwiou = 0;
  std::vector<int64_t> intersect, uni, pred_area, gt_area;  // the summed counts
};

class IouAccumulator {
 public:
  explicit IouAccumulator(int64_t classes);

  // One frame: `pixels` values of each map (same layout). OpenMP over the pixels of
  // large frames.
  void add(const uint8_t* gt, const uint8_t* pred, size_t pixels);
  IouResult result() const;

  int64_t classes() const { return classes_; }
  int64_t frames() const { return frames_; }

 private:
  int64_t classes_;
  int64_t frames_ = 0;
  std::vector<int64_t> intersect_, pred_area_, gt_area_;
  std::vector<int> bin_;  // raw value 0..255 → class bin, −1 when NumPy drops it
};

// ---- mVC (metrics-spec §3) ------------------------------------------------------------
//
// For every video of N frames (N > 16 only: shorter videos are skipped for n = 8 and
// n = 16 alike), for n in {8, 16} and every window start i in 0 .. N − n − 1 (N − n
// windows: the window ending on the video's last frame is never scored):
//   Gc = AND_{j=1..n−1} (gt_i == gt_{i+j}),  Pc = AND_{j=1..n−1} (pred_i == pred_{i+j})
//   vc = Σ(Gc ∧ Pc) / ΣGc      (NaN when ΣGc = 0)
// comparing raw GT values, 255 included (pixels void in all n frames are "consistent").
// mVC_n = nanmean of vc over all windows of all videos pooled (longer videos weigh more).
//
// Streaming: "all n frames of a window are equal at p" is "the run of equal values ending
// at the window's last frame is at least n long at p" (== is transitive), so only the
// previous frame and two run lengths per pixel are kept, and window i is scored when its
// last frame i + n − 1 arrives. That is why the frame count must be known up front: it
// decides whether the video counts at all (N > 16) and which frame ends the last window.
struct VcResult {
  double mvc8 = 0, mvc16 = 0;          // NaN when no window has ΣGc > 0
  int64_t windows8 = 0, windows16 = 0;  // scored windows, NaN ones included
  int64_t nan_windows8 = 0, nan_windows16 = 0;
  int64_t videos = 0;                   // videos long enough to count
};

class VcAccumulator {
 public:
  static constexpr int64_t kMinFrames = 17;  // VC_perclip skips videos with ≤ 16 frames

  // Starts a video of `frames` frames (the count of frames that will be added).
  void begin_video(int64_t frames);
  // The next frame of the current video; every frame of one video has the same size.
  void add(const uint8_t* gt, const uint8_t* pred, size_t pixels);
  VcResult result() const;

 private:
  struct Pool {  // the vc values of one n, pooled over videos
    double sum = 0;
    int64_t windows = 0, nan_windows = 0;
    double mean() const;
  };

  int64_t video_frames_ = 0, next_frame_ = 0, videos_ = 0;
  bool counted_ = false;  // the current video is long enough
  size_t pixels_ = 0;
  std::vector<uint8_t> prev_gt_, prev_pred_;
  std::vector<uint8_t> gt_run_, pred_run_;  // equal-value run lengths, saturating at 16
  Pool pool8_, pool16_;
};

}  // namespace tv3s::eval
