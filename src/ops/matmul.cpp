// Matrix products: matmul (batched C = op(A)·op(B)), linear (y = x·Wᵀ + b), and the
// plain-loop reference of the product they compute:
//
//   C[i][j] = alpha · Σ_k op(A)[i][k] · op(B)[k][j] + beta · C[i][j]
//
// CPU: the ops run the fast GEMM, src/ops/cpu/gemm.cpp (packed, cache-blocked, OpenMP);
// gemm_reference below is the triple loop it is tested against (src/ops/matmul.h).
// CUDA: cuBLAS (cuda/matmul.cu). Backward: dA and dB are matmuls with transposes; a 2-D
// side shared by a batch gets the sum over the batch.
// Autocast (src/ops/autocast.h) is the policy around the op: matmul and linear ask it
// first and it runs them again on rounded operands; autocast knows nothing of matmul.
#include "tv3s/ops/matmul.h"

#include <cstring>

#include "cuda/matmul.h"
#include "src/core/cuda_context.h"
#include "src/core/dispatch.h"
#include "src/ops/autocast.h"
#include "src/ops/cpu/gemm.h"
#include "src/ops/matmul.h"
#include "tv3s/autograd.h"
#include "tv3s/ops/reduce.h"

namespace tv3s {

// ---- CPU reference -----------------------------------------------------------------------

template <class T>
void gemm_reference(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha,
                    const T* A, int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc) {
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) {
      T sum = 0;
      for (int64_t k = 0; k < K; ++k) {
        const T a_ik = trans_a ? A[k * lda + i] : A[i * lda + k];
        const T b_kj = trans_b ? B[j * ldb + k] : B[k * ldb + j];
        sum += a_ik * b_kj;
      }
      T& c = C[i * ldc + j];
      c = beta == T(0) ? alpha * sum : alpha * sum + beta * c;
    }
}

template void gemm_reference<float>(bool, bool, int64_t, int64_t, int64_t, float, const float*,
                                    int64_t, const float*, int64_t, float, float*, int64_t);
template void gemm_reference<double>(bool, bool, int64_t, int64_t, int64_t, double, const double*,
                                     int64_t, const double*, int64_t, double, double*, int64_t);

