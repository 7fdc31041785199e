// The classes a Segmenter predicts, for printing and colouring its label maps: a name and
// an RGB colour per class id. They come from the model file's metadata (names and palette
// written by `tv3s convert`); without it, VSPW's table for 124 classes, Cityscapes' for
// 19, otherwise "class <i>" and generated well-separated colours.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace tv3s {

class Segmenter;

struct ClassInfo {
  std::string name;
  std::array<uint8_t, 3> color;  // r, g, b
};

// One entry per class id 0 .. segmenter.num_classes() − 1.
std::vector<ClassInfo> model_classes(const Segmenter& segmenter);

}  // namespace tv3s
