// The training chart (plot.h). Each panel is drawn on its own white canvas and the canvases
// are stacked. Order of painting: grid, frame, ticks and labels, then the series, one at a
// time, each through a coverage mask (so that the many short segments of a dense loss curve
// blend once, not once per overlap), then the header (title and legend).
//
// Lines are anti-aliased by distance: a pixel whose centre lies d pixels from a segment is
// covered clamp(w/2 + 0.5 − d, 0, 1) — a 1-pixel line through pixel centres is one crisp
// row, a thicker or slanted one fades over its edge pixels.
#include "src/train/plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include "src/io/image.h"
#include "src/train/bitmap_font.h"
#include "tv3s/error.h"

namespace tv3s::train {
namespace {

using Color = std::array<uint8_t, 3>;
const Color kTitleInk{30, 30, 30};
const Color kLabelInk{70, 70, 70};
const Color kTickInk{100, 100, 100};
const Color kFrame{160, 160, 160};
const Color kGrid{226, 226, 226};
const Color kMinorGrid{242, 242, 242};
const Color kNoDataInk{150, 150, 150};

// Panel geometry (pixels): the header row holds the title and the legend.
constexpr int kPad = 8;
constexpr int kHeaderY = 9;     // top of the header text
constexpr int kPlotTop = 28;    // the top frame line
constexpr int kTickLength = 4;  // tick marks stick out of the frame this far
constexpr int kRightMargin = 24;

// ---- ticks ---------------------------------------------------------------------------------

// The k-th step of the 1-2-5 ladder: ..., 0.5, 1, 2, 5, 10, 20, ... (k = 0 is 1).
double ladder(int k) {
  const int decade = k >= 0 ? k / 3 : -((2 - k) / 3);
  const double mantissa[] = {1, 2, 5};
  return mantissa[k - 3 * decade] * std::pow(10.0, decade);
}

// The ladder index of the smallest step ≥ raw.
int ladder_at_least(double raw) {
  int k = 3 * int(std::floor(std::log10(raw))) - 3;
  while (ladder(k) < raw * (1 - 1e-9)) ++k;
  return k;
}

bool drawable(double x, double y, bool log_y) {
  return std::isfinite(x) && std::isfinite(y) && (!log_y || y > 0);
}

// "1.5e-05" → "1.5e-5", "1e+06" → "1e6".
std::string compact_exponent(const std::string& s) {
  const size_t e = s.find('e');
  if (e == std::string::npos) return s;
  std::string out = s.substr(0, e + 1);
  size_t i = e + 1;
  if (s[i] == '-') out += '-';
  if (s[i] == '-' || s[i] == '+') ++i;
  while (i + 1 < s.size() && s[i] == '0') ++i;
  return out + s.substr(i);
}

// ---- the canvas ------------------------------------------------------------------------------

void set_pixel(io::Image& image, int x, int y, const Color& c) {
  if (x < 0 || y < 0 || x >= image.width || y >= image.height) return;
  uint8_t* p = &image.rgb[3 * (size_t(y) * size_t(image.width) + size_t(x))];
  p[0] = c[0], p[1] = c[1], p[2] = c[2];
}

void hline(io::Image& image, int x0, int x1, int y, const Color& c) {
  for (int x = x0; x <= x1; ++x) set_pixel(image, x, y, c);
}

void vline(io::Image& image, int x, int y0, int y1, const Color& c) {
  for (int y = y0; y <= y1; ++y) set_pixel(image, x, y, c);
}

// How much of each pixel a series covers, 0..1, within a clip rectangle.
struct CoverageMask {
  int width, height;
  int clip_x0 = 0, clip_y0 = 0, clip_x1 = 0, clip_y1 = 0;  // inclusive
  std::vector<float> coverage;

  CoverageMask(int w, int h) : width(w), height(h), coverage(size_t(w) * size_t(h), 0.0f) {}

  void clip(int x0, int y0, int x1, int y1) {
    clip_x0 = std::max(0, x0), clip_y0 = std::max(0, y0);
    clip_x1 = std::min(width - 1, x1), clip_y1 = std::min(height - 1, y1);
  }