namespace {


// ---- the ops ------------------------------------------------------------------------------

// The batched problem a matmul call describes. a_stride/b_stride are 0 for a 2-D side
// shared by every batch entry.
struct MatmulPlan {
  int64_t batch = 1, M = 0, N = 0, K = 0;
  int64_t a_stride = 0, b_stride = 0;
  bool a_shared = false, b_shared = false;  // 2-D side broadcast over a real batch
  Shape out_shape;
};

std::string trans_note(bool trans_a, bool trans_b) {
  return str(" (trans_a=", trans_a ? "true" : "false", ", trans_b=", trans_b ? "true" : "false", ")");
}

MatmulPlan plan_matmul(const Tensor& a, const Tensor& b, bool trans_a, bool trans_b) {
  check_defined("matmul", a);
  check_defined("matmul", b);
  check_same_device("matmul", a, b);
  check_same_dtype("matmul", a, b);
  check_compute_dtype("matmul", a);
  TV3S_CHECK(a.ndim() >= 2 && b.ndim() >= 2, "matmul: both operands need at least 2 dims, got ",
             a.desc(), " and ", b.desc());
  MatmulPlan p;
  const int64_t a_rows = a.size(-2), a_cols = a.size(-1);
  const int64_t b_rows = b.size(-2), b_cols = b.size(-1);
  p.M = trans_a ? a_cols : a_rows;
  p.K = trans_a ? a_rows : a_cols;
  const int64_t k_b = trans_b ? b_cols : b_rows;
  p.N = trans_b ? b_rows : b_cols;
  TV3S_CHECK(p.K == k_b, "matmul: inner dimensions differ: op(a) is ", p.M, "x", p.K,
             " and op(b) is ", k_b, "x", p.N, " for a ", a.desc(), ", b ", b.desc(),
             trans_note(trans_a, trans_b));

  // The batch dims: those of the operand with more than 2 dims (both: they must agree).
  p.a_shared = a.ndim() == 2 && b.ndim() > 2;
  p.b_shared = b.ndim() == 2 && a.ndim() > 2;
  if (a.ndim() > 2 && b.ndim() > 2) {
    bool same = a.ndim() == b.ndim();
    for (int i = 0; same && i < a.ndim() - 2; ++i) same = a.size(i) == b.size(i);
    TV3S_CHECK(same, "matmul: batch dimensions differ (they must be equal, or one side 2-D): a ",
               a.desc(), ", b ", b.desc());
  }
  std::vector<int64_t> batch_dims = (p.a_shared ? b : a).shape().vec();
  batch_dims.resize(batch_dims.size() - 2);
  for (int64_t d : batch_dims) p.batch *= d;
  p.a_stride = p.a_shared ? 0 : p.M * p.K;
  p.b_stride = p.b_shared ? 0 : p.K * p.N;
  batch_dims.push_back(p.M);
  batch_dims.push_back(p.N);
  p.out_shape = Shape(batch_dims);
  return p;
}

// A shared right-hand side with an untransposed batched A is one tall GEMM:
// [batch·M, K]·op(B). Same result, one packing of B instead of `batch`.
void fold_batch_into_rows(MatmulPlan& p, bool trans_a) {
  if (p.b_shared && !trans_a && p.batch > 1) {
    p.M *= p.batch;
    p.batch = 1;
    p.a_stride = p.M * p.K;
  }
}

// C := op(A)·op(B) (+ C when accumulate: the bias already written there), any device.
void run_matmul(const Tensor& a, const Tensor& b, Tensor& out, bool trans_a, bool trans_b,
                MatmulPlan p, const Tensor& bias) {
  fold_batch_into_rows(p, trans_a);
  if (out.is_cuda()) {
    TV3S_ON_CUDA(cuda::matmul(a, b, bias, out, trans_a, trans_b, p.batch, p.M, p.N, p.K,
                              p.a_stride, p.b_stride));
    return;
  }
  dispatch_cpu_float("matmul", a, [&](auto tag) {
    using T = decltype(tag);
    T* c = out.data<T>();
    if (bias.defined()) {  // epilogue as prologue: C starts as the bias, the GEMM adds onto it
      const T* bias_row = bias.data<T>();
      const int64_t rows = p.batch * p.M;
#pragma omp parallel for if (rows * p.N > 65536)
      for (int64_t i = 0; i < rows; ++i) std::memcpy(c + i * p.N, bias_row, size_t(p.N) * sizeof(T));
    }
    cpu::gemm_batched<T>(trans_a, trans_b, p.batch, p.M, p.N, p.K, a.data<T>(), p.a_stride,
                         b.data<T>(), p.b_stride, bias.defined() ? T(1) : T(0), c);
  });
}

// Sum of a [batch..., r, c] gradient over its batch dims: the gradient of a 2-D operand
// that was shared by every batch entry.
Tensor sum_over_batch(const Tensor& g, int64_t batch) {
  return sum(g.reshape(Shape{batch, g.size(-2), g.size(-1)}), 0);
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b, bool trans_a, bool trans_b) {
  if (autocast::applies(a))
    return autocast::run_narrowed(
        [=](const Tensor& a16, const Tensor& b16) { return matmul(a16, b16, trans_a, trans_b); }, a, b);
  const MatmulPlan p = plan_matmul(a, b, trans_a, trans_b);
  Tensor out = Tensor::empty(p.out_shape, a.dtype(), a.device());
  run_matmul(a, b, out, trans_a, trans_b, p, Tensor());

  if (autograd::needs_grad(a, b)) {
    const bool need_a = a.requires_grad(), need_b = b.requires_grad();
    // Each gradient needs only the other operand: keep only what will be used.
    const Tensor a_saved = need_b ? a.detach() : Tensor();
    const Tensor b_saved = need_a ? b.detach() : Tensor();
    autograd::record("matmul", out, {a, b}, [=](const Tensor& g) {
      // With G = dC: d op(A) = G·op(B)ᵀ and d op(B) = op(A)ᵀ·G; a transposed operand
      // gets the transpose of that.
      Tensor grad_a, grad_b;
      if (need_a) {
        grad_a = trans_a ? matmul(b_saved, g, trans_b, true)      // op(B)·Gᵀ
                         : matmul(g, b_saved, false, !trans_b);   // G·op(B)ᵀ
        if (p.a_shared) grad_a = sum_over_batch(grad_a, p.batch);
      }
      if (need_b) {
        if (p.b_shared && !trans_a) {
          // The batch folds into the rows: one GEMM over [batch·M, K] and [batch·M, N].
          const Tensor a_rows = a_saved.reshape(Shape{p.batch * p.M, p.K});
          const Tensor g_rows = g.reshape(Shape{p.batch * p.M, p.N});
          grad_b = trans_b ? matmul(g_rows, a_rows, true, false)   // Gᵀ·A
                           : matmul(a_rows, g_rows, true, false);  // Aᵀ·G
        } else {
          grad_b = trans_b ? matmul(g, a_saved, true, trans_a)     // Gᵀ·op(A)
                           : matmul(a_saved, g, !trans_a, false);  // op(A)ᵀ·G
          if (p.b_shared) grad_b = sum_over_batch(grad_b, p.batch);
        }
      }
      return std::vector<Tensor>{grad_a, grad_b};
    });
  }
  return out;
}

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  if (autocast::applies(x)) return autocast::run_narrowed(linear, x, weight, bias);
  check_defined("linear", x);
  check_defined("linear", weight);
  check_same_device("linear", x, weight);
  check_same_dtype("linear", x, weight);
  check_compute_dtype("linear", x);
  TV3S_CHECK(x.ndim() >= 1 && weight.ndim() == 2, "linear: needs x [..., in] and weight [out, in], got x ",
             x.desc(), ", weight ", weight.desc());
  const int64_t in = x.size(-1), out_features = weight.size(0);
  TV3S_CHECK(weight.size(1) == in, "linear: x has ", in, " input features but weight ", weight.desc(),
             " expects ", weight.size(1), " (x ", x.desc(), ")");
  if (bias.defined()) {
    check_same_device("linear", x, bias);
    check_same_dtype("linear", x, bias);
    TV3S_CHECK(bias.ndim() == 1 && bias.size(0) == out_features, "linear: bias must be [", out_features,
               "] for weight ", weight.desc(), ", got ", bias.desc());
  }

