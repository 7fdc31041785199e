// Dynamic loss scaling (src/train/loss_scale.h): GradScaler's rule — a step with
// non-finite gradients is skipped and halves the scale, 2000 good steps in a row double
// it; disabled (bf16, fp32) it is 1 and never skips.
#include "src/train/loss_scale.h"
#include "tests/test_util.h"

using namespace tv3s;
using tv3s::train::LossScaler;

TEST_CASE("loss scale: overflow skips and halves, 2000 good steps double") {
  LossScaler s(true);
  CHECK(s.scale() == 65536.0);
  CHECK_FALSE(s.update(false));
  CHECK(s.scale() == 32768.0);
  CHECK_FALSE(s.update(false));
  CHECK(s.scale() == 16384.0);
  for (int i = 0; i < 1999; ++i) REQUIRE(s.update(true));
  CHECK(s.scale() == 16384.0);
  CHECK(s.good_steps() == 1999);
  CHECK(s.update(true));
  CHECK(s.scale() == 32768.0);
  CHECK(s.good_steps() == 0);
  // An overflow resets the count of good steps.
  for (int i = 0; i < 1500; ++i) s.update(true);
  CHECK_FALSE(s.update(false));
  CHECK(s.good_steps() == 0);
  CHECK(s.scale() == 16384.0);
}

TEST_CASE("loss scale: the scale never drops below f16's smallest subnormal") {
  LossScaler s(true, 1.0);
  for (int i = 0; i < 40; ++i) s.update(false);
  CHECK(s.scale() == std::ldexp(1.0, -24));
}

TEST_CASE("loss scale: disabled is 1 and never skips") {
  LossScaler s(false);
  CHECK(s.scale() == 1.0);
  CHECK(s.update(false));
  CHECK(s.update(true));
  CHECK(s.scale() == 1.0);
}

TEST_CASE("loss scale: restore takes a checkpoint's state and refuses nonsense") {
  LossScaler s(true);
  s.restore(1024.0, 17);
  CHECK(s.scale() == 1024.0);
  CHECK(s.good_steps() == 17);
  CHECK_THROWS_AS(s.restore(0.0, 0), Error);
  CHECK_THROWS_AS(s.restore(std::nan(""), 0), Error);
  CHECK_THROWS_AS(s.restore(8.0, 2000), Error);
  LossScaler off(false);
  CHECK_THROWS_AS(off.restore(8.0, 0), Error);
  CHECK_THROWS_AS(LossScaler(true, 0.5), Error);
}
