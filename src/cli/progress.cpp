#include "src/cli/progress.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include "src/cli/args.h"

namespace tv3s::cli {

Progress::Progress(int64_t total, std::string unit, bool enabled)
    : total_(total), unit_(std::move(unit)), active_(enabled && isatty(STDERR_FILENO)),
      start_(std::chrono::steady_clock::now()), last_draw_(start_) {}

Progress::~Progress() { finish(); }

double Progress::seconds() const { return seconds_since(start_); }

void Progress::step(int64_t done) {
  done_ += done;
  draw(false);
}

void Progress::draw(bool force) {
  if (!active_) return;
  const auto now = std::chrono::steady_clock::now();
  if (!force && drawn_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  drawn_ = true;
  const double elapsed = seconds();
  const double rate = elapsed > 0 ? double(done_) / elapsed : 0;
  char line[160];
  if (total_ > 0) {
    constexpr int kWidth = 24;
    const int filled = int(kWidth * std::min<int64_t>(done_, total_) / total_);
    std::string bar(size_t(filled), '#');
    bar.resize(kWidth, '.');
    const int64_t eta = rate > 0 ? int64_t(double(total_ - done_) / rate + 0.5) : 0;
    std::snprintf(line, sizeof line, "\r[%s] %lld/%lld %s  %.1f FPS  ETA %lld:%02lld  ", bar.c_str(),
                  (long long)done_, (long long)total_, unit_.c_str(), rate, (long long)eta / 60,
                  (long long)eta % 60);
  } else {
    std::snprintf(line, sizeof line, "\r%lld %s  %.1f FPS  ", (long long)done_, unit_.c_str(), rate);
  }
  std::fputs(line, stderr);
  std::fflush(stderr);
}

void Progress::finish() {
  if (!active_ || !drawn_) return;
  draw(true);
  std::fputc('\n', stderr);
  active_ = false;
}

}  // namespace tv3s::cli
