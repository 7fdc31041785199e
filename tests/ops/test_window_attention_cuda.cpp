// The CUDA kernels of window_attention (cuda/window_attention.cu) against the plain-loop
// CPU reference (src/ops/window_attention.h), through the op and its autograd rule: the
// output and the gradients of qkv, pad_qkv and bias_table. The reference runs in f64 on the
// very inputs the GPU gets (rounded to its dtype first), so the tolerances measure the
// kernels' f32 arithmetic and the rounding of their results, not the inputs' rounding.
// Shapes: window 7 with and without shift on a 9×11 map (padded to 14×14) and on a 14×14
// map (no padding), window 3 with shift 1, window 12 (the largest the kernels take),
// heads 1 to 3, D = 32 (Swin's head size), a D = 40 case (the D ≤ 64 kernels, masked dims)
// and D = 5, one and two images.
// Tolerances (rel: max |got − ref| / max |ref|, tests/test_util.h): f32 1e-5; f16 1e-3 and
// bf16 8e-3 (each result is rounded once to the dtype, 2⁻¹¹ and 2⁻⁸ relative, on top of
// the f32 sums). Measured max rel over the cases and the four results: f32 8.8e-7,
// f16 3.5e-4, bf16 3.6e-3.
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "src/ops/window_attention.h"
#include "tests/test_util.h"

using namespace tv3s;
using namespace tv3s::test;

namespace {

struct Case {
  int64_t N, H, W, heads, D, window, shift;
};

// Inputs as f32 CPU tensors whose values the CUDA dtype holds exactly; dout weighs the
// output in the loss Σ out ∘ dout, so it is the output's gradient.
struct Inputs {
  Tensor qkv, pad, table, dout;
};

Inputs make_inputs(const Case& c, DType dtype, uint64_t seed) {
  const int64_t C = c.heads * c.D, entries = (2 * c.window - 1) * (2 * c.window - 1);
  auto rounded = [dtype](const Tensor& x) { return x.to(dtype).to(DType::f32); };
  return {rounded(random({c.N, c.H, c.W, 3 * C}, seed, -1.5, 1.5)),
          rounded(random({3 * C}, seed + 1, -1.5, 1.5)),
          rounded(random({entries, c.heads}, seed + 2, -2, 2)),
          rounded(random({c.N, c.H, c.W, C}, seed + 3))};
}

double scale_of(const Case& c) { return 2.0 / std::sqrt(double(c.D)); }  // sharper than Swin's

struct Results {
  Tensor out, dqkv, dpad, dtable;
};

Results run_reference(const Inputs& in, const Case& c) {
  const Tensor qkv = in.qkv.to(DType::f64), pad = in.pad.to(DType::f64);
  const Tensor table = in.table.to(DType::f64), dout = in.dout.to(DType::f64);
  const WindowAttentionDims d = window_attention_dims(qkv, c.heads, c.window, c.shift);
  Results r{Tensor::empty(dout.shape(), DType::f64), Tensor::empty(qkv.shape(), DType::f64),
            Tensor::empty(pad.shape(), DType::f64), Tensor::empty(table.shape(), DType::f64)};
  window_attention_reference_forward(qkv, pad, table, d, scale_of(c), r.out);
  window_attention_reference_backward(qkv, pad, table, dout, d, scale_of(c), r.dqkv, r.dpad,
                                      r.dtable);
  return r;
}

// The op on the GPU in `dtype`, and the gradients autograd gives it.
Results run_cuda(const Inputs& in, const Case& c, DType dtype) {
  Tensor qkv = in.qkv.to(dtype).cuda().requires_grad_();
  Tensor pad = in.pad.to(dtype).cuda().requires_grad_();
  Tensor table = in.table.to(dtype).cuda().requires_grad_();
  const Tensor out = window_attention(qkv, pad, table, c.heads, c.window, c.shift, scale_of(c));
  sum_all(mul(out, in.dout.to(dtype).cuda())).backward();
  return {out.cpu(), qkv.grad().cpu(), pad.grad().cpu(), table.grad().cpu()};
}

const std::vector<Case> kCases = {
    {2, 9, 11, 2, 32, 7, 0},    // W-MSA, 9×11 padded to 14×14: 4 windows, 3 of them padded
    {2, 9, 11, 3, 8, 7, 3},     // SW-MSA on the same map: padding and the shift mask
    {1, 14, 14, 1, 32, 7, 3},   // SW-MSA, no padding: the mask alone
    {2, 5, 7, 2, 5, 3, 1},      // window 3, shift 1; D = 5 (masked dims of the D ≤ 32 kernels)
    {1, 8, 6, 1, 40, 7, 2},     // D = 40: the D ≤ 64 kernels; one window, mostly padding
    {1, 13, 14, 2, 24, 12, 5},  // window 12 (L = 144: 5 keys per lane), padded to 24×24
};

void check_against_reference(DType dtype, double tol) {
  uint64_t seed = 700;
  for (const Case& c : kCases) {
    CAPTURE(c.N);
    CAPTURE(c.H);
    CAPTURE(c.W);
    CAPTURE(c.heads);
    CAPTURE(c.D);
    CAPTURE(c.window);
    CAPTURE(c.shift);
    const Inputs in = make_inputs(c, dtype, seed += 10);
    const Results want = run_reference(in, c), got = run_cuda(in, c, dtype);
    check_close(got.out, want.out, tol, "forward");
    check_close(got.dqkv, want.dqkv, tol, "d qkv");
    check_close(got.dpad, want.dpad, tol, "d pad_qkv");
    check_close(got.dtable, want.dtable, tol, "d bias_table");
  }
}

// The raw bytes of a tensor, for bit-for-bit comparisons.
std::vector<char> bytes_of(const Tensor& x) {
  const Tensor c = x.cpu().clone();  // (clone: contiguous)
  std::vector<char> b(c.nbytes());
  std::memcpy(b.data(), c.raw(), b.size());
  return b;
}

}  // namespace

