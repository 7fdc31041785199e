// segment_ppm — the C++ API in one page: a model file and the frames of one video as
// binary PPM (P6) images in, a label map per frame out as a PGM (P5) image whose grey
// values are the class ids, and a class histogram line per frame on stdout.
//
//   segment_ppm MODEL.safetensors OUT_DIR FRAME.ppm...
//
// The frames are one video in the order given, segmented in the model's default mode
// (stream for a TV3S model: each frame sees the whole past of the video). The tiny
// PPM reader and PGM writer live here so the example needs nothing but tv3s.
#include <tv3s/tv3s.hpp>

#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

struct Image {
  int width = 0, height = 0;
  std::vector<uint8_t> rgb;  // height × width × 3
};

[[noreturn]] void bad_file(const std::string& path, const std::string& what) {
  throw std::runtime_error(path + ": " + what);
}

// Binary PPM: "P6", width, height, maxval as decimal text separated by whitespace (and
// '#' comments), one whitespace byte, then the RGB bytes. Only 8-bit files (maxval 255).
Image read_ppm(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) bad_file(path, "cannot open");
  const std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (data.compare(0, 2, "P6") != 0) bad_file(path, "not a binary PPM (no P6 magic)");
  size_t pos = 2;
  auto header_number = [&]() {
    while (pos < data.size() && (std::isspace(uint8_t(data[pos])) || data[pos] == '#')) {
      if (data[pos] == '#')  // a comment runs to the end of its line
        while (pos < data.size() && data[pos] != '\n') ++pos;
      else
        ++pos;
    }
    long value = -1;
    for (; pos < data.size() && std::isdigit(uint8_t(data[pos])); ++pos) {
      value = (value < 0 ? 0 : value * 10) + (data[pos] - '0');
      if (value > 99999) bad_file(path, "PPM header: number too large");
    }
    if (value < 0) bad_file(path, "PPM header: expected a number");
    return value;
  };
  Image image;
  const long width = header_number(), height = header_number(), maxval = header_number();
  if (width < 1 || height < 1 || width > 32768 || height > 32768)
    bad_file(path, "PPM size " + std::to_string(width) + "x" + std::to_string(height) +
                       " (each side 1 to 32768)");
  if (maxval != 255) bad_file(path, "PPM maxval " + std::to_string(maxval) + " (only 8-bit, 255)");
  if (pos >= data.size() || !std::isspace(uint8_t(data[pos])))
    bad_file(path, "PPM header: no whitespace before the pixels");
  ++pos;
  const size_t bytes = size_t(width) * size_t(height) * 3;
  if (data.size() - pos < bytes)
    bad_file(path, "truncated: " + std::to_string(data.size() - pos) + " bytes of pixels, " +
                       std::to_string(width) + "x" + std::to_string(height) + " needs " +
                       std::to_string(bytes));
  image.width = int(width), image.height = int(height);
  image.rgb.assign(data.begin() + std::ptrdiff_t(pos), data.begin() + std::ptrdiff_t(pos + bytes));
  return image;
}

// Binary PGM: the header, then one byte per pixel.
void write_pgm(const std::string& path, const uint8_t* pixels, int width, int height) {
  std::ofstream out(path, std::ios::binary);
  out << "P5\n" << width << " " << height << "\n255\n";
  out.write(reinterpret_cast<const char*>(pixels), std::streamsize(width) * height);
  if (!out.flush()) bad_file(path, "cannot write");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: segment_ppm MODEL.safetensors OUT_DIR FRAME.ppm...\n");
    return 2;
  }
  try {
    tv3s::NoGradGuard inference;  // no autograd tape: inference only
    tv3s::Segmenter segmenter = tv3s::Segmenter::load(argv[1]);  // default mode, CPU
    const std::vector<tv3s::ClassInfo> classes = tv3s::model_classes(segmenter);
    const std::filesystem::path out_dir = argv[2];
    std::filesystem::create_directories(out_dir);

    int width = 0, height = 0;
    for (int i = 3; i < argc; ++i) {
      const std::string path = argv[i];
      const Image image = read_ppm(path);
      if (i > 3 && (image.width != width || image.height != height))
        bad_file(path, "frames of one video must share a size");
      width = image.width, height = image.height;

      // One frame of each video (here one video); labels come back [1, height, width].
      const tv3s::Segmentation out = segmenter.segment({{image.rgb.data(), width, height}});
      const uint8_t* labels = out.labels.data<uint8_t>();

      const std::string stem = std::filesystem::path(path).stem().string();
      write_pgm((out_dir / (stem + ".pgm")).string(), labels, width, height);

      std::vector<long> histogram(classes.size(), 0);
      for (long p = 0; p < long(width) * height; ++p) ++histogram[labels[p]];
      std::printf("%s:", stem.c_str());
      for (size_t k = 0; k < classes.size(); ++k)
        if (histogram[k] > 0) std::printf(" %s=%ld", classes[k].name.c_str(), histogram[k]);
      std::printf("\n");
    }
  } catch (const std::exception& e) {  // tv3s::Error and the reader's errors: one line each
    std::fprintf(stderr, "segment_ppm: %s\n", e.what());
    return 1;
  }
  return 0;
}
