#include "src/pipeline/preprocess.h"

#include <vector>

namespace tv3s {

Tensor normalize_image(const io::Image& image, Device device) {
  const size_t pixels = size_t(image.width) * size_t(image.height);
  TV3S_CHECK(image.rgb.size() == pixels * 3, "normalize_image: ", image.width, "×", image.height,
             " image has ", image.rgb.size(), " bytes");
  std::vector<float> values(pixels * 3);
  for (size_t i = 0; i < pixels * 3; ++i)
    values[i] = (float(image.rgb[i]) - kImageMean[i % 3]) * kImageInvStd[i % 3];
  return Tensor::from_vector(values, Shape{1, image.height, image.width, 3}, DType::f32, device);
}

}  // namespace tv3s
