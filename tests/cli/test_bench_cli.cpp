// `tv3s bench ops`: the quick run's JSON parses and has positive GEMM rates; bad flags
// are usage errors (exit code 2).
#include <nlohmann/json.hpp>
#include <string>

#include "tests/test_util.h"

namespace {

// stdout only: --json output must be parseable on its own.
tv3s::test::CommandResult run_bench(const std::string& args) {
  return tv3s::test::run_tv3s("bench ops " + args, /*merge_stderr=*/false);
}

}  // namespace

TEST_CASE("bench ops: --quick --json gives GEMM rates and op throughputs") {
  const auto r = run_bench("--quick --json --threads 2");
  REQUIRE(r.exit_code == 0);
  nlohmann::json j;
  REQUIRE_NOTHROW(j = nlohmann::json::parse(r.output));
  CHECK(j["quick"] == true);
  CHECK(j["threads"] == 2);
  REQUIRE(j["gemm"].is_array());
  REQUIRE(j["gemm"].size() >= 1);
  for (const auto& g : j["gemm"]) {
    INFO(g.dump());
    CHECK(g["M"].get<int64_t>() > 0);
    CHECK(g["cpu_gflops"].get<double>() > 0);
    if (tv3s::cuda_available()) CHECK(g["gpu_f32_gflops"].get<double>() > 0);
  }
  REQUIRE(j["ops"].is_array());
  CHECK(j["ops"].size() >= 6);
  for (const auto& o : j["ops"]) {
    INFO(o.dump());
    CHECK(o["cpu_gbps"].get<double>() > 0);
  }
}

TEST_CASE("bench ops: unknown or malformed flags exit with code 2") {
  CHECK(run_bench("--frobnicate").exit_code == 2);
  CHECK(run_bench("--threads").exit_code == 2);
  CHECK(run_bench("--threads zero").exit_code == 2);
  const auto help = run_bench("--help");
  CHECK(help.exit_code == 0);
  CHECK(help.output.find("usage: tv3s bench ops") != std::string::npos);
}
