// The training chart: `tv3s train` draws its loss and validation curves into a PNG beside
// its checkpoints, so that a run can be looked at without TensorBoard or Python. The chart
// is rasterised here, straight into an RGB buffer (anti-aliased lines, the bitmap font of
// bitmap_font.h), and written with the project's PNG writer. Panels are stacked top to
// bottom; each has a frame, light grid lines at "nice" ticks (1-2-5 steps, or decades on a
// log axis), tick labels, a title with the legend beside it, and axis labels.
#pragma once
#include <array>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace tv3s::train {

struct PlotSeries {
  std::string name;             // the legend entry (a series without a name has none)
  std::vector<double> x, y;     // the same length; a NaN/Inf in either leaves a gap
  std::array<uint8_t, 3> color{};
  bool points = false;          // a marker at every point (sparse series such as validation)
  bool lines = true;            // lines between neighbouring drawable points
  double line_width = 1.5;      // pixels, in [0.5, 8]
};

struct PlotPanel {
  std::string title, x_label, y_label;
  std::vector<PlotSeries> series;
  bool log_y = false;  // a log10 y axis; points with y ≤ 0 cannot be drawn there (a gap)
  // Where finite, the axis reaches at least this far beyond the data (e.g. x from 0 to the
  // last iteration of the run in every panel, so that the panels line up; y from 0 to 100
  // for percentages). Ignored for a panel without data, and y ≤ 0 on a log axis.
  double x_min = kNoLimit, x_max = kNoLimit, y_min = kNoLimit, y_max = kNoLimit;
  static constexpr double kNoLimit = std::numeric_limits<double>::quiet_NaN();
};

// Renders `panels` (width × panels.size()·panel_height) and writes the PNG atomically. All
// panels get the same left margin, so that their plot areas line up.
// Throws "<path>: ..." when it cannot (a bad panel, a folder that cannot be written).
void write_plot_png(const std::string& path, const std::vector<PlotPanel>& panels, int width = 900,
                    int panel_height = 320);

// The chart as an RGB buffer, height × width × 3 with height = panels.size()·panel_height.
// Checked: 1..16 panels, width in [160, 8192], panel_height in [100, 4096], x and y of a
// series of the same length, a line width in [0.5, 8] — else "plot: ...". A panel with
// nothing drawable says "no data".
std::vector<uint8_t> render_plot(const std::vector<PlotPanel>& panels, int width, int panel_height);

// Exponential moving average of a noisy curve, bias-corrected as TensorBoard's smoothing:
// s_n = m_n / (1 − weight^n) with m_n = weight·m_{n−1} + (1 − weight)·y_n, m_0 = 0, where n
// counts the finite values so far. A non-finite y gives a non-finite output (a gap) and
// is left out of the average. weight in [0, 1) (0: no smoothing), else "smooth_ema: ...".
std::vector<double> smooth_ema(const std::vector<double>& y, double weight);

// ---- the pieces, for tests ----------------------------------------------------------------

// The ticks of one axis. A linear axis spans [lo, hi], both multiples of `step`, and `values`
// are the multiples of `step` in between (ends included). A log axis spans whole decades,
// `values` are the labelled ticks and `minor` the 2..9 × 10^k lines between them.
struct AxisTicks {
  double lo = 0, hi = 1, step = 1;
  std::vector<double> values, minor;
  bool log = false;
};

// Nice linear ticks covering [lo, hi] (finite, either order), with a step of 1, 2 or 5 × 10^k
// chosen so that there are at most about `max_ticks` (≥ 2). A constant range (lo == hi) is
// widened to lo ± 10 % (± 1 around zero).
AxisTicks nice_ticks(double lo, double hi, int max_ticks = 6);
// Log ticks covering [lo, hi] (0 < lo ≤ hi): whole decades; 1, 2, 5 × 10^k labelled when the
// axis spans at most two decades, every decade (or every n-th, for many) otherwise.
AxisTicks log_ticks(double lo, double hi);
// A tick label: as many decimals as `step` needs ("0.25" is never a tick; "0.2", "15", "-5"),
// "1e-4"/"2.5e-5" style for steps below 1e-3 or of 1e6 and more.
std::string format_tick(double value, double step);
// A log tick label: "0.01", "1", "100", "1e-5", "1e+6" style beyond that.
std::string format_log_tick(double value);

// Where a panel's plot area lies (pixels, in the panel's own frame: its top row is 0; the
// frame lines are the rows `top` and `bottom` and the columns `left` and `right`) and how
// data maps onto it. x_to_px/y_to_px give continuous pixel coordinates, pixel (i, j)
// covering [i, i+1) × [j, j+1): the axis ends map to the centres of the frame lines.
// `left` is at least `min_left` (render_plot passes the widest margin of its panels).
struct PanelLayout {
  int left = 0, top = 0, right = 0, bottom = 0;
  AxisTicks x, y;
  bool has_data = false;
  double x_to_px(double x) const;
  double y_to_px(double y) const;
};
PanelLayout layout_panel(const PlotPanel& panel, int width, int panel_height, int min_left = 0);

}  // namespace tv3s::train
