#include "src/pipeline/preprocess.h"

#include <vector>

namespace tv3s {

Tensor normalize_image(const io::Image& image, Device device) {
  static const float kMean[3] = {123.675f, 116.28f, 103.53f};
  // mmcv multiplies by the reciprocal of std (computed in f64, stored as f32): same here,
  // so the input matches the official one bit for bit.
  static const float kInvStd[3] = {float(1.0 / 58.395), float(1.0 / 57.12), float(1.0 / 57.375)};
  const size_t pixels = size_t(image.width) * size_t(image.height);
  TV3S_CHECK(image.rgb.size() == pixels * 3, "normalize_image: ", image.width, "×", image.height,
             " image has ", image.rgb.size(), " bytes");
  std::vector<float> values(pixels * 3);
  for (size_t i = 0; i < pixels * 3; ++i)
    values[i] = (float(image.rgb[i]) - kMean[i % 3]) * kInvStd[i % 3];
  return Tensor::from_vector(values, Shape{1, image.height, image.width, 3}, DType::f32, device);
}

}  // namespace tv3s
