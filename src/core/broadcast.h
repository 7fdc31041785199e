// Index arithmetic for broadcasting, shared by the binary ops and sum_to on both
// devices: for every output dim, the stride of each operand (0 where it broadcasts).
#pragma once
#include <cstdint>

#include "tv3s/shape.h"

namespace tv3s {

struct BroadcastIndex {
  int ndim = 0;
  int64_t dims[kMaxDims] = {};       // the full (output) shape
  int64_t stride_a[kMaxDims] = {};   // element strides of operand a over `dims` (0 = broadcast)
  int64_t stride_b[kMaxDims] = {};
};

// Strides of a contiguous tensor of shape `s`, right-aligned into `ndim` dims, with 0
// where `s` has size 1 (or no such dim): reading it at an index of the full shape gives
// the broadcast element.
inline void broadcast_strides(const Shape& s, int ndim, const int64_t* dims, int64_t* strides) {
  int64_t stride = 1;
  for (int i = ndim - 1, j = s.ndim() - 1; i >= 0; --i, --j) {
    if (j >= 0 && s[j] == dims[i] && dims[i] != 1) {
      strides[i] = stride;
      stride *= s[j];
    } else {
      strides[i] = 0;
    }
  }
}

inline BroadcastIndex make_broadcast_index(const Shape& out, const Shape& a, const Shape& b) {
  BroadcastIndex bi;
  bi.ndim = out.ndim();
  for (int i = 0; i < out.ndim(); ++i) bi.dims[i] = out[i];
  broadcast_strides(a, bi.ndim, bi.dims, bi.stride_a);
  broadcast_strides(b, bi.ndim, bi.dims, bi.stride_b);
  return bi;
}

}  // namespace tv3s
