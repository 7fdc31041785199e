// Index arithmetic for reducing a contiguous tensor to a smaller (broadcastable) shape,
// shared by sum_to on both devices. The input's dims split into kept dims (present in
// the output) and reduced dims (size 1 or missing in the output). Output element o
// reads input elements  base(o) + offset(r)  for r in [0, reduced_count).
#pragma once
#include <cstdint>

#include "tv3s/error.h"
#include "tv3s/shape.h"

namespace tv3s {

struct ReduceIndex {
  int kept_ndim = 0, reduced_ndim = 0;
  int64_t kept_dims[kMaxDims] = {}, kept_strides[kMaxDims] = {};
  int64_t reduced_dims[kMaxDims] = {}, reduced_strides[kMaxDims] = {};
  int64_t out_count = 1, reduced_count = 1;
};

// Unravel `index` over `ndim` dims (row-major) into an element offset.
#ifdef __CUDACC__
#define TV3S_HOST_DEVICE __host__ __device__
#else
#define TV3S_HOST_DEVICE
#endif

TV3S_HOST_DEVICE inline int64_t offset_of(int64_t index, int ndim, const int64_t* dims, const int64_t* strides) {
  int64_t offset = 0;
  for (int d = ndim - 1; d >= 0; --d) {
    offset += (index % dims[d]) * strides[d];
    index /= dims[d];
  }
  return offset;
}

inline ReduceIndex make_reduce_index(const Shape& in, const Shape& out, const char* op) {
  TV3S_CHECK(out.ndim() <= in.ndim(), op, ": cannot reduce ", in.str(), " to ", out.str());
  ReduceIndex ri;
  int64_t stride = 1;
  int64_t kept_strides_rev[kMaxDims], kept_dims_rev[kMaxDims];
  int64_t red_strides_rev[kMaxDims], red_dims_rev[kMaxDims];
  int nk = 0, nr = 0;
  for (int i = in.ndim() - 1, j = out.ndim() - 1; i >= 0; --i, --j) {
    const int64_t o = j >= 0 ? out[j] : 1;
    TV3S_CHECK(o == in[i] || o == 1, op, ": shape ", out.str(), " does not broadcast to ",
               in.str());
    if (o == in[i] && (j >= 0)) {
      kept_dims_rev[nk] = in[i];
      kept_strides_rev[nk++] = stride;
    } else {
      red_dims_rev[nr] = in[i];
      red_strides_rev[nr++] = stride;
    }
    stride *= in[i];
  }
  ri.kept_ndim = nk;
  ri.reduced_ndim = nr;
  for (int k = 0; k < nk; ++k) {
    ri.kept_dims[k] = kept_dims_rev[nk - 1 - k];
    ri.kept_strides[k] = kept_strides_rev[nk - 1 - k];
    ri.out_count *= ri.kept_dims[k];
  }
  for (int k = 0; k < nr; ++k) {
    ri.reduced_dims[k] = red_dims_rev[nr - 1 - k];
    ri.reduced_strides[k] = red_strides_rev[nr - 1 - k];
    ri.reduced_count *= ri.reduced_dims[k];
  }
  return ri;
}

}  // namespace tv3s
