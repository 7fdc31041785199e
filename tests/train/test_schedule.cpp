// Poly learning-rate schedule with linear warm-up (training-spec.md §7): values equal, bit
// for bit, mmcv 1.3.0's formula transcribed in Python (doubles printed with repr); the
// spec's landmarks (lr(0) = 1e-6·lr0, lr(1500) = lr0·(1 − 1500/max)) and a mid-warm-up
// value worked by hand; power 0.9; no warm-up; min_lr; bad iterations.
#include "src/train/schedule.h"
#include "tests/io/io_test_util.h"
#include "tests/test_util.h"

using namespace tv3s;
using tv3s::train::PolySchedule;

TEST_CASE("schedule: poly with linear warm-up equals mmcv exactly") {
  struct Row {
    int64_t iter;
    double lr0;
    int64_t max_iters;
    double want;
  };
  // mmcv's get_lr / get_warmup_lr transcribed in Python, values printed with repr().
  const Row rows[] = {
      {0, 6e-05, 160000, 6.000000000172534e-11},        {1, 6e-05, 160000, 4.005970962525067e-08},
      {750, 0.0006, 160000, 0.00029859404859375},       {1499, 6e-05, 160000, 5.939824978962525e-05},
      {1500, 6e-05, 160000, 5.94375e-05},               {1501, 0.0006, 160000, 0.00059437125},
      {80000, 6e-05, 160000, 3e-05},                    {159999, 6e-05, 160000, 3.7499999999912603e-10},
      {160000, 6e-05, 160000, 0.0},
  };
  for (const Row& r : rows) {
    PolySchedule s;
    s.max_iters = r.max_iters;
    CAPTURE(r.iter);
    CHECK(s.lr(r.iter, r.lr0) == r.want);
  }
  PolySchedule s;
  s.max_iters = 160000;
  CHECK(s.factor(0) == doctest::Approx(1e-6).epsilon(1e-9));
  CHECK(s.factor(1500) == 1.0 - 1500.0 / 160000);
  // Mid warm-up by hand: regular = 1 − 750/160000, k = (1 − 750/1500)(1 − 1e-6) = 0.4999995.
  CHECK(s.factor(750) == doctest::Approx((1 - 750.0 / 160000) * (1 - 0.4999995)).epsilon(1e-15));
}

TEST_CASE("schedule: power 0.9 (the Swin Cityscapes 90k recipes)") {
  PolySchedule s;
  s.max_iters = 90000;
  s.power = 0.9;
  CHECK(s.lr(0, 1e-4) == 1.0000000000287557e-10);
  CHECK(s.lr(700, 1e-4) == 4.633992555904003e-05);
  CHECK(s.lr(1500, 1e-4) == 9.84987422935722e-05);
  CHECK(s.lr(45000, 1e-4) == 5.358867312681466e-05);
  CHECK(s.lr(89999, 1e-4) == 3.4768162716913413e-09);
  CHECK(s.factor(45000) == doctest::Approx(std::pow(0.5, 0.9)).epsilon(1e-15));
}

TEST_CASE("schedule: no warm-up, min_lr, and iterations out of range") {
  PolySchedule s;
  s.max_iters = 1000;
  s.warmup_iters = 0;
  CHECK(s.factor(0) == 1.0);
  CHECK(s.factor(100) == 0.9);
  s.min_lr = 1e-6;
  CHECK(s.lr(100, 6e-5) == 5.41e-05);  // (lr0 − min)·0.9 + min
  s.warmup_iters = 1500;
  CHECK(s.lr(100, 6e-5) == 3.6067171600000027e-06);  // warm-up scales the whole regular value
  CHECK(test::error_message([&] { s.factor(100); }).find("min_lr") != std::string::npos);
  s.min_lr = 0;
  CHECK(test::error_message([&] { s.factor(1001); }).find("iteration 1001 is outside [0, 1000]") !=
        std::string::npos);
  CHECK(test::error_message([&] { s.factor(-1); }).find("outside") != std::string::npos);
  s.max_iters = 0;
  CHECK(test::error_message([&] { s.factor(0); }).find("max_iters") != std::string::npos);
}
