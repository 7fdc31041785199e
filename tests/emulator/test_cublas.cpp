// The emulator's cuBLAS (cuda/emulator/cublas.cpp) against a plain column-major loop in
// double: every argument keeps cuBLAS's meaning, bad arguments return cuBLAS's status,
// beta = 0 never reads C, and an operand outside its allocation is a fault.
//
// Every buffer is allocated at exactly the size its leading dimension and strides imply
// (no slack after the last element read), and elements of C outside the m×n windows
// must keep their bits.
#include <cublas_v2.h>
#include <doctest/doctest.h>
#include <omp.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <csignal>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "cuda/emulator/memory.h"

namespace {

const float kNaN = std::numeric_limits<float>::quiet_NaN();

float f32(float x) { return x; }
float f32(__half x) { return __half2float(x); }
float f32(__nv_bfloat16 x) { return __bfloat162float(x); }
template <class T>
T from_f32(float x) {  // rounded to nearest even
  if constexpr (std::is_same_v<T, __half>)
    return __float2half_rn(x);
  else if constexpr (std::is_same_v<T, __nv_bfloat16>)
    return __float2bfloat16_rn(x);
  else
    return x;
}

template <class T>
constexpr cudaDataType kType = std::is_same_v<T, __half>          ? CUDA_R_16F
                               : std::is_same_v<T, __nv_bfloat16> ? CUDA_R_16BF
                                                                  : CUDA_R_32F;
// What cuda/matmul.cu passes.
template <class T>
constexpr cublasComputeType_t kCompute =
    std::is_same_v<T, float> ? CUBLAS_COMPUTE_32F_PEDANTIC : CUBLAS_COMPUTE_32F;

bool same_bits(float x, float y) { return std::memcmp(&x, &y, sizeof x) == 0; }

// A copy of `values` in device memory (host memory in the emulator), freed at scope end.
// No values: nullptr, for operands the call must not touch.
template <class T>
struct Device {
  T* ptr = nullptr;
  size_t count;
  explicit Device(const std::vector<T>& values) : count(values.size()) {
    if (count == 0) return;
    ptr = static_cast<T*>(tv3s::emu::device_malloc(count * sizeof(T)));
    REQUIRE(ptr != nullptr);
    std::memcpy(ptr, values.data(), count * sizeof(T));
  }
  ~Device() {
    if (ptr) tv3s::emu::device_free(ptr);
  }
  Device(const Device&) = delete;
  Device& operator=(const Device&) = delete;
  std::vector<T> read() const { return std::vector<T>(ptr, ptr + count); }
};

// A stored column-major matrix, batch times, `stride` elements apart.
struct Layout {
  int rows, cols, ld;
  long long stride;
  int batch;
  size_t span() const {
    return rows == 0 || cols == 0 ? 0 : (rows - 1) + size_t(cols - 1) * ld + 1;
  }
  size_t size() const { return span() + size_t(batch - 1) * stride; }  // exactly what is read
  size_t at(int b, int r, int c) const { return b * stride + r + size_t(c) * ld; }
};

// One call: C = alpha·op(A)·op(B) + beta·C. *_pad: leading dimension minus its minimum
// (negative = invalid). batched: cublasGemmStridedBatchedEx, else cublasGemmEx.
struct Gemm {
  cublasOperation_t op_a = CUBLAS_OP_N, op_b = CUBLAS_OP_N;
  int m, n, k;
  int lda_pad = 0, ldb_pad = 0, ldc_pad = 0;
  float alpha = 1, beta = 0;
  bool batched = false;
  int batch = 1;
  long long stride_a = 0, stride_b = 0, stride_c = 0;

