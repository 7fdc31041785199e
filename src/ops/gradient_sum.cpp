// The autograd engine's gradient sums (src/autograd/gradient_sum.h), done by the add op on
// whatever device the gradients live.
#include "src/autograd/gradient_sum.h"

#include "tv3s/ops/binary.h"

namespace tv3s::autograd {

Tensor sum_gradients(const Tensor& a, const Tensor& b) { return add(a, b); }
void accumulate_gradient(Tensor& total, const Tensor& g) { accumulate_(total, g); }

}  // namespace tv3s::autograd
