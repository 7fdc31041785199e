// Every op family against PyTorch: golden values from tools/gen_op_fixtures.py (outputs
// and the gradients of Σ out ⊙ W), all in f64, so any difference beyond 1e-10 relative
// is a difference in semantics (a threshold, an ignore rule, a denominator), not rounding.
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "tests/test_util.h"

using namespace tv3s;
using nlohmann::json;

namespace {

Tensor tensor_from(const json& j) {
  const Shape shape(j["shape"].get<std::vector<int64_t>>());
  if (j["dtype"] == "i32") return Tensor::from_vector_i32(j["data"].get<std::vector<int32_t>>(), shape);
  return Tensor::from_vector_f64(j["data"].get<std::vector<double>>(), shape);
}

using GoldenOp = std::function<Tensor(const std::vector<Tensor>&, const json&)>;

const std::map<std::string, GoldenOp>& golden_ops() {
  static const std::map<std::string, GoldenOp> ops = {
      {"gelu", [](auto& in, auto&) { return gelu(in[0]); }},
      {"silu", [](auto& in, auto&) { return silu(in[0]); }},
      {"sigmoid", [](auto& in, auto&) { return sigmoid(in[0]); }},
      {"softplus", [](auto& in, auto&) { return softplus(in[0]); }},
      {"tanh", [](auto& in, auto&) { return tanh(in[0]); }},
      {"relu", [](auto& in, auto&) { return relu(in[0]); }},
      {"exp", [](auto& in, auto&) { return exp(in[0]); }},
      {"log", [](auto& in, auto&) { return log(in[0]); }},
      {"sqrt", [](auto& in, auto&) { return sqrt(in[0]); }},
      {"rsqrt", [](auto& in, auto&) { return rsqrt(in[0]); }},
      {"add", [](auto& in, auto&) { return add(in[0], in[1]); }},
      {"sub", [](auto& in, auto&) { return sub(in[0], in[1]); }},
      {"mul", [](auto& in, auto&) { return mul(in[0], in[1]); }},
      {"div", [](auto& in, auto&) { return div(in[0], in[1]); }},
      {"sum", [](auto& in, auto& p) { return sum(in[0], p["axis"]); }},
      {"mean", [](auto& in, auto& p) { return mean(in[0], p["axis"], p["keepdim"]); }},
      {"max", [](auto& in, auto& p) { return max(in[0], p["axis"]); }},
      {"matmul", [](auto& in, auto&) { return matmul(in[0], in[1]); }},
      {"matmul_tt", [](auto& in, auto&) { return matmul(in[0], in[1], true, true); }},
      {"linear", [](auto& in, auto&) { return linear(in[0], in[1], in[2]); }},
      {"softmax", [](auto& in, auto& p) { return softmax(in[0], p["axis"]); }},
      {"log_softmax", [](auto& in, auto& p) { return log_softmax(in[0], p["axis"]); }},
      {"layer_norm", [](auto& in, auto& p) { return layer_norm(in[0], in[1], in[2], p["eps"]); }},
      {"cross_entropy_mean_valid",
       [](auto& in, auto&) { return cross_entropy(in[0], in[1], 255, Reduction::mean_valid); }},
      {"cross_entropy_mean_all",
       [](auto& in, auto&) { return cross_entropy(in[0], in[1], 255, Reduction::mean_all); }},
      {"cross_entropy_none",
       [](auto& in, auto&) { return cross_entropy(in[0], in[1], 255, Reduction::none); }},
      {"permute", [](auto& in, auto& p) { return permute(in[0], p["dims"].template get<std::vector<int>>()); }},
      {"roll",
       [](auto& in, auto& p) {
         return roll(in[0], p["shifts"].template get<std::vector<int64_t>>(), p["axes"].template get<std::vector<int>>());
       }},
      {"pad",
       [](auto& in, auto& p) {
         return pad(in[0], p["before"].template get<std::vector<int64_t>>(),
                    p["after"].template get<std::vector<int64_t>>(), p["value"]);
       }},
      {"slice", [](auto& in, auto& p) { return slice(in[0], p["axis"], p["begin"], p["end"]); }},
      {"concat", [](auto& in, auto& p) { return concat({in[0], in[1]}, p["axis"]); }},
  };
  return ops;
}

}  // namespace

TEST_CASE("golden: every op family matches PyTorch in f64 (forward and gradients)") {
  const std::string path = TV3S_SOURCE_DIR "/tests/data/ops_golden.json";
  std::ifstream file(path);
  REQUIRE_MESSAGE(file.good(), "missing ", path, " (python3 tools/gen_op_fixtures.py)");
  const json golden = json::parse(file);
  constexpr double kTol = 1e-10;  // relative max error; f64 on both sides
  int checked = 0;
  for (const json& c : golden["cases"]) {
    const std::string op = c["op"];
    INFO("op ", op, " params ", c["params"].dump());
    const auto it = golden_ops().find(op);
    REQUIRE_MESSAGE(it != golden_ops().end(), "no tv3s op for golden case '", op, "'");
    std::vector<Tensor> inputs;
    for (const json& j : c["inputs"]) {
      Tensor t = tensor_from(j);
      if (is_floating(t.dtype())) t.requires_grad_();
      inputs.push_back(t);
    }
    const Tensor out = it->second(inputs, c["params"]);
    test::check_close(out, tensor_from(c["output"]), kTol, op + " forward");
    sum_all(mul(out, tensor_from(c["weight"]))).backward();
    for (size_t k = 0; k < inputs.size(); ++k) {
      if (c["grads"][k].is_null()) continue;
      REQUIRE(inputs[k].grad().defined());
      test::check_close(inputs[k].grad(), tensor_from(c["grads"][k]), kTol,
                        op + " gradient of input " + std::to_string(k));
    }
    ++checked;
  }
  CHECK(checked >= 30);
}
