// Shared by tests/ops/test_resize.cpp and tests/ops/test_batchnorm.cpp: the PyTorch
// golden values written by tools/gen_resize_bn_fixtures.py, and the input pattern that
// both the generator and the tests regenerate (the fixture stores no inputs).
#pragma once
#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/test_util.h"

namespace tv3s::test {

// The generator's pattern(): element i (row-major) = lo + (hi − lo)·k/65536 with
// k = (7i² + 31153i + 12345·seed) mod 65536. Exact in f64 when hi − lo is a power of two,
// so both sides hold the same bits. f64 CPU tensor.
inline Tensor pattern(const Shape& shape, uint64_t seed, double lo, double hi) {
  std::vector<double> values(size_t(shape.numel()));
  for (uint64_t i = 0; i < values.size(); ++i) {
    const uint64_t k = (7 * i * i + 31153 * i + 12345 * seed) % 65536;
    values[i] = lo + (hi - lo) * double(k) / 65536.0;
  }
  return Tensor::from_vector_f64(values, shape);
}

inline const nlohmann::json& resize_bn_golden() {
  static const nlohmann::json golden = [] {
    const std::string path = TV3S_SOURCE_DIR "/tests/data/resize_bn_golden.json";
    std::ifstream file(path);
    REQUIRE_MESSAGE(file.good(), "missing ", path, " (python3 tools/gen_resize_bn_fixtures.py)");
    return nlohmann::json::parse(file);
  }();
  return golden;
}

// Checks `got` against a stored tensor {"stride": s, "data": every s-th element of the
// flattened reference} at relative tolerance `tol` (check_close's metric).
inline void check_stored(const Tensor& got, const nlohmann::json& stored, double tol,
                         const std::string& what) {
  const int64_t stride = stored["stride"];
  const std::vector<double> all = got.to_vector_f64();
  std::vector<double> picked;
  for (size_t i = 0; i < all.size(); i += size_t(stride)) picked.push_back(all[i]);
  const std::vector<double> want = stored["data"].get<std::vector<double>>();
  REQUIRE_MESSAGE(picked.size() == want.size(), what, ": ", got.desc(), " gives ", picked.size(),
                  " stored elements, the fixture has ", want.size());
  const Shape shape{int64_t(want.size())};
  check_close(Tensor::from_vector_f64(picked, shape), Tensor::from_vector_f64(want, shape), tol,
              what);
}

}  // namespace tv3s::test
