// Turning decoded frames into model input, as the official test pipeline does
// (model-spec §8.1 step 3): RGB, (v − mean) · (1/std) per channel in f32 with
// mean (123.675, 116.28, 103.53) and std (58.395, 57.12, 57.375).
#pragma once
#include "src/io/image.h"
#include "tv3s/tensor.h"

namespace tv3s {

// mmseg's ImageNet mean and 1/std per RGB channel. mmcv multiplies by the reciprocal of
// std (computed in f64, stored as f32): the same here, so inputs match the official ones.
inline constexpr float kImageMean[3] = {123.675f, 116.28f, 103.53f};
inline constexpr float kImageInvStd[3] = {float(1.0 / 58.395), float(1.0 / 57.12), float(1.0 / 57.375)};

// width × height RGB pixels (rows `stride` bytes apart) → `out`, width·height·3 floats.
void normalize_rgb(const uint8_t* pixels, int width, int height, int64_t stride, float* out);

// One image → [1, H, W, 3] f32 on `device`.
Tensor normalize_image(const io::Image& image, Device device = Device::CPU);

}  // namespace tv3s
