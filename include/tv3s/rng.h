// A small deterministic random generator (xoshiro256**, seeded by splitmix64), so
// initialisations, tests and data are reproducible bit for bit on every platform.
#pragma once
#include <cmath>
#include <cstdint>

namespace tv3s {

class Rng {
 public:
  explicit Rng(uint64_t seed = 0x7f4a7c15ULL) { seed_with(seed); }

  void seed_with(uint64_t seed) {
    for (auto& word : s_) {  // splitmix64 expands the seed into the 256-bit state
      seed += 0x9e3779b97f4a7c15ULL;
      uint64_t z = seed;
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
      word = z ^ (z >> 31);
    }
  }

  uint64_t next_u64() {
    const uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }

  double uniform() { return double(next_u64() >> 11) * 0x1.0p-53; }  // [0, 1)
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  int64_t uniform_int(int64_t n) { return int64_t(uniform() * double(n)); }  // [0, n)
  double normal() {  // Box–Muller; one value per call keeps the stream simple
    const double u1 = 1.0 - uniform();  // (0, 1]
    const double u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }

  // Full state, for checkpoints.
  void save(uint64_t out[4]) const { for (int i = 0; i < 4; ++i) out[i] = s_[i]; }
  void load(const uint64_t in[4]) { for (int i = 0; i < 4; ++i) s_[i] = in[i]; }

 private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
};

}  // namespace tv3s
