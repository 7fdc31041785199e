#include "src/train/plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "src/io/image.h"
#include "src/train/bitmap_font.h"
#include "tv3s/error.h"

namespace tv3s::train {

namespace {

using Rgb = std::array<uint8_t, 3>;
constexpr Rgb kWhite{255, 255, 255}, kInk{40, 40, 40}, kGrid{228, 228, 228}, kFrame{120, 120, 120};

struct Canvas {
  int width, height;
  std::vector<uint8_t>& rgb;
  void set(int x, int y, const Rgb& c) {
    if (x < 0 || y < 0 || x >= width || y >= height) return;
    uint8_t* p = &rgb[(size_t(y) * size_t(width) + size_t(x)) * 3];
    p[0] = c[0], p[1] = c[1], p[2] = c[2];
  }
  void fill(int x0, int y0, int x1, int y1, const Rgb& c) {  // inclusive
    for (int y = y0; y <= y1; ++y)
      for (int x = x0; x <= x1; ++x) set(x, y, c);
  }
  // Bresenham, `thick` pixels wide (a square brush).
  void line(int x0, int y0, int x1, int y1, const Rgb& c, int thick = 1) {
    const int dx = std::abs(x1 - x0), dy = -std::abs(y1 - y0);
    const int sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1;
    int err = dx + dy;
    for (;;) {
      fill(x0, y0, x0 + thick - 1, y0 + thick - 1, c);
      if (x0 == x1 && y0 == y1) break;
      const int e2 = 2 * err;
      if (e2 >= dy) err += dy, x0 += sx;
      if (e2 <= dx) err += dx, y0 += sy;
    }
  }
  void text(int x, int y, const std::string& s, const Rgb& c) {  // (x, y): top-left
    for (char ch : s) {
      const auto& rows = glyph(ch);
      for (int r = 0; r < kGlyphHeight; ++r)
        for (int b = 0; b < kGlyphWidth; ++b)
          if (rows[size_t(r)] & (0x10 >> b)) set(x + b, y + r, c);
      x += kGlyphAdvance;
    }
  }
  void text_vertical(int x, int y, const std::string& s, const Rgb& c) {  // rotated 90° ccw, bottom-up
    for (char ch : s) {
      const auto& rows = glyph(ch);
      for (int r = 0; r < kGlyphHeight; ++r)
        for (int b = 0; b < kGlyphWidth; ++b)
          if (rows[size_t(r)] & (0x10 >> b)) set(x + r, y - b, c);
      y -= kGlyphAdvance;
    }
  }
};

int text_width(const std::string& s) { return int(s.size()) * kGlyphAdvance - 1; }

std::string tick_label(double v, double step) {
  char buf[32];
  if (v == 0) return "0";
  const double a = std::abs(v);
  if (a >= 1e5 || a < 1e-3) std::snprintf(buf, sizeof buf, "%.0e", v);
  else {
    const int decimals = step >= 1 ? 0 : std::min(6, int(std::ceil(-std::log10(step) - 1e-9)));
    std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  }
  return buf;
}

void draw_panel(Canvas& cv, const PlotPanel& panel, int top, int height) {
  const int left = 70, right = cv.width - 20, plot_top = top + 28, plot_bottom = top + height - 36;
  cv.text(left, top + 10, panel.title, kInk);
  cv.text((left + right - text_width(panel.x_label)) / 2, plot_bottom + 22, panel.x_label, kInk);
  cv.text_vertical(8, (plot_top + plot_bottom + text_width(panel.y_label)) / 2, panel.y_label, kInk);

  // Data ranges over finite points (log scale: positive ones).
  auto ok = [&](double x, double y) { return std::isfinite(x) && std::isfinite(y) && (!panel.log_y || y > 0); };
  double x_lo = INFINITY, x_hi = -INFINITY, y_lo = INFINITY, y_hi = -INFINITY;
  for (const PlotSeries& s : panel.series)
    for (size_t i = 0; i < std::min(s.x.size(), s.y.size()); ++i)
      if (ok(s.x[i], s.y[i])) {
        x_lo = std::min(x_lo, s.x[i]), x_hi = std::max(x_hi, s.x[i]);
        const double y = panel.log_y ? std::log10(s.y[i]) : s.y[i];
        y_lo = std::min(y_lo, y), y_hi = std::max(y_hi, y);
      }
  cv.line(left, plot_top, right, plot_top, kFrame);
  cv.line(left, plot_bottom, right, plot_bottom, kFrame);
  cv.line(left, plot_top, left, plot_bottom, kFrame);
  cv.line(right, plot_top, right, plot_bottom, kFrame);
  if (!(x_lo <= x_hi)) {
    cv.text((left + right - text_width("no data")) / 2, (plot_top + plot_bottom) / 2, "no data", kFrame);
    return;
  }
  if (x_hi == x_lo) x_lo -= 1, x_hi += 1;
  if (y_hi == y_lo) y_lo -= 0.5, y_hi += 0.5;
  const double pad = 0.05 * (y_hi - y_lo);
  y_lo -= pad, y_hi += pad;
  auto px = [&](double x) { return left + int(std::lround((x - x_lo) / (x_hi - x_lo) * (right - left))); };
  auto py = [&](double y) {  // y already on the axis scale (log10 for log_y)
    return plot_bottom - int(std::lround((y - y_lo) / (y_hi - y_lo) * (plot_bottom - plot_top)));
  };

  // Grid and tick labels.
  const std::vector<double> xticks = nice_ticks(x_lo, x_hi, 8);
  const double xstep = xticks.size() > 1 ? xticks[1] - xticks[0] : 1;
  for (double t : xticks) {
    const int x = px(t);
    cv.line(x, plot_top + 1, x, plot_bottom - 1, kGrid);
    const std::string s = tick_label(t, xstep);
    cv.text(x - text_width(s) / 2, plot_bottom + 6, s, kInk);
  }
  std::vector<double> yticks;
  if (panel.log_y) {
    for (double d = std::floor(y_lo); d <= std::ceil(y_hi); d += 1)
      if (d >= y_lo && d <= y_hi) yticks.push_back(d);
    if (yticks.size() < 2) yticks = nice_ticks(y_lo, y_hi, 5);
  } else {
    yticks = nice_ticks(y_lo, y_hi, 6);
  }
  const double ystep = yticks.size() > 1 ? yticks[1] - yticks[0] : 1;
  for (double t : yticks) {
    const int y = py(t);
    cv.line(left + 1, y, right - 1, y, kGrid);
    const std::string s = panel.log_y ? tick_label(std::pow(10.0, t), std::pow(10.0, t)) : tick_label(t, ystep);
    cv.text(left - 6 - text_width(s), y - 3, s, kInk);
  }

  // Series, then the legend on top.
  for (const PlotSeries& s : panel.series) {
    bool have_prev = false;
    int prev_x = 0, prev_y = 0;
    for (size_t i = 0; i < std::min(s.x.size(), s.y.size()); ++i) {
      if (!ok(s.x[i], s.y[i])) {
        have_prev = false;  // a gap
        continue;
      }
      const int x = px(s.x[i]), y = py(panel.log_y ? std::log10(s.y[i]) : s.y[i]);
      if (have_prev) cv.line(prev_x, prev_y, x, y, s.color, 2);
      if (s.points) cv.fill(x - 2, y - 2, x + 2, y + 2, s.color);
      have_prev = true, prev_x = x, prev_y = y;
    }
  }
  int ly = plot_top + 8;
  for (const PlotSeries& s : panel.series) {
    const int lx = right - 12 - text_width(s.name) - 22;
    cv.fill(lx - 4, ly - 3, right - 6, ly + 9, kWhite);
    cv.fill(lx, ly + 2, lx + 14, ly + 4, s.color);
    cv.text(lx + 20, ly, s.name, kInk);
    ly += 14;
  }
}

}  // namespace

std::vector<double> nice_ticks(double lo, double hi, int count) {
  if (!(hi > lo) || count < 1) return {lo};
  const double raw = (hi - lo) / count;
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  double step = magnitude;
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (m * magnitude >= raw) {
      step = m * magnitude;
      break;
    }
  std::vector<double> ticks;
  for (double t = std::ceil(lo / step) * step; t <= hi + 1e-9 * step; t += step)
    ticks.push_back(std::abs(t) < 1e-12 * step ? 0.0 : t);
  return ticks;
}

std::vector<double> smooth_ema(const std::vector<double>& y, double weight) {
  std::vector<double> out(y.size(), NAN);
  double s = 0, norm = 0;
  for (size_t i = 0; i < y.size(); ++i) {
    if (!std::isfinite(y[i])) continue;
    s = weight * s + (1 - weight) * y[i];
    norm = weight * norm + (1 - weight);
    out[i] = s / norm;
  }
  return out;
}

std::vector<uint8_t> render_plot(const std::vector<PlotPanel>& panels, int width, int panel_height) {
  TV3S_CHECK(!panels.empty() && width >= 200 && panel_height >= 120,
             "plot: needs at least one panel of at least 200×120 pixels");
  const int height = panel_height * int(panels.size());
  std::vector<uint8_t> rgb(size_t(width) * size_t(height) * 3, 255);
  Canvas cv{width, height, rgb};
  for (size_t i = 0; i < panels.size(); ++i) draw_panel(cv, panels[i], int(i) * panel_height, panel_height);
  return rgb;
}

void write_plot_png(const std::string& path, const std::vector<PlotPanel>& panels, int width, int panel_height) {
  io::Image image;
  image.width = width, image.height = panel_height * int(panels.size());
  image.rgb = render_plot(panels, width, panel_height);
  io::write_png(path, image);  // atomic; errors name the path
}

}  // namespace tv3s::train
