// The emulator's execution model against what CUDA defines: coordinates, per-block
// shared memory, real barriers, warp shuffles, atomics across concurrent blocks,
// poisoned fresh memory, and the launches and copies a GPU refuses. Each kernel here is
// small and computes something whose answer is known without it.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "cuda/device.cuh"

namespace {

using tv3s::cuda::dynamic_shared;
using tv3s::cuda::launch;

template <class T>
T* device_array(size_t n) {
  void* p = nullptr;
  REQUIRE(cudaMalloc(&p, n * sizeof(T)) == cudaSuccess);
  return static_cast<T*>(p);
}
template <class T>
std::vector<T> to_host(const T* d, size_t n) {
  std::vector<T> h(n);
  REQUIRE(cudaMemcpy(h.data(), d, n * sizeof(T), cudaMemcpyDeviceToHost) == cudaSuccess);
  return h;
}

// ---- kernels ----------------------------------------------------------------------------

__global__ void write_coordinates(int* out) {
  const int block = blockIdx.x + gridDim.x * (blockIdx.y + gridDim.y * blockIdx.z);
  const int thread = threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
  const int threads = blockDim.x * blockDim.y * blockDim.z;
  out[block * threads + thread] = block * 1000 + thread;
}

// Reverses each block's slice through shared memory: right only if the barrier waits for
// every thread's write, and if each block has its own `tile`.
__global__ void reverse_in_blocks(const int* in, int* out) {
  TV3S_SHARED(int, tile, [256]);
  const int base = blockIdx.x * blockDim.x;
  tile[threadIdx.x] = in[base + threadIdx.x];
  __syncthreads();
  out[base + threadIdx.x] = tile[blockDim.x - 1 - threadIdx.x];
}

// Every thread adds its value to a running shared total, one thread after another in
// rounds separated by barriers: each round reads what the previous one wrote.
__global__ void prefix_by_rounds(int* out) {
  TV3S_SHARED(int, total, );
  if (threadIdx.x == 0) total = 0;
  __syncthreads();
  for (unsigned round = 0; round < blockDim.x; ++round) {
    if (threadIdx.x == round) total += int(threadIdx.x);
    __syncthreads();
    if (threadIdx.x == round) out[round] = total;
    __syncthreads();
  }
}

__global__ void shuffles(const float* in, float* xor_sum, float* down, float* up, float* idx,
                         float* segment_sum) {
  const float v = in[threadIdx.x];
  float s = v;
  for (int offset = 16; offset > 0; offset /= 2) s += __shfl_xor_sync(0xffffffffu, s, offset);
  xor_sum[threadIdx.x] = s;
  down[threadIdx.x] = __shfl_down_sync(0xffffffffu, v, 3);
  up[threadIdx.x] = __shfl_up_sync(0xffffffffu, v, 5);
  idx[threadIdx.x] = __shfl_sync(0xffffffffu, v, 7);
  float seg = v;  // sums over groups of 8 lanes
  for (int offset = 4; offset > 0; offset /= 2) seg += __shfl_xor_sync(0xffffffffu, seg, offset, 8);
  segment_sum[threadIdx.x] = seg;
}

// Lanes 0..15 and 16..31 shuffle in two separate groups, one after the other.
__global__ void half_warp_groups(const int* in, int* out) {
  const int lane = threadIdx.x % 32;
  const unsigned mask = lane < 16 ? 0x0000ffffu : 0xffff0000u;
  int v = in[threadIdx.x];
  v += __shfl_xor_sync(mask, v, 1);
  __syncwarp(mask);
  out[threadIdx.x] = v;
}

__global__ void atomic_sums(float* float_total, int* int_total, int* minimum) {
  atomicAdd(float_total, 1.0f);
  atomicAdd(int_total, 1);
  atomicMin(minimum, int(blockIdx.x * blockDim.x + threadIdx.x));
}

__global__ void sum_dynamic(const float* in, float* out, int n) {
  float* buffer = dynamic_shared<float>();
  for (int i = threadIdx.x; i < n; i += blockDim.x) buffer[i] = in[i];
  __syncthreads();
  if (threadIdx.x == 0) {
    float s = 0;
    for (int i = 0; i < n; ++i) s += buffer[i];
    out[blockIdx.x] = s;
  }
}

__global__ void read_unwritten_shared(float* out) {
  TV3S_SHARED(float, never_written, [32]);
  out[threadIdx.x] = never_written[threadIdx.x];
}

__global__ void copy_kernel(const float* in, float* out) { out[threadIdx.x] = in[threadIdx.x]; }

// A race: each thread reads its left neighbour's shared value with no barrier between.
__global__ void read_neighbour_without_barrier(const float* in, float* out) {
  TV3S_SHARED(float, tile, [64]);
  tile[threadIdx.x] = in[blockIdx.x * blockDim.x + threadIdx.x];
  const unsigned left = threadIdx.x == 0 ? 0 : threadIdx.x - 1;
  out[blockIdx.x * blockDim.x + threadIdx.x] = tile[left];
}

}  // namespace

TEST_SUITE_BEGIN("emulator");

