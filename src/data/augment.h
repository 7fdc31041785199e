// The official training augmentation of TV3S (training-spec.md §3), one transform per
// function, each taking its random draws as explicit parameters so that every step can be
// checked byte for byte against mmseg/mmcv run through cv2 + numpy
// (tools/gen_augment_fixtures.py, tests/data/test_augment.cpp).
//
// Images are RGB uint8 (io::Image) where mmseg holds BGR; every step is either channel
// blind (resize, crop, flip, brightness, contrast) or symmetric in the channel order
// (OpenCV's RGB2HSV on RGB equals BGR2HSV on BGR), and Normalize's to_rgb step is where
// mmseg arrives at our order, so the results are the same pixels.
//
// The draws come from tv3s::Rng, not numpy: numpy's stream cannot be reproduced, so what
// matches the official code is the distribution of each draw and the arithmetic that
// follows it, not the sequence. draw_* functions below say which distribution each is.
#pragma once
#include <cstdint>
#include <vector>

#include "src/io/image.h"
#include "tv3s/rng.h"

namespace tv3s::data {

struct AugmentConfig {
  bool enabled = true;                 // false = `--no-augment`: no resize, crop box at (0,0), no flip, no photometric; still normalise + pad
  int crop_h = 480, crop_w = 480;      // RandomCrop_clips / Pad_clips size (Cityscapes 512×1024)
  int scale_w = 853, scale_h = 480;    // Resize img_scale (Cityscapes 1024, 512)
  double ratio_min = 0.5, ratio_max = 2.0;
  double cat_max_ratio = 0.75;
  double flip_prob = 0.5;
  bool photometric = true;             // PhotoMetricDistortion_clips with the official parameters
  int brightness_delta = 32; double contrast_min = 0.5, contrast_max = 1.5;
  double saturation_min = 0.5, saturation_max = 1.5; int hue_delta = 18;
};

// Official per-dataset sizes: VSPW crop 480×480, scale (853, 480); Cityscapes crop
// 512×1024, scale (1024, 512).
AugmentConfig vspw_augment();
AugmentConfig cityscapes_augment();

// --- 3. Resize ------------------------------------------------------------------------
// mmseg's Resize with ratio_range: scale S = (int(scale_w·r), int(scale_h·r)), then mmcv's
// keep-ratio rule sf = min(max(S)/max(W,H), min(S)/min(W,H)), size (int(W·sf + 0.5),
// int(H·sf + 0.5)), all in double as Python computes it.
struct Size2 {
  int width = 0, height = 0;
};
Size2 keep_ratio_size(int width, int height, int scale_w, int scale_h, double ratio);

// cv2.resize(labels, (width, height), interpolation=cv2.INTER_NEAREST) on a uint8 map, bit
// for bit: source index floor(x · (src/dst)) computed in double as OpenCV's resizeNN does,
// clamped to the last row/column.
io::LabelMap resize_nearest_u8(const io::LabelMap& labels, int width, int height);

// --- 4. RandomCrop_clips ---------------------------------------------------------------
struct CropBox {
  int y = 0, x = 0, height = 0, width = 0;  // clamped to the image: img[y:y+h, x:x+w]
};
// The box for offsets (oy, ox) in an image of width × height (numpy slicing clamps).
CropBox crop_box(int width, int height, int crop_h, int crop_w, int oy, int ox);
// mmseg's cat_max_ratio test on the cropped labels: among labels ≠ 255 at least two
// classes and max count / total < cat_max_ratio.
bool crop_acceptable(const io::LabelMap& labels, const CropBox& box, double cat_max_ratio);
// The full rule: draw a box (oy ~ randint(0, max(H − crop_h, 0) + 1), then ox likewise),
// check it up to 10 times drawing a new one on each failure; the 11th is used unchecked.
// cat_max_ratio ≥ 1 skips the checks (mmseg: one draw).
CropBox choose_crop(const io::LabelMap& last_labels, int crop_h, int crop_w, double cat_max_ratio,
                    Rng& rng);
io::Image crop_image(const io::Image& image, const CropBox& box);
io::LabelMap crop_labels(const io::LabelMap& labels, const CropBox& box);

// --- 5. RandomFlip_clips ----------------------------------------------------------------
void flip_image(io::Image& image);  // mirror left ↔ right, in place
void flip_labels(io::LabelMap& labels);

// --- 6. PhotoMetricDistortion (per frame) -------------------------------------------------
// OpenCV's 8-bit colour conversions with H in [0, 180) (cv2.COLOR_RGB2HSV /
// COLOR_HSV2RGB on RGB data; = BGR2HSV / HSV2BGR on BGR data), bit for bit: integer
// tables with 12-bit fixed point one way, float32 sectors and round-half-even the other.
// HSV → RGB has two code paths in OpenCV that differ in the last bit: its vector loop
// (blocks of kOpenCvHsvBlock pixels from the start of each row: 4 × 8 float lanes, the
// AVX2 build every x86-64 wheel dispatches to) truncates, the scalar loop over the rest of
// the row rounds. hsv_to_rgb_row follows that split; hsv_to_rgb_u8 is one pixel of either.
// (A machine whose OpenCV runs another vector width — SSE-only, AVX-512, ARM — splits the
// row elsewhere; ±1 on some pixels, nothing a training run can notice.)
constexpr int kOpenCvHsvBlock = 32;
void rgb_to_hsv_u8(const uint8_t rgb[3], uint8_t hsv[3]);
void hsv_to_rgb_u8(const uint8_t hsv[3], uint8_t rgb[3], bool vector_path);
void hsv_to_rgb_row(const uint8_t* hsv, uint8_t* rgb, int width);

// The draws of one frame, in mmseg's order. An unset flag skips its step.
struct PhotometricDraws {
  bool brightness = false; float beta = 0;    // β ~ U(−32, 32)
  int mode = 0;                               // 1: contrast before saturation/hue, 0: after
  bool contrast = false; float contrast_alpha = 1;   // α ~ U(0.5, 1.5)
  bool saturation = false; float saturation_alpha = 1;
  bool hue = false; int hue_delta = 0;        // δ ~ randint(−18, 18) = −18..17
};
PhotometricDraws draw_photometric(const AugmentConfig& config, Rng& rng);
// mmseg's arithmetic: float32 v·α or v + β (np.float32 array with a Python float), clip
// to [0, 255], truncate to uint8; S·α the same way on the HSV image; H ← (H + δ) mod 180.
void photometric_distortion(io::Image& image, const PhotometricDraws& draws);

// --- 7 + 8. Normalize_clips, Pad_clips -----------------------------------------------------
// mmcv's imnormalize: float32 (v − float32(mean)) (cv2.subtract), then × (1 / std) in
// double rounded once to float32 (cv2.multiply by a double scalar), RGB means 123.675 116.28 103.53,
// stds 58.395 57.12 57.375. Written at the top-left of `out` ([out_h, out_w, 3] f32), the
// rest of which is set to 0 (Pad after Normalize); the image must fit.
void normalize_and_pad(const io::Image& image, float* out, int out_h, int out_w);
// Labels at the top-left of `out` ([out_h, out_w] i32), the rest 255.
void pad_labels(const io::LabelMap& labels, int32_t* out, int out_h, int out_w);

// --- A whole clip -----------------------------------------------------------------------
// Steps 3–6 on the frames and label maps of one clip (all frames the same size, the label
// maps that size too), in the official order with the draws taken from `rng` in this
// order: ratio r ~ U[ratio_min, ratio_max), crop boxes, flip coin, then per frame the
// photometric draws. With config.enabled false: no resize, box at (0, 0), no flip, no
// photometric (and no draws).
void augment_clip(std::vector<io::Image>& frames, std::vector<io::LabelMap>& labels,
                  const AugmentConfig& config, Rng& rng);

}  // namespace tv3s::data
