// Building tiny VSPW and Cityscapes layouts on disk for the `tv3s eval` tests: label maps
// with raw values (masks, predictions), small frames, split files, classes.json.
#pragma once
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "src/data/class_tables.h"
#include "src/io/image.h"
#include "tests/test_util.h"

namespace tv3s::test {

using Labels = std::vector<uint8_t>;

inline void make_dirs_for(const std::string& path) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
}

// A label PNG holding exactly `values` (grey, or indexed with `palette`).
inline void write_labels(const std::string& path, int height, int width, const Labels& values,
                         const io::Palette& palette = {}) {
  REQUIRE(values.size() == size_t(height) * size_t(width));
  make_dirs_for(path);
  std::vector<int32_t> v(values.begin(), values.end());
  io::write_label_png(path, Tensor::from_vector_i32(v, Shape{height, width}), palette);
}

// A small RGB frame (any content: these tests score saved predictions or only need the
// model to run).
inline void write_frame(const std::string& path, int height, int width) {
  make_dirs_for(path);
  io::Image image;
  image.width = width, image.height = height;
  image.rgb.assign(size_t(width) * size_t(height) * 3, 0);
  for (size_t i = 0; i < image.rgb.size(); ++i) image.rgb[i] = uint8_t(i * 37 % 251);
  io::write_png(path, image);
}

inline void write_text(const std::string& path, const std::string& text) {
  make_dirs_for(path);
  std::ofstream(path, std::ios::binary) << text;
}

inline std::string frame_stem(int t) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%08d", t * 5);
  return buf;
}

// ROOT/data/<video>/origin/<stem>.png and mask/<stem>.png for each mask (raw VSPW values).
inline void write_vspw_video(const std::string& root, const std::string& video, int height, int width,
                             const std::vector<Labels>& masks) {
  for (size_t t = 0; t < masks.size(); ++t) {
    const std::string base = root + "/data/" + video;
    write_frame(base + "/origin/" + frame_stem(int(t)) + ".png", height, width);
    write_labels(base + "/mask/" + frame_stem(int(t)) + ".png", height, width, masks[t]);
  }
}

inline void write_classes(const std::string& root, const std::vector<std::string>& names) {
  data::ClassTable table;
  table.dataset = "test";
  table.names = names;
  table.palette = data::generated_palette(int64_t(names.size()));
  std::filesystem::create_directories(root);
  data::write_class_file(root + "/classes.json", table);
}

}  // namespace tv3s::test
