#include "src/data/augment.h"

#include <algorithm>
#include <cmath>

#include "src/pipeline/preprocess.h"
#include "tv3s/error.h"

namespace tv3s::data {

io::ImageSize2D rescale_size(int width, int height, const AugmentConfig& c, double ratio) {
  const double sw = double(int(c.scale_w * ratio)), sh = double(int(c.scale_h * ratio));
  const double sf = std::min(std::max(sw, sh) / double(std::max(width, height)),
                             std::min(sw, sh) / double(std::min(width, height)));
  return {std::max(1, int(width * sf + 0.5)), std::max(1, int(height * sf + 0.5))};
}

io::LabelMap resize_nearest(const io::LabelMap& src, int width, int height) {
  io::LabelMap out;
  out.width = width, out.height = height;
  out.values.resize(size_t(width) * size_t(height));
  // OpenCV resizeNN: ifx = src/dst in double, index floor(x·ifx), clamped to the last pixel.
  const double ifx = double(src.width) / width, ify = double(src.height) / height;
  std::vector<int> sx(static_cast<size_t>(width));
  for (int x = 0; x < width; ++x) sx[size_t(x)] = std::min(int(std::floor(x * ifx)), src.width - 1);
  for (int y = 0; y < height; ++y) {
    const int syy = std::min(int(std::floor(y * ify)), src.height - 1);
    const uint8_t* row = &src.values[size_t(syy) * size_t(src.width)];
    for (int x = 0; x < width; ++x) out.values[size_t(y) * size_t(width) + size_t(x)] = row[sx[size_t(x)]];
  }
  return out;
}

namespace {
CropBox draw_box(int H, int W, const AugmentConfig& c, Rng& rng) {
  CropBox b;
  b.h = std::min(c.crop_h, H), b.w = std::min(c.crop_w, W);
  b.y = int(rng.uniform_int(std::max(H - c.crop_h, 0) + 1));
  b.x = int(rng.uniform_int(std::max(W - c.crop_w, 0) + 1));
  return b;
}
}  // namespace

CropBox random_crop_box(const io::LabelMap& last, const AugmentConfig& c, Rng& rng) {
  CropBox box = draw_box(last.height, last.width, c, rng);
  if (c.cat_max_ratio >= 1) return box;
  for (int check = 0; check < 10; ++check) {
    int64_t counts[256] = {};
    for (int y = box.y; y < box.y + box.h; ++y)
      for (int x = box.x; x < box.x + box.w; ++x) ++counts[last.values[size_t(y) * size_t(last.width) + size_t(x)]];
    int64_t classes = 0, total = 0, largest = 0;
    for (int v = 0; v < 255; ++v)
      if (counts[v]) ++classes, total += counts[v], largest = std::max(largest, counts[v]);
    if (classes > 1 && double(largest) / double(total) < c.cat_max_ratio) break;
    box = draw_box(last.height, last.width, c, rng);  // after the 10th failure: used unchecked
  }
  return box;
}

io::Image crop(const io::Image& image, const CropBox& b) {
  io::Image out;
  out.width = b.w, out.height = b.h;
  out.rgb.resize(size_t(b.w) * size_t(b.h) * 3);
  for (int y = 0; y < b.h; ++y)
    std::copy_n(&image.rgb[(size_t(b.y + y) * size_t(image.width) + size_t(b.x)) * 3], size_t(b.w) * 3,
                &out.rgb[size_t(y) * size_t(b.w) * 3]);
  return out;
}

io::LabelMap crop(const io::LabelMap& labels, const CropBox& b) {
  io::LabelMap out;
  out.width = b.w, out.height = b.h;
  out.values.resize(size_t(b.w) * size_t(b.h));
  for (int y = 0; y < b.h; ++y)
    std::copy_n(&labels.values[size_t(b.y + y) * size_t(labels.width) + size_t(b.x)], size_t(b.w),
                &out.values[size_t(y) * size_t(b.w)]);
  return out;
}

void flip_horizontal(io::Image& image) {
  for (int y = 0; y < image.height; ++y) {
    uint8_t* row = &image.rgb[size_t(y) * size_t(image.width) * 3];
    for (int a = 0, b = image.width - 1; a < b; ++a, --b)
      for (int ch = 0; ch < 3; ++ch) std::swap(row[a * 3 + ch], row[b * 3 + ch]);
  }
}

void flip_horizontal(io::LabelMap& labels) {
  for (int y = 0; y < labels.height; ++y) {
    uint8_t* row = &labels.values[size_t(y) * size_t(labels.width)];
    std::reverse(row, row + labels.width);
  }
}

// --- photometric distortion -----------------------------------------------------------

PhotometricDraw draw_photometric(const AugmentConfig& c, Rng& rng) {
  // The official call order (mmseg PhotoMetricDistortion): brightness, mode, contrast
  // (mode 1), saturation, hue, contrast (mode 0); each coin is randint(2).
  auto coin = [&] { return rng.uniform_int(2) == 1; };
  PhotometricDraw d;
  if ((d.brightness = coin())) d.beta = rng.uniform(-c.brightness_delta, c.brightness_delta);
  d.contrast_first = coin();
  auto contrast = [&] {
    if ((d.contrast = coin())) d.alpha = rng.uniform(c.contrast_min, c.contrast_max);
  };
  if (d.contrast_first) contrast();
  if ((d.saturation = coin())) d.saturation_alpha = rng.uniform(c.saturation_min, c.saturation_max);
  if ((d.hue = coin())) d.hue_shift = int(rng.uniform_int(2 * c.hue_delta)) - c.hue_delta;
  if (!d.contrast_first) contrast();
  return d;
}

namespace {

// mmseg's convert(): float32 arithmetic (NumPy keeps the array's f32 with a Python scalar),
// clip to [0, 255], truncate to uint8.
inline uint8_t convert(uint8_t v, float alpha, float beta) {
  const float x = float(v) * alpha + beta;
  return uint8_t(std::min(255.f, std::max(0.f, x)));
}

// OpenCV's fixed-point tables for 8-bit RGB→HSV (hsv_shift = 12).
struct HsvTables {
  int sdiv[256], hdiv[256];
  HsvTables() {
    sdiv[0] = hdiv[0] = 0;
    for (int i = 1; i < 256; ++i) {
      sdiv[i] = int(std::lround((255 << 12) / double(i)));
      hdiv[i] = int(std::lround((180 << 12) / (6.0 * i)));
    }
  }
};
const HsvTables kHsv;

}  // namespace

void rgb_to_hsv(const uint8_t rgb[3], uint8_t hsv[3]) {
  const int r = rgb[0], g = rgb[1], b = rgb[2];
  const int v = std::max({r, g, b}), vmin = std::min({r, g, b}), diff = v - vmin;
  const int s = (diff * kHsv.sdiv[v] + (1 << 11)) >> 12;
  int h = v == r ? g - b : v == g ? b - r + 2 * diff : r - g + 4 * diff;
  h = (h * kHsv.hdiv[diff] + (1 << 11)) >> 12;
  if (h < 0) h += 180;
  hsv[0] = uint8_t(h), hsv[1] = uint8_t(s), hsv[2] = uint8_t(v);
}

void hsv_to_rgb(const uint8_t hsv[3], uint8_t rgb[3]) {
  // OpenCV converts to float (H·6/180 sectors, S and V in [0, 1]) and rounds back.
  float h = float(hsv[0]), s = float(hsv[1]) * (1.f / 255.f), v = float(hsv[2]) * (1.f / 255.f);
  float r = v, g = v, b = v;
  if (s != 0) {
    h *= 6.f / 180.f;
    while (h >= 6) h -= 6;
    int sector = int(std::floor(h));
    h -= float(sector);
    if (sector < 0 || sector >= 6) sector = 0, h = 0;
    const float tab[4] = {v, v * (1.f - s), v * (1.f - s * h), v * (1.f - s * (1.f - h))};
    static const int kSector[6][3] = {{1, 3, 0}, {1, 0, 2}, {3, 0, 1}, {0, 2, 1}, {0, 1, 3}, {2, 1, 0}};
    b = tab[kSector[sector][0]], g = tab[kSector[sector][1]], r = tab[kSector[sector][2]];
  }
  auto to_u8 = [](float x) { return uint8_t(std::min(255, std::max(0, int(std::lrint(x * 255.f))))); };
  rgb[0] = to_u8(r), rgb[1] = to_u8(g), rgb[2] = to_u8(b);
}

void photometric_distortion(io::Image& image, const PhotometricDraw& d) {
  const size_t pixels = size_t(image.width) * size_t(image.height);
  uint8_t* p = image.rgb.data();
  if (d.brightness)
    for (size_t i = 0; i < pixels * 3; ++i) p[i] = convert(p[i], 1.f, float(d.beta));
  auto contrast = [&] {
    if (d.contrast)
      for (size_t i = 0; i < pixels * 3; ++i) p[i] = convert(p[i], float(d.alpha), 0.f);
  };
  if (d.contrast_first) contrast();
  if (d.saturation || d.hue) {
    // Each of the two steps is its own BGR→HSV→BGR round trip in the official code.
    for (int step = 0; step < 2; ++step) {
      if ((step == 0 && !d.saturation) || (step == 1 && !d.hue)) continue;
      for (size_t i = 0; i < pixels; ++i) {
        uint8_t hsv[3];
        rgb_to_hsv(p + 3 * i, hsv);
        if (step == 0) hsv[1] = convert(hsv[1], float(d.saturation_alpha), 0.f);
        else hsv[0] = uint8_t(((int(hsv[0]) + d.hue_shift) % 180 + 180) % 180);  // Python's mod
        hsv_to_rgb(hsv, p + 3 * i);
      }
    }
  }
  if (!d.contrast_first) contrast();
}

void normalize_and_pad(const io::Image& image, const io::LabelMap& labels, int crop_h, int crop_w,
                       float* out, int32_t* labels_out) {
  TV3S_CHECK(image.height <= crop_h && image.width <= crop_w && labels.width == image.width &&
                 labels.height == image.height,
             "normalize_and_pad: a ", image.width, "×", image.height, " frame does not fit the ", crop_w,
             "×", crop_h, " crop");
  std::fill(out, out + size_t(crop_h) * size_t(crop_w) * 3, 0.f);
  std::fill(labels_out, labels_out + size_t(crop_h) * size_t(crop_w), 255);
  for (int y = 0; y < image.height; ++y)
    for (int x = 0; x < image.width; ++x) {
      const size_t src = size_t(y) * size_t(image.width) + size_t(x), dst = size_t(y) * size_t(crop_w) + size_t(x);
      for (int c = 0; c < 3; ++c) out[dst * 3 + size_t(c)] = (float(image.rgb[src * 3 + size_t(c)]) - kImageMean[c]) * kImageInvStd[c];
      labels_out[dst] = labels.values[src];
    }
}

}  // namespace tv3s::data
