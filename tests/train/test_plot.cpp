// The training plot (src/train/plot.cpp): the PNG decodes at the asked size; a constant
// series is drawn in its colour on the row its value maps to; a NaN leaves a gap; nice
// ticks are 1-2-5 multiples covering the range; the EMA against hand values; text ink
// stays in its box; an unwritable path is reported.
#include <cmath>

#include "src/io/image.h"
#include "src/train/plot.h"
#include "tests/io/io_test_util.h"
#include "tests/test_util.h"

using namespace tv3s;
using namespace tv3s::train;

namespace {
bool has_colour_in_column(const std::vector<uint8_t>& rgb, int width, int height, int x, std::array<uint8_t, 3> c) {
  for (int y = 0; y < height; ++y) {
    const uint8_t* p = &rgb[(size_t(y) * size_t(width) + size_t(x)) * 3];
    if (p[0] == c[0] && p[1] == c[1] && p[2] == c[2]) return true;
  }
  return false;
}
}  // namespace

TEST_CASE("plot: nice ticks and the EMA") {
  CHECK(nice_ticks(0, 10, 5) == std::vector<double>{0, 2, 4, 6, 8, 10});
  const std::vector<double> d = nice_ticks(0.13, 0.61, 5);  // step 0.1 (raw 0.096)
  REQUIRE(d.size() == 5);
  for (size_t i = 0; i < d.size(); ++i) CHECK(d[i] == doctest::Approx(0.2 + 0.1 * double(i)));
  const std::vector<double> t = nice_ticks(-3e-4, 7e-4, 4);
  CHECK(t.front() >= -3e-4);
  CHECK(t.back() <= 7e-4 + 1e-12);
  CHECK(std::abs(t[1] - t[0] - 5e-4) < 1e-12);  // raw step 2.5e-4 rounds up to 5e-4
  const std::vector<double> s = smooth_ema({1, 3, NAN, 5}, 0.5);
  CHECK(s[0] == doctest::Approx(1.0));
  CHECK(s[1] == doctest::Approx((0.25 * 1 + 0.5 * 3) / 0.75));  // (w(1−w)·1 + (1−w)·3) / (1 − w²)
  CHECK(std::isnan(s[2]));
  CHECK(s[3] == doctest::Approx((0.125 * 1 + 0.25 * 3 + 0.5 * 5) / 0.875));
}

TEST_CASE("plot: series land where their values map, NaN leaves a gap, PNG round trip") {
  const std::array<uint8_t, 3> red{220, 20, 20}, blue{20, 20, 220};
  PlotPanel panel{"loss", "iteration", "loss", {}, false};
  std::vector<double> x, y_red, y_blue;
  for (int i = 0; i <= 100; ++i) {
    x.push_back(i);
    y_red.push_back(i >= 45 && i <= 55 ? NAN : 2.0);
    y_blue.push_back(1.0);
  }
  panel.series.push_back({"a", x, y_red, red, false});
  panel.series.push_back({"b", x, y_blue, blue, false});
  const int W = 600, H = 240;
  const std::vector<uint8_t> rgb = render_plot({panel, PlotPanel{"empty", "x", "y", {}, false}}, W, H);
  REQUIRE(rgb.size() == size_t(W) * size_t(2 * H) * 3);
  // x 0..100 maps to columns 70..580; x = 20 → 172, x = 50 → 325 (inside the gap).
  CHECK(has_colour_in_column(rgb, W, H, 172, red));
  CHECK(has_colour_in_column(rgb, W, H, 172, blue));
  CHECK_FALSE(has_colour_in_column(rgb, W, H, 325, red));
  CHECK(has_colour_in_column(rgb, W, H, 325, blue));
  // The red line (2.0) is above the blue one (1.0).
  int red_row = -1, blue_row = -1;
  for (int yy = 0; yy < H; ++yy) {
    const uint8_t* p = &rgb[(size_t(yy) * W + 172) * 3];
    if (p[0] == red[0] && p[2] == red[2] && red_row < 0) red_row = yy;
    if (p[0] == blue[0] && p[2] == blue[2] && blue_row < 0) blue_row = yy;
  }
  CHECK(red_row < blue_row);

  test::TempDir dir;
  const std::string path = dir.path() + "/plot.png";
  write_plot_png(path, {panel}, W, H);
  const io::Image image = io::read_image(path);
  CHECK(image.width == W);
  CHECK(image.height == H);
  CHECK(image.rgb == render_plot({panel}, W, H));
  CHECK(test::error_message([&] { write_plot_png(dir.path() + "/no/such/dir/p.png", {panel}); })
            .find("no/such/dir/p.png") != std::string::npos);
}
