// Optimizer op family: adamw_step_ against torch.optim.AdamW (fixture from
// tools/gen_optim_fixtures.py: 3 configurations × 3 parameters × 5 steps, lr changing
// every step, weight decay on/off, a loss-scaled case, 1 − β1 ≥ 0.5) and one step worked
// by hand; count_nonfinite on every float dtype and over lists; CUDA against the CPU reference.
// Tolerances: m and v equal PyTorch's bit for bit; the parameter within 4 ulp (measured: at
// most 1 ulp — torch's CPU sqrt is not always correctly rounded, ours is). CUDA equals the
// CPU bit for bit (same rounding sequence, explicit intrinsics).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>

#include "src/io/safetensors.h"
#include "tests/io/io_test_util.h"
#include "tests/test_util.h"
#include "tv3s/ops/optim.h"

using namespace tv3s;

namespace {

// Largest distance in units in the last place between two f32 tensors of one shape.
int64_t max_ulp_distance(const Tensor& got, const Tensor& want) {
  REQUIRE(got.shape() == want.shape());
  const std::vector<float> a = got.to_vector(), b = want.to_vector();
  // Maps a float's bits onto a line where neighbouring floats differ by 1.
  const auto ordered = [](float x) {
    int32_t bits;
    std::memcpy(&bits, &x, 4);
    return bits < 0 ? int64_t(INT32_MIN) - bits : int64_t(bits);
  };
  int64_t worst = 0;
  for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, int64_t(std::llabs(ordered(a[i]) - ordered(b[i]))));
  return worst;
}

}  // namespace

TEST_CASE("optim: adamw_step_ matches torch.optim.AdamW step by step") {
  const io::SafetensorsFile golden = io::read_safetensors(TV3S_SOURCE_DIR "/tests/data/optim/adamw_golden.safetensors");
  const nlohmann::json cases = nlohmann::json::parse(golden.metadata.at("cases"));
  int64_t worst_param = 0, worst_moment = 0, checked = 0;
  for (const auto& [case_name, cfg] : cases.items()) {
    for (const char* name : {"a", "b", "c"}) {
      const std::string prefix = case_name + "/" + name + "/";
      Tensor param = golden.find(prefix + "init").clone();
      Tensor m = Tensor::zeros(param.shape()), v = Tensor::zeros(param.shape());
      const auto& lrs = cfg["lr"];
      for (size_t step = 1; step <= lrs.size(); ++step) {
        AdamWStep s;
        s.lr = lrs[step - 1].get<double>();
        s.beta1 = cfg["beta1"].get<double>();
        s.beta2 = cfg["beta2"].get<double>();
        s.eps = cfg["eps"].get<double>();
        s.weight_decay = cfg["weight_decay"].get<double>();
        s.grad_scale = cfg["grad_scale"].get<double>();
        s.step = int64_t(step);
        adamw_step_(param, golden.find(prefix + "grad/" + std::to_string(step)), m, v, s);
        const std::string after = "/" + std::to_string(step);
        INFO(prefix << "step " << step);
        worst_param = std::max(worst_param, max_ulp_distance(param, golden.find(prefix + "param" + after)));
        worst_moment = std::max(worst_moment, max_ulp_distance(m, golden.find(prefix + "m" + after)));
        worst_moment = std::max(worst_moment, max_ulp_distance(v, golden.find(prefix + "v" + after)));
        ++checked;
      }
    }
  }
  CHECK(checked == 45);
  CHECK(worst_moment == 0);
  CHECK(worst_param <= 4);
  MESSAGE("adamw vs torch: parameter within " << worst_param << " ulp, moments " << worst_moment << " ulp");
}

TEST_CASE("optim: adamw_step_ one step by hand") {
  // p = 1, g = 0.5, lr 0.1, wd 0.1, step 1: decay p → 0.99; m = 0.05, v = 0.00025;
  // m̂ = 0.5, sqrt(v̂) = 0.5; p = 0.99 − 0.1·0.5/(0.5 + 1e-8).
  Tensor p = Tensor::from_vector({1.f}, Shape{1}), m = Tensor::zeros(Shape{1}), v = Tensor::zeros(Shape{1});
  AdamWStep s;
  s.lr = 0.1;
  s.weight_decay = 0.1;
  adamw_step_(p, Tensor::from_vector({0.5f}, Shape{1}), m, v, s);
  CHECK(m.item() == doctest::Approx(0.05).epsilon(1e-6));
  CHECK(v.item() == doctest::Approx(0.00025).epsilon(1e-6));
  CHECK(p.item() == doctest::Approx(0.99 - 0.1 * 0.5 / (0.5 + 1e-8)).epsilon(1e-6));
  // A zero gradient with no decay leaves the parameter where it is.
  Tensor q = Tensor::from_vector({2.f, -3.f}, Shape{2}), qm = Tensor::zeros(Shape{2}), qv = Tensor::zeros(Shape{2});
  s.weight_decay = 0;
  adamw_step_(q, Tensor::zeros(Shape{2}), qm, qv, s);
  CHECK(q.to_vector() == std::vector<float>{2.f, -3.f});
}

