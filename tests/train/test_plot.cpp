// The training chart (src/train/plot.h) and its font (src/train/bitmap_font.h): the PNG
// decodes at the asked size; a constant series lands on the pixel row its value maps to,
// in exactly its colour (lines through pixel centres are opaque); a NaN leaves a gap; a log
// axis gives every decade the same height (to 1e-9 px); the tick generator gives 1-2-5
// steps for assorted ranges and labels them; glyph ink stays inside the text box; the EMA
// matches hand-computed values (to 1e-12); bad inputs and unwritable paths give one message
// naming the file. Charts here are small (≤ 400 × 300) so the file runs in milliseconds.
#include <cmath>
#include <limits>
#include <set>

#include "src/io/image.h"
#include "src/train/bitmap_font.h"
#include "src/train/plot.h"
#include "tests/io/io_test_util.h"
#include "tests/test_util.h"

using namespace tv3s;
using namespace tv3s::train;
using tv3s::test::error_message;
using tv3s::test::TempDir;

namespace {

using Color = std::array<uint8_t, 3>;
const Color kRed{220, 30, 30}, kGreen{20, 160, 40}, kBlue{30, 60, 200};
const double kNaN = std::numeric_limits<double>::quiet_NaN();

struct Rgb {
  std::vector<uint8_t> rgb;
  int width, height;
  Color at(int x, int y) const {
    const uint8_t* p = &rgb[3 * (size_t(y) * size_t(width) + size_t(x))];
    return {p[0], p[1], p[2]};
  }
};

PlotSeries constant_series(const std::string& name, double value, Color color, int n = 11) {
  PlotSeries s{name, {}, {}, color};
  for (int i = 0; i < n; ++i) s.x.push_back(i), s.y.push_back(value);
  return s;
}

// The rows of column x that hold exactly `color`.
std::vector<int> rows_with(const Rgb& image, int x, Color color) {
  std::vector<int> rows;
  for (int y = 0; y < image.height; ++y)
    if (image.at(x, y) == color) rows.push_back(y);
  return rows;
}

// How much of `color` covers pixel (x, y), painted over white or a grid line's grey: the
// fraction the channel farthest from the background gives, when the other channels agree
// with it (±4); else 0 (another colour, text).
double coverage(const Rgb& image, int x, int y, Color color) {
  const Color p = image.at(x, y);
  int k = 0;
  for (int c = 1; c < 3; ++c)
    if (color[c] < color[k]) k = c;
  for (double background : {255.0, 242.0, 226.0}) {  // white, minor and major grid lines
    const double a = (background - p[k]) / (background - color[k]);
    bool consistent = a >= -0.02 && a <= 1.02;
    for (int c = 0; c < 3; ++c)
      consistent = consistent && std::fabs(p[c] - (background - a * (background - color[c]))) <= 4;
    if (consistent) return std::max(a, 0.0);
  }
  return 0;
}

// The coverage-weighted mean row (pixel centres) of `color` in column x, rows y0..y1.
double centre_row(const Rgb& image, int x, Color color, int y0, int y1) {
  double sum = 0, weight = 0;
  for (int y = y0; y <= y1; ++y) {
    const double a = coverage(image, x, y, color);
    if (a < 0.3) continue;
    sum += a * (y + 0.5), weight += a;
  }
  return weight > 0 ? sum / weight : -1;
}

}  // namespace

TEST_CASE("plot: write_plot_png writes a PNG of the asked size, the pixels render_plot gives") {
  PlotPanel loss{"training loss", "iteration", "loss", {}, /*log_y=*/true};
  PlotSeries raw{"raw", {}, {}, {180, 200, 240}, false, true, 1.0};
  for (int i = 0; i < 200; ++i) raw.x.push_back(i), raw.y.push_back(2.0 / (1 + 0.05 * i) + 0.1 * std::sin(i));
  PlotSeries smooth{"smoothed", raw.x, smooth_ema(raw.y, 0.9), kBlue};
  loss.series = {raw, smooth};
  PlotPanel validation{"validation", "iteration", "%", {}};
  validation.series = {{"mIoU", {50, 100, 150, 200}, {20, 31, 35.5, 37}, kRed, true}};
  const std::vector<PlotPanel> panels{loss, validation};

  TempDir dir;
  const std::string path = dir.file("plot.png");
  write_plot_png(path, panels, 400, 150);
  const io::Image image = io::read_image(path);
  CHECK(image.width == 400);
  CHECK(image.height == 300);
  CHECK(image.rgb == render_plot(panels, 400, 150));
  CHECK(dir.entries() == std::vector<std::string>{"plot.png"});
}