TEST_CASE("emulator: 3-d grids and blocks number every thread once") {
  const dim3 grid(3, 2, 2), block(4, 3, 2);
  const int total = 12 * 24;
  int* out = device_array<int>(total);
  launch<write_coordinates>(grid, block, 0, nullptr, out);
  REQUIRE(cudaGetLastError() == cudaSuccess);
  const std::vector<int> h = to_host(out, total);
  for (int b = 0; b < 12; ++b)
    for (int t = 0; t < 24; ++t) CHECK(h[size_t(b * 24 + t)] == b * 1000 + t);
  cudaFree(out);
}

TEST_CASE("emulator: __syncthreads is a barrier and shared memory is per block") {
  const int blocks = 37, threads = 256, n = blocks * threads;
  std::vector<int> h(n);
  for (int i = 0; i < n; ++i) h[size_t(i)] = i * 7 + 1;
  int* in = device_array<int>(n);
  int* out = device_array<int>(n);
  cudaMemcpy(in, h.data(), n * sizeof(int), cudaMemcpyHostToDevice);
  launch<reverse_in_blocks>(blocks, threads, 0, nullptr, in, out);
  const std::vector<int> r = to_host(out, n);
  for (int b = 0; b < blocks; ++b)
    for (int t = 0; t < threads; ++t)
      CHECK(r[size_t(b * threads + t)] == h[size_t(b * threads + threads - 1 - t)]);

  int* prefix = device_array<int>(64);
  launch<prefix_by_rounds>(1, 64, 0, nullptr, prefix);
  const std::vector<int> p = to_host(prefix, 64);
  for (int i = 0; i < 64; ++i) CHECK(p[size_t(i)] == i * (i + 1) / 2);
  cudaFree(in);
  cudaFree(out);
  cudaFree(prefix);
}

TEST_CASE("emulator: warp shuffles follow CUDA's lane rules") {
  const int n = 64;  // two warps
  std::vector<float> h(n);
  for (int i = 0; i < n; ++i) h[size_t(i)] = float(i * i % 17);
  float* in = device_array<float>(n);
  cudaMemcpy(in, h.data(), n * sizeof(float), cudaMemcpyHostToDevice);
  float* outs[5];
  for (auto& o : outs) o = device_array<float>(n);
  launch<shuffles>(1, n, 0, nullptr, in, outs[0], outs[1], outs[2], outs[3], outs[4]);
  REQUIRE(cudaGetLastError() == cudaSuccess);
  const auto xor_sum = to_host(outs[0], n), down = to_host(outs[1], n), up = to_host(outs[2], n),
             idx = to_host(outs[3], n), seg = to_host(outs[4], n);
  for (int i = 0; i < n; ++i) {
    const int warp = i / 32 * 32, lane = i % 32;
    float warp_total = 0, segment_total = 0;
    for (int l = 0; l < 32; ++l) warp_total += h[size_t(warp + l)];
    for (int l = 0; l < 8; ++l) segment_total += h[size_t(warp + lane / 8 * 8 + l)];
    CHECK(xor_sum[size_t(i)] == warp_total);
    CHECK(seg[size_t(i)] == segment_total);
    CHECK(down[size_t(i)] == h[size_t(lane + 3 < 32 ? i + 3 : i)]);  // past the end: own value
    CHECK(up[size_t(i)] == h[size_t(lane >= 5 ? i - 5 : i)]);
    CHECK(idx[size_t(i)] == h[size_t(warp + 7)]);
  }
  int* iin = device_array<int>(32);
  int* iout = device_array<int>(32);
  std::vector<int> hi(32);
  for (int i = 0; i < 32; ++i) hi[size_t(i)] = i;
  cudaMemcpy(iin, hi.data(), sizeof(int) * 32, cudaMemcpyHostToDevice);
  launch<half_warp_groups>(1, 32, 0, nullptr, iin, iout);
  const auto r = to_host(iout, 32);
  for (int i = 0; i < 32; ++i) CHECK(r[size_t(i)] == i + (i ^ 1));
  cudaFree(in);
  for (auto& o : outs) cudaFree(o);
  cudaFree(iin);
  cudaFree(iout);
}

TEST_CASE("emulator: atomics are exact across blocks running on several cores") {
  float* f = device_array<float>(1);
  int* i = device_array<int>(2);
  const float zero = 0;
  const int init[2] = {0, 1 << 30};
  cudaMemcpy(f, &zero, sizeof zero, cudaMemcpyHostToDevice);
  cudaMemcpy(i, init, sizeof init, cudaMemcpyHostToDevice);
  launch<atomic_sums>(200, 128, 0, nullptr, f, i, i + 1);
  CHECK(to_host(f, 1)[0] == 25600.0f);  // exact: every partial sum is an integer < 2^24
  const auto r = to_host(i, 2);
  CHECK(r[0] == 25600);
  CHECK(r[1] == 0);
  cudaFree(f);
  cudaFree(i);
}

