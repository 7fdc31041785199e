// The extension module tv3s._tv3s (python/tv3s/__init__.py re-exports it): tv3s::Error
// becomes tv3s.Error, a RuntimeError carrying the library's one-line message.
#include "python/binding.h"
#include "tv3s/device.h"
#include "tv3s/version.h"

NB_MODULE(_tv3s, m) {
  namespace nb = nanobind;
  m.doc() = "tv3s: video semantic segmentation (SegFormer / TV3S) in C++, for Python.";
  m.attr("__version__") = TV3S_VERSION_STRING;
  nb::exception<tv3s::Error>(m, "Error", PyExc_RuntimeError);
  m.def("cuda_available", &tv3s::cuda_available, "True when this build has CUDA and a GPU is usable.");
  tv3s::python::bind_segmenter(m);
  tv3s::python::bind_images(m);
  tv3s::python::bind_video(m);
}