  bool ta() const { return op_a != CUBLAS_OP_N; }
  bool tb() const { return op_b != CUBLAS_OP_N; }
  Layout a() const {
    const int rows = ta() ? k : m, cols = ta() ? m : k;
    return {rows, cols, rows + lda_pad, stride_a, batch};
  }
  Layout b() const {
    const int rows = tb() ? n : k, cols = tb() ? k : n;
    return {rows, cols, rows + ldb_pad, stride_b, batch};
  }
  Layout c() const { return {m, n, m + ldc_pad, stride_c, batch}; }
};

// Runs g on device copies of a, b and c; c receives the result. Returns cuBLAS's status.
template <class T>
cublasStatus_t run(const Gemm& g, const std::vector<T>& a, const std::vector<T>& b,
                   std::vector<T>& c, cudaDataType type = kType<T>,
                   cublasComputeType_t compute = kCompute<T>) {
  Device<T> da(a), db(b), dc(c);
  cublasHandle_t handle = nullptr;
  REQUIRE(cublasCreate(&handle) == CUBLAS_STATUS_SUCCESS);
  const cublasStatus_t status =
      g.batched ? cublasGemmStridedBatchedEx(handle, g.op_a, g.op_b, g.m, g.n, g.k, &g.alpha,
                                             da.ptr, type, g.a().ld, g.stride_a, db.ptr, type,
                                             g.b().ld, g.stride_b, &g.beta, dc.ptr, type, g.c().ld,
                                             g.stride_c, g.batch, compute, CUBLAS_GEMM_DEFAULT)
                : cublasGemmEx(handle, g.op_a, g.op_b, g.m, g.n, g.k, &g.alpha, da.ptr, type,
                               g.a().ld, db.ptr, type, g.b().ld, &g.beta, dc.ptr, type, g.c().ld,
                               compute, CUBLAS_GEMM_DEFAULT);
  CHECK(cublasDestroy(handle) == CUBLAS_STATUS_SUCCESS);
  if (dc.ptr) c = dc.read();
  return status;
}

// Values in [-1, 1) (f32 tests), or multiples of 1/8 in [-2, 2] (f16/bf16 tests: exact in
// every storage type, and their products and sums are exact in f32).
struct Rng {
  uint64_t s;
  uint32_t next() {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    return uint32_t(s >> 33);
  }
  float uniform() { return float(next()) / float(1u << 31) * 2.0f - 1.0f; }
  float eighths() { return float(int(next() % 33) - 16) / 8.0f; }
};

template <class T>
std::vector<T> values(size_t count, uint64_t seed, bool dyadic) {
  Rng rng{seed};
  std::vector<T> out(count);
  for (T& x : out) x = from_f32<T>(dyadic ? rng.eighths() : rng.uniform());
  return out;
}

enum class Expect { f32_rounding, exact };

// c (after the call) against alpha·op(A)·op(B) + beta·c0 computed in double from the
// stored values. f32_rounding: |got − ref| ≤ (k + 3)·2⁻²⁴·(|alpha|·Σ|a·b| + |beta·c0|),
// the bound for k f32 products summed in any order plus the alpha/beta roundings.
// exact: ref is exact in f32 (dyadic inputs), so the only rounding is the final one to
// the storage type, and got must equal ref rounded to nearest even there, bit for bit.
// Elements outside the m×n windows must keep their bits.
template <class T>
void check_result(const Gemm& g, const std::vector<T>& a, const std::vector<T>& b,
                  const std::vector<T>& c0, const std::vector<T>& c, Expect expect) {
  const Layout la = g.a(), lb = g.b(), lc = g.c();
  std::vector<bool> inside(c.size(), false);
  for (int q = 0; q < g.batch; ++q)
    for (int j = 0; j < g.n; ++j)
      for (int i = 0; i < g.m; ++i) {
        double sum = 0, magnitude = 0;
        for (int p = 0; p < g.k; ++p) {
          const double x = f32(a[g.ta() ? la.at(q, p, i) : la.at(q, i, p)]);
          const double y = f32(b[g.tb() ? lb.at(q, j, p) : lb.at(q, p, j)]);
          sum += x * y;
          magnitude += std::fabs(x * y);
        }
        const size_t at = lc.at(q, i, j);
        inside[at] = true;
        const double old = g.beta == 0 ? 0.0 : g.beta * double(f32(c0[at]));
        const double ref = g.alpha * sum + old;
        const float got = f32(c[at]);
        if (expect == Expect::exact) {
          REQUIRE(double(float(ref)) == ref);
          CHECK_MESSAGE(same_bits(got, f32(from_f32<T>(float(ref)))), "C(", i, ",", j, ") batch ",
                        q, ": got ", got, ", want ", ref);
        } else {
          const double tol =
              (g.k + 3) * std::ldexp(1.0, -24) * (std::fabs(g.alpha) * magnitude + std::fabs(old));
          CHECK_MESSAGE(std::fabs(got - ref) <= tol, "C(", i, ",", j, ") batch ", q, ": got ", got,
                        ", want ", ref, " ± ", tol);
        }
      }
  for (size_t x = 0; x < c.size(); ++x)
    if (!inside[x])
      CHECK_MESSAGE(same_bits(f32(c[x]), f32(c0[x])), "C[", x, "] outside the windows changed");
}

// Fills A, B and C for g (C with `c_fill` when given, else random), runs it, checks it.
template <class T>
void check_gemm(const Gemm& g, Expect expect, uint64_t seed, const float* c_fill = nullptr) {
  const bool dyadic = expect == Expect::exact;
  const std::vector<T> a = values<T>(g.a().size(), seed, dyadic);
  const std::vector<T> b = values<T>(g.b().size(), seed + 1, dyadic);
  std::vector<T> c0 = values<T>(g.c().size(), seed + 2, dyadic);
  if (c_fill)
    for (T& x : c0) x = from_f32<T>(*c_fill);
  std::vector<T> c = c0;
  REQUIRE(run(g, a, b, c) == CUBLAS_STATUS_SUCCESS);
  check_result(g, a, b, c0, c, expect);
}

const cublasOperation_t kOps[] = {CUBLAS_OP_N, CUBLAS_OP_T};

}  // namespace