TEST_CASE("emulator: dynamic shared memory, and the 48 KiB limit without the opt-in") {
  const int n = 1000;
  std::vector<float> h(n);
  for (int i = 0; i < n; ++i) h[size_t(i)] = float(i % 10);
  float* in = device_array<float>(n);
  float* out = device_array<float>(4);
  cudaMemcpy(in, h.data(), n * sizeof(float), cudaMemcpyHostToDevice);
  launch<sum_dynamic>(4, 128, n * sizeof(float), nullptr, in, out, n);
  REQUIRE(cudaGetLastError() == cudaSuccess);
  for (float s : to_host(out, 4)) CHECK(s == 4500.0f);

  const size_t big = 60 << 10;
  launch<sum_dynamic>(1, 128, big, nullptr, in, out, n);
  CHECK(cudaGetLastError() == cudaErrorInvalidValue);
  REQUIRE(cudaFuncSetAttribute(reinterpret_cast<const void*>(&sum_dynamic),
                               cudaFuncAttributeMaxDynamicSharedMemorySize, int(big)) == cudaSuccess);
  launch<sum_dynamic>(1, 128, big, nullptr, in, out, n);
  CHECK(cudaGetLastError() == cudaSuccess);
  CHECK(cudaFuncSetAttribute(reinterpret_cast<const void*>(&sum_dynamic),
                             cudaFuncAttributeMaxDynamicSharedMemorySize, 228 << 10) ==
        cudaErrorInvalidValue);
  cudaGetLastError();
  cudaFree(in);
  cudaFree(out);
}

TEST_CASE("emulator: launches a GPU refuses are refused, with the GPU's error") {
  float* a = device_array<float>(64);
  launch<copy_kernel>(1, 1025, 0, nullptr, a, a);
  CHECK(cudaGetLastError() == cudaErrorInvalidConfiguration);
  launch<copy_kernel>(dim3(1, 65536), 32, 0, nullptr, a, a);
  CHECK(cudaGetLastError() == cudaErrorInvalidConfiguration);
  launch<copy_kernel>(dim3(1), dim3(1, 1, 65), 0, nullptr, a, a);
  CHECK(cudaGetLastError() == cudaErrorInvalidConfiguration);
  launch<copy_kernel>(0, 32, 0, nullptr, a, a);
  CHECK(cudaGetLastError() == cudaErrorInvalidConfiguration);
  launch<copy_kernel>(1, 32, 0, nullptr, a, a);
  CHECK(cudaGetLastError() == cudaSuccess);  // the error was cleared by reading it
  cudaFree(a);
}

TEST_CASE("emulator: fresh device and shared memory read as NaN") {
  float* fresh = device_array<float>(32);
  for (float v : to_host(fresh, 32)) CHECK(std::isnan(v));
  float* out = device_array<float>(32);
  launch<read_unwritten_shared>(1, 32, 0, nullptr, out);
  for (float v : to_host(out, 32)) CHECK(std::isnan(v));
  cudaFree(fresh);
  cudaFree(out);
}

TEST_CASE("emulator: a missing __syncthreads shows up as NaN (odd blocks run threads backwards)") {
  std::vector<float> h(128, 1.0f);
  float* in = device_array<float>(128);
  float* out = device_array<float>(128);
  cudaMemcpy(in, h.data(), sizeof(float) * 128, cudaMemcpyHostToDevice);
  launch<read_neighbour_without_barrier>(2, 64, 0, nullptr, in, out);
  const std::vector<float> r = to_host(out, 128);
  // Block 0 starts from thread 0: every left neighbour has written. Block 1 starts from
  // thread 63: no left neighbour has, and the poison is read.
  for (int i = 0; i < 64; ++i) CHECK(r[size_t(i)] == 1.0f);
  for (int i = 65; i < 128; ++i) CHECK(std::isnan(r[size_t(i)]));
  cudaFree(in);
  cudaFree(out);
}

TEST_CASE("emulator: copies must name memory of the kind they say") {
  float* d = device_array<float>(16);
  std::vector<float> h(32, 1.0f);
  CHECK(cudaMemcpy(d, h.data(), 16 * sizeof(float), cudaMemcpyHostToDevice) == cudaSuccess);
  CHECK(cudaMemcpy(d, h.data(), 17 * sizeof(float), cudaMemcpyHostToDevice) == cudaErrorInvalidValue);
  CHECK(cudaMemcpy(h.data(), d, 16 * sizeof(float), cudaMemcpyHostToDevice) == cudaErrorInvalidValue);
  CHECK(cudaMemcpy(d, h.data(), 16 * sizeof(float), cudaMemcpyDeviceToHost) == cudaErrorInvalidValue);
  CHECK(cudaMemsetAsync(d + 8, 0, 9 * sizeof(float), nullptr) == cudaErrorInvalidValue);
  CHECK(cudaMemsetAsync(d + 8, 0, 8 * sizeof(float), nullptr) == cudaSuccess);
  CHECK(cudaGetLastError() == cudaErrorInvalidValue);  // the last failure is remembered
  CHECK(cudaFree(d) == cudaSuccess);
  CHECK(cudaMemcpy(h.data(), d, 4, cudaMemcpyDeviceToHost) == cudaErrorInvalidValue);  // freed
  CHECK(cudaFree(d) == cudaErrorInvalidValue);                                          // twice
  cudaGetLastError();
}

TEST_SUITE_END();
