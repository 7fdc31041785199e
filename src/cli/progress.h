// A one-line progress bar on stderr — only when stderr is a terminal, so pipes and logs
// stay clean ("quiet and machine-readable otherwise"). Redrawn at most 10 times a second.
//
//   [##########..........]  120/240 frames   8.3 FPS  ETA 0:14
//   412 frames   8.3 FPS                       (total unknown, e.g. a stream on stdin)
#pragma once
#include <chrono>
#include <cstdint>
#include <string>

namespace tv3s::cli {

class Progress {
 public:
  // total < 0: unknown. `enabled` false (or stderr not a terminal) makes every call a no-op.
  Progress(int64_t total, std::string unit, bool enabled = true);
  ~Progress();  // finish()
  void step(int64_t done = 1);
  void finish();  // ends the line

  double seconds() const;
  int64_t done() const { return done_; }

 private:
  void draw(bool force);
  int64_t total_, done_ = 0;
  std::string unit_;
  bool active_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace tv3s::cli
