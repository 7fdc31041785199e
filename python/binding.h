// What the parts of the module share: where each part is bound, and how the C++ work runs
// without the GIL.
#pragma once
#include <nanobind/nanobind.h>

#include <mutex>
#include <string>
#include <utility>

#include "tv3s/error.h"

namespace tv3s::python {

namespace nb = nanobind;

void bind_segmenter(nb::module_& m);  // segmenter_binding.cpp
void bind_video(nb::module_& m);      // video_binding.cpp
void bind_images(nb::module_& m);     // image_binding.cpp

// Runs `work` with the GIL released and `mutex` held: other Python threads run meanwhile,
// and a second thread calling into the same object waits instead of racing it. The mutex
// is taken after the GIL is let go and let go before it is taken back, so the two never
// wait on each other. `work` must not touch Python objects.
template <class Work>
auto without_gil(std::mutex& mutex, Work&& work) {
  nb::gil_scoped_release release;
  std::lock_guard<std::mutex> lock(mutex);
  return std::forward<Work>(work)();
}

// parse(name) for the library's name parsers, whose tv3s::Error becomes a ValueError (a bad
// argument, not a failure of the library).
template <class Parse>
auto parse_argument(Parse&& parse, const std::string& name) {
  try {
    return std::forward<Parse>(parse)(name);
  } catch (const Error& e) {
    throw nb::value_error(e.what());
  }
}

}  // namespace tv3s::python
