// A tensor seen around one axis as [outer, n, inner]: element (o, k, i) sits at
// (o·n + k)·inner + i. Every op that works "along an axis" (reductions, softmax, ...)
// uses this view, so an axis anywhere in the shape is handled by one loop nest.
#pragma once
#include <cstdint>

#include "tv3s/shape.h"

namespace tv3s {

struct AxisView {
  int64_t outer = 1, n = 1, inner = 1;
};

// `axis` must already be resolved (0 ≤ axis < ndim).
inline AxisView view_around(const Shape& shape, int axis) {
  AxisView v;
  for (int d = 0; d < axis; ++d) v.outer *= shape[d];
  v.n = shape[axis];
  for (int d = axis + 1; d < shape.ndim(); ++d) v.inner *= shape[d];
  return v;
}

}  // namespace tv3s
