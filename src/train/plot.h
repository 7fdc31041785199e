// Training curves as a PNG, drawn here (no plotting library): panels stacked vertically,
// each with a frame, light grid lines at "nice" 1-2-5 ticks, tick labels, a title and a
// legend, in the project's own 5×7 bitmap font (src/train/bitmap_font.h). NaN/Inf points
// leave a gap in a line.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace tv3s::train {

struct PlotSeries {
  std::string name;
  std::vector<double> x, y;
  std::array<uint8_t, 3> color{0, 0, 0};
  bool points = false;  // markers too (sparse series such as validation)
};

struct PlotPanel {
  std::string title, x_label, y_label;
  std::vector<PlotSeries> series;
  bool log_y = false;
};

// RGB, width × (panels · panel_height), row-major.
std::vector<uint8_t> render_plot(const std::vector<PlotPanel>& panels, int width, int panel_height);
// Writes the chart as a PNG, atomically; throws "<path>: ..." when it cannot.
void write_plot_png(const std::string& path, const std::vector<PlotPanel>& panels, int width = 900,
                    int panel_height = 320);

// Bias-corrected exponential moving average (TensorBoard's smoothing): s_i = w·s_{i−1} +
// (1 − w)·y_i, divided by 1 − w^(i+1). Non-finite values are skipped (output NaN there).
std::vector<double> smooth_ema(const std::vector<double>& y, double weight);

// Tick positions between lo and hi at a 1-2-5 step giving about `count` ticks.
std::vector<double> nice_ticks(double lo, double hi, int count);

}  // namespace tv3s::train