TEST_CASE("plot: a constant series is drawn on the row where the axis maps its value") {
  PlotPanel panel{"levels", "x", "y", {constant_series("low", 2, kRed), constant_series("high", 8, kBlue)}};
  const int width = 360, height = 220;
  const PanelLayout layout = layout_panel(panel, width, height);
  REQUIRE(layout.has_data);
  CHECK(layout.y.lo == doctest::Approx(2));  // 2 and 8 are multiples of any 1-2-5 step ≤ 2
  CHECK(layout.y.hi == doctest::Approx(8));
  // A value at the centre of a pixel row (inside the range: the axes stay as they are) and
  // one anywhere.
  const int row = (layout.top + 2 * layout.bottom) / 3;
  const double at_centre = 2 + (layout.bottom - row) * 6.0 / (layout.bottom - layout.top);
  CHECK(std::floor(layout.y_to_px(at_centre)) == row);
  panel.series.push_back(constant_series("centre", at_centre, kGreen));
  panel.series.push_back(constant_series("anywhere", 6.3, kRed));
  const Rgb image{render_plot({panel}, width, height), width, height};

  for (int x : {layout.left + 5, (layout.left + layout.right) / 2, layout.right - 5}) {
    CAPTURE(x);
    // Through pixel centres a line is opaque on exactly one row.
    CHECK(rows_with(image, x, kBlue) == std::vector<int>{layout.top});
    CHECK(rows_with(image, x, kGreen) == std::vector<int>{row});
    CHECK(rows_with(image, x, kRed).back() == layout.bottom);
    // Elsewhere, its ink is centred where the axis maps the value (±0.1 px).
    const double mapped = layout.y_to_px(6.3);
    double sum = 0, weight = 0;
    for (int y = int(mapped) - 3; y <= int(mapped) + 3; ++y) {
      const double a = coverage(image, x, y, kRed);
      sum += a * (y + 0.5), weight += a;
    }
    CHECK(weight == doctest::Approx(1.5).epsilon(0.1));  // a line 1.5 pixels wide
    CHECK(sum / weight == doctest::Approx(mapped).epsilon(0.1 / mapped));
  }
  // Outside the frame (beyond the few pixels a line may stray) nothing of the series.
  for (int y = 0; y < height; ++y) {
    CHECK(image.at(layout.right + 6, y) != kGreen);
    CHECK(image.at(layout.left - 6, y) != kGreen);
  }
}

TEST_CASE("plot: a NaN or Inf in the middle of a series leaves a gap") {
  for (double bad : {kNaN, std::numeric_limits<double>::infinity()}) {
    PlotPanel panel{"gap", "", "", {constant_series("s", 5, kGreen), constant_series("", 0, kRed),
                                    constant_series("", 10, kBlue)}};
    panel.series[0].y[5] = bad;
    const PanelLayout layout = layout_panel(panel, 300, 160);
    const Rgb image{render_plot({panel}, 300, 160), 300, 160};
    for (int i : {1, 2, 3, 7, 8, 9})
      CHECK(centre_row(image, int(layout.x_to_px(i)), kGreen, layout.top, layout.bottom) == doctest::Approx(layout.y_to_px(5)).epsilon(0.001));
    // The segments 4–5 and 5–6 are missing: nothing green between x = 4.3 and 5.7.
    for (double x = 4.3; x < 5.7; x += 0.1)
      for (int y = 0; y < 160; ++y) CHECK(coverage(image, int(layout.x_to_px(x)), y, kGreen) < 0.05);
  }
}

