#include "src/pipeline/preprocess.h"

namespace tv3s {

Tensor normalize_image(const io::Image& image, Device device) {
  const size_t pixels = size_t(image.width) * size_t(image.height);
  TV3S_CHECK(image.rgb.size() == pixels * 3, "normalize_image: ", image.width, "×", image.height,
             " image has ", image.rgb.size(), " bytes");
  Tensor input = Tensor::empty(Shape{1, image.height, image.width, 3}, DType::f32, Device::CPU);
  normalize_rgb(image.rgb.data(), image.width, image.height, int64_t(image.width) * 3,
                input.data<float>());
  return input.to(device);
}

void normalize_rgb(const uint8_t* pixels, int width, int height, int64_t stride, float* out) {
  const int64_t row = int64_t(width) * 3;
  for (int64_t y = 0; y < height; ++y)
    for (int64_t i = 0; i < row; ++i)
      out[y * row + i] = (float(pixels[y * stride + i]) - kImageMean[i % 3]) * kImageInvStd[i % 3];
}

}  // namespace tv3s
