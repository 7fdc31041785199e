// `tv3s info` in the emulator build says that the CUDA device is the CPU.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "tests/test_util.h"

TEST_SUITE_BEGIN("emulator");

TEST_CASE("emulator: tv3s info says the CUDA device is emulated on the CPU") {
  const auto text = tv3s::test::run_tv3s("info");
  CHECK(text.exit_code == 0);
  CHECK(text.output.find("emulated on the CPU") != std::string::npos);
  CHECK(text.output.find("tv3s CUDA emulator") != std::string::npos);
  const auto json = tv3s::test::run_tv3s("info --json", false);
  REQUIRE(json.exit_code == 0);
  const auto j = nlohmann::json::parse(json.output);
  CHECK(j["cuda_emulated"] == true);
  CHECK(j["gpu"] == "tv3s CUDA emulator");
}

TEST_SUITE_END();
