// A model in 16-bit for inference (`--precision fp16|bf16`): the parameters converted once,
// when the model is made, and the activations then follow them — every op on CUDA stores
// f16/bf16 and computes in f32 inside (cuda/common.cuh), and keeps in f32 what the
// official code keeps in f32:
//   - BatchNorm's parameters and statistics (the op normalises 16-bit x with f32 ones);
//   - the selective scan's A_log, D and dt_proj.bias, and so its A and its carried state
//     (mamba_ssm's weight_t is float: a 16-bit state would be rounded at every frame of a
//     stream);
//   - the residual stream between the Mamba layers (add_rms_norm keeps it in f32, as
//     mamba_ssm's residual_in_fp32);
//   - norms, softmax, the attention's running sums: f32 inside their kernels.
// The backbone's residual stream is 16-bit here (PyTorch's autocast would promote those
// adds to f32); the measured accuracy (tests/pipeline/test_precision.cpp) includes that.
// The CPU has no 16-bit arithmetic (tv3s/dtype.h). There a 16-bit model is emulated as
// training's mixed precision is (tv3s/autocast.h): the parameters are rounded to the
// 16-bit type and kept in f32 storage, and the Segmenter runs the forward pass inside an
// AutocastScope, so every matrix product sees 16-bit operands and rounds its result to
// 16 bits; the other ops compute in f32 without the GPU's rounding of their outputs.
// That measures the accuracy of the 16-bit products on a machine without a GPU; it is no
// faster and saves no memory. The CUDA path — real 16-bit storage — also runs on the CPU
// in the device emulator build (make test-emu).
#pragma once
#include <string>

#include "src/nn/weights.h"

namespace tv3s {

// True for the parameters a 16-bit model keeps in f32 (the list above).
bool parameter_keeps_f32(const std::string& name);

// `weights` for inference in `precision` (f32: unchanged; f16/bf16: as above, on the
// weights' own device).
Weights weights_in_precision(const Weights& weights, DType precision);

}  // namespace tv3s
