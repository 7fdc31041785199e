// A 5×7 bitmap font written for the training plot: digits, letters (lower case drawn as
// upper case), space and . , - + : / % ( ) = _ #. Each glyph is 7 rows of 5 bits, the
// top row first, bit 4 the leftmost pixel.
#pragma once
#include <array>
#include <cstdint>

namespace tv3s::train {

constexpr int kGlyphWidth = 5, kGlyphHeight = 7, kGlyphAdvance = 6;

// The glyph of `c`; unknown characters get a small box.
const std::array<uint8_t, 7>& glyph(char c);

}  // namespace tv3s::train
