// The official training augmentation (training-spec §3), one function per transform, each
// callable with explicit parameters so tests can pin every random draw. Images are 8-bit
// RGB (io::Image) and labels 8-bit train ids (io::LabelMap) until normalisation; the
// official pipeline works in BGR, which changes nothing here (every transform treats the
// channels alike, and RGB→HSV on RGB equals OpenCV's BGR→HSV on BGR).
//
// Random draws come from tv3s::Rng, not NumPy's generator: the same distributions, not the
// same numbers (the official code sets no seed either).
#pragma once
#include <cstdint>
#include <vector>

#include "src/io/image.h"
#include "tv3s/rng.h"

namespace tv3s::data {

struct AugmentConfig {
  bool enabled = true;                 // false (--no-augment): no resize, crop box at (0, 0),
                                       // no flip, no photometric; still normalise and pad
  int crop_h = 480, crop_w = 480;      // RandomCrop_clips / Pad_clips (Cityscapes 512×1024)
  int scale_w = 853, scale_h = 480;    // Resize img_scale (Cityscapes 1024, 512)
  double ratio_min = 0.5, ratio_max = 2.0;
  double cat_max_ratio = 0.75;
  double flip_prob = 0.5;
  bool photometric = true;
  int brightness_delta = 32;
  double contrast_min = 0.5, contrast_max = 1.5, saturation_min = 0.5, saturation_max = 1.5;
  int hue_delta = 18;
};

// 3. Resize: the size mmcv's keep-ratio rescale gives for ratio r:
//    S = (int(scale_w·r), int(scale_h·r)); sf = min(max(S)/max(H, W), min(S)/min(H, W));
//    (int(W·sf + 0.5), int(H·sf + 0.5)).
io::ImageSize2D rescale_size(int width, int height, const AugmentConfig& config, double ratio);
// cv2.resize(..., INTER_NEAREST) on a label map: source index floor(x·src/dst), clamped.
io::LabelMap resize_nearest(const io::LabelMap& labels, int width, int height);

// 4. The crop box: offsets drawn uniformly in [0, max(H − ch, 0)], re-drawn while the
// cropped labels have fewer than 2 classes (255 ignored) or one class covers ≥ cat_max_ratio
// of them — 10 checks, the 11th box is taken unchecked.
struct CropBox {
  int y = 0, x = 0, h = 0, w = 0;
};
CropBox random_crop_box(const io::LabelMap& last_labels, const AugmentConfig& config, Rng& rng);
io::Image crop(const io::Image& image, const CropBox& box);
io::LabelMap crop(const io::LabelMap& labels, const CropBox& box);
void flip_horizontal(io::Image& image);
void flip_horizontal(io::LabelMap& labels);

// 6. PhotoMetricDistortion of one frame, its draws made explicit.
struct PhotometricDraw {
  bool brightness = false;  double beta = 0;     // add β ~ U(−32, 32)
  bool contrast_first = false;                    // mode: contrast before (true) or after saturation/hue
  bool contrast = false;    double alpha = 1;     // multiply by α ~ U(0.5, 1.5)
  bool saturation = false;  double saturation_alpha = 1;
  bool hue = false;         int hue_shift = 0;    // randint(−18, 18): −18 … 17
};
PhotometricDraw draw_photometric(const AugmentConfig& config, Rng& rng);
void photometric_distortion(io::Image& image, const PhotometricDraw& draw);

// OpenCV's 8-bit RGB↔HSV (H in [0, 180), S and V in [0, 255]), pixel by pixel.
void rgb_to_hsv(const uint8_t rgb[3], uint8_t hsv[3]);
void hsv_to_rgb(const uint8_t hsv[3], uint8_t rgb[3]);

// 7.–8. (v − mean)/std per channel into `out` (crop_h × crop_w × 3 floats), the image at the
// top-left, the rest 0 (= the mean colour after normalisation); labels into `labels_out`
// (crop_h × crop_w), the rest 255.
void normalize_and_pad(const io::Image& image, const io::LabelMap& labels, int crop_h, int crop_w,
                       float* out, int32_t* labels_out);

}  // namespace tv3s::data