  // The segment a–b, `half_width` to either side (a point when a == b: a disc).
  void segment(double ax, double ay, double bx, double by, double half_width) {
    const double reach = half_width + 0.5;
    const int x0 = std::max(clip_x0, int(std::floor(std::min(ax, bx) - reach)));
    const int x1 = std::min(clip_x1, int(std::ceil(std::max(ax, bx) + reach)));
    const int y0 = std::max(clip_y0, int(std::floor(std::min(ay, by) - reach)));
    const int y1 = std::min(clip_y1, int(std::ceil(std::max(ay, by) + reach)));
    const double dx = bx - ax, dy = by - ay, length2 = dx * dx + dy * dy;
    for (int y = y0; y <= y1; ++y)
      for (int x = x0; x <= x1; ++x) {
        const double px = x + 0.5 - ax, py = y + 0.5 - ay;
        const double t = length2 > 0 ? std::clamp((px * dx + py * dy) / length2, 0.0, 1.0) : 0.0;
        const double ex = px - t * dx, ey = py - t * dy;
        const double d = std::sqrt(ex * ex + ey * ey);
        const float c = float(std::clamp(reach - d, 0.0, 1.0));
        float& slot = coverage[size_t(y) * size_t(width) + size_t(x)];
        slot = std::max(slot, c);
      }
  }

  void disc(double cx, double cy, double radius) { segment(cx, cy, cx, cy, radius); }