TEST_CASE("plot: a log axis maps decades evenly; values ≤ 0 are gaps there") {
  PlotPanel panel{"log", "", "", {}, /*log_y=*/true};
  panel.series = {constant_series("", 1e-3, kRed), constant_series("", 10, kBlue),
                  constant_series("", 0.01, kGreen), constant_series("", 1, kGreen)};
  panel.series[0].y[3] = 0, panel.series[0].y[4] = -1;  // not drawable on a log axis
  const int width = 320, height = 260;
  const PanelLayout layout = layout_panel(panel, width, height);
  CHECK(layout.y.log);
  CHECK(layout.y.lo == doctest::Approx(1e-3));
  CHECK(layout.y.hi == doctest::Approx(10));
  const double decade = layout.y_to_px(1e-3) - layout.y_to_px(1e-2);
  CHECK(decade == doctest::Approx((layout.bottom - layout.top) / 4.0).epsilon(1e-12));
  for (double v : {1e-2, 1e-1, 1.0})
    CHECK(layout.y_to_px(v) - layout.y_to_px(v * 10) == doctest::Approx(decade).epsilon(1e-12));
  CHECK(layout.y_to_px(std::sqrt(10.0)) == doctest::Approx(layout.y_to_px(1) - decade / 2));

  const Rgb image{render_plot({panel}, width, height), width, height};
  const int x = int(layout.x_to_px(2.5));
  const int middle = int(layout.y_to_px(0.1));
  CHECK(centre_row(image, x, kGreen, layout.top, middle) == doctest::Approx(layout.y_to_px(1)).epsilon(0.001));
  // Both lines together: their mean row is where the geometric mean of 1 and 0.01 maps.
  CHECK(centre_row(image, x, kGreen, layout.top, layout.bottom) == doctest::Approx(layout.y_to_px(0.1)).epsilon(0.001));
  CHECK(rows_with(image, int(layout.x_to_px(1)), kRed) == std::vector<int>{layout.bottom});
  for (int y = 0; y < height; ++y)  // the 0 and −1 gap
    CHECK(coverage(image, int(layout.x_to_px(3.5)), y, kRed) < 0.05);

  // Only non-positive values: nothing to draw.
  PlotPanel empty{"log", "", "", {constant_series("", -1, kRed)}, true};
  CHECK_FALSE(layout_panel(empty, width, height).has_data);
}

