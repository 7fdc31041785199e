// Tensor basics: creation, views, transfers, error messages, memory accounting.
#include <cstdlib>

#include "tests/test_util.h"

using namespace tv3s;

TEST_CASE("tensor: creation and metadata") {
  const Tensor t = Tensor::full(Shape{2, 3, 4}, 2.5);
  CHECK(t.defined());
  CHECK(t.ndim() == 3);
  CHECK(t.numel() == 24);
  CHECK(t.size(-1) == 4);
  CHECK(t.nbytes() == 96);
  CHECK(t.desc() == "f32[2, 3, 4] cpu");
  for (float v : t.to_vector()) CHECK(v == 2.5f);
  CHECK(Tensor::zeros(Shape{}).numel() == 1);  // a scalar
  CHECK(Tensor::zeros(Shape{0, 5}).numel() == 0);
  CHECK_FALSE(Tensor().defined());
  const Tensor eight = Tensor::ones(Shape{1, 2, 1, 2, 1, 2, 1, 2});
  CHECK(eight.numel() == 16);
  CHECK_THROWS_AS(Shape({1, 1, 1, 1, 1, 1, 1, 1, 1}), Error);
}

TEST_CASE("tensor: reshape and outer slices are views; the rest copies") {
  const Tensor t = Tensor::from_vector({0, 1, 2, 3, 4, 5}, Shape{3, 2});
  const Tensor r = t.reshape(Shape{2, -1});
  CHECK(r.shape() == Shape{2, 3});
  CHECK(r.shares_storage(t));
  const Tensor rows = t.slice_outer(1, 3);
  CHECK(rows.shares_storage(t));
  CHECK(rows.to_vector() == std::vector<float>{2, 3, 4, 5});
  const Tensor c = t.clone();
  CHECK_FALSE(c.shares_storage(t));
  CHECK_THROWS_WITH_AS(t.reshape(Shape{4, 2}),
                       "reshape: cannot reshape f32[3, 2] cpu (6 elements) to [4, 2]", Error);
  CHECK_THROWS_AS(t.slice_outer(2, 4), Error);
}

TEST_CASE("tensor: errors name the op and the shapes") {
  const Tensor a = Tensor::zeros(Shape{2, 3});
  const Tensor b = Tensor::zeros(Shape{4, 3});
  CHECK_THROWS_WITH_AS(add(a, b), "add: shapes [2, 3] and [4, 3] cannot be broadcast together",
                       Error);
  CHECK_THROWS_WITH_AS(mul(a, Tensor::zeros(Shape{2, 3}, DType::f64)),
                       "mul: dtype mismatch: f32[2, 3] cpu and f64[2, 3] cpu", Error);
  CHECK_THROWS_AS(add(a, Tensor::zeros(Shape{2, 3}, DType::f16)), Error);
  CHECK_THROWS_WITH_AS(sum(a, 2), "sum: axis 2 out of range for shape [2, 3]", Error);
  CHECK_THROWS_AS(a.data<double>(), Error);
  CHECK_THROWS_WITH_AS(add(Tensor(), a), "add: input tensor is undefined", Error);
}

TEST_CASE("tensor: CPU memory accounting tracks live and peak bytes") {
  reset_peak_memory(Device::CPU);
  const MemoryStats before = memory_stats(Device::CPU);
  {
    const Tensor big = Tensor::zeros(Shape{1 << 20});  // 4 MiB
    const MemoryStats during = memory_stats(Device::CPU);
    CHECK(during.current_bytes >= before.current_bytes + (4u << 20));
  }
  const MemoryStats after = memory_stats(Device::CPU);
  CHECK(after.current_bytes == before.current_bytes);
  CHECK(after.peak_bytes >= before.current_bytes + (4u << 20));
}

TEST_CASE("tensor: the CPU caching allocator makes no malloc in a steady loop") {
  Rng rng(3);
  const Tensor a = Tensor::uniform(Shape{300, 1000}, rng);
  auto step = [&] {
    NoGradGuard no_grad;
    return sum_all(mul(add(a, a), a)).item();
  };
  step();
  const MemoryStats warm = memory_stats(Device::CPU);
  for (int i = 0; i < 10; ++i) step();
  const MemoryStats steady = memory_stats(Device::CPU);
  CHECK(steady.device_allocations == warm.device_allocations);
  CHECK(steady.current_bytes == warm.current_bytes);
  empty_cache(Device::CPU);
  CHECK(memory_stats(Device::CPU).reserved_bytes < steady.reserved_bytes);
}

TEST_CASE("tensor: CUDA tensors without a GPU fail with a clear message") {
  if (cuda_available()) return;  // covered by the CUDA cases below
  CHECK_THROWS_AS(Tensor::zeros(Shape{2}, DType::f32, Device::CUDA), Error);
}

TV3S_CUDA_TEST_CASE("tensor: host/device round trip and views on CUDA") {
  Rng rng(1);
  const Tensor x = Tensor::uniform(Shape{4, 5}, rng);
  const Tensor g = x.cuda();
  CHECK(g.is_cuda());
  CHECK(g.to_vector() == x.to_vector());
  CHECK(g.slice_outer(1, 3).cpu().to_vector() == x.slice_outer(1, 3).to_vector());
  CHECK(g.reshape(Shape{20}).cpu().to_vector() == x.to_vector());
  CHECK_THROWS_AS(add(g, x), Error);  // devices differ
}

TV3S_CUDA_TEST_CASE("tensor: the CUDA caching allocator makes no cudaMalloc in a steady loop") {
  if (std::getenv("TV3S_CUDA_NO_CACHE")) {  // caching is off: one cudaMalloc per tensor, by request
    MESSAGE("TV3S_CUDA_NO_CACHE is set: the caching allocator is off, nothing to check");
    return;
  }
  Rng rng(2);
  const Tensor a = Tensor::uniform(Shape{64, 257}, rng, -1, 1, DType::f32, Device::CUDA);
  auto step = [&] {
    NoGradGuard no_grad;
    const Tensor b = mul(add(a, a), a);
    return sum_all(b).item();
  };
  step();  // warm-up fills the cache
  const MemoryStats warm = memory_stats(Device::CUDA);
  for (int i = 0; i < 20; ++i) step();
  const MemoryStats steady = memory_stats(Device::CUDA);
  CHECK(steady.device_allocations == warm.device_allocations);
  CHECK(steady.current_bytes == warm.current_bytes);
  CHECK(steady.peak_bytes >= steady.current_bytes);
  empty_cache(Device::CUDA);
  CHECK(memory_stats(Device::CUDA).reserved_bytes <= steady.reserved_bytes);
}
