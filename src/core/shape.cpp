#include "tv3s/shape.h"

#include "tv3s/error.h"

namespace tv3s {

Shape::Shape(std::initializer_list<int64_t> dims) : Shape(std::vector<int64_t>(dims)) {}

Shape::Shape(const std::vector<int64_t>& dims) {
  TV3S_CHECK(dims.size() <= size_t(kMaxDims), "Shape: ", dims.size(), " dims, at most ",
             kMaxDims, " are supported");
  ndim_ = int(dims.size());
  for (int i = 0; i < ndim_; ++i) {
    TV3S_CHECK(dims[i] >= 0 || dims[i] == -1, "Shape: negative dimension ", dims[i]);
    dims_[i] = dims[i];
  }
}

int64_t Shape::numel() const {
  int64_t n = 1;
  for (int i = 0; i < ndim_; ++i) n *= dims_[i];
  return n;
}

int Shape::axis(int axis, const char* op) const {
  const int resolved = axis < 0 ? axis + ndim_ : axis;
  TV3S_CHECK(resolved >= 0 && resolved < ndim_, op, ": axis ", axis, " out of range for shape ",
             str());
  return resolved;
}

std::string Shape::str() const {
  std::string s = "[";
  for (int i = 0; i < ndim_; ++i) s += (i ? ", " : "") + std::to_string(dims_[i]);
  return s + "]";
}

bool Shape::operator==(const Shape& o) const {
  if (ndim_ != o.ndim_) return false;
  for (int i = 0; i < ndim_; ++i)
    if (dims_[i] != o.dims_[i]) return false;
  return true;
}

std::string to_string(const Shape& s) { return s.str(); }

}  // namespace tv3s
