#include "tv3s/dtype.h"

#include <cstring>

#include "tv3s/error.h"

namespace tv3s {

DType parse_precision(const std::string& name) {
  if (name == "fp32") return DType::f32;
  if (name == "fp16") return DType::f16;
  if (name == "bf16") return DType::bf16;
  throw Error("unknown precision '" + name + "' (fp32, fp16 or bf16)");
}

const char* precision_name(DType d) {
  switch (d) {
    case DType::f32: return "fp32";
    case DType::f16: return "fp16";
    case DType::bf16: return "bf16";
    default: return dtype_name(d);
  }
}

size_t dtype_size(DType d) {
  switch (d) {
    case DType::f32: return 4;
    case DType::f16: return 2;
    case DType::bf16: return 2;
    case DType::f64: return 8;
    case DType::i32: return 4;
    case DType::u8: return 1;
  }
  fail("dtype_size: unknown dtype");
}

const char* dtype_name(DType d) {
  switch (d) {
    case DType::f32: return "f32";
    case DType::f16: return "f16";
    case DType::bf16: return "bf16";
    case DType::f64: return "f64";
    case DType::i32: return "i32";
    case DType::u8: return "u8";
  }
  return "?";
}

const char* device_name(Device d) { return d == Device::CPU ? "cpu" : "cuda"; }

static uint32_t bits_of(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
static float float_of(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// binary32 → binary16: sign, 5-bit exponent (bias 15), 10-bit mantissa.
// Normal numbers round to nearest even on the 13 dropped bits; values below 2^-14
// become subnormals (rounded the same way); overflow becomes ±Inf; NaN stays NaN.
uint16_t f32_to_f16(float value) {
  const uint32_t u = bits_of(value);
  const uint16_t sign = uint16_t((u >> 16) & 0x8000u);
  const uint32_t abs = u & 0x7fffffffu;
  if (abs >= 0x7f800000u)  // Inf or NaN (keep a quiet-NaN payload bit)
    return sign | 0x7c00u | (abs > 0x7f800000u ? 0x0200u : 0u);
  if (abs >= 0x477ff000u) return sign | 0x7c00u;  // rounds to ≥ 65520 → Inf
  if (abs < 0x38800000u) {                        // below 2^-14: subnormal or zero
    if (abs < 0x33000000u) return sign;           // below 2^-25: rounds to 0
    const uint32_t exponent = abs >> 23;
    const uint32_t mantissa = (abs & 0x7fffffu) | 0x800000u;
    const int shift = 126 - int(exponent);  // value / 2^-24 = mantissa · 2^(exponent − 126)
    uint32_t half = mantissa >> shift;
    const uint32_t rest = mantissa & ((1u << shift) - 1);
    const uint32_t halfway = 1u << (shift - 1);
    if (rest > halfway || (rest == halfway && (half & 1u))) ++half;
    return sign | uint16_t(half);
  }
  uint32_t h = ((abs - 0x38000000u) >> 13);  // rebias exponent 127 → 15
  const uint32_t rest = abs & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) ++h;  // may carry into exponent: fine
  return sign | uint16_t(h);
}

float f16_to_f32(uint16_t bits) {
  const uint32_t sign = uint32_t(bits & 0x8000u) << 16;
  const uint32_t exponent = (bits >> 10) & 0x1fu;
  uint32_t mantissa = bits & 0x3ffu;
  if (exponent == 0x1f) return float_of(sign | 0x7f800000u | (mantissa << 13));
  if (exponent == 0) {
    if (mantissa == 0) return float_of(sign);
    // subnormal: value = mantissa · 2^-24
    const float v = float(mantissa) * 0x1.0p-24f;
    return sign ? -v : v;
  }
  return float_of(sign | ((exponent + 112) << 23) | (mantissa << 13));
}

// bfloat16 is the top half of binary32; round to nearest even on the low 16 bits.
uint16_t f32_to_bf16(float value) {
  const uint32_t u = bits_of(value);
  if ((u & 0x7fffffffu) > 0x7f800000u) return uint16_t((u >> 16) | 0x40u);  // quiet NaN
  const uint32_t rounding = 0x7fffu + ((u >> 16) & 1u);
  return uint16_t((u + rounding) >> 16);
}

float bf16_to_f32(uint16_t bits) { return float_of(uint32_t(bits) << 16); }

}  // namespace tv3s