TEST_SUITE_BEGIN("emulator");

TEST_CASE("emulator cublas: GemmEx f32, all four transposes, padded leading dimensions") {
  // 37×29×23: no dimension is a multiple of the emulator's tiles.
  for (cublasOperation_t op_a : kOps)
    for (cublasOperation_t op_b : kOps) {
      CAPTURE(op_a);
      CAPTURE(op_b);
      Gemm g{op_a, op_b, 37, 29, 23, /*pads*/ 3, 5, 2};
      check_gemm<float>(g, Expect::f32_rounding, 1);
      g.alpha = -0.75f;  // alpha ≠ 1, beta = 1: accumulate onto C
      g.beta = 1.0f;
      check_gemm<float>(g, Expect::f32_rounding, 2);
      g.beta = 0.5f;
      check_gemm<float>(g, Expect::f32_rounding, 3);
    }
  // OP_C is OP_T for real types.
  check_gemm<float>(Gemm{CUBLAS_OP_C, CUBLAS_OP_C, 9, 7, 5, 1, 1, 1}, Expect::f32_rounding, 4);
}

TEST_CASE("emulator cublas: beta = 0 never reads C (NaN there does not leak)") {
  for (cublasOperation_t op_a : kOps) {
    Gemm g{op_a, CUBLAS_OP_N, 70, 19, 33, 0, 4, 6};
    check_gemm<float>(g, Expect::f32_rounding, 10, &kNaN);  // check_result also rejects NaN
    g.batched = true;
    g.batch = 3;
    g.stride_a = g.a().span() + 7;
    g.stride_b = g.b().span();
    g.stride_c = g.c().span() + 1;
    check_gemm<float>(g, Expect::f32_rounding, 11, &kNaN);
    check_gemm<__half>(g, Expect::exact, 12, &kNaN);
  }
}

TEST_CASE("emulator cublas: larger f32 GEMM over several tiles and threads") {
  Gemm g{CUBLAS_OP_T, CUBLAS_OP_N, 130, 75, 301, 1, 0, 3};
  g.alpha = 1.25f;
  g.beta = -1.0f;
  check_gemm<float>(g, Expect::f32_rounding, 20);
}