TEST_CASE("optim: adamw_step_ refuses mismatched arguments") {
  Tensor p = Tensor::zeros(Shape{4}), m = Tensor::zeros(Shape{4}), v = Tensor::zeros(Shape{4});
  AdamWStep s;
  s.lr = 1e-3;
  CHECK(test::error_message([&] { adamw_step_(p, Tensor::zeros(Shape{5}), m, v, s); }).find("adamw_step_") !=
        std::string::npos);
  Tensor p64 = Tensor::zeros(Shape{4}, DType::f64);
  CHECK(test::error_message([&] { adamw_step_(p64, Tensor::zeros(Shape{4}), m, v, s); }).find("must be f32") !=
        std::string::npos);
  CHECK(test::error_message([&] { adamw_step_(p, Tensor::zeros(Shape{4}, DType::f64), m, v, s); })
            .find("grad must be f32") != std::string::npos);
  s.step = 0;
  CHECK(test::error_message([&] { adamw_step_(p, Tensor::zeros(Shape{4}), m, v, s); }).find("1-based") !=
        std::string::npos);
}

TEST_CASE("optim: count_nonfinite on f32, f64, f16, bf16") {
  const float inf = INFINITY, nan = NAN;
  const std::vector<float> values = {0.f, -1.f, 3e38f, 1e-40f, inf, -inf, nan, 2.f, -nan};
  for (DType dtype : {DType::f32, DType::f16, DType::bf16}) {
    CAPTURE(dtype_name(dtype));
    // 3e38 overflows f16 (to +Inf): one more non-finite there.
    CHECK(count_nonfinite(Tensor::from_vector(values, Shape{3, 3}, dtype)) == (dtype == DType::f16 ? 5 : 4));
  }
  CHECK(count_nonfinite(Tensor::from_vector_f64({1.0, NAN, 1e308, -INFINITY}, Shape{4})) == 2);
  CHECK(count_nonfinite(Tensor::zeros(Shape{0})) == 0);
  // Large enough to take the threaded path.
  Tensor big = Tensor::zeros(Shape{100003});
  big.data<float>()[7] = nan;
  big.data<float>()[100002] = -inf;
  CHECK(count_nonfinite(big) == 2);
  CHECK_THROWS_AS(count_nonfinite(Tensor::from_vector_i32({1}, Shape{1})), Error);
}

TEST_CASE("optim: count_nonfinite over a list adds the counts, dtypes mixed") {
  const float nan = NAN, inf = INFINITY;
  const std::vector<Tensor> xs = {Tensor::from_vector({nan, 1.f, inf}, Shape{3}),
                                  Tensor::from_vector({1.f, -inf}, Shape{2}, DType::bf16), Tensor::zeros(Shape{0}),
                                  Tensor::from_vector({nan, nan, 0.f, 70000.f}, Shape{2, 2}, DType::f16)};
  CHECK(count_nonfinite(xs) == 2 + 1 + 0 + 3);  // 70000 overflows f16
  CHECK(count_nonfinite(std::vector<Tensor>{}) == 0);
  CHECK(test::error_message([] { count_nonfinite(std::vector<Tensor>{Tensor::zeros(Shape{1}), Tensor()}); })
            .find("count_nonfinite") != std::string::npos);
  CHECK_THROWS_AS(count_nonfinite(std::vector<Tensor>{Tensor::from_vector_i32({1}, Shape{1})}), Error);
}

TV3S_CUDA_TEST_CASE("optim: CUDA adamw_step_ and count_nonfinite equal the CPU") {
  const Shape shape{1000, 37};
  for (DType grad_dtype : {DType::f32, DType::f16, DType::bf16}) {
    CAPTURE(dtype_name(grad_dtype));
    Tensor p = test::random(shape, 1), m = test::random(shape, 2, -0.1, 0.1), v = test::random(shape, 3, 0, 0.01);
    // The CPU reference gets the same gradient values the GPU reads (rounded to grad_dtype).
    const Tensor grad_cuda = test::random(shape, 4, -3, 3).to(grad_dtype).cuda();
    const Tensor grad_cpu = grad_cuda.cpu().to(DType::f32);
    Tensor pc = p.cuda(), mc = m.cuda(), vc = v.cuda();
    for (int64_t step = 1; step <= 3; ++step) {
      AdamWStep s;
      s.lr = 1e-3 * double(step);
      s.weight_decay = 0.01;
      s.step = step;
      s.grad_scale = 1.0 / 3000;
      adamw_step_(p, grad_cpu, m, v, s);
      adamw_step_(pc, grad_cuda, mc, vc, s);
    }
    CHECK(max_ulp_distance(pc.cpu(), p) == 0);
    CHECK(max_ulp_distance(mc.cpu(), m) == 0);
    CHECK(max_ulp_distance(vc.cpu(), v) == 0);
  }
  std::vector<float> values(1 << 20, 1.f);
  for (size_t i = 0; i < values.size(); i += 1000) values[i] = (i / 1000) % 2 ? INFINITY : NAN;
  const Tensor x = Tensor::from_vector(values, Shape{int64_t(values.size())});
  const int64_t want = count_nonfinite(x);
  CHECK(want == int64_t((values.size() + 999) / 1000));
  for (DType dtype : {DType::f32, DType::f16, DType::bf16}) CHECK(count_nonfinite(x.to(dtype).cuda()) == want);
  // A list shares one counter: the sum over all tensors, empty ones included.
  const std::vector<Tensor> list = {x.cuda(), x.to(DType::bf16).cuda(), Tensor::zeros(Shape{0}).cuda(),
                                    Tensor::from_vector({INFINITY}, Shape{1}, DType::f16).cuda()};
  CHECK(count_nonfinite(list) == 2 * want + 1);
  CHECK(test::error_message([&] { count_nonfinite(std::vector<Tensor>{x.cuda(), x}); }).find("different devices") !=
        std::string::npos);
}
