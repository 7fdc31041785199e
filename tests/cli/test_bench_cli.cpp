// `tv3s bench ops`: the quick run's JSON parses and has positive GEMM rates; bad flags
// are usage errors (exit code 2).
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

#include "tests/test_util.h"

namespace {

struct BenchRun {
  int exit_code;
  std::string out;  // stdout only: --json output must be parseable on its own
};

BenchRun run_bench(const std::string& args) {
  const std::string cmd = std::string(TV3S_CLI_PATH) + " bench ops " + args + " 2>/dev/null";
  FILE* pipe = popen(cmd.c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::string out;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), pipe)) > 0) out.append(buf.data(), n);
  const int status = pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

}  // namespace

TEST_CASE("bench ops: --quick --json gives GEMM rates and op throughputs") {
  const BenchRun r = run_bench("--quick --json --threads 2");
  REQUIRE(r.exit_code == 0);
  nlohmann::json j;
  REQUIRE_NOTHROW(j = nlohmann::json::parse(r.out));
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
  const BenchRun help = run_bench("--help");
  CHECK(help.exit_code == 0);
  CHECK(help.out.find("usage: tv3s bench ops") != std::string::npos);
}