TEST_CASE("emulator cublas: strided batched, with A broadcast (stride 0) and with gaps") {
  for (cublasOperation_t op_a : kOps)
    for (cublasOperation_t op_b : kOps) {
      CAPTURE(op_a);
      CAPTURE(op_b);
      Gemm g{op_a, op_b, 21, 13, 17, 2, 0, 1};
      g.batched = true;
      g.batch = 4;
      g.stride_a = 0;  // one A for every batch
      g.stride_b = g.b().span() + 3;
      g.stride_c = g.c().span() + 5;
      check_gemm<float>(g, Expect::f32_rounding, 30);
      g.stride_a = g.a().span() + 11;  // every batch its own A; B broadcast instead
      g.stride_b = 0;
      g.alpha = 2.0f;
      g.beta = 1.0f;
      check_gemm<float>(g, Expect::f32_rounding, 31);
    }
}

TEST_CASE("emulator cublas: f16 and bf16 storage round the f32 result to nearest even") {
  // Dyadic inputs make the f32 accumulation exact, so the expected value is the double
  // reference rounded once to the storage type: tolerance 0 (bit for bit).
  for (cublasOperation_t op_a : kOps)
    for (cublasOperation_t op_b : kOps) {
      CAPTURE(op_a);
      CAPTURE(op_b);
      Gemm g{op_a, op_b, 19, 23, 40, 1, 2, 3};
      g.alpha = 0.5f;
      g.beta = -2.0f;
      check_gemm<__half>(g, Expect::exact, 40);
      check_gemm<__nv_bfloat16>(g, Expect::exact, 41);
      g.batched = true;
      g.batch = 3;
      g.stride_a = 0;
      g.stride_b = g.b().span() + 1;
      g.stride_c = g.c().span();
      check_gemm<__half>(g, Expect::exact, 42);
      check_gemm<__nv_bfloat16>(g, Expect::exact, 43);
    }
  // The same exactness holds in f32 (sums of at most 14 significant bits).
  check_gemm<float>(Gemm{CUBLAS_OP_T, CUBLAS_OP_N, 19, 23, 40}, Expect::exact, 44);
}

TEST_CASE("emulator cublas: k = 0 gives C = beta·C without touching A or B") {
  for (float beta : {0.0f, 1.0f, 3.0f}) {
    CAPTURE(beta);
    Gemm g{CUBLAS_OP_N, CUBLAS_OP_N, 6, 5, 0, 0, 1, 2};  // ldb ≥ max(1, k) = 1
    g.beta = beta;
    const std::vector<float> none;  // A and B: null pointers, never read
    std::vector<float> c0 = values<float>(g.c().size(), 50, false);
    c0[g.c().at(0, 1, 1)] = beta == 0 ? kNaN : 1.0f;  // beta = 0 must not read it
    std::vector<float> c = c0;
    REQUIRE(run(g, none, none, c) == CUBLAS_STATUS_SUCCESS);
    check_result(g, none, none, c0, c, Expect::f32_rounding);  // tolerance 3·2⁻²⁴·|beta·c|
  }
}

TEST_CASE("emulator cublas: alpha = 0 gives C = beta·C without touching A or B") {
  // The BLAS rule (A and B are not referenced when alpha = 0): null A and B must not fault.
  Gemm g{CUBLAS_OP_T, CUBLAS_OP_N, 6, 5, 4, 0, 0, 2};
  g.alpha = 0.0f;
  g.beta = 0.5f;
  const std::vector<float> none;
  const std::vector<float> c0 = values<float>(g.c().size(), 55, false);
  std::vector<float> c = c0;
  REQUIRE(run(g, none, none, c) == CUBLAS_STATUS_SUCCESS);
  for (int j = 0; j < g.n; ++j)
    for (int i = 0; i < g.m; ++i) CHECK(c[g.c().at(0, i, j)] == 0.5f * c0[g.c().at(0, i, j)]);
}

