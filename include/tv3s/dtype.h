// Element types and devices.
//   f32  — everywhere (the default).
//   f16, bf16 — storage and conversion on both devices; arithmetic on CUDA only.
//   f64  — CPU only, for finite-difference gradient checks.
//   i32  — class indices (labels, argmax); u8 — images and masks as read from disk.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace tv3s {

enum class DType : uint8_t { f32, f16, bf16, f64, i32, u8 };
enum class Device : uint8_t { CPU, CUDA };

size_t dtype_size(DType dtype);
const char* dtype_name(DType dtype);
const char* device_name(Device device);
inline bool is_floating(DType d) {
  return d == DType::f32 || d == DType::f16 || d == DType::bf16 || d == DType::f64;
}

// The names of a precision on the command line and in the APIs: "fp32", "fp16", "bf16"
// (f32, f16, bf16). parse_precision throws an Error for any other name.
DType parse_precision(const std::string& name);
const char* precision_name(DType dtype);  // "fp32", "fp16", "bf16"; dtype_name otherwise

// IEEE binary16 and bfloat16 conversions, round-to-nearest-even, NaN/Inf preserved.
uint16_t f32_to_f16(float value);
float f16_to_f32(uint16_t bits);
uint16_t f32_to_bf16(float value);
float bf16_to_f32(uint16_t bits);

}  // namespace tv3s