  // y[r, o] = Σ_i x[r, i]·W[o, i] + b[o] over the rows r of x flattened to [rows, in].
  int64_t rows = 1;
  for (int i = 0; i < x.ndim() - 1; ++i) rows *= x.size(i);
  const Tensor x_rows = x.detach().reshape(Shape{rows, in});
  std::vector<int64_t> out_dims = x.shape().vec();
  out_dims.back() = out_features;
  Tensor out = Tensor::empty(Shape{rows, out_features}, x.dtype(), x.device());
  MatmulPlan p;
  p.M = rows;
  p.N = out_features;
  p.K = in;
  run_matmul(x_rows, weight, out, false, true, p, bias);
  out = out.reshape(Shape(out_dims));

  if (autograd::needs_grad(x, weight, bias)) {
    const bool need_x = x.requires_grad(), need_w = weight.requires_grad();
    const bool need_b = bias.defined() && bias.requires_grad();
    const Tensor x_saved = need_w ? x_rows : Tensor();
    const Tensor w_saved = need_x ? weight.detach() : Tensor();
    const Shape x_shape = x.shape();
    autograd::record("linear", out, {x, weight, bias}, [=](const Tensor& g) {
      const Tensor g_rows = g.reshape(Shape{rows, out_features});
      Tensor grad_x, grad_w, grad_b;
      if (need_x) grad_x = matmul(g_rows, w_saved).reshape(x_shape);  // G·W
      if (need_w) grad_w = matmul(g_rows, x_saved, true, false);       // Gᵀ·X
      if (need_b) grad_b = sum(g_rows, 0);                             // Σ over rows
      return std::vector<Tensor>{grad_x, grad_w, grad_b};
    });
  }
  return out;
}

}  // namespace tv3s