TEST_CASE("emulator cublas: empty calls succeed and touch nothing") {
  const std::vector<float> a = values<float>(64, 60, false), b = a;
  for (Gemm g : {Gemm{CUBLAS_OP_N, CUBLAS_OP_N, 0, 4, 3, 1, 0, 1},
                 Gemm{CUBLAS_OP_N, CUBLAS_OP_N, 4, 0, 3}}) {
    std::vector<float> c(8, kNaN);
    CHECK(run(g, a, b, c) == CUBLAS_STATUS_SUCCESS);
    for (float x : c) CHECK(std::isnan(x));
  }
  Gemm g{CUBLAS_OP_N, CUBLAS_OP_N, 2, 2, 2};
  g.batched = true;
  g.batch = 0;
  std::vector<float> c(4, kNaN);
  CHECK(run(g, a, b, c) == CUBLAS_STATUS_SUCCESS);
  for (float x : c) CHECK(std::isnan(x));
}

TEST_CASE("emulator cublas: invalid arguments return INVALID_VALUE, C untouched") {
  const std::vector<float> a = values<float>(256, 70, false), b = a;
  const auto invalid = [&](const Gemm& g) {
    std::vector<float> c(64, kNaN);
    CHECK(run(g, a, b, c) == CUBLAS_STATUS_INVALID_VALUE);
    for (float x : c) CHECK(std::isnan(x));
  };
  invalid(Gemm{CUBLAS_OP_N, CUBLAS_OP_N, 4, 3, 5, -1});        // lda = m − 1
  invalid(Gemm{CUBLAS_OP_T, CUBLAS_OP_N, 4, 3, 5, -1});        // lda = k − 1 (A stored k×m)
  invalid(Gemm{CUBLAS_OP_N, CUBLAS_OP_N, 4, 3, 5, 0, -1});     // ldb = k − 1
  invalid(Gemm{CUBLAS_OP_N, CUBLAS_OP_T, 4, 3, 5, 0, -1});     // ldb = n − 1 (B stored n×k)
  invalid(Gemm{CUBLAS_OP_N, CUBLAS_OP_N, 4, 3, 5, 0, 0, -1});  // ldc = m − 1
  invalid(Gemm{CUBLAS_OP_N, CUBLAS_OP_N, 0, 3, 5, 1, 0, 0});   // ldc = 0 < max(1, m)
  invalid(Gemm{CUBLAS_OP_N, CUBLAS_OP_N, -1, 3, 5, 3, 0, 2});  // m < 0
  invalid(Gemm{CUBLAS_OP_N, CUBLAS_OP_N, 4, 3, -1, 0, 2});     // k < 0
  invalid(Gemm{CUBLAS_OP_CONJG, CUBLAS_OP_N, 4, 3, 5});        // not N, T or C
  Gemm g{CUBLAS_OP_N, CUBLAS_OP_N, 4, 3, 5};
  g.batched = true;
  g.batch = -1;
  invalid(g);
}

