// Colour overlays: a frame with its label map painted over it, for people to look at.
#pragma once
#include <cstdint>

#include "src/io/image.h"

namespace tv3s::io {

// out = (1 − a) · frame + a · palette[label] per channel, rounded, with a = alpha rounded
// to a multiple of 1/256; alpha in [0, 1] (0: the frame, 1: the label colours alone). `labels` holds width × height class ids,
// each < palette.size() (checked).
Image blend_overlay(const Image& frame, const uint8_t* labels, const Palette& palette, float alpha);

}  // namespace tv3s::io
