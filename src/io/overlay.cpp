#include "src/io/overlay.h"

#include <cmath>

namespace tv3s::io {

Image blend_overlay(const Image& frame, const uint8_t* labels, const Palette& palette, float alpha) {
  TV3S_CHECK(alpha >= 0.0f && alpha <= 1.0f, "overlay: alpha ", alpha, " is not in 0..1");
  const size_t pixels = size_t(frame.width) * size_t(frame.height);
  TV3S_CHECK(frame.rgb.size() == pixels * 3, "overlay: ", frame.width, "×", frame.height,
             " frame holds ", frame.rgb.size(), " bytes");
  // Integer weights out of 256 keep the blend exact and cheap: w_label = round(256·alpha).
  const int w_label = int(std::lround(alpha * 256.0f)), w_frame = 256 - w_label;
  Image out = frame;
  for (size_t i = 0; i < pixels; ++i) {
    TV3S_CHECK(labels[i] < palette.size(), "overlay: label ", int(labels[i]), " has no colour (the "
               "palette has ", palette.size(), ")");
    const auto& c = palette[labels[i]];
    for (int k = 0; k < 3; ++k)
      out.rgb[3 * i + k] = uint8_t((w_frame * frame.rgb[3 * i + k] + w_label * c[size_t(k)] + 128) >> 8);
  }
  return out;
}

}  // namespace tv3s::io
