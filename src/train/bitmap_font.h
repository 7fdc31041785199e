// A small bitmap font for the labels of the training chart (src/train/plot.h), so that
// the chart needs no font library or font file. Fixed width: each glyph is 5 pixels wide
// and 9 rows tall — 7 rows above the baseline (capitals and digits fill all 7) and 2 below
// it for the descenders of g j p q y , — drawn one column apart. The set: ASCII digits,
// A–Z, a–z, space and . , - + : / % ( ) = _ ? ! ' [ ] < > * # |; any other character
// (a UTF-8 sequence counts as one) is drawn as '?'. The glyphs are designed in
// bitmap_font.cpp as pictures made of '#' and '.'.
#pragma once
#include <array>
#include <cstdint>
#include <string>

#include "src/io/image.h"

namespace tv3s::train {

constexpr int kGlyphWidth = 5;    // ink columns of a glyph
constexpr int kGlyphHeight = 9;   // rows of a glyph: kCapHeight above the baseline, 2 below
constexpr int kCapHeight = 7;     // rows from the top to the baseline
constexpr int kGlyphAdvance = 6;  // from one character to the next: a blank column between

// One glyph's rows, top first; bit 4 of a row (value 16) is its leftmost pixel.
using GlyphRows = std::array<uint8_t, kGlyphHeight>;

// Whether `c` has a glyph of its own (rather than the '?' stand-in).
bool has_glyph(char c);
// The glyph drawn for `c` ('?' for a character outside the set).
const GlyphRows& glyph(char c);

// The number of characters `text` draws (a UTF-8 sequence is one).
int text_length(const std::string& text);
// The width in pixels of `text` drawn horizontally (its height is kGlyphHeight); a bold
// text is one pixel wider.
int text_width(const std::string& text, bool bold = false);

enum class TextDirection {
  right,  // ordinary text
  up,     // turned a quarter to the left, read from bottom to top (a y-axis label)
};

// Draws `text` into `image` with the top-left corner of its box at (x, y): the box is
// text_width × kGlyphHeight for `right`, kGlyphHeight × text_width for `up`. Pixels outside
// the image are clipped. `bold` draws every glyph twice, the second one pixel to the right.
void draw_text(io::Image& image, int x, int y, const std::string& text,
               const std::array<uint8_t, 3>& color, TextDirection direction = TextDirection::right,
               bool bold = false);

}  // namespace tv3s::train
