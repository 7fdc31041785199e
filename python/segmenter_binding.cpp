// tv3s.Segmenter over tv3s::Segmenter (include/tv3s/segmenter.h): numpy frames in, numpy
// label maps (and logits) out, inference without the GIL.
#include <nanobind/stl/filesystem.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <climits>
#include <filesystem>
#include <optional>

#include "python/arrays.h"
#include "python/binding.h"
#include "tv3s/tv3s.hpp"

namespace tv3s::python {

namespace {

struct PySegmenter {
  PySegmenter(Segmenter loaded, std::string model_path)
      : segmenter(std::move(loaded)), path(std::move(model_path)), classes(model_classes(segmenter)) {}

  std::mutex mutex;  // one call at a time (see without_gil)
  Segmenter segmenter;
  std::string path;
  std::vector<ClassInfo> classes;
};

constexpr const char* kFrames = "uint8 [H, W, 3] (one video) or [N, H, W, 3] (one frame of each of N videos)";

Device parse_device(const std::string& name) {
  if (name == "cpu") return Device::CPU;
  if (name == "cuda") return Device::CUDA;
  throw nb::value_error(("device '" + name + "': expected 'cpu' or 'cuda'").c_str());
}

void check_video(const PySegmenter& self, int64_t video, const char* what) {
  if (video < 0 || video >= self.segmenter.videos())
    throw nb::value_error(str(what, ": no video ", video, " (this segmenter has ", self.segmenter.videos(),
                              ", numbered from 0)").c_str());
}

void init(PySegmenter* self, const std::filesystem::path& path, const std::optional<std::string>& mode,
          const std::string& device, const std::string& precision, int64_t videos, const std::string& resize) {
  if (videos < 1) throw nb::value_error(str("videos ", videos, ": must be at least 1").c_str());
  SegmenterOptions options;
  if (mode) options.mode = parse_argument(parse_segment_mode, *mode);
  options.device = parse_device(device);
  options.videos = videos;
  options.resize = parse_argument(parse_input_resize, resize);
  options.precision = parse_argument(parse_precision, precision);
  if (options.device == Device::CUDA && !cuda_available())
    fail("device cuda: no usable CUDA GPU (or a build without CUDA)");
  Segmenter loaded = [&] {
    nb::gil_scoped_release release;
    NoGradGuard no_grad;
    return Segmenter::load(path.string(), options);
  }();
  new (self) PySegmenter(std::move(loaded), path.string());
}

nb::object segment(PySegmenter& self, nb::handle frames, bool want_logits) {
  const AnyArray array = as_array(frames, "segment: frames", kFrames);
  const size_t ndim = array.ndim();
  if (array.dtype() != nb::dtype<uint8_t>() || (ndim != 3 && ndim != 4) || array.shape(ndim - 1) != 3)
    throw nb::value_error(str("segment: frames must be ", kFrames, ", got ", describe(array)).c_str());
  const size_t n = ndim == 4 ? array.shape(0) : 1;
  const size_t height = array.shape(ndim - 3), width = array.shape(ndim - 2);
  const int64_t videos = self.segmenter.videos();
  if (int64_t(n) != videos)
    throw nb::value_error(str("segment: frames ", describe(array), " hold ", n, " frame", n == 1 ? "" : "s",
                              " for a segmenter of ", videos, " video", videos == 1 ? "" : "s",
                              ": pass [", videos, ", H, W, 3], one frame of each video").c_str());
  if (height == 0 || width == 0 || height > INT_MAX || width > INT_MAX / 3)
    throw nb::value_error(str("segment: frames ", describe(array), " are not images").c_str());
  const std::vector<uint8_t> pixels = dense_copy(array);  // before the GIL goes

  Segmentation out = without_gil(self.mutex, [&] {
    NoGradGuard no_grad;
    std::vector<RgbFrame> batch;
    for (size_t v = 0; v < n; ++v)
      batch.push_back({pixels.data() + v * height * width * 3, int(width), int(height), 0});
    Segmentation result = self.segmenter.segment(batch, want_logits);
    if (want_logits) {
      result.logits = result.logits.cpu();
      if (result.logits.dtype() != DType::f32) result.logits = result.logits.to(DType::f32);
    }
    return result;
  });
  nb::object labels = numpy_from_tensor(std::move(out.labels));
  if (!want_logits) return labels;
  return nb::make_tuple(labels, numpy_from_tensor(std::move(out.logits)));
}

nb::object palette(const PySegmenter& self) {
  std::vector<uint8_t> rgb;
  for (const ClassInfo& c : self.classes) rgb.insert(rgb.end(), c.color.begin(), c.color.end());
  return numpy_u8(std::move(rgb), {self.classes.size(), 3});
}

std::string repr(PySegmenter& self) {
  return without_gil(self.mutex, [&] {
    const Segmenter& s = self.segmenter;
    return str("tv3s.Segmenter('", self.path, "', mode='", segment_mode_name(s.mode()), "', device='",
               device_name(s.device()), "', videos=", s.videos(), ", resize='", input_resize_name(s.resize()),
               "', classes=", s.num_classes(), ")");
  });
}

}  // namespace

void bind_segmenter(nb::module_& m) {
  nb::class_<PySegmenter>(m, "Segmenter",
                          "A model plus the per-video state of one inference mode "
                          "(tv3s::Segmenter). Push the next frame of each video, get label maps back.")
      .def("__init__", &init, nb::arg("path"), nb::arg("mode") = nb::none(), nb::arg("device") = "cpu",
           nb::arg("precision") = "fp32", nb::arg("videos") = 1, nb::arg("resize") = "none",
           "Loads a tv3s model file (.safetensors from `tv3s convert`).\n\n"
           "mode: 'frame' | 'stream' | 'clip' (None: stream for a TV3S model, frame for a SegFormer).\n"
           "device: 'cpu' | 'cuda'. precision: 'fp32' | 'fp16' | 'bf16' (16-bit: emulated on the "
           "CPU, accuracy not speed).\n"
           "videos: videos segmented side by side, one frame of each per segment() call.\n"
           "resize: 'none' | 'vspw' | 'cityscapes' (the official test resize; outputs keep the "
           "frame's size).\nRaises tv3s.Error for a file that cannot be loaded, ValueError for a "
           "bad argument.")
      .def("segment", &segment, nb::arg("frames"), nb::arg("logits") = false,
           nb::sig("def segment(self, frames: numpy.ndarray, logits: bool = False) -> "
                   "numpy.ndarray | tuple[numpy.ndarray, numpy.ndarray]"),
           "The next frame of each video: uint8 [H, W, 3] or [N, H, W, 3] RGB (N = videos).\n"
           "Returns labels, uint8 [N, H, W] (N = 1 for a single frame), or with logits=True "
           "(labels, logits) with logits float32 [N, H, W, K]. The GIL is released meanwhile.")
      .def(
          "reset",
          [](PySegmenter& self, int64_t video) {
            if (video != -1) check_video(self, video, "reset");
            without_gil(self.mutex, [&] { self.segmenter.reset(video); });
          },
          nb::arg("video") = -1, "Starts video `video` anew (every video when -1).")
      .def(
          "frame_index",
          [](PySegmenter& self, int64_t video) {
            check_video(self, video, "frame_index");
            return without_gil(self.mutex, [&] { return self.segmenter.frame_index(video); });
          },
          nb::arg("video") = 0, "Frames of video `video` segmented since its start or reset().")
      .def_prop_ro("mode", [](const PySegmenter& self) { return segment_mode_name(self.segmenter.mode()); },
                   "'frame', 'stream' or 'clip'.")
      .def_prop_ro("resize", [](const PySegmenter& self) { return input_resize_name(self.segmenter.resize()); },
                   "'none', 'vspw' or 'cityscapes'.")
      .def_prop_ro("device", [](const PySegmenter& self) { return device_name(self.segmenter.device()); },
                   "'cpu' or 'cuda'.")
      .def_prop_ro("videos", [](const PySegmenter& self) { return self.segmenter.videos(); },
                   "Videos segmented side by side.")
      .def_prop_ro("num_classes", [](const PySegmenter& self) { return self.segmenter.num_classes(); },
                   "K, the classes the model predicts.")
      .def_prop_ro("path", [](const PySegmenter& self) { return self.path; }, "The model file.")
      .def_prop_ro(
          "class_names",
          [](const PySegmenter& self) {
            std::vector<std::string> names;
            for (const ClassInfo& c : self.classes) names.push_back(c.name);
            return names;
          },
          "The name of each class id (list of K str).")
      .def_prop_ro("palette", &palette, "The colour of each class id, uint8 [K, 3] RGB (a new array each time).")
      .def("__repr__", &repr);
}

}  // namespace tv3s::python
