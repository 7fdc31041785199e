// The `tv3s` command: help, version, info, and the exit code 2 for usage errors.
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "tests/test_util.h"

namespace {

struct Run {
  int exit_code;
  std::string output;  // stdout and stderr
};

Run run_cli(const std::string& args) {
  const std::string cmd = std::string(TV3S_CLI_PATH) + " " + args + " 2>&1";
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

TEST_CASE("cli: --help, --version, info") {
  const Run help = run_cli("--help");
  CHECK(help.exit_code == 0);
  CHECK(help.output.find("usage: tv3s") != std::string::npos);
  const Run version = run_cli("--version");
  CHECK(version.exit_code == 0);
  CHECK(version.output == "tv3s " TV3S_VERSION_STRING "\n");
  const Run info = run_cli("info");
  CHECK(info.exit_code == 0);
  CHECK(info.output.find("OpenMP threads") != std::string::npos);
  if (!tv3s::cuda_available()) CHECK(info.output.find("no GPU") != std::string::npos);
  const Run json = run_cli("info --json");
  CHECK(json.exit_code == 0);
  const auto j = nlohmann::json::parse(json.output);
  CHECK(j["version"] == TV3S_VERSION_STRING);
  CHECK(j.contains("openmp_threads"));
}

TEST_CASE("cli: unknown commands and flags are one-line errors with exit code 2") {
  for (const char* args : {"frobnicate", "--frobnicate", "info --frobnicate", "bench nothing", ""}) {
    const Run r = run_cli(args);
    INFO("tv3s ", args, " → ", r.output);
    CHECK(r.exit_code == 2);
    if (*args) CHECK(std::count(r.output.begin(), r.output.end(), '\n') == 1);
  }
}