TEST_CASE("plot: nice ticks in 1-2-5 steps for assorted ranges") {
  struct Case {
    double lo, hi;
    int max_ticks;
    double step, axis_lo, axis_hi;
  };
  const Case cases[] = {
      {0, 10, 6, 2, 0, 10},           {0.3, 0.9, 6, 0.2, 0.2, 1.0},
      {-3.7, 12.1, 6, 5, -5, 15},     {12.1, -3.7, 6, 5, -5, 15},  // either order
      {0, 80000, 10, 10000, 0, 80000}, {-0.004, -0.001, 6, 0.001, -0.004, -0.001},
      {1e-4, 5e-4, 6, 1e-4, 1e-4, 5e-4}, {1.23e-4, 1.31e-4, 6, 2e-6, 1.22e-4, 1.32e-4},
      {0.5, 0.5, 6, 0.05, 0.45, 0.55},  // a constant: widened by 10 %
      {0, 0, 6, 0.5, -1, 1},           {-7, -7, 4, 1, -8, -6},
      {3, 97, 3, 50, 0, 100},
  };
  for (const Case& c : cases) {
    CAPTURE(c.lo);
    CAPTURE(c.hi);
    const AxisTicks t = nice_ticks(c.lo, c.hi, c.max_ticks);
    CHECK_FALSE(t.log);
    CHECK(t.step == doctest::Approx(c.step).epsilon(1e-12));
    CHECK(t.lo == doctest::Approx(c.axis_lo).epsilon(1e-12));
    CHECK(t.hi == doctest::Approx(c.axis_hi).epsilon(1e-12));
    CHECK(int(t.values.size()) <= c.max_ticks);
    CHECK(t.values.front() == t.lo);
    CHECK(t.values.back() == t.hi);
    CHECK(t.lo <= std::min(c.lo, c.hi));
    CHECK(t.hi >= std::max(c.lo, c.hi));
    for (size_t i = 1; i < t.values.size(); ++i)
      CHECK(t.values[i] - t.values[i - 1] == doctest::Approx(t.step).epsilon(1e-9));
  }
  CHECK(error_message([] { nice_ticks(0, kNaN); }) == "plot: cannot make ticks for the range 0 .. nan");

  // Labels: the decimals the step needs; tiny or huge steps in short exponent form.
  const AxisTicks tenths = nice_ticks(0, 1, 11);
  CHECK(format_tick(tenths.values[3], tenths.step) == "0.3");  // 3 × 0.1 = 0.30000000000000004
  CHECK(format_tick(-1e-17, 0.1) == "0");
  CHECK(format_tick(-0.004, 0.001) == "-0.004");
  CHECK(format_tick(80000, 10000) == "80000");
  CHECK(format_tick(-5, 5) == "-5");
  CHECK(format_tick(0.45, 0.05) == "0.45");
  CHECK(format_tick(3e-4, 1e-4) == "3e-4");
  CHECK(format_tick(1.24e-4, 2e-6) == "1.24e-4");
  CHECK(format_tick(2e6, 1e6) == "2e6");
  CHECK(format_log_tick(0.001) == "0.001");
  CHECK(format_log_tick(1e-5) == "1e-5");
  CHECK(format_log_tick(200) == "200");
  CHECK(format_log_tick(1e6) == "1e6");
}

TEST_CASE("plot: log ticks are decades, with 2 and 5 labelled on a short axis") {
  const AxisTicks short_axis = log_ticks(0.3, 0.9);  // one decade: 0.1 .. 1
  CHECK(short_axis.log);
  CHECK(short_axis.lo == doctest::Approx(0.1));
  CHECK(short_axis.hi == doctest::Approx(1));
  REQUIRE(short_axis.values.size() == 4);
  CHECK(short_axis.values[1] == doctest::Approx(0.2));
  CHECK(short_axis.values[2] == doctest::Approx(0.5));
  CHECK(short_axis.minor.size() == 6);  // 0.3 0.4 0.6 0.7 0.8 0.9

  const AxisTicks long_axis = log_ticks(2e-9, 3e3);  // 13 decades: every 3rd labelled
  CHECK(long_axis.lo == doctest::Approx(1e-9));
  CHECK(long_axis.hi == doctest::Approx(1e4));
  CHECK(long_axis.values.size() == 5);  // 1e-9, 1e-6, 1e-3, 1, 1e3
  for (double v : long_axis.values) CHECK(std::log10(v) == doctest::Approx(std::round(std::log10(v))));

  const AxisTicks constant = log_ticks(1, 1);
  CHECK(constant.lo == doctest::Approx(0.1));
  CHECK(constant.hi == doctest::Approx(10));
}