TV3S_CUDA_TEST_CASE("window_attention: CUDA matches the reference in f32 (rel 1e-5)") {
  check_against_reference(DType::f32, 1e-5);
}

TV3S_CUDA_TEST_CASE(
    "window_attention: CUDA matches the reference in f16 (rel 1e-3) and bf16 (rel 8e-3)") {
  check_against_reference(DType::f16, 1e-3);
  check_against_reference(DType::bf16, 8e-3);
}

TV3S_CUDA_TEST_CASE("window_attention: CUDA repeated runs give identical bits") {
  // 75 windows: the column sums of d pad_qkv and d bias_table over them run in two chunks
  // of rows (cuda/column_reduce.cuh).
  const Case c{3, 35, 30, 2, 16, 7, 3};
  for (DType dtype : {DType::f32, DType::bf16}) {
    CAPTURE(dtype_name(dtype));
    const Inputs in = make_inputs(c, dtype, 900);
    const Results first = run_cuda(in, c, dtype), second = run_cuda(in, c, dtype);
    CHECK(bytes_of(first.out) == bytes_of(second.out));
    CHECK(bytes_of(first.dqkv) == bytes_of(second.dqkv));
    CHECK(bytes_of(first.dpad) == bytes_of(second.dpad));
    CHECK(bytes_of(first.dtable) == bytes_of(second.dtable));
  }
}

TV3S_CUDA_TEST_CASE("window_attention: CUDA refuses windows and head sizes its tiles do not hold") {
  // The kernels take window ≤ 7 with D ≤ 64, or window ≤ 12 with D ≤ 32
  // (cuda/window_attention.cu); the op turns the others into an error.
  auto run = [](int64_t window, int64_t D) {
    const int64_t heads = 2, C = heads * D, entries = (2 * window - 1) * (2 * window - 1);
    return window_attention(random({1, 8, 8, 3 * C}, 1).cuda(), random({3 * C}, 2).cuda(),
                            random({entries, heads}, 3).cuda(), heads, window, 0, 0.1);
  };
  CHECK_NOTHROW(run(7, 64));
  CHECK_NOTHROW(run(12, 32));
  for (const auto& [window, D] : {std::pair<int64_t, int64_t>{7, 72}, {8, 40}, {13, 32}}) {
    CAPTURE(window);
    CAPTURE(D);
    try {
      run(window, D);
      FAIL("no error");
    } catch (const tv3s::Error& err) {
      const std::string message = err.what();
      CHECK(message.find("window_attention") != std::string::npos);
      CHECK(message.find("CUDA") != std::string::npos);
    }
  }
}
