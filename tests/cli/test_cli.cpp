// The `tv3s` command: help, version, info, and the exit code 2 for usage errors.
#include <algorithm>
#include <nlohmann/json.hpp>

#include "tests/test_util.h"

using tv3s::test::run_tv3s;

TEST_CASE("cli: --help, --version, info") {
  const auto help = run_tv3s("--help");
  CHECK(help.exit_code == 0);
  CHECK(help.output.find("usage: tv3s") != std::string::npos);
  const auto version = run_tv3s("--version");
  CHECK(version.exit_code == 0);
  CHECK(version.output == "tv3s " TV3S_VERSION_STRING "\n");
  const auto info = run_tv3s("info");
  CHECK(info.exit_code == 0);
  CHECK(info.output.find("OpenMP threads") != std::string::npos);
  if (!tv3s::cuda_available()) CHECK(info.output.find("no GPU") != std::string::npos);
  const auto json = run_tv3s("info --json");
  CHECK(json.exit_code == 0);
  const auto j = nlohmann::json::parse(json.output);
  CHECK(j["version"] == TV3S_VERSION_STRING);
  CHECK(j.contains("openmp_threads"));
}

TEST_CASE("cli: unknown commands and flags are one-line errors with exit code 2") {
  for (const char* args : {"frobnicate", "--frobnicate", "info --frobnicate", "bench nothing", ""}) {
    const auto r = run_tv3s(args);
    INFO("tv3s ", args, " → ", r.output);
    CHECK(r.exit_code == 2);
    if (*args) CHECK(std::count(r.output.begin(), r.output.end(), '\n') == 1);
  }
}