TEST_CASE("emulator cublas: unsupported types return NOT_SUPPORTED, no handle NOT_INITIALIZED") {
  const Gemm g{CUBLAS_OP_N, CUBLAS_OP_N, 4, 3, 5};
  const std::vector<float> a = values<float>(g.a().size(), 80, false),
                           b = values<float>(g.b().size(), 81, false);
  const auto unsupported = [&](cudaDataType type, cublasComputeType_t compute) {
    std::vector<float> c(g.c().size(), kNaN);
    CHECK(run(g, a, b, c, type, compute) == CUBLAS_STATUS_NOT_SUPPORTED);
    for (float x : c) CHECK(std::isnan(x));
  };
  unsupported(CUDA_R_64F, CUBLAS_COMPUTE_32F);
  unsupported(CUDA_R_64F, CUBLAS_COMPUTE_64F);
  unsupported(CUDA_R_32F, CUBLAS_COMPUTE_64F);
  unsupported(CUDA_R_16F, CUBLAS_COMPUTE_16F);
  unsupported(CUDA_R_16F, CUBLAS_COMPUTE_32F_FAST_TF32);  // TF32 is for f32 storage
  unsupported(CUDA_R_8I, CUBLAS_COMPUTE_32I);
  // Mixed storage: f16 A and B into an f32 C.
  Device<float> da(a), db(b), dc(std::vector<float>(g.c().size(), kNaN));
  cublasHandle_t handle = nullptr;
  REQUIRE(cublasCreate(&handle) == CUBLAS_STATUS_SUCCESS);
  const float one = 1, zero = 0;
  CHECK(cublasGemmEx(handle, g.op_a, g.op_b, g.m, g.n, g.k, &one, da.ptr, CUDA_R_16F, g.a().ld,
                     db.ptr, CUDA_R_16F, g.b().ld, &zero, dc.ptr, CUDA_R_32F, g.c().ld,
                     CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT) == CUBLAS_STATUS_NOT_SUPPORTED);
  // FAST_TF32 with f32 storage is accepted (computed in full f32 here).
  CHECK(cublasGemmEx(handle, g.op_a, g.op_b, g.m, g.n, g.k, &one, da.ptr, CUDA_R_32F, g.a().ld,
                     db.ptr, CUDA_R_32F, g.b().ld, &zero, dc.ptr, CUDA_R_32F, g.c().ld,
                     CUBLAS_COMPUTE_32F_FAST_TF32, CUBLAS_GEMM_DEFAULT) == CUBLAS_STATUS_SUCCESS);
  CHECK(cublasDestroy(handle) == CUBLAS_STATUS_SUCCESS);
  CHECK(cublasGemmEx(nullptr, g.op_a, g.op_b, g.m, g.n, g.k, &one, da.ptr, CUDA_R_32F, g.a().ld,
                     db.ptr, CUDA_R_32F, g.b().ld, &zero, dc.ptr, CUDA_R_32F, g.c().ld,
                     CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT) == CUBLAS_STATUS_NOT_INITIALIZED);
  CHECK(cublasGemmStridedBatchedEx(nullptr, g.op_a, g.op_b, g.m, g.n, g.k, &one, da.ptr, CUDA_R_32F,
                                   g.a().ld, 0, db.ptr, CUDA_R_32F, g.b().ld, 0, &zero, dc.ptr,
                                   CUDA_R_32F, g.c().ld, 0, 1, CUBLAS_COMPUTE_32F,
                                   CUBLAS_GEMM_DEFAULT) == CUBLAS_STATUS_NOT_INITIALIZED);
}

TEST_CASE("emulator cublas: handle, stream, math mode, version, status strings") {
  cublasHandle_t handle = nullptr;
  REQUIRE(cublasCreate(&handle) == CUBLAS_STATUS_SUCCESS);
  cudaStream_t stream = reinterpret_cast<cudaStream_t>(uintptr_t(0x1234));
  CHECK(cublasSetStream(handle, stream) == CUBLAS_STATUS_SUCCESS);
  cudaStream_t got = nullptr;
  CHECK(cublasGetStream(handle, &got) == CUBLAS_STATUS_SUCCESS);
  CHECK(got == stream);
  CHECK(cublasSetMathMode(handle, CUBLAS_PEDANTIC_MATH) == CUBLAS_STATUS_SUCCESS);
  cublasMath_t mode = CUBLAS_DEFAULT_MATH;
  CHECK(cublasGetMathMode(handle, &mode) == CUBLAS_STATUS_SUCCESS);
  CHECK(mode == CUBLAS_PEDANTIC_MATH);
  CHECK(cublasDestroy(handle) == CUBLAS_STATUS_SUCCESS);
  CHECK(cublasDestroy(nullptr) == CUBLAS_STATUS_NOT_INITIALIZED);
  CHECK(cublasSetStream(nullptr, stream) == CUBLAS_STATUS_NOT_INITIALIZED);

  int major = -1, minor = -1, patch = -1;
  CHECK(cublasGetProperty(MAJOR_VERSION, &major) == CUBLAS_STATUS_SUCCESS);
  CHECK(cublasGetProperty(MINOR_VERSION, &minor) == CUBLAS_STATUS_SUCCESS);
  CHECK(cublasGetProperty(PATCH_LEVEL, &patch) == CUBLAS_STATUS_SUCCESS);
  CHECK(major * 10000 + minor * 100 + patch == CUBLAS_VERSION);

  CHECK(std::string(cublasGetStatusString(CUBLAS_STATUS_INVALID_VALUE)) !=
        cublasGetStatusString(CUBLAS_STATUS_SUCCESS));
  CHECK(std::string(cublasGetStatusName(CUBLAS_STATUS_NOT_SUPPORTED)) ==
        "CUBLAS_STATUS_NOT_SUPPORTED");
}

