// The vector types and vectorised f32 math of the fast CPU paths (src/ops/cpu/): 8 floats
// (or 4 doubles) at once with GCC/Clang vector extensions (one AVX2 register; portable C++
// elsewhere, the compiler splits it). The math is used where the scalar libm call
// dominated an op: exp in attention's softmax rows and the selective scan, erf in GELU,
// softplus and SiLU in the scan. Accuracy is stated per function; f64 paths keep the
// library calls (src/ops/scalar_math.h).
#pragma once
#include <cstdint>

namespace tv3s::simd {

typedef float f32x8 __attribute__((vector_size(32)));
typedef double f64x4 __attribute__((vector_size(32)));
typedef int32_t i32x8 __attribute__((vector_size(32)));

inline f32x8 splat8(float v) { return f32x8{} + v; }

// e^x, ≤ 2 ulp. x = n·ln2 + r with n an integer and |r| ≤ ln2/2 (ln2 split in two parts,
// Cody–Waite, so that x − n·ln2 loses no bits), e^r by Cephes' polynomial, and 2^n
// written straight into the exponent bits. x is first clamped to [−87, 88], where 2^n is
// a normal float: e^−87 ≈ 2e−38 stands in for anything smaller.
inline f32x8 exp8(f32x8 x) {
  x = x < -87.f ? splat8(-87.f) : x;
  x = x > 88.f ? splat8(88.f) : x;
  const f32x8 round_to_int = splat8(12582912.f);  // 1.5·2²³: adding it rounds to an integer
  const f32x8 n = (x * 1.44269504088896341f + round_to_int) - round_to_int;
  const f32x8 r = x - n * 0.693359375f + n * 2.12194440e-4f;
  f32x8 poly = splat8(1.9875691500e-4f);
  poly = poly * r + 1.3981999507e-3f;
  poly = poly * r + 8.3334519073e-3f;
  poly = poly * r + 4.1665795894e-2f;
  poly = poly * r + 1.6666665459e-1f;
  poly = poly * r + 5.0000001201e-1f;
  const f32x8 e_r = poly * r * r + r + 1.f;
  const i32x8 exponent_bits = (__builtin_convertvector(n, i32x8) + 127) << 23;
  return e_r * (f32x8)exponent_bits;
}

// Exact-form GELU, x·Φ(x) with Φ(x) = ½·erfc(−x/√2). erfc(z) for z ≥ 0 by the Chebyshev
// fit of Numerical Recipes (erfcc: t·exp(−z² + P(t)), t = 1/(1 + z/2), fractional error
// < 1.2e-7 everywhere), so ½·erfc(|x|/√2) is accurate in relative terms even far in the
// tail, and Φ(x) = 1 − that for x ≥ 0. Max abs error of the result ≈ 2e-7·|x|.
inline f32x8 gelu8(f32x8 x) {
  const f32x8 z = (x < 0.f ? -x : x) * 0.70710678118654752f;
  const f32x8 t = 1.f / (1.f + 0.5f * z);
  f32x8 p = splat8(0.17087277f);
  p = p * t - 0.82215223f;
  p = p * t + 1.48851587f;
  p = p * t - 1.13520398f;
  p = p * t + 0.27886807f;
  p = p * t - 0.18628806f;
  p = p * t + 0.09678418f;
  p = p * t + 0.37409196f;
  p = p * t + 1.00002368f;
  p = p * t - 1.26551223f;
  f32x8 half_erfc = 0.5f * t * exp8(p - z * z);  // ½·erfc(|x|/√2)
  half_erfc = z > 10.f ? splat8(0.f) : half_erfc;     // erfc(10) ≈ 2e-45: zero in f32 (exp8 stops at e^−87)
  return x * (x >= 0.f ? 1.f - half_erfc : half_erfc);
}

// softplus(v) = max(v, 0) + log1p(w) with w = e^{−|v|} ∈ (0, 1], and
// log1p(w) = 2·atanh(s) = 2·(s + s³/3 + s⁵/5 + …), s = w / (2 + w) ∈ [0, 1/3]: seven
// terms leave < 1e-8 relative (the next is ≤ 2·3⁻¹⁵/15). v itself above 20, as
// ops::softplus.
inline f32x8 softplus8(f32x8 v) {
  const f32x8 w = exp8(v < 0.f ? v : -v);
  const f32x8 s = w / (2.f + w), s2 = s * s;
  f32x8 series = splat8(1.f / 13);
  for (const float k : {11.f, 9.f, 7.f, 5.f, 3.f, 1.f}) series = series * s2 + 1.f / k;
  const f32x8 result = (v > 0.f ? v : splat8(0.f)) + 2.f * s * series;
  return v > 20.f ? v : result;
}

// x·SiLU(z) = x·z / (1 + e^{−z}).
inline f32x8 mul_silu8(f32x8 x, f32x8 z) { return x * z / (1.f + exp8(-z)); }

}  // namespace tv3s::simd