TEST_CASE("plot: panels share one left margin; axis limits widen the data's range") {
  PlotPanel narrow{"a", "", "", {constant_series("", 1, kRed)}};
  PlotPanel wide{"b", "", "long y label", {constant_series("", -123456, kRed)}};
  const int own_narrow = layout_panel(narrow, 300, 120).left, own_wide = layout_panel(wide, 300, 120).left;
  CHECK(own_narrow < own_wide);
  const Rgb image{render_plot({narrow, wide}, 300, 120), 300, 240};
  const Color frame{160, 160, 160};
  for (int panel = 0; panel < 2; ++panel) {
    const int y = panel * 120 + layout_panel(narrow, 300, 120).top + 3;  // below the top frame line
    CHECK(image.at(own_wide, y) == frame);
    CHECK(image.at(own_narrow, y) != frame);
  }

  PlotPanel limited{"c", "", "", {constant_series("", 35, kRed)}};  // x 0..10
  limited.x_max = 80, limited.y_min = 0, limited.y_max = 100;
  const PanelLayout layout = layout_panel(limited, 300, 200);
  CHECK(layout.x.lo == 0);
  CHECK(layout.x.hi >= 80);
  CHECK(layout.y.lo == 0);
  CHECK(layout.y.hi == doctest::Approx(100));
  limited.series.clear();  // limits alone are no data
  CHECK_FALSE(layout_panel(limited, 300, 200).has_data);
  PlotPanel log_limited{"d", "", "", {constant_series("", 0.5, kRed)}, /*log_y=*/true};
  log_limited.y_min = 0;  // cannot be shown on a log axis: ignored
  log_limited.y_max = 50;
  CHECK(layout_panel(log_limited, 300, 200).y.lo == doctest::Approx(0.1));
  CHECK(layout_panel(log_limited, 300, 200).y.hi == doctest::Approx(100));
}

TEST_CASE("plot: a panel without drawable points says 'no data'") {
  const Color ink{150, 150, 150};  // the "no data" grey
  for (const PlotPanel& panel : {PlotPanel{"empty", "", "", {}},
                                 PlotPanel{"all NaN", "", "", {{"s", {1, 2}, {kNaN, kNaN}, kRed}}}}) {
    const PanelLayout layout = layout_panel(panel, 300, 150);
    CHECK_FALSE(layout.has_data);
    const Rgb image{render_plot({panel}, 300, 150), 300, 150};
    const int centre_x = (layout.left + layout.right) / 2, centre_y = (layout.top + layout.bottom) / 2;
    int ink_pixels = 0;
    for (int y = centre_y - 8; y <= centre_y + 8; ++y)
      for (int x = centre_x - 25; x <= centre_x + 25; ++x) ink_pixels += image.at(x, y) == ink;
    CHECK(ink_pixels > 40);
  }
}

TEST_CASE("font: every glyph of the set is defined, distinct, and inked inside its box") {
  const std::string set =
      "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz.,-+:/%()=_?!'[]<>*#|";
  std::set<GlyphRows> seen;
  for (char c : set) {
    CAPTURE(c);
    CHECK(has_glyph(c));
    CHECK(seen.insert(glyph(c)).second);
    int ink = 0;
    for (uint8_t row : glyph(c)) ink += __builtin_popcount(row);
    CHECK(ink > 0);
  }
  CHECK(has_glyph(' '));
  CHECK_FALSE(has_glyph('~'));
  CHECK(glyph('~') == glyph('?'));
  CHECK(text_length("µm") == 2);  // one '?' for the two bytes of µ
  CHECK(text_width("abc") == 17);
  CHECK(text_width("") == 0);

  // Drawn: all ink inside the box, ink in the first and last columns' glyphs, descenders
  // (of g) below the baseline and nothing else there.
  io::Image image{60, 40, std::vector<uint8_t>(60 * 40 * 3, 255)};
  const Color ink{0, 0, 0};
  draw_text(image, 10, 20, "Ag9%", ink);
  const Rgb drawn{image.rgb, 60, 40};
  int inside = 0, outside = 0, below_baseline = 0, leftmost = 99, rightmost = -1;
  for (int y = 0; y < 40; ++y)
    for (int x = 0; x < 60; ++x) {
      if (drawn.at(x, y) != ink) continue;
      const bool in_box = x >= 10 && x < 10 + text_width("Ag9%") && y >= 20 && y < 20 + kGlyphHeight;
      (in_box ? inside : outside) += 1;
      if (y >= 20 + kCapHeight) below_baseline += (x >= 16 && x < 21) ? 1 : 1000;
      leftmost = std::min(leftmost, x), rightmost = std::max(rightmost, x);
    }
  CHECK(outside == 0);
  CHECK(inside > 40);
  CHECK(below_baseline == 4);  // the hook of g
  CHECK(leftmost == 10);
  CHECK(rightmost == 10 + text_width("Ag9%") - 1);

  // Turned upwards: the box is kGlyphHeight wide and text_width tall; the first letter
  // sits at the bottom.
  io::Image turned{30, 40, std::vector<uint8_t>(30 * 40 * 3, 255)};
  draw_text(turned, 5, 8, "L1", ink, TextDirection::up);
  const Rgb up{turned.rgb, 30, 40};
  for (int y = 0; y < 40; ++y)
    for (int x = 0; x < 30; ++x)
      if (up.at(x, y) == ink) {
        CHECK(x >= 5);
        CHECK(x < 5 + kCapHeight);
        CHECK(y >= 8);
        CHECK(y < 8 + text_width("L1"));
      }
  // L's stem (its left column) becomes the bottom row of its turned box, 7 pixels long.
  int stem = 0;
  for (int x = 0; x < 30; ++x) stem += up.at(x, 8 + text_width("L1") - 1) == ink;
  CHECK(stem == kCapHeight);
}

