// tv3s_emulator_faults SCENARIO: runs one kernel (or call) with a planted fault. Each is
// a mistake compute-sanitizer would report on a GPU; the emulator must stop the process
// with a message naming it. tests/emulator/test_faults.cpp runs every scenario and
// checks the exit status and the message.
#include <cublas_v2.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "cuda/device.cuh"

namespace {

using tv3s::cuda::launch;

float* device_floats(size_t n) {
  void* p = nullptr;
  cudaMalloc(&p, n * sizeof(float));
  cudaMemset(p, 0, n * sizeof(float));
  return static_cast<float*>(p);
}

__global__ void copy_n_plus_one(const float* in, float* out, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i <= n) out[i] = in[i];  // <= : one element too far
}

__global__ void copy_all(const float* in, float* out, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) out[i] = in[i];
}

struct Borrowed {
  const float* data;
};
__global__ void read_through_struct(Borrowed b, float* out) { out[threadIdx.x] = b.data[threadIdx.x]; }

__global__ void early_exit_before_barrier(float* out) {
  TV3S_SHARED(float, tile, [64]);
  if (threadIdx.x == 5) return;  // thread 5 never reaches the barrier
  tile[threadIdx.x] = 1.0f;
  __syncthreads();
  out[threadIdx.x] = tile[63 - threadIdx.x];
}

__global__ void barriers_in_both_branches(float* out) {
  if (threadIdx.x < 16) {
    __syncthreads();
  } else {
    __syncthreads();
  }
  out[threadIdx.x] = 0;
}

__global__ void full_mask_in_partial_warp(float* out) {
  // A 48-thread block: warp 1 has lanes 0..15 only, the mask names 32.
  out[threadIdx.x] = __shfl_xor_sync(0xffffffffu, float(threadIdx.x), 1);
}

__global__ void mask_without_self(float* out) {
  const unsigned mask = threadIdx.x < 16 ? 0xffff0000u : 0x0000ffffu;  // the other half
  out[threadIdx.x] = __shfl_xor_sync(mask, float(threadIdx.x), 1);
}

__global__ void shuffle_after_lane_exits(float* out) {
  if (threadIdx.x == 31) return;
  out[threadIdx.x] = __shfl_down_sync(0xffffffffu, float(threadIdx.x), 1);
}

__global__ void static_shared_over_48k(float* out) {
  TV3S_SHARED(float, huge, [13 * 1024]);  // 52 KiB
  huge[threadIdx.x] = 0;
  out[threadIdx.x] = huge[threadIdx.x];
}

int run(const std::string& scenario) {
  const int n = 1024;  // 4 KiB: a multiple of 256, so the end touches the guard page
  float* a = device_floats(n);
  float* b = device_floats(n);
  if (scenario == "out-of-bounds-read") {
    launch<copy_n_plus_one>(5, 256, 0, nullptr, a, b, n);
  } else if (scenario == "write-past-end-in-rounding") {
    float* odd = device_floats(1000);  // 4000 bytes: the 256-byte rounding leaves 96 after
    launch<copy_n_plus_one>(4, 256, 0, nullptr, static_cast<const float*>(a), odd, 1000);
    cudaFree(odd);
  } else if (scenario == "use-after-free") {
    cudaFree(a);
    Borrowed stale{a};  // inside a struct: no launch-time check sees it
    launch<read_through_struct>(1, 32, 0, nullptr, stale, b);
  } else if (scenario == "host-pointer-argument") {
    static float host[n];
    launch<copy_all>(4, 256, 0, nullptr, static_cast<const float*>(host), b, n);
  } else if (scenario == "barrier-after-exit") {
    launch<early_exit_before_barrier>(1, 64, 0, nullptr, a);
  } else if (scenario == "different-barriers") {
    launch<barriers_in_both_branches>(1, 32, 0, nullptr, a);
  } else if (scenario == "shuffle-missing-lanes") {
    launch<full_mask_in_partial_warp>(1, 48, 0, nullptr, a);
  } else if (scenario == "shuffle-mask-without-caller") {
    launch<mask_without_self>(1, 32, 0, nullptr, a);
  } else if (scenario == "shuffle-exited-lane") {
    launch<shuffle_after_lane_exits>(1, 32, 0, nullptr, a);
  } else if (scenario == "static-shared-over-48k") {
    launch<static_shared_over_48k>(1, 32, 0, nullptr, a);
  } else if (scenario == "cublas-bad-leading-dimension") {
    // C = A·B with A 8×8 in a 64-float buffer, but lda = 16: A's columns run past it.
    cublasHandle_t handle;
    cublasCreate(&handle);
    const float one = 1, zero = 0;
    float* small = device_floats(64);
    cublasGemmEx(handle, CUBLAS_OP_N, CUBLAS_OP_N, 8, 8, 8, &one, small, CUDA_R_32F, 16, b,
                 CUDA_R_32F, 8, &zero, a, CUDA_R_32F, 8, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
  } else {
    std::fprintf(stderr, "unknown scenario '%s'\n", scenario.c_str());
    return 2;
  }
  std::printf("no fault was reported\n");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: tv3s_emulator_faults SCENARIO\n");
    return 2;
  }
  return run(argv[1]);
}
