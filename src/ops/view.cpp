// Views: the two layout changes that cost nothing because tensors are contiguous.
//   reshape      — same elements, same order, new shape.
//   slice_outer  — rows [begin, end) of dim 0 are one contiguous range.
// Both share storage with their input. Their backward rules are the inverse layout
// change (reshape back; scatter the rows into a zero tensor).
#include "tv3s/autograd.h"
#include "tv3s/ops/cast.h"

namespace tv3s {

Tensor Tensor::reshape(const Shape& shape) const {
  check_defined("reshape", *this);
  Shape resolved = shape;
  int inferred = -1;
  int64_t known = 1;
  for (int i = 0; i < shape.ndim(); ++i) {
    if (shape[i] == -1) {
      TV3S_CHECK(inferred < 0, "reshape: more than one -1 in ", shape.str());
      inferred = i;
    } else {
      known *= shape[i];
    }
  }
  if (inferred >= 0) {
    TV3S_CHECK(known > 0 && numel() % known == 0, "reshape: cannot reshape ", desc(), " to ",
               shape.str());
    resolved[inferred] = numel() / known;
  }
  TV3S_CHECK(resolved.numel() == numel(), "reshape: cannot reshape ", desc(), " (", numel(),
             " elements) to ", shape.str());
  Tensor out = alias(resolved, 0);
  if (autograd::needs_grad(*this)) {
    const Shape original = shape_;
    autograd::record("reshape", out, {*this}, [original](const Tensor& g) {
      return std::vector<Tensor>{g.reshape(original)};
    });
  }
  return out;
}

Tensor Tensor::slice_outer(int64_t begin, int64_t end) const {
  check_defined("slice_outer", *this);
  TV3S_CHECK(ndim() >= 1, "slice_outer: needs at least one dim, got ", desc());
  TV3S_CHECK(0 <= begin && begin <= end && end <= shape_[0], "slice_outer: rows [", begin, ", ",
             end, ") out of range for ", desc());
  Shape s = shape_;
  s[0] = end - begin;
  Shape one_row = shape_;
  one_row[0] = 1;
  const int64_t row_elems = one_row.numel();
  Tensor out = alias(s, begin * row_elems);
  if (autograd::needs_grad(*this)) {
    const Shape original = shape_;
    autograd::record("slice_outer", out, {*this}, [original, begin, end](const Tensor& g) {
      Tensor full = Tensor::zeros(original, g.dtype(), g.device());
      Tensor rows = full.slice_outer(begin, end);
      copy_(rows, g);
      return std::vector<Tensor>{full};
    });
  }
  return out;
}

}  // namespace tv3s