TEST_CASE("plot: smooth_ema is TensorBoard's bias-corrected moving average") {
  const std::vector<double> s = smooth_ema({1, 2, 3}, 0.5);
  REQUIRE(s.size() == 3);
  CHECK(s[0] == doctest::Approx(1).epsilon(1e-12));                  // 0.5 / 0.5
  CHECK(s[1] == doctest::Approx(1.25 / 0.75).epsilon(1e-12));        // (0.25 + 1) / (1 − 0.25)
  CHECK(s[2] == doctest::Approx(2.125 / 0.875).epsilon(1e-12));      // (0.625 + 1.5) / (1 − 0.125)
  const std::vector<double> gap = smooth_ema({1, kNaN, 3}, 0.5);  // the NaN stays, unaveraged
  CHECK(gap[0] == doctest::Approx(1));
  CHECK(std::isnan(gap[1]));
  CHECK(gap[2] == doctest::Approx(1.75 / 0.75).epsilon(1e-12));
  CHECK(smooth_ema({4, 7}, 0) == std::vector<double>{4, 7});
  const std::vector<double> constant = smooth_ema(std::vector<double>(50, 0.3), 0.99);
  for (double v : constant) CHECK(v == doctest::Approx(0.3).epsilon(1e-12));
  CHECK(smooth_ema({}, 0.6).empty());
  CHECK(error_message([] { smooth_ema({1}, 1.0); }) == "smooth_ema: weight 1 is not in [0, 1)");
  CHECK(error_message([] { smooth_ema({1}, -0.1); }) == "smooth_ema: weight -0.1 is not in [0, 1)");
}

TEST_CASE("plot: bad panels and unwritable paths give one message naming the file") {
  TempDir dir;
  const std::vector<PlotPanel> good{{"loss", "", "", {constant_series("s", 1, kRed)}}};
  const std::string missing = dir.file("no/such/folder/plot.png");
  CHECK(error_message([&] { write_plot_png(missing, good); }) ==
        missing + ": cannot create a file there: No such file or directory");

  const std::string path = dir.file("plot.png");
  const std::vector<PlotPanel> uneven{{"training loss", "", "", {{"loss", {1, 2, 3}, {1, 2}, kRed}}}};
  CHECK(error_message([&] { write_plot_png(path, uneven); }) ==
        path + ": plot: series 'loss' of panel 'training loss' has 3 x values and 2 y values");
  CHECK(error_message([&] { write_plot_png(path, {}); }) == path + ": plot: 0 panels (1..16 can be drawn)");
  CHECK(error_message([&] { write_plot_png(path, good, 100); }) ==
        path + ": plot: width 100 is not in 160..8192");
  CHECK(error_message([&] { write_plot_png(path, good, 900, 50); }) ==
        path + ": plot: panel height 50 is not in 100..4096");
  std::vector<PlotPanel> thick = good;
  thick[0].series[0].line_width = 20;
  CHECK(error_message([&] { write_plot_png(path, thick); }) ==
        path + ": plot: series 's': line width 20 is not in 0.5..8");
  CHECK(dir.entries().empty());  // nothing half-written
}