  // Paints `color` over the image by coverage and clears the mask for the next series.
  void composite(io::Image& image, const Color& color) {
    for (int y = clip_y0; y <= clip_y1; ++y)
      for (int x = clip_x0; x <= clip_x1; ++x) {
        float& a = coverage[size_t(y) * size_t(width) + size_t(x)];
        if (a <= 0) continue;
        uint8_t* p = &image.rgb[3 * (size_t(y) * size_t(image.width) + size_t(x))];
        for (int k = 0; k < 3; ++k)
          p[k] = uint8_t(std::lround(p[k] * (1.0f - a) + color[size_t(k)] * a));
        a = 0;
      }
  }
};

double marker_radius(const PlotSeries& s) { return std::max(3.0, s.line_width / 2 + 1.5); }

struct PixelPoint {
  double x, y;
};

// A dense curve (a per-iteration loss: 80k points over 800 columns) drawn point by point
// would paint each column hundreds of times. Per run of neighbouring points in the same
// pixel column, the first, the lowest, the highest and the last (in their order) draw the
// same pixels: the "M4" reduction. At most 4 points per column are left.
std::vector<PixelPoint> reduce_per_column(const std::vector<PixelPoint>& run) {
  std::vector<PixelPoint> kept;
  for (size_t begin = 0; begin < run.size();) {
    const double column = std::floor(run[begin].x);
    size_t end = begin, lowest = begin, highest = begin;
    for (; end < run.size() && std::floor(run[end].x) == column; ++end) {
      if (run[end].y > run[lowest].y) lowest = end;  // pixel rows grow downwards
      if (run[end].y < run[highest].y) highest = end;
    }
    size_t picks[] = {begin, std::min(lowest, highest), std::max(lowest, highest), end - 1};
    for (size_t i = 0; i < 4; ++i)
      if (i == 0 || picks[i] != picks[i - 1]) kept.push_back(run[picks[i]]);
    begin = end;
  }
  return kept;
}

// One series into the mask: lines along each run of drawable points, a dot for a run of
// one (so an isolated value between gaps still shows), markers when asked.
void splat_series(CoverageMask& mask, const PlotSeries& s, const PanelLayout& layout, bool log_y) {
  const double half = s.line_width / 2;
  std::vector<PixelPoint> run;
  const auto draw_run = [&] {
    if (s.lines && run.size() == 1) mask.disc(run[0].x, run[0].y, half);
    if (s.lines && run.size() > 1) {
      const std::vector<PixelPoint> kept = reduce_per_column(run);
      for (size_t i = 1; i < kept.size(); ++i)
        mask.segment(kept[i - 1].x, kept[i - 1].y, kept[i].x, kept[i].y, half);
    }
    run.clear();
  };
  for (size_t i = 0; i < s.x.size(); ++i) {
    if (!drawable(s.x[i], s.y[i], log_y)) {
      draw_run();
      continue;
    }
    const PixelPoint p{layout.x_to_px(s.x[i]), layout.y_to_px(s.y[i])};
    if (s.points) mask.disc(p.x, p.y, marker_radius(s));
    run.push_back(p);
  }
  draw_run();
}

// The legend, right-aligned in the header row (but never left of `min_left`, the end of
// the title): a short line (with a marker) and the name for each named series. What does
// not fit is clipped at the panel's right edge.
void draw_legend(io::Image& image, CoverageMask& mask, const PlotPanel& panel, int right_edge,
                 int min_left) {
  constexpr int kSwatch = 18, kGap = 5, kSpacing = 14;
  int total = 0;
  for (const PlotSeries& s : panel.series)
    if (!s.name.empty()) total += (total ? kSpacing : 0) + kSwatch + kGap + text_width(s.name);
  int x = std::max(min_left, right_edge - total);
  const double centre_y = kHeaderY + 3.5;  // the middle of the capitals
  mask.clip(0, 0, image.width - 1, image.height - 1);
  for (const PlotSeries& s : panel.series) {
    if (s.name.empty()) continue;
    if (s.lines) mask.segment(x + 0.5, centre_y, x + kSwatch - 0.5, centre_y, std::max(1.0, s.line_width) / 2);
    if (s.points) mask.disc(x + kSwatch / 2.0, centre_y, marker_radius(s));
    mask.composite(image, s.color);
    x += kSwatch + kGap;
    draw_text(image, x, kHeaderY, s.name, kLabelInk);
    x += text_width(s.name) + kSpacing;
  }
}

void draw_panel(io::Image& image, const PlotPanel& panel, int min_left) {
  const PanelLayout layout = layout_panel(panel, image.width, image.height, min_left);
  const int left = layout.left, right = layout.right, top = layout.top, bottom = layout.bottom;

  // Grid lines where ticks fall inside the frame; minor (log) lines first, lighter.
  const auto row_of = [&](double v) { return int(std::floor(layout.y_to_px(v))); };
  const auto column_of = [&](double v) { return int(std::floor(layout.x_to_px(v))); };
  if (layout.has_data) {
    for (double v : layout.y.minor)
      if (row_of(v) > top && row_of(v) < bottom) hline(image, left + 1, right - 1, row_of(v), kMinorGrid);
    for (double v : layout.y.values)
      if (row_of(v) > top && row_of(v) < bottom) hline(image, left + 1, right - 1, row_of(v), kGrid);
    for (double v : layout.x.values)
      if (column_of(v) > left && column_of(v) < right) vline(image, column_of(v), top + 1, bottom - 1, kGrid);
  }
  hline(image, left, right, top, kFrame);
  hline(image, left, right, bottom, kFrame);
  vline(image, left, top, bottom, kFrame);
  vline(image, right, top, bottom, kFrame);

  if (layout.has_data) {
    for (double v : layout.y.values) {
      const int row = std::clamp(row_of(v), top, bottom);
      hline(image, left - kTickLength, left - 1, row, kFrame);
      const std::string label = layout.y.log ? format_log_tick(v) : format_tick(v, layout.y.step);
      draw_text(image, left - kTickLength - 4 - text_width(label), row - 3, label, kTickInk);
    }
    for (double v : layout.x.values) {
      const int column = std::clamp(column_of(v), left, right);
      vline(image, column, bottom + 1, bottom + kTickLength, kFrame);
      const std::string label = format_tick(v, layout.x.step);
      const int w = text_width(label);
      const int x = std::min(column - w / 2, image.width - 2 - w);
      draw_text(image, x, bottom + kTickLength + 4, label, kTickInk);
    }

    // The series, in order (later ones on top). Lines may stray a few pixels past the
    // frame (a value on the axis end is drawn whole), not further.
    CoverageMask mask(image.width, image.height);
    mask.clip(left - 4, top - 4, right + 4, bottom + 4);
    for (const PlotSeries& s : panel.series) {
      splat_series(mask, s, layout, panel.log_y);
      mask.composite(image, s.color);
    }
  } else {
    const std::string message = "no data";
    draw_text(image, (left + right - text_width(message)) / 2, (top + bottom - kCapHeight) / 2,
              message, kNoDataInk);
  }

  if (!panel.x_label.empty()) {
    const int y = bottom + kTickLength + 4 + kGlyphHeight + 6;
    draw_text(image, (left + right - text_width(panel.x_label)) / 2, y, panel.x_label, kLabelInk);
  }
  if (!panel.y_label.empty()) {
    draw_text(image, kPad, (top + bottom - text_width(panel.y_label)) / 2, panel.y_label, kLabelInk,
              TextDirection::up);
  }
  draw_text(image, left, kHeaderY, panel.title, kTitleInk, TextDirection::right, /*bold=*/true);
  CoverageMask legend_mask(image.width, image.height);
  draw_legend(image, legend_mask, panel, right, left + text_width(panel.title, true) + 24);
}

void check_panels(const std::vector<PlotPanel>& panels, int width, int panel_height) {
  TV3S_CHECK(!panels.empty() && panels.size() <= 16, "plot: ", panels.size(),
             " panels (1..16 can be drawn)");
  TV3S_CHECK(width >= 160 && width <= 8192, "plot: width ", width, " is not in 160..8192");
  TV3S_CHECK(panel_height >= 100 && panel_height <= 4096, "plot: panel height ", panel_height,
             " is not in 100..4096");
  for (const PlotPanel& panel : panels)
    for (const PlotSeries& s : panel.series) {
      TV3S_CHECK(s.x.size() == s.y.size(), "plot: series '", s.name, "' of panel '", panel.title,
                 "' has ", s.x.size(), " x values and ", s.y.size(), " y values");
      TV3S_CHECK(s.line_width >= 0.5 && s.line_width <= 8, "plot: series '", s.name,
                 "': line width ", s.line_width, " is not in 0.5..8");
    }
}

}  // namespace

// ---- ticks -----------------------------------------------------------------------------------

AxisTicks nice_ticks(double lo, double hi, int max_ticks) {
  TV3S_CHECK(std::isfinite(lo) && std::isfinite(hi) && std::isfinite(hi - lo), "plot: cannot make "
             "ticks for the range ", lo, " .. ", hi);
  TV3S_CHECK(max_ticks >= 2, "plot: max_ticks ", max_ticks, " is below 2");
  if (lo > hi) std::swap(lo, hi);
  if (hi - lo <= 1e-12 * std::max(std::fabs(lo), std::fabs(hi))) {  // a constant: widen
    const double half = lo == 0 ? 1.0 : std::fabs(lo) * 0.1;
    lo -= half, hi += half;
  }
  AxisTicks ticks;
  // The smallest 1-2-5 step that needs at most max_ticks ticks (a range across zero needs
  // three at least, so a few more steps are tried at most).
  int k = ladder_at_least((hi - lo) / (max_ticks - 1));
  double first = 0, last = 0;
  for (int attempt = 0; attempt < 8; ++attempt, ++k) {
    ticks.step = ladder(k);
    first = std::floor(lo / ticks.step + 1e-9), last = std::ceil(hi / ticks.step - 1e-9);
    if (last - first + 1 <= max_ticks) break;
  }
  ticks.lo = first * ticks.step, ticks.hi = last * ticks.step;
  for (double i = first; i <= last; ++i) ticks.values.push_back(i == 0 ? 0.0 : i * ticks.step);
  return ticks;
}

AxisTicks log_ticks(double lo, double hi) {
  TV3S_CHECK(lo > 0 && hi >= lo && std::isfinite(hi), "plot: cannot make log ticks for the range ",
             lo, " .. ", hi);
  int first = int(std::floor(std::log10(lo) + 1e-9)), last = int(std::ceil(std::log10(hi) - 1e-9));
  if (last <= first) first -= 1, last = first + 2;  // lo = hi = 10^k: put it in the middle
  AxisTicks ticks;
  ticks.log = true;
  ticks.lo = std::pow(10.0, first), ticks.hi = std::pow(10.0, last);
  const int decades = last - first;
  const int every = (decades + 5) / 6;  // at most about 6 labelled decades
  ticks.step = every;
  for (int d = first; d <= last; ++d) {
    const double decade = std::pow(10.0, d);
    const bool labelled = (d - first) % every == 0;
    (labelled ? ticks.values : ticks.minor).push_back(decade);
    if (d == last || decades > 5) continue;
    for (int m = 2; m <= 9; ++m) {
      const bool on_ladder = decades <= 2 && (m == 2 || m == 5);
      (on_ladder ? ticks.values : ticks.minor).push_back(m * decade);
    }
  }
  return ticks;
}

std::string format_tick(double value, double step) {
  if (!std::isfinite(value) || !(step > 0)) return "?";
  if (std::fabs(value) < step * 1e-6) return "0";  // and never "-0"
  const int step_exponent = int(std::floor(std::log10(step) + 1e-9));
  char text[64];
  if (step >= 1e-3 * (1 - 1e-9) && step < 1e6 * (1 - 1e-9)) {
    std::snprintf(text, sizeof text, "%.*f", std::max(0, -step_exponent), value);
    return text;
  }
  const int exponent = int(std::floor(std::log10(std::fabs(value)) + 1e-9));
  std::snprintf(text, sizeof text, "%.*e", std::clamp(exponent - step_exponent, 0, 6), value);
  return compact_exponent(text);
}

std::string format_log_tick(double value) {
  char text[64];
  if (value >= 1e-4 * (1 - 1e-9) && value < 1e5) {
    std::snprintf(text, sizeof text, "%g", value);
    return text;
  }
  std::snprintf(text, sizeof text, "%.0e", value);
  return compact_exponent(text);
}

// ---- layout ----------------------------------------------------------------------------------

double PanelLayout::x_to_px(double v) const {
  return left + 0.5 + (v - x.lo) / (x.hi - x.lo) * (right - left);
}

double PanelLayout::y_to_px(double v) const {
  const double t = y.log ? (std::log10(v) - std::log10(y.lo)) / (std::log10(y.hi) - std::log10(y.lo))
                         : (v - y.lo) / (y.hi - y.lo);
  return bottom + 0.5 - t * (bottom - top);
}

PanelLayout layout_panel(const PlotPanel& panel, int width, int panel_height, int min_left) {
  PanelLayout layout;
  double x_min = std::numeric_limits<double>::infinity(), x_max = -x_min, y_min = x_min, y_max = -x_min;
  for (const PlotSeries& s : panel.series)
    for (size_t i = 0; i < std::min(s.x.size(), s.y.size()); ++i)
      if (drawable(s.x[i], s.y[i], panel.log_y)) {
        x_min = std::min(x_min, s.x[i]), x_max = std::max(x_max, s.x[i]);
        y_min = std::min(y_min, s.y[i]), y_max = std::max(y_max, s.y[i]);
        layout.has_data = true;
      }
  const auto reach = [](double& lo, double& hi, double limit) {
    if (std::isfinite(limit)) lo = std::min(lo, limit), hi = std::max(hi, limit);
  };
  reach(x_min, x_max, panel.x_min), reach(x_min, x_max, panel.x_max);
  for (double limit : {panel.y_min, panel.y_max})
    if (!panel.log_y || limit > 0) reach(y_min, y_max, limit);

  layout.top = kPlotTop;
  const int bottom_margin =
      kTickLength + 4 + kGlyphHeight + (panel.x_label.empty() ? 0 : 6 + kGlyphHeight) + kPad;
  layout.bottom = panel_height - 1 - bottom_margin;
  const int plot_height = layout.bottom - layout.top;
  if (layout.has_data) {
    layout.y = panel.log_y ? log_ticks(y_min, y_max)
                           : nice_ticks(y_min, y_max, std::clamp(plot_height / 45 + 1, 2, 10));
  }
  // The left margin fits the widest y tick label and the turned y-axis label.
  int label_width = 0;
  for (double v : layout.y.values)
    label_width = std::max(label_width, text_width(layout.y.log ? format_log_tick(v)
                                                                : format_tick(v, layout.y.step)));
  // (At most half the width: absurdly long tick labels are clipped instead.)
  layout.left = std::min(width / 2, std::max(min_left, kPad + (panel.y_label.empty() ? 0 : kGlyphHeight + 8) +
                                                           label_width + 4 + kTickLength));
  layout.right = width - 1 - kRightMargin;
  if (layout.has_data)
    layout.x = nice_ticks(x_min, x_max, std::clamp((layout.right - layout.left) / 80 + 1, 2, 12));
  return layout;
}

// ---- the chart -------------------------------------------------------------------------------

std::vector<uint8_t> render_plot(const std::vector<PlotPanel>& panels, int width, int panel_height) {
  check_panels(panels, width, panel_height);
  int left = 0;  // the widest margin, for all: the plot areas line up
  for (const PlotPanel& panel : panels) left = std::max(left, layout_panel(panel, width, panel_height).left);
  std::vector<uint8_t> rgb;
  rgb.reserve(size_t(width) * size_t(panel_height) * panels.size() * 3);
  for (const PlotPanel& panel : panels) {
    io::Image canvas;
    canvas.width = width, canvas.height = panel_height;
    canvas.rgb.assign(size_t(width) * size_t(panel_height) * 3, 255);
    draw_panel(canvas, panel, left);
    rgb.insert(rgb.end(), canvas.rgb.begin(), canvas.rgb.end());
  }
  return rgb;
}

void write_plot_png(const std::string& path, const std::vector<PlotPanel>& panels, int width,
                    int panel_height) {
  io::Image image;
  try {
    image.rgb = render_plot(panels, width, panel_height);
  } catch (const Error& e) {
    fail(str(path, ": ", e.what()));
  }
  image.width = width, image.height = panel_height * int(panels.size());
  io::write_png(path, image);  // atomic; its errors already name the path
}

std::vector<double> smooth_ema(const std::vector<double>& y, double weight) {
  TV3S_CHECK(weight >= 0 && weight < 1, "smooth_ema: weight ", weight, " is not in [0, 1)");
  std::vector<double> smoothed(y.size());
  double mean = 0, weight_power = 1;  // weight^n for the n finite values so far
  for (size_t i = 0; i < y.size(); ++i) {
    if (!std::isfinite(y[i])) {
      smoothed[i] = y[i];
      continue;
    }
    mean = weight * mean + (1 - weight) * y[i];
    weight_power *= weight;
    smoothed[i] = mean / (1 - weight_power);
  }
  return smoothed;
}

}  // namespace tv3s::train
