// The official test-time resize (official_resize.h): the size rules of the VSPW and
// Cityscapes test pipelines, over OpenCV's bilinear resize (src/io/image_resize.cpp), so
// that a frame reaches the network exactly as it does in the official evaluation.
#include "src/pipeline/official_resize.h"

#include <algorithm>
#include <cmath>

#include "src/io/image_resize.h"
#include "tv3s/error.h"

namespace tv3s {
namespace {

using io::multiply_then_add;

// mmcv.rescale_size with a (long, short) scale and keep ratio: the largest factor that fits
// the long side into `long_edge` and the short side into `short_edge`, then _scale_size's
// int(w·sf + 0.5) — all in Python floats, i.e. doubles.
ImageSize keep_ratio_size(int width, int height, double long_edge, double short_edge) {
  const double sf =
      std::min(long_edge / std::max(width, height), short_edge / std::min(width, height));
  return {int(multiply_then_add(width, sf, 0.5)), int(multiply_then_add(height, sf, 0.5))};
}

// The first resize of a rule (VSPW's imrescale, or Cityscapes' only one), checked.
ImageSize rescaled_size(InputResize rule, int width, int height) {
  TV3S_CHECK(width > 0 && height > 0, "test resize ", input_resize_name(rule), ": frame size ",
             width, "x", height, " is not positive");
  const ImageSize size = rule == InputResize::vspw ? keep_ratio_size(width, height, 853, 480)
                                                  : keep_ratio_size(width, height, 1024, 512);
  TV3S_CHECK(size.width > 0 && size.height > 0, "test resize ", input_resize_name(rule), ": a ",
             width, "x", height, " frame would be resized to ", size.width, "x", size.height,
             " (too narrow)");
  return size;
}

// AlignedResize_clips._align: both sides up to the next multiple of 32
// (int(np.ceil(side / 32)) * 32, exact for these sizes).
ImageSize aligned_to_32(ImageSize size) {
  return {(size.width + 31) / 32 * 32, (size.height + 31) / 32 * 32};
}

}  // namespace

InputResize parse_input_resize(const std::string& name) {
  if (name == "none") return InputResize::none;
  if (name == "vspw") return InputResize::vspw;
  if (name == "cityscapes") return InputResize::cityscapes;
  fail(str("unknown test resize '", name, "' (expected none, vspw or cityscapes)"));
}

const char* input_resize_name(InputResize rule) {
  switch (rule) {
    case InputResize::none: return "none";
    case InputResize::vspw: return "vspw";
    case InputResize::cityscapes: return "cityscapes";
  }
  return "?";
}

ImageSize network_input_size(InputResize rule, int width, int height) {
  if (rule == InputResize::none) {
    TV3S_CHECK(width > 0 && height > 0, "test resize none: frame size ", width, "x", height,
               " is not positive");
    return {width, height};
  }
  const ImageSize size = rescaled_size(rule, width, height);
  return rule == InputResize::vspw ? aligned_to_32(size) : size;
}

io::Image apply_input_resize(InputResize rule, const io::Image& image) {
  if (rule == InputResize::none) return image;
  const ImageSize size = rescaled_size(rule, image.width, image.height);
  io::Image resized = io::resize_linear_u8(image, size.width, size.height);
  if (rule == InputResize::cityscapes) return resized;
  // VSPW resizes a second time to the 32-aligned size: a stretch, not a pad (853 wide
  // becomes 864), and a copy when the size is already aligned.
  const ImageSize aligned = aligned_to_32(size);
  return io::resize_linear_u8(resized, aligned.width, aligned.height);
}

}  // namespace tv3s
