// f16/bf16 conversions against values worked out by hand from the IEEE formats.
#include <cmath>
#include <limits>

#include "tests/test_util.h"

using namespace tv3s;

TEST_CASE("dtype: sizes and names") {
  CHECK(dtype_size(DType::f32) == 4);
  CHECK(dtype_size(DType::f16) == 2);
  CHECK(dtype_size(DType::bf16) == 2);
  CHECK(dtype_size(DType::f64) == 8);
  CHECK(dtype_size(DType::i32) == 4);
  CHECK(dtype_size(DType::u8) == 1);
  CHECK(std::string(dtype_name(DType::bf16)) == "bf16");
}

TEST_CASE("dtype: f16 conversion, exact bit patterns") {
  CHECK(f32_to_f16(0.0f) == 0x0000);
  CHECK(f32_to_f16(-0.0f) == 0x8000);
  CHECK(f32_to_f16(1.0f) == 0x3c00);
  CHECK(f32_to_f16(-2.0f) == 0xc000);
  CHECK(f32_to_f16(65504.0f) == 0x7bff);           // largest finite half
  CHECK(f32_to_f16(65520.0f) == 0x7c00);           // rounds up to Inf
  CHECK(f32_to_f16(0x1.0p-14f) == 0x0400);         // smallest normal
  CHECK(f32_to_f16(0x1.0p-24f) == 0x0001);         // smallest subnormal
  CHECK(f32_to_f16(0x1.0p-25f) == 0x0000);         // halfway to 0: ties to even → 0
  CHECK(f32_to_f16(0x1.8p-25f) == 0x0001);         // above halfway → 1 ulp
  CHECK(f32_to_f16(1.0f + 0x1.0p-11f) == 0x3c00);  // tie between 1 and 1+2^-10: even (1)
  CHECK(f32_to_f16(1.0f + 0x1.8p-11f) == 0x3c01);  // above the tie
  CHECK(f32_to_f16(std::numeric_limits<float>::infinity()) == 0x7c00);
  CHECK((f32_to_f16(std::nanf("")) & 0x7c00) == 0x7c00);
  CHECK((f32_to_f16(std::nanf("")) & 0x03ff) != 0);

  CHECK(f16_to_f32(0x3c00) == 1.0f);
  CHECK(f16_to_f32(0x3555) == 0x1.554p-2f);  // 0.333251953125
  CHECK(f16_to_f32(0x0001) == 0x1.0p-24f);
  CHECK(f16_to_f32(0x8400) == -0x1.0p-14f);
  CHECK(std::isinf(f16_to_f32(0xfc00)));
  CHECK(std::isnan(f16_to_f32(0x7e00)));
  // Every finite half survives the round trip.
  for (uint32_t h = 0; h < 0x10000; ++h)
    if ((h & 0x7c00) != 0x7c00) REQUIRE(f32_to_f16(f16_to_f32(uint16_t(h))) == h);
}

TEST_CASE("dtype: bf16 conversion, exact bit patterns") {
  CHECK(f32_to_bf16(1.0f) == 0x3f80);
  CHECK(f32_to_bf16(-1.0f) == 0xbf80);
  CHECK(f32_to_bf16(1.0f + 0x1.0p-8f) == 0x3f80);  // tie → even
  CHECK(f32_to_bf16(1.0f + 0x1.8p-8f) == 0x3f81);
  CHECK(f32_to_bf16(std::numeric_limits<float>::infinity()) == 0x7f80);
  CHECK(std::isnan(bf16_to_f32(f32_to_bf16(std::nanf("")))));
  CHECK(bf16_to_f32(0x4049) == 3.140625f);
}

TEST_CASE("dtype: tensor casts on CPU round to nearest and saturate integers") {
  const Tensor x = Tensor::from_vector({1.5f, -2.7f, 300.f, -1e10f, 0.1f}, Shape{5});
  CHECK(x.to(DType::i32).to_vector_i32() == std::vector<int32_t>{1, -2, 300, INT32_MIN, 0});
  CHECK(x.to(DType::u8).to_vector_i32() == std::vector<int32_t>{1, 0, 255, 0, 0});
  const std::vector<float> half = x.to(DType::f16).to_vector();
  CHECK(half[0] == 1.5f);
  CHECK(half[4] == f16_to_f32(f32_to_f16(0.1f)));
  CHECK(std::isinf(half[3]));
  const std::vector<double> back = x.to(DType::f64).to_vector_f64();
  CHECK(back[1] == double(-2.7f));
}

TV3S_CUDA_TEST_CASE("convert: CUDA casts, fills and copies match CPU bit for bit") {
  Rng rng(5);
  const Tensor x = Tensor::uniform(Shape{3, 1000}, rng, -300, 300);
  for (DType to : {DType::f16, DType::bf16, DType::i32, DType::u8, DType::f64}) {
    const Tensor on_cpu = x.to(to);
    const Tensor on_gpu = x.cuda().to(to);
    CHECK(on_gpu.is_cuda());
    CHECK(on_gpu.to_vector_f64() == on_cpu.to_vector_f64());
    CHECK(on_gpu.to(DType::f32).to_vector() == on_cpu.to(DType::f32).to_vector());
  }
  for (DType d : {DType::f32, DType::f16, DType::bf16, DType::i32, DType::u8}) {
    const Tensor a = Tensor::full(Shape{7, 9}, 3.3, d, Device::CUDA);
    const Tensor b = Tensor::full(Shape{7, 9}, 3.3, d, Device::CPU);
    CHECK(a.to_vector_f64() == b.to_vector_f64());
  }
  Tensor dst = Tensor::zeros(Shape{3, 1000}, DType::f32, Device::CUDA);
  copy_(dst, x.cuda());
  CHECK(dst.to_vector() == x.to_vector());
}
