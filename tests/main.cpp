// The test runner: doctest, plus a listener that collects the counts, so that the run
// ends (after doctest's own summary) with the names of the tests skipped and why (CUDA
// tests without a GPU, video tests without FFmpeg) and one plain summary line:
//   tv3s_tests: N passed, N failed, N skipped
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>

#include "tests/test_util.h"

namespace {

doctest::TestRunStats g_stats;
bool g_ran = false;

struct SummaryListener : doctest::IReporter {
  explicit SummaryListener(const doctest::ContextOptions&) {}

  void test_run_end(const doctest::TestRunStats& s) override {
    g_stats = s;
    g_ran = true;
  }

  void report_query(const doctest::QueryData&) override {}
  void test_run_start() override {}
  void test_case_start(const doctest::TestCaseData&) override {}
  void test_case_reenter(const doctest::TestCaseData&) override {}
  void test_case_end(const doctest::CurrentTestCaseStats&) override {}
  void test_case_exception(const doctest::TestCaseException&) override {}
  void subcase_start(const doctest::SubcaseSignature&) override {}
  void subcase_end() override {}
  void log_assert(const doctest::AssertData&) override {}
  void log_message(const doctest::MessageData&) override {}
  void test_case_skipped(const doctest::TestCaseData&) override {}
};

}  // namespace

DOCTEST_REGISTER_LISTENER("tv3s_summary", 1, SummaryListener);

int main(int argc, char** argv) {
  doctest::Context context(argc, argv);
  const int status = context.run();
  if (context.shouldExit() || !g_ran) return status;  // --help, --list-test-cases, ...
  const auto& skipped = tv3s::test::skipped_tests();
  if (!skipped.empty()) {
    std::printf("[tv3s] %zu test cases skipped:\n", skipped.size());
    for (const auto& name : skipped) std::printf("[tv3s]   skipped: %s\n", name.c_str());
  }
  // doctest counts a skipped test as filtered out: the skips are the ones listed; the
  // rest were left out by a filter (--test-suite=cuda, ...) and are said apart.
  const unsigned ran = g_stats.numTestCasesPassingFilters;
  const unsigned not_run = g_stats.numTestCases - ran;
  const unsigned skipped_count = unsigned(skipped.size()) < not_run ? unsigned(skipped.size()) : not_run;
  if (not_run > skipped_count)
    std::printf("[tv3s] %u test cases not selected by the filter\n", not_run - skipped_count);
  std::printf("tv3s_tests: %u passed, %u failed, %u skipped\n", ran - g_stats.numTestCasesFailed,
              g_stats.numTestCasesFailed, skipped_count);
  return status;
}
