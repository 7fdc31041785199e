// The training augmentation transforms (src/data/augment.h has the rules and sources).
// Compiled with -ffp-contract=off (CMakeLists.txt): OpenCV's and numpy's float32 steps
// round after every multiply and add, and a fused multiply-add would round once.
#include "src/data/augment.h"

#include <algorithm>
#include <cmath>

#include "src/io/image_resize.h"
#include "tv3s/error.h"

namespace tv3s::data {

AugmentConfig vspw_augment() { return AugmentConfig{}; }

AugmentConfig cityscapes_augment() {
  AugmentConfig c;
  c.crop_h = 512, c.crop_w = 1024;
  c.scale_w = 1024, c.scale_h = 512;
  return c;
}

Size2 keep_ratio_size(int width, int height, int scale_w, int scale_h, double ratio) {
  TV3S_CHECK(width > 0 && height > 0, "resize: empty image ", width, "×", height);
  // mmseg Resize._random_sample_ratio: int(img_scale · ratio), Python truncation.
  const double sw = double(int64_t(double(scale_w) * ratio)), sh = double(int64_t(double(scale_h) * ratio));
  // mmcv.rescale_size: the long side to at most max(S), the short side to at most min(S).
  const double long_edge = std::max(sw, sh), short_edge = std::min(sw, sh);
  const double sf = std::min(long_edge / double(std::max(width, height)),
                             short_edge / double(std::min(width, height)));
  Size2 out;
  out.width = int(double(width) * sf + 0.5);
  out.height = int(double(height) * sf + 0.5);
  TV3S_CHECK(out.width > 0 && out.height > 0, "resize: ", width, "×", height, " at ratio ", ratio,
             " rounds to an empty image");
  return out;
}

io::LabelMap resize_nearest_u8(const io::LabelMap& labels, int width, int height) {
  TV3S_CHECK(labels.width > 0 && labels.height > 0 && width > 0 && height > 0,
             "resize_nearest_u8: bad sizes ", labels.width, "×", labels.height, " → ", width, "×", height);
  if (width == labels.width && height == labels.height) return labels;
  // OpenCV resizeNN: inv_scale = dst/src in double, ifx = 1/inv_scale, sx = floor(x·ifx).
  const double ifx = 1.0 / (double(width) / double(labels.width));
  const double ify = 1.0 / (double(height) / double(labels.height));
  std::vector<int> xs(static_cast<size_t>(width));
  for (int x = 0; x < width; ++x) xs[size_t(x)] = std::min(int(std::floor(double(x) * ifx)), labels.width - 1);
  io::LabelMap out;
  out.width = width, out.height = height;
  out.values.resize(size_t(width) * size_t(height));
  for (int y = 0; y < height; ++y) {
    const int sy = std::min(int(std::floor(double(y) * ify)), labels.height - 1);
    const uint8_t* src = labels.values.data() + size_t(sy) * size_t(labels.width);
    uint8_t* dst = out.values.data() + size_t(y) * size_t(width);
    for (int x = 0; x < width; ++x) dst[x] = src[xs[size_t(x)]];
  }
  return out;
}

CropBox crop_box(int width, int height, int crop_h, int crop_w, int oy, int ox) {
  CropBox box;
  box.y = oy, box.x = ox;
  box.height = std::max(0, std::min(crop_h, height - oy));
  box.width = std::max(0, std::min(crop_w, width - ox));
  return box;
}

bool crop_acceptable(const io::LabelMap& labels, const CropBox& box, double cat_max_ratio) {
  int64_t counts[256] = {};
  for (int y = box.y; y < box.y + box.height; ++y) {
    const uint8_t* row = labels.values.data() + size_t(y) * size_t(labels.width);
    for (int x = box.x; x < box.x + box.width; ++x) ++counts[row[x]];
  }
  int64_t classes = 0, total = 0, most = 0;
  for (int v = 0; v < 255; ++v) {  // 255 (ignore) is left out
    if (!counts[v]) continue;
    ++classes, total += counts[v], most = std::max(most, counts[v]);
  }
  return classes > 1 && double(most) / double(total) < cat_max_ratio;
}

CropBox choose_crop(const io::LabelMap& last_labels, int crop_h, int crop_w, double cat_max_ratio,
                    Rng& rng) {
  const int W = last_labels.width, H = last_labels.height;
  auto draw = [&] {  // mmseg get_crop_bbox: randint(0, margin + 1), height first
    const int oy = int(rng.uniform_int(int64_t(std::max(H - crop_h, 0)) + 1));
    const int ox = int(rng.uniform_int(int64_t(std::max(W - crop_w, 0)) + 1));
    return crop_box(W, H, crop_h, crop_w, oy, ox);
  };
  CropBox box = draw();
  if (cat_max_ratio < 1.0) {
    for (int attempt = 0; attempt < 10; ++attempt) {
      if (crop_acceptable(last_labels, box, cat_max_ratio)) break;
      box = draw();  // after the 10th failure this 11th box stays, unchecked
    }
  }
  return box;
}

namespace {

// The box of a row-major image `width` pixels wide with `channels` bytes per pixel, copied
// out row by row (the box must lie inside).
std::vector<uint8_t> copy_box(const std::vector<uint8_t>& pixels, int width, int height, int channels,
                              const CropBox& box, const char* what) {
  TV3S_CHECK(box.y + box.height <= height && box.x + box.width <= width, what, ": box outside the image");
  const size_t row = size_t(box.width) * size_t(channels);
  std::vector<uint8_t> out(row * size_t(box.height));
  for (int y = 0; y < box.height; ++y)
    std::copy_n(pixels.data() + (size_t(box.y + y) * size_t(width) + size_t(box.x)) * size_t(channels), row,
                out.data() + size_t(y) * row);
  return out;
}

}  // namespace

io::Image crop_image(const io::Image& image, const CropBox& box) {
  io::Image out;
  out.rgb = copy_box(image.rgb, image.width, image.height, 3, box, "crop_image");
  out.width = box.width, out.height = box.height;
  return out;
}

io::LabelMap crop_labels(const io::LabelMap& labels, const CropBox& box) {
  io::LabelMap out;
  out.values = copy_box(labels.values, labels.width, labels.height, 1, box, "crop_labels");
  out.width = box.width, out.height = box.height;
  return out;
}

void flip_image(io::Image& image) {
  for (int y = 0; y < image.height; ++y) {
    uint8_t* row = image.rgb.data() + size_t(y) * size_t(image.width) * 3;
    for (int a = 0, b = image.width - 1; a < b; ++a, --b)
      for (int c = 0; c < 3; ++c) std::swap(row[a * 3 + c], row[b * 3 + c]);
  }
}

void flip_labels(io::LabelMap& labels) {
  for (int y = 0; y < labels.height; ++y) {
    uint8_t* row = labels.values.data() + size_t(y) * size_t(labels.width);
    std::reverse(row, row + labels.width);
  }
}

namespace {

constexpr int kHsvShift = 12;  // OpenCV's fixed point for the 8-bit RGB → HSV tables

struct HsvTables {
  int sdiv[256], hdiv[256];  // round((255 << 12) / v), round((180 << 12) / (6·diff))
  HsvTables() {
    sdiv[0] = hdiv[0] = 0;
    for (int i = 1; i < 256; ++i) {  // saturate_cast<int>(double): round to nearest (no ties occur)
      sdiv[i] = int(std::lrint(double(255 << kHsvShift) / (1.0 * i)));
      hdiv[i] = int(std::lrint(double(180 << kHsvShift) / (6.0 * i)));
    }
  }
};
const HsvTables& hsv_tables() {
  static const HsvTables tables;
  return tables;
}

// saturate_cast<uchar>(float): round half to even (lrintf in the default rounding mode), clamp.
uint8_t saturate_u8(float v) {
  const long r = std::lrint(v);
  return uint8_t(std::clamp<long>(r, 0, 255));
}

// mmseg convert(): float32 result clipped to [0, 255], truncated to uint8.
uint8_t clip_truncate(float v) { return uint8_t(std::clamp(v, 0.0f, 255.0f)); }

}  // namespace

void rgb_to_hsv_u8(const uint8_t rgb[3], uint8_t hsv[3]) {
  const HsvTables& t = hsv_tables();
  const int r = rgb[0], g = rgb[1], b = rgb[2];
  const int v = std::max({r, g, b}), vmin = std::min({r, g, b});
  const int diff = v - vmin;
  const int s = (diff * t.sdiv[v] + (1 << (kHsvShift - 1))) >> kHsvShift;
  int h = v == r ? g - b : v == g ? b - r + 2 * diff : r - g + 4 * diff;
  h = (h * t.hdiv[diff] + (1 << (kHsvShift - 1))) >> kHsvShift;  // arithmetic shift: floor
  if (h < 0) h += 180;
  hsv[0] = uint8_t(std::clamp(h, 0, 255)), hsv[1] = uint8_t(s), hsv[2] = uint8_t(v);
}

void hsv_to_rgb_u8(const uint8_t hsv[3], uint8_t rgb[3], bool vector_path) {
  // OpenCV HSV2RGB_b: H as float, S and V × (1/255) in float32, the float conversion
  // (sectors of 60°), then × 255 and to uint8. Two details of the x86 build of OpenCV
  // (pip wheels, AVX2 dispatch) decide the last bit and are reproduced here:
  //  - 1 − s·h and 1 − s·(1 − h) are fused multiply-adds (GCC contracts the AVX2
  //    intrinsics of the vector path, and the scalar tail compiled with it);
  //  - the vector path truncates the final × 255, the scalar tail rounds (saturate_cast).
  float h = float(hsv[0]);
  const float s = float(hsv[1]) * (1.0f / 255.0f), v = float(hsv[2]) * (1.0f / 255.0f);
  float r, g, b;
  if (s == 0) {
    r = g = b = v;
  } else {
    static const int sector_data[6][3] = {{1, 3, 0}, {1, 0, 2}, {3, 0, 1}, {0, 2, 1}, {0, 1, 3}, {2, 1, 0}};
    const float hscale = 6.0f / 180.0f;
    h *= hscale;
    int sector = int(std::floor(h));
    h -= float(sector);
    sector %= 6;
    if (sector < 0) sector += 6;
    float tab[4];
    tab[0] = v;
    tab[1] = v * (1.0f - s);
    tab[2] = v * std::fma(-s, h, 1.0f);
    tab[3] = v * std::fma(-s, 1.0f - h, 1.0f);
    b = tab[sector_data[sector][0]];
    g = tab[sector_data[sector][1]];
    r = tab[sector_data[sector][2]];
  }
  if (vector_path) {
    rgb[0] = uint8_t(std::clamp(std::trunc(r * 255.0f), 0.0f, 255.0f));
    rgb[1] = uint8_t(std::clamp(std::trunc(g * 255.0f), 0.0f, 255.0f));
    rgb[2] = uint8_t(std::clamp(std::trunc(b * 255.0f), 0.0f, 255.0f));
  } else {
    rgb[0] = saturate_u8(r * 255.0f), rgb[1] = saturate_u8(g * 255.0f), rgb[2] = saturate_u8(b * 255.0f);
  }
}

void hsv_to_rgb_row(const uint8_t* hsv, uint8_t* rgb, int width) {
  const int vector_pixels = width / kOpenCvHsvBlock * kOpenCvHsvBlock;
  for (int x = 0; x < width; ++x) hsv_to_rgb_u8(hsv + 3 * x, rgb + 3 * x, x < vector_pixels);
}

PhotometricDraws draw_photometric(const AugmentConfig& c, Rng& rng) {
  // mmseg PhotoMetricDistortion.__call__ order: brightness, mode, (contrast), saturation,
  // hue, (contrast). Each step's coin is drawn only when the step is reached, and its
  // value only when the coin says yes — the same draws in the same order as numpy's.
  PhotometricDraws d;
  auto coin = [&] { return rng.uniform_int(2) == 1; };
  if ((d.brightness = coin())) d.beta = float(rng.uniform(-c.brightness_delta, c.brightness_delta));
  d.mode = int(rng.uniform_int(2));
  auto contrast = [&] {
    if ((d.contrast = coin())) d.contrast_alpha = float(rng.uniform(c.contrast_min, c.contrast_max));
  };
  if (d.mode == 1) contrast();
  if ((d.saturation = coin())) d.saturation_alpha = float(rng.uniform(c.saturation_min, c.saturation_max));
  if ((d.hue = coin())) d.hue_delta = int(rng.uniform_int(2 * int64_t(c.hue_delta))) - c.hue_delta;
  if (d.mode == 0) contrast();
  return d;
}

void photometric_distortion(io::Image& image, const PhotometricDraws& d) {
  std::vector<uint8_t>& px = image.rgb;
  const size_t n = size_t(image.width) * size_t(image.height);
  auto contrast = [&] {
    if (!d.contrast) return;
    for (uint8_t& v : px) v = clip_truncate(float(v) * d.contrast_alpha);
  };
  if (d.brightness)
    for (uint8_t& v : px) v = clip_truncate(float(v) + d.beta);
  if (d.mode == 1) contrast();
  // Saturation and hue go through a whole HSV image, row by row as cv2.cvtColor does.
  std::vector<uint8_t> hsv(px.size());
  const size_t row = size_t(image.width) * 3;
  auto to_hsv = [&] {
    for (size_t i = 0; i < n; ++i) rgb_to_hsv_u8(&px[i * 3], &hsv[i * 3]);
  };
  auto to_rgb = [&] {
    for (int y = 0; y < image.height; ++y) hsv_to_rgb_row(&hsv[y * row], &px[y * row], image.width);
  };
  if (d.saturation) {
    to_hsv();
    for (size_t i = 0; i < n; ++i) hsv[i * 3 + 1] = clip_truncate(float(hsv[i * 3 + 1]) * d.saturation_alpha);
    to_rgb();
  }
  if (d.hue) {
    to_hsv();
    for (size_t i = 0; i < n; ++i) hsv[i * 3] = uint8_t(((int(hsv[i * 3]) + d.hue_delta) % 180 + 180) % 180);  // Python's mod
    to_rgb();
  }
  if (d.mode == 0) contrast();
}

void normalize_and_pad(const io::Image& image, float* out, int out_h, int out_w) {
  TV3S_CHECK(image.height <= out_h && image.width <= out_w, "normalize_and_pad: ", image.width, "×",
             image.height, " image does not fit ", out_w, "×", out_h);
  static const double mean[3] = {123.675, 116.28, 103.53}, std_[3] = {58.395, 57.12, 57.375};
  // cv2.subtract turns the double scalar into float32 and subtracts in float32;
  // cv2.multiply by a double scalar multiplies in double and rounds once to float32.
  float mean_f[3];
  double stdinv[3];
  for (int c = 0; c < 3; ++c) mean_f[c] = float(mean[c]), stdinv[c] = 1.0 / std_[c];
  std::fill(out, out + size_t(out_h) * size_t(out_w) * 3, 0.0f);
  for (int y = 0; y < image.height; ++y) {
    const uint8_t* src = image.rgb.data() + size_t(y) * size_t(image.width) * 3;
    float* dst = out + size_t(y) * size_t(out_w) * 3;
    for (int i = 0; i < image.width * 3; ++i) {
      const float centred = float(src[i]) - mean_f[i % 3];
      dst[i] = float(double(centred) * stdinv[i % 3]);
    }
  }
}

void pad_labels(const io::LabelMap& labels, int32_t* out, int out_h, int out_w) {
  TV3S_CHECK(labels.height <= out_h && labels.width <= out_w, "pad_labels: ", labels.width, "×",
             labels.height, " labels do not fit ", out_w, "×", out_h);
  std::fill(out, out + size_t(out_h) * size_t(out_w), 255);
  for (int y = 0; y < labels.height; ++y)
    for (int x = 0; x < labels.width; ++x)
      out[size_t(y) * size_t(out_w) + size_t(x)] = labels.values[size_t(y) * size_t(labels.width) + size_t(x)];
}

void augment_clip(std::vector<io::Image>& frames, std::vector<io::LabelMap>& labels,
                  const AugmentConfig& config, Rng& rng) {
  TV3S_CHECK(!frames.empty() && frames.size() == labels.size(), "augment_clip: ", frames.size(),
             " frames, ", labels.size(), " label maps");
  if (!config.enabled) {  // --no-augment: the top-left crop only
    const CropBox box = crop_box(frames.back().width, frames.back().height, config.crop_h, config.crop_w, 0, 0);
    for (size_t t = 0; t < frames.size(); ++t)
      frames[t] = crop_image(frames[t], box), labels[t] = crop_labels(labels[t], box);
    return;
  }
  // 3. Resize: one ratio for the clip (the frames share a size, so they share the new one).
  const double ratio = rng.uniform(config.ratio_min, config.ratio_max);
  for (size_t t = 0; t < frames.size(); ++t) {
    const Size2 size = keep_ratio_size(frames[t].width, frames[t].height, config.scale_w, config.scale_h, ratio);
    frames[t] = io::resize_linear_u8(frames[t], size.width, size.height);
    labels[t] = resize_nearest_u8(labels[t], size.width, size.height);
  }
  // 4. RandomCrop_clips: the box is chosen on the last (target) frame's labels.
  const CropBox box = choose_crop(labels.back(), config.crop_h, config.crop_w, config.cat_max_ratio, rng);
  for (size_t t = 0; t < frames.size(); ++t)
    frames[t] = crop_image(frames[t], box), labels[t] = crop_labels(labels[t], box);
  // 5. RandomFlip_clips: one coin for the clip (np.random.rand() < prob).
  if (rng.uniform() < config.flip_prob)
    for (size_t t = 0; t < frames.size(); ++t) flip_image(frames[t]), flip_labels(labels[t]);
  // 6. PhotoMetricDistortion_clips: independent draws per frame.
  if (config.photometric)
    for (io::Image& frame : frames) photometric_distortion(frame, draw_photometric(config, rng));
}

}  // namespace tv3s::data
