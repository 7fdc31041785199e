// Shape: up to 8 dimensions, stored inline. Tensors in tv3s are always contiguous
// (row-major), so a shape alone fixes the memory layout.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <ostream>
#include <string>
#include <vector>

namespace tv3s {

constexpr int kMaxDims = 8;

class Shape {
 public:
  Shape() = default;
  Shape(std::initializer_list<int64_t> dims);
  explicit Shape(const std::vector<int64_t>& dims);

  int ndim() const { return ndim_; }
  int64_t operator[](int i) const { return dims_[i]; }
  int64_t& operator[](int i) { return dims_[i]; }
  int64_t numel() const;
  // Resolve a possibly negative axis against ndim(); throws for out-of-range axes.
  int axis(int axis, const char* op) const;
  std::vector<int64_t> vec() const { return {dims_, dims_ + ndim_}; }
  std::string str() const;  // "[2, 3, 4]"

  bool operator==(const Shape& o) const;
  bool operator!=(const Shape& o) const { return !(*this == o); }

 private:
  int ndim_ = 0;
  int64_t dims_[kMaxDims] = {};
};

std::string to_string(const Shape& s);
inline std::ostream& operator<<(std::ostream& os, const Shape& s) { return os << s.str(); }

}  // namespace tv3s
