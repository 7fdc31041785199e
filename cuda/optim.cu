// Optimizer kernels on the GPU.
//  adamw_step: one thread per element (grid-stride), the CPU reference's exact sequence
//      (src/ops/optim.cpp) with explicit round-to-nearest intrinsics, so nvcc cannot fuse
//      a multiply and an add that PyTorch rounds twice: the result equals the CPU's bit for
//      bit. Memory bound (reads p, g, m, v; writes p, m, v).
//  count_nonfinite: each thread counts its grid-stride share, a warp sum combines them,
//      and one atomicAdd per warp adds to a single 64-bit counter. A list of tensors
//      shares the counter (one kernel each, one read-back at the end).
#include "cuda/common.cuh"
#include "cuda/optim.h"

namespace tv3s::cuda {
namespace {

template <class G>
__global__ void adamw_kernel(float* p, const G* grad, float* m, float* v, AdamWScalars k, int64_t n) {
  TV3S_GRID_STRIDE(i, n) {
    const float g = __fmul_rn(to_f32(grad[i]), k.grad_scale);
    float pi = __fmul_rn(p[i], k.decay);
    const float diff = __fsub_rn(g, m[i]);
    const float mi = k.lerp_small ? __fmaf_rn(k.lerp_weight, diff, m[i])
                                  : __fmaf_rn(k.lerp_weight_minus_one, diff, g);
    const float vi = __fmaf_rn(__fmul_rn(k.one_minus_beta2, g), g, __fmul_rn(v[i], k.beta2));
    const float denom = __fadd_rn(__fdiv_rn(__fsqrt_rn(vi), k.bias_correction2_sqrt), k.eps);
    pi = __fadd_rn(pi, __fdiv_rn(__fmul_rn(k.neg_step_size, mi), denom));
    p[i] = pi;
    m[i] = mi;
    v[i] = vi;
  }
}

__device__ __forceinline__ bool is_nonfinite(float x) { return !isfinite(x); }
__device__ __forceinline__ bool is_nonfinite(double x) { return !isfinite(x); }
__device__ __forceinline__ bool is_nonfinite(__half x) { return (__half_as_ushort(x) & 0x7c00) == 0x7c00; }
__device__ __forceinline__ bool is_nonfinite(__nv_bfloat16 x) {
  return (__bfloat16_as_ushort(x) & 0x7f80) == 0x7f80;
}

template <class T>
__global__ void count_nonfinite_kernel(const T* x, int64_t n, unsigned long long* count) {
  unsigned long long mine = 0;
  TV3S_GRID_STRIDE(i, n) mine += is_nonfinite(x[i]);
  for (int offset = 16; offset > 0; offset /= 2) mine += __shfl_down_sync(0xffffffffu, mine, offset);
  if ((threadIdx.x & 31) == 0 && mine != 0) atomicAdd(count, mine);
}

// Room for one 64-bit counter (tv3s has no 64-bit integer dtype: two i32 words).
Tensor new_counter() { return Tensor::zeros(Shape{2}, DType::i32, Device::CUDA); }

void launch_count(const Tensor& x, unsigned long long* count) {
  const int64_t n = x.numel();
  if (n == 0) return;
  auto count_as = [&](auto tag) {
    using T = decltype(tag);
    launch<count_nonfinite_kernel<T>>(blocks_for(n), kThreads, 0, stream(), ptr<T>(x), n, count);
  };
  if (x.dtype() == DType::f64) count_as(double{});
  else dispatch_float("count_nonfinite", x, count_as);
  check_launch("count_nonfinite");
}

int64_t read_counter(const Tensor& counter) {
  unsigned long long host = 0;
  TV3S_CUDA_CHECK(cudaMemcpyAsync(&host, counter.raw(), sizeof(host), cudaMemcpyDeviceToHost, stream()));
  TV3S_CUDA_CHECK(cudaStreamSynchronize(stream()));
  return int64_t(host);
}

}  // namespace

void adamw_step(Tensor& param, const Tensor& grad, Tensor& m, Tensor& v, const AdamWScalars& k) {
  const int64_t n = param.numel();
  dispatch_float("adamw_step_", grad, [&](auto tag) {
    using G = decltype(tag);
    launch<adamw_kernel<G>>(blocks_for(n), kThreads, 0, stream(), ptr<float>(param), ptr<G>(grad),
                            ptr<float>(m), ptr<float>(v), k, n);
  });
  check_launch("adamw_step_");
}

int64_t count_nonfinite(const Tensor& x) { return cuda::count_nonfinite(std::vector<Tensor>{x}); }

int64_t count_nonfinite(const std::vector<Tensor>& xs) {
  Tensor counter = new_counter();
  auto* count = static_cast<unsigned long long*>(counter.raw());
  for (const Tensor& x : xs) launch_count(x, count);
  return read_counter(counter);
}

}  // namespace tv3s::cuda
