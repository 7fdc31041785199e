// NumPy arrays in and out of the binding. In: any CPU array (numpy, or anything with
// __dlpack__/the buffer protocol) of the right dtype and shape, copied out densely while
// the GIL is held, so inference can run without it. Out: arrays that own a C++ buffer
// (a vector or a tensor moved into a capsule), never a copy of it.
#pragma once
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>

#include <cstdint>
#include <string>
#include <vector>

#include "tv3s/tensor.h"

namespace tv3s::python {

namespace nb = nanobind;

// An array as the binding reads it: read-only, CPU, any dtype and strides.
using AnyArray = nb::ndarray<nb::ro, nb::device::cpu>;

// `value` as an array, or a ValueError "<what> must be <expected>, got <type>".
AnyArray as_array(nb::handle value, const char* what, const char* expected);

// "uint8 [480, 640, 3]": dtype and shape, for messages.
std::string describe(const AnyArray& array);

// A uint8 array with `ndim` dimensions, else a ValueError naming `what`, `expected` and
// what it got.
AnyArray uint8_array(nb::handle value, const char* what, const char* expected, size_t ndim);

// The elements of a uint8 array in C order (whatever its strides were).
std::vector<uint8_t> dense_copy(const AnyArray& array);

// A NumPy array over the buffer, which the array then owns (no copy).
nb::object numpy_u8(std::vector<uint8_t>&& values, std::initializer_list<size_t> shape);
// A NumPy array over a CPU tensor's storage (u8 or f32), kept alive by the array.
nb::object numpy_from_tensor(Tensor&& tensor);

}  // namespace tv3s::python