TEST_CASE("emulator cublas: the bits do not depend on the thread count") {
  Gemm g{CUBLAS_OP_N, CUBLAS_OP_T, 150, 90, 257, 1, 1, 1};
  g.batched = true;
  g.batch = 2;
  g.stride_a = g.a().span();
  g.stride_b = g.b().span();
  g.stride_c = g.c().span();
  const std::vector<float> a = values<float>(g.a().size(), 90, false),
                           b = values<float>(g.b().size(), 91, false);
  const int threads = omp_get_max_threads();
  std::vector<std::vector<float>> results;
  for (int t : {1, 2, 3, 8}) {
    omp_set_num_threads(t);
    std::vector<float> c(g.c().size(), kNaN);
    REQUIRE(run(g, a, b, c) == CUBLAS_STATUS_SUCCESS);
    results.push_back(c);
  }
  omp_set_num_threads(threads);
  for (const auto& c : results)
    CHECK(std::memcmp(c.data(), results[0].data(), c.size() * sizeof(float)) == 0);
}

// Runs `call` in a child process and returns what it wrote to stderr; *clean is whether
// it exited normally with status 0 (a fault aborts it).
template <class F>
std::string in_child(F call, bool* clean) {
  int pipe_fd[2];
  REQUIRE(pipe(pipe_fd) == 0);
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    close(pipe_fd[0]);
    dup2(pipe_fd[1], STDERR_FILENO);
    signal(SIGABRT, SIG_DFL);  // the abort is the expected outcome, not doctest's crash
    alarm(20);                 // a hang fails the test instead of stalling it
    try {
      call();
    } catch (...) {  // a failed REQUIRE: leave now, not back into the test runner
      _exit(3);
    }
    _exit(0);
  }
  close(pipe_fd[1]);
  std::string out;
  char buf[512];
  for (ssize_t got; (got = read(pipe_fd[0], buf, sizeof buf)) > 0;) out.append(buf, size_t(got));
  close(pipe_fd[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  *clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  return out;
}

TEST_CASE("emulator cublas: an operand past its allocation is a fault naming it") {
  // B is k×n = 5×3 with ldb = 7, so the call reads (5−1) + (3−1)·7 + 1 = 19 elements;
  // the buffer holds 18. Same for a batched C whose stride walks past the end.
  const Gemm g{CUBLAS_OP_N, CUBLAS_OP_N, 4, 3, 5, 0, 2, 0};
  bool clean = true;
  std::string err = in_child(
      [&] {
        const std::vector<float> a = values<float>(g.a().size(), 100, false);
        const std::vector<float> b = values<float>(g.b().size() - 1, 101, false);
        std::vector<float> c(g.c().size());
        run(g, a, b, c);
      },
      &clean);
  CHECK_FALSE(clean);
  CHECK_MESSAGE(err.find("cublasGemmEx: B (k=5, n=3, ldb=7)") != std::string::npos, err);

  Gemm batched = g;
  batched.batched = true;
  batched.batch = 3;
  batched.stride_c = g.c().span();
  err = in_child(
      [&] {
        const std::vector<float> a = values<float>(batched.a().size(), 100, false);
        const std::vector<float> b = values<float>(batched.b().size(), 101, false);
        std::vector<float> c(batched.c().size() - 1);
        run(batched, a, b, c);
      },
      &clean);
  CHECK_FALSE(clean);
  CHECK_MESSAGE(
      err.find("cublasGemmStridedBatchedEx: C (m=4, n=3, ldc=4, strideC=12, batchCount=3)") !=
          std::string::npos,
      err);
}

TEST_SUITE_END();
