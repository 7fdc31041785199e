// Images: frames and label maps read as the C++ pipeline reads them (src/io/image.h), and
// colour overlays (src/io/overlay.h).
#include <nanobind/stl/filesystem.h>
#include <nanobind/stl/string.h>

#include <filesystem>

#include "python/arrays.h"
#include "python/binding.h"
#include "src/io/image.h"
#include "src/io/overlay.h"

namespace tv3s::python {

namespace {

nb::object read_image(const std::filesystem::path& path) {
  io::Image image = [&] {
    nb::gil_scoped_release release;
    return io::read_image(path.string());
  }();
  const size_t height = size_t(image.height), width = size_t(image.width);
  return numpy_u8(std::move(image.rgb), {height, width, 3});
}

nb::object read_label_png(const std::filesystem::path& path) {
  io::LabelMap map = [&] {
    nb::gil_scoped_release release;
    return io::read_label_png(path.string());
  }();
  const size_t height = size_t(map.height), width = size_t(map.width);
  return numpy_u8(std::move(map.values), {height, width});
}

nb::object overlay(nb::handle frame, nb::handle labels, nb::handle palette, float alpha) {
  const AnyArray f = uint8_array(frame, "overlay: frame", "uint8 [H, W, 3] RGB", 3);
  const AnyArray l = uint8_array(labels, "overlay: labels", "uint8 [H, W] class ids", 2);
  const AnyArray p = uint8_array(palette, "overlay: palette", "uint8 [K, 3] RGB (Segmenter.palette)", 2);
  if (f.shape(2) != 3 || p.shape(1) != 3 || l.shape(0) != f.shape(0) || l.shape(1) != f.shape(1))
    throw nb::value_error(str("overlay: frame ", describe(f), ", labels ", describe(l), ", palette ",
                              describe(p), ": expected [H, W, 3], [H, W] and [K, 3]").c_str());
  io::Image image;
  image.height = int(f.shape(0)), image.width = int(f.shape(1));
  image.rgb = dense_copy(f);
  const std::vector<uint8_t> ids = dense_copy(l), colours = dense_copy(p);
  io::Palette table(p.shape(0));
  for (size_t k = 0; k < table.size(); ++k) table[k] = {colours[3 * k], colours[3 * k + 1], colours[3 * k + 2]};
  io::Image out = [&] {
    nb::gil_scoped_release release;
    try {
      return io::blend_overlay(image, ids.data(), table, alpha);
    } catch (const Error& e) {  // alpha out of range, a label without a colour: the arguments
      throw nb::value_error(e.what());
    }
  }();
  const size_t height = size_t(out.height), width = size_t(out.width);
  return numpy_u8(std::move(out.rgb), {height, width, 3});
}

}  // namespace

void bind_images(nb::module_& m) {
  m.def("read_image", &read_image, nb::arg("path"),
        "Decodes a PNG or JPEG as the C++ pipeline does (cv2.imread's pixels, as RGB): uint8 [H, W, 3].");
  m.def("read_label_png", &read_label_png, nb::arg("path"),
        "The pixel values of an 8-bit greyscale or indexed PNG (a label map): uint8 [H, W].");
  m.def("overlay", &overlay, nb::arg("frame"), nb::arg("labels"), nb::arg("palette"), nb::arg("alpha") = 0.5f,
        nb::sig("def overlay(frame: numpy.ndarray, labels: numpy.ndarray, palette: numpy.ndarray, "
                "alpha: float = 0.5) -> numpy.ndarray"),
        "The frame with each pixel's class colour blended in: (1 - alpha) * frame + alpha * "
        "palette[label], rounded (alpha in steps of 1/256). frame uint8 [H, W, 3], labels uint8 "
        "[H, W], palette uint8 [K, 3]; returns uint8 [H, W, 3].");
}

}  // namespace tv3s::python
