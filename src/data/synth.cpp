// The synthetic video dataset of `tv3s synth`: what a scene is made of, how it moves,
// how it is drawn, and how a dataset is written in VSPW layout.
//
// The scene. A camera pans (a slow drift plus a sway) over an endless 2-D world whose
// ground is two background classes, `ground` (brown, mottled, static grain) and `water`
// (blue, ripples that drift over time), laid out as large blobs by coarse value noise.
// Over it move textured objects of seven classes, each living in a "slot": an object
// enters from outside the view (or starts inside at frame 0), crosses it in a straight
// line at its own speed, leaves, and after a pause the slot spawns a new object whose
// class comes from a shuffled deck (so all classes turn up evenly). Objects have random
// depths and occlude each other and the grey debris object, a label-0 ("others") blob that
// also wanders through, so masks contain ignored pixels.
//
//   class          look                                   told apart from its twin by
//   dotted_disc    red disc, dark dots                    fine texture (dots)
//   striped_disc   same red disc, dark diagonal stripes   fine texture (stripes)
//   box            yellow square, checker                 —  (looks exactly like beacon)
//   beacon         the same yellow square, but it turns magenta for 3 frames every 8
//   triangle       green triangle, stripes, fixed angle   motion: it does not turn
//   spinner        the same green triangle, turning 8–15° per frame
//   ring           purple annulus (background shows in its hole)
//
// Frames are then degraded: a slow lighting and colour drift, mild noise, and every ~10
// frames a 1–2 frame event — a lighting dip (to ~20 % brightness), heavy noise (±70–100)
// or motion blur (7–12 px) — that wipes out the fine textures.
//
// Why temporal context helps (the point of the dataset). A single clean frame is mostly
// segmentable: backgrounds by colour, rings, discs, squares and triangles by shape and
// colour, dotted vs striped discs by texture. But
//  - beacon vs box: identical on 5 frames out of 8; a per-frame model can only guess,
//    while a model that remembers a flash at that place in the last few frames knows;
//    (the clip offsets −9, −6, −3, 0 always include a flash frame: any 3 consecutive
//    residues mod 8 hit one of {t−9, t−6, t−3, t});
//  - spinner vs triangle: identical in every single frame; only the change of angle
//    between frames tells them apart;
//  - dotted vs striped disc, and the backgrounds' textures, are unreadable on dip, noise
//    and blur frames, where the previous clean frames still know;
//  - objects keep their class for life and move slowly (0.4–1.8 px per frame at 128 px,
//    camera mostly under 1 px), so the past of a pixel's neighbourhood is the same object.
// A per-frame model therefore flickers between twins (low mVC) and loses IoU on them.
//
// Sizes. Everything is laid out on a reference frame whose short side is 128 px and
// scaled to the requested size (objects 8–16 reference px in radius); below 64 px the
// scale stops shrinking so that textures keep ≥ 3 px periods (frames ≥ 32×32).
//
// Determinism. Every number that decides a pixel or a label is an integer: positions in
// 1/256 px (Q8), angles in 1/16 degree with an integer sine (Bhaskara's formula), random
// draws from xoshiro256** (tv3s/rng.h) mapped to ranges with integer multiplies, texture
// noise from integer hashes. So -march, FMA contraction and libm cannot change a pixel;
// masks and PNG frames are byte-identical on every machine. JPEG frames go through
// libjpeg-turbo's encoder (io::write_jpeg: its integer ISLOW DCT, whose SIMD and C code
// give the same bytes), so no compiler flag changes them; they stay tied to the
// libjpeg-turbo version, as any encoder's output is.
#include "src/data/synth.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>

#include "src/io/atomic_file.h"
#include "tv3s/error.h"
#include "tv3s/rng.h"
#include "tv3s/tensor.h"

namespace tv3s::data {
namespace {

namespace fs = std::filesystem;

// Train ids. The raw mask value is id + 1.
enum ClassId : int {
  kGround, kWater, kDottedDisc, kStripedDisc, kBox, kBeacon, kTriangle, kSpinner, kRing, kClassCount
};
constexpr int kDebris = -1;  // the "others" object (raw mask value 0)
constexpr int kShapeClasses[] = {kDottedDisc, kStripedDisc, kBox, kBeacon, kTriangle, kSpinner, kRing};

// ---- integer helpers ---------------------------------------------------------------------

uint64_t mix64(uint64_t z) {  // splitmix64's finaliser: a good 64-bit hash
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// A hash of two integers under `key` (one mix: plenty for texture noise).
uint64_t hash2(int64_t a, int64_t b, uint64_t key) {
  return mix64((uint64_t(a) * 0x9e3779b97f4a7c15ULL) ^ (uint64_t(b) * 0xc2b2ae3d27d4eb4fULL + key));
}

int64_t floor_div(int64_t a, int64_t b) {  // b > 0
  const int64_t q = a / b;
  return (a % b != 0 && a < 0) ? q - 1 : q;
}
int64_t floor_mod(int64_t a, int64_t b) { return a - floor_div(a, b) * b; }

// sin of an angle given in 1/16 degree, times 2^14 (Bhaskara I's rational approximation,
// |error| < 0.002 — plenty for drawing, and exact integer arithmetic everywhere).
constexpr int64_t kFullTurn = 360 * 16;
int64_t sin_q14(int64_t angle) {
  int64_t a = floor_mod(angle, kFullTurn);
  int64_t sign = 1;
  if (a >= kFullTurn / 2) a -= kFullTurn / 2, sign = -1;
  const int64_t p = a * (kFullTurn / 2 - a);  // θ(180 − θ) × 256 with θ in degrees
  return sign * (4 * p * 16384) / (40500 * 256 - p);
}
int64_t cos_q14(int64_t angle) { return sin_q14(angle + kFullTurn / 4); }

int64_t isqrt(int64_t v) {  // floor(sqrt(v)) for v ≥ 0, bit by bit
  uint64_t x = uint64_t(v), root = 0, bit = uint64_t(1) << 62;
  while (bit > x) bit >>= 2;
  while (bit != 0) {
    if (x >= root + bit) x -= root + bit, root = (root >> 1) + bit;
    else root >>= 1;
    bit >>= 2;
  }
  return int64_t(root);
}

int clamp_byte(int64_t v) { return int(std::min<int64_t>(255, std::max<int64_t>(0, v))); }

// Random draws as integers only (never std::uniform_*_distribution, whose results differ
// between standard libraries, nor doubles).
class Draw {
 public:
  explicit Draw(uint64_t seed) : rng_(seed) {}
  int64_t below(int64_t n) {  // [0, n), 1 ≤ n < 2^32: the high 32 bits scaled by n
    return int64_t(((rng_.next_u64() >> 32) * uint64_t(n)) >> 32);
  }
  int64_t between(int64_t lo, int64_t hi) { return lo + below(hi - lo + 1); }  // [lo, hi]
  bool chance(int64_t num, int64_t den) { return below(den) < num; }
  uint64_t bits() { return rng_.next_u64(); }

 private:
  Rng rng_;
};

// Smooth value noise in 0..255: random bytes on a lattice of `cell` (Q8 px), blended with
// a smoothstep in fixed point.
int value_noise(int64_t x, int64_t y, int64_t cell, uint64_t key) {
  const int64_t ix = floor_div(x, cell), iy = floor_div(y, cell);
  const int64_t fx = (x - ix * cell) * 256 / cell, fy = (y - iy * cell) * 256 / cell;  // 0..255
  const int64_t sx = fx * fx * (768 - 2 * fx) >> 16, sy = fy * fy * (768 - 2 * fy) >> 16;
  const auto at = [&](int64_t i, int64_t j) { return int64_t(hash2(i, j, key) & 255); };
  const int64_t top = at(ix, iy) * 256 + (at(ix + 1, iy) - at(ix, iy)) * sx;
  const int64_t bottom = at(ix, iy + 1) * 256 + (at(ix + 1, iy + 1) - at(ix, iy + 1)) * sx;
  return int((top * 256 + (bottom - top) * sy) >> 16);
}

// ---- the classes --------------------------------------------------------------------------

const char* const kClassNames[kClassCount] = {"ground", "water",    "dotted_disc", "striped_disc", "box",
                                              "beacon", "triangle", "spinner",     "ring"};
// Display colours (classes.json, the mask PNGs' palette), not the rendered ones.
const std::array<uint8_t, 3> kClassColours[kClassCount] = {
    {140, 110, 60}, {40, 100, 210}, {220, 50, 50},  {255, 150, 40}, {230, 220, 40},
    {255, 60, 230}, {40, 190, 90},  {0, 250, 200},  {150, 80, 230}};

struct Rgb {
  int64_t r, g, b;
};
// Rendered base colours; twins share theirs.
Rgb base_colour(int kind) {
  switch (kind) {
    case kDottedDisc: case kStripedDisc: return {206, 78, 62};
    case kBox: case kBeacon: return {214, 188, 72};
    case kTriangle: case kSpinner: return {78, 196, 120};
    case kRing: return {150, 92, 210};
    default: return {128, 128, 128};  // debris
  }
}
constexpr Rgb kBeaconFlash = {250, 80, 235};
constexpr int kBeaconPeriod = 8, kBeaconOn = 3;

// ---- the scene ----------------------------------------------------------------------------

struct Thing {
  int kind = kDebris;           // a ClassId, or kDebris
  int64_t x = 0, y = 0;         // centre in world coordinates, Q8 px
  int64_t vx = 0, vy = 0;       // Q8 px per frame
  int64_t radius = 0;           // Q8 px
  int64_t angle = 0, spin = 0;  // 1/16 degree; spin per frame (spinners only)
  int64_t depth = 0;            // larger is nearer
  Rgb colour{};                 // base colour with this object's jitter
  int64_t flash_phase = 0;      // beacons
  int64_t lobe_x[2] = {0, 0}, lobe_y[2] = {0, 0};  // debris: offsets of its two side lobes
  uint64_t texture_key = 0;
  int64_t reach() const { return radius * 3 / 2; }  // half-size of a box around every shape
};

struct Slot {
  bool debris = false;  // this slot only ever holds debris
  bool active = false;
  int64_t wait = 0;     // frames until the next object enters
  Thing thing;
};

enum class Event { none, dip, noise, blur };

}  // namespace

struct SynthVideo::Scene {
  int width = 0, height = 0;
  int64_t frames = 0;
  int64_t unit = 0;  // Q8 px per reference px
  Draw life{0}, events{0}, numbering{0};
  uint64_t world_key = 0;
  // camera: position(t) = start + drift·t + sway·sin(sway_phase + sway_step·t)
  int64_t cam_x0 = 0, cam_y0 = 0, drift_x = 0, drift_y = 0, sway_x = 0, sway_y = 0;
  int64_t sway_step = 0, sway_phase_x = 0, sway_phase_y = 0;
  int64_t light_phase = 0, light_step = 0, tint_phase[3] = {0, 0, 0};
  std::vector<Slot> slots;
  std::vector<int> deck;  // classes still to hand out before reshuffling
  int64_t t = 0, number = 0;
  Event event = Event::none;
  int64_t event_left = 0, cooldown = 0, blur_length = 0, dip_gain = 0, noise_amplitude = 0;
  bool blur_vertical = false;

  // A length given in 1/16 reference px, in Q8 px of this video.
  int64_t ref(int64_t sixteenths) const { return sixteenths * unit / 16; }
  int64_t view_w() const { return int64_t(width) * 256; }
  int64_t view_h() const { return int64_t(height) * 256; }

  void camera(int64_t time, int64_t& cx, int64_t& cy) const {
    cx = cam_x0 + drift_x * time + sway_x * sin_q14(sway_phase_x + sway_step * time) / 16384;
    cy = cam_y0 + drift_y * time + sway_y * sin_q14(sway_phase_y + sway_step * time) / 16384;
  }

  int next_class() {
    if (deck.empty()) {
      deck.assign(std::begin(kShapeClasses), std::end(kShapeClasses));
      for (size_t i = deck.size() - 1; i > 0; --i)  // Fisher–Yates
        std::swap(deck[i], deck[size_t(life.below(int64_t(i) + 1))]);
    }
    const int kind = deck.back();
    deck.pop_back();
    return kind;
  }

  Thing make_thing(int kind) {
    Thing th;
    th.kind = kind;
    th.radius = kind == kDebris ? ref(life.between(12 * 16, 18 * 16)) : ref(life.between(8 * 16, 16 * 16));
    const Rgb base = base_colour(kind);
    const int64_t bright = life.between(-12, 12);
    th.colour = {base.r + bright + life.between(-18, 18), base.g + bright + life.between(-18, 18),
                 base.b + bright + life.between(-18, 18)};
    th.angle = life.below(kFullTurn);
    const int64_t spin = life.between(8 * 16, 15 * 16);
    th.spin = kind == kSpinner ? (life.chance(1, 2) ? spin : -spin) : 0;
    th.depth = life.below(1000);
    th.flash_phase = life.below(kBeaconPeriod);
    const int64_t lobe_angle = life.below(kFullTurn), lobe_gap = life.between(kFullTurn / 4, kFullTurn / 2);
    for (int k = 0; k < 2; ++k) {
      const int64_t a = lobe_angle + k * lobe_gap;
      th.lobe_x[k] = th.radius * 11 / 20 * cos_q14(a) / 16384;
      th.lobe_y[k] = th.radius * 11 / 20 * sin_q14(a) / 16384;
    }
    th.texture_key = life.bits();
    return th;
  }

  // Heads for a random point in the middle three fifths of the view.
  void aim(Thing& th, int64_t cx, int64_t cy) {
    const int64_t tx = cx + view_w() / 5 + life.below(view_w() * 3 / 5);
    const int64_t ty = cy + view_h() / 5 + life.below(view_h() * 3 / 5);
    const int64_t speed = ref(life.between(7, 29));  // 0.44..1.8 reference px per frame
    const int64_t dx = tx - th.x, dy = ty - th.y, length = isqrt(dx * dx + dy * dy);
    th.vx = length > 0 ? dx * speed / length : speed;
    th.vy = length > 0 ? dy * speed / length : 0;
  }

  void spawn_inside(Slot& slot, int64_t cx, int64_t cy) {
    slot.thing = make_thing(slot.debris ? kDebris : next_class());
    slot.thing.x = cx + life.below(view_w());
    slot.thing.y = cy + life.below(view_h());
    aim(slot.thing, cx, cy);
    slot.active = true;
  }

  // Enters across a random edge, a sliver of it already in view.
  void spawn_at_edge(Slot& slot, int64_t cx, int64_t cy) {
    Thing th = make_thing(slot.debris ? kDebris : next_class());
    const int64_t edge = life.below(4), out = th.reach() / 2;
    const int64_t along_x = cx + life.below(view_w()), along_y = cy + life.below(view_h());
    switch (edge) {
      case 0: th.x = cx - out, th.y = along_y; break;
      case 1: th.x = cx + view_w() + out, th.y = along_y; break;
      case 2: th.x = along_x, th.y = cy - out; break;
      default: th.x = along_x, th.y = cy + view_h() + out; break;
    }
    aim(th, cx, cy);
    slot.thing = th;
    slot.active = true;
  }

  bool out_of_view(const Thing& th, int64_t cx, int64_t cy) const {
    const int64_t r = th.reach();
    return th.x + r < cx || th.x - r > cx + view_w() || th.y + r < cy || th.y - r > cy + view_h();
  }

  // Moves every object one frame on; objects that left the view free their slot, and
  // slots whose pause is over spawn a new object.
  void advance(int64_t cx, int64_t cy) {
    for (Slot& slot : slots) {
      if (slot.active) {
        Thing& th = slot.thing;
        th.x += th.vx, th.y += th.vy, th.angle += th.spin;
        if (out_of_view(th, cx, cy)) slot.active = false, slot.wait = life.between(1, 10);
      } else if (--slot.wait <= 0) {
        spawn_at_edge(slot, cx, cy);
      }
    }
  }

  // Starts, continues or ends a degradation event for frame t.
  void update_event() {
    if (event_left == 0) {
      event = Event::none;
      if (cooldown > 0) {
        --cooldown;
      } else if (t >= 2 && events.chance(3, 20)) {
        const int64_t kind = events.below(3);
        event = kind == 0 ? Event::dip : kind == 1 ? Event::noise : Event::blur;
        event_left = events.between(1, 2);
        cooldown = 5;
        dip_gain = events.between(40, 70);
        noise_amplitude = events.between(70, 100);
        blur_length = std::max<int64_t>(3, ref(events.between(7 * 16, 12 * 16)) / 256) | 1;
        blur_vertical = events.chance(1, 3);
      }
    }
  }
};

namespace {

using Scene = SynthVideo::Scene;

// The background at world point (wx, wy) (Q8): class and colour.
int background(const Scene& s, int64_t wx, int64_t wy, Rgb& rgb) {
  const uint64_t key = s.world_key;
  const int map =
      (2 * value_noise(wx, wy, s.ref(56 * 16), key ^ 1) + value_noise(wx, wy, s.ref(23 * 16), key ^ 2)) / 3;
  if (map >= 128) {
    const int64_t patches = value_noise(wx, wy, s.ref(9 * 16), key ^ 3) - 128;
    const int64_t grain = int64_t(hash2(floor_div(wx, 256), floor_div(wy, 256), key ^ 4) & 31) - 16;
    rgb = {120 + patches * 45 / 128 + grain, 102 + patches * 30 / 128 + grain,
           60 + patches * 15 / 128 + grain / 2};
    return kGround;
  }
  // Ripples: a triangle wave across y, bent by noise, drifting 0.3 reference px a frame.
  const int64_t bend = value_noise(wx, wy, s.ref(14 * 16), key ^ 5) * s.unit * 6 / 256;
  const int64_t period = s.ref(7 * 16);
  const int64_t phase = floor_mod(wy + bend + s.t * s.ref(5), period) * 512 / period;  // 0..511
  const int64_t wave = phase < 256 ? phase : 511 - phase;
  rgb = {40 + wave * 20 / 256, 84 + wave * 30 / 256, 150 + wave * 40 / 256};
  return kWater;
}

Rgb scaled(const Rgb& c, int64_t q8) { return {c.r * q8 / 256, c.g * q8 / 256, c.b * q8 / 256}; }
Rgb shifted(const Rgb& c, int64_t d) { return {c.r + d, c.g + d, c.b + d}; }

// Whether `th` covers the point (dx, dy) from its centre (Q8), and its colour there.
bool cover(const Scene& s, const Thing& th, int64_t dx, int64_t dy, Rgb& rgb) {
  const int64_t r = th.radius, d2 = dx * dx + dy * dy;
  switch (th.kind) {
    case kDottedDisc: case kStripedDisc: {
      if (d2 > r * r) return false;
      const int64_t period = std::max<int64_t>(s.ref(6 * 16), 3 * 256);
      bool dark;
      if (th.kind == kDottedDisc) {
        const int64_t ox = floor_mod(dx, period) - period / 2, oy = floor_mod(dy, period) - period / 2;
        dark = ox * ox + oy * oy <= (period * 3 / 10) * (period * 3 / 10);  // 28 % of the area
      } else {
        dark = floor_mod(dx + dy, period) < period * 32 / 100;  // 32 %: the same mean colour
      }
      rgb = dark ? scaled(th.colour, 140) : th.colour;
      return true;
    }
    case kBox: case kBeacon: {
      const int64_t half = r * 7 / 8;
      if (dx < -half || dx > half || dy < -half || dy > half) return false;
      const int64_t cell = std::max<int64_t>(s.ref(4 * 16), 2 * 256);
      const bool odd = ((floor_div(dx, cell) + floor_div(dy, cell)) & 1) != 0;
      const bool flash = th.kind == kBeacon && floor_mod(s.t + th.flash_phase, kBeaconPeriod) < kBeaconOn;
      rgb = shifted(flash ? kBeaconFlash : th.colour, odd ? 24 : -24);
      return true;
    }
    case kTriangle: case kSpinner: {
      const int64_t R = r * 3 / 2;  // circumradius: about the area of the disc
      int64_t vx[3], vy[3];
      for (int k = 0; k < 3; ++k) {
        vx[k] = R * cos_q14(th.angle + k * kFullTurn / 3) / 16384;
        vy[k] = R * sin_q14(th.angle + k * kFullTurn / 3) / 16384;
      }
      int positive = 0, negative = 0;
      for (int k = 0; k < 3; ++k) {
        const int j = (k + 1) % 3;
        const int64_t edge = (vx[j] - vx[k]) * (dy - vy[k]) - (vy[j] - vy[k]) * (dx - vx[k]);
        positive += edge >= 0, negative += edge <= 0;
      }
      if (positive != 3 && negative != 3) return false;
      // Stripes in the triangle's own frame: they turn with a spinner.
      const int64_t across = floor_div(-dx * sin_q14(th.angle) + dy * cos_q14(th.angle), 16384);
      const int64_t period = std::max<int64_t>(s.ref(5 * 16), 3 * 256);
      rgb = shifted(th.colour, floor_mod(across, period) < period / 2 ? 36 : 0);
      return true;
    }
    case kRing: {
      const int64_t inner = r * 45 / 100;
      if (d2 > r * r || d2 <= inner * inner) return false;
      rgb = shifted(th.colour, (isqrt(d2) - inner) * 48 / (r - inner) - 24);  // lighter outside
      return true;
    }
    default: {  // debris: a blob of three discs, grey with a coarse noise
      const int64_t core = r * 3 / 4, lobe = r / 2;
      bool inside = d2 <= core * core;
      for (int k = 0; k < 2 && !inside; ++k) {
        const int64_t ex = dx - th.lobe_x[k], ey = dy - th.lobe_y[k];
        inside = ex * ex + ey * ey <= lobe * lobe;
      }
      if (!inside) return false;
      rgb = shifted(th.colour, (value_noise(dx, dy, s.ref(3 * 16), th.texture_key) - 128) * 40 / 128);
      return true;
    }
  }
}

// Box blur of length n (odd) along x or y, in place on an H×W×3 int buffer.
void blur(std::vector<int64_t>& px, int width, int height, int64_t n, bool vertical) {
  const int64_t half = n / 2;
  const int64_t len = vertical ? height : width, lines = vertical ? width : height;
  const int64_t step = vertical ? int64_t(width) * 3 : 3;
  std::vector<int64_t> line(size_t(len) * 3);
  for (int64_t l = 0; l < lines; ++l) {
    int64_t* base = px.data() + (vertical ? l * 3 : l * int64_t(width) * 3);
    for (int64_t i = 0; i < len * 3; ++i) line[size_t(i)] = base[(i / 3) * step + i % 3];
    for (int64_t i = 0; i < len; ++i)
      for (int c = 0; c < 3; ++c) {
        int64_t sum = 0;
        for (int64_t k = -half; k <= half; ++k)
          sum += line[size_t(std::clamp<int64_t>(i + k, 0, len - 1) * 3 + c)];
        base[i * step + c] = sum / n;
      }
  }
}

SynthFrame render(Scene& s) {
  const int W = s.width, H = s.height;
  int64_t cx = 0, cy = 0;
  s.camera(s.t, cx, cy);
  SynthFrame frame;
  frame.number = s.number;
  frame.mask.assign(size_t(W) * size_t(H), 0);
  std::vector<int64_t> px(size_t(W) * size_t(H) * 3);

  // Background at every pixel centre. (Serial: the dataset writer runs one video per
  // thread, and fine-grained threads per frame were slower on a loaded 2-core machine.)
  for (int y = 0; y < H; ++y)
    for (int x = 0; x < W; ++x) {
      Rgb rgb;
      const size_t i = size_t(y) * size_t(W) + size_t(x);
      frame.mask[i] = uint8_t(background(s, cx + x * 256 + 128, cy + y * 256 + 128, rgb) + 1);
      px[3 * i] = rgb.r, px[3 * i + 1] = rgb.g, px[3 * i + 2] = rgb.b;
    }

  // Objects far to near (depth, then slot order: a total order, so the result is fixed).
  std::vector<const Slot*> order;
  for (const Slot& slot : s.slots)
    if (slot.active) order.push_back(&slot);
  std::sort(order.begin(), order.end(), [&](const Slot* a, const Slot* b) {
    return a->thing.depth != b->thing.depth ? a->thing.depth < b->thing.depth : a < b;
  });
  for (const Slot* slot : order) {
    const Thing& th = slot->thing;
    const int64_t reach = th.reach();
    const int64_t x0 = std::max<int64_t>(0, floor_div(th.x - reach - cx, 256));
    const int64_t x1 = std::min<int64_t>(W - 1, floor_div(th.x + reach - cx, 256));
    const int64_t y0 = std::max<int64_t>(0, floor_div(th.y - reach - cy, 256));
    const int64_t y1 = std::min<int64_t>(H - 1, floor_div(th.y + reach - cy, 256));
    for (int64_t y = y0; y <= y1; ++y)
      for (int64_t x = x0; x <= x1; ++x) {
        Rgb rgb;
        if (!cover(s, th, cx + x * 256 + 128 - th.x, cy + y * 256 + 128 - th.y, rgb)) continue;
        const size_t i = size_t(y) * size_t(W) + size_t(x);
        frame.mask[i] = th.kind == kDebris ? kSynthOthers : uint8_t(th.kind + 1);
        px[3 * i] = rgb.r, px[3 * i + 1] = rgb.g, px[3 * i + 2] = rgb.b;
      }
  }

  // The camera: blur, lighting (a slow drift and tint, or a dip), noise.
  if (s.event == Event::blur) blur(px, W, H, s.blur_length, s.blur_vertical);
  const int64_t drift_gain = 236 + 30 * sin_q14(s.light_phase + s.light_step * s.t) / 16384;
  const int64_t gain = s.event == Event::dip ? s.dip_gain : drift_gain;
  int64_t channel_gain[3];
  for (int c = 0; c < 3; ++c)
    channel_gain[c] = gain * (256 + 14 * sin_q14(s.tint_phase[c] + s.light_step * s.t / 2) / 16384) / 256;
  const int64_t amplitude = s.event == Event::noise ? s.noise_amplitude : 6;
  frame.image.width = W, frame.image.height = H;
  frame.image.rgb.resize(px.size());
  for (size_t i = 0; i < px.size(); ++i) {
    const int64_t noise = (int64_t(hash2(int64_t(i), s.t, s.world_key ^ 7) & 255) - 128) * amplitude / 128;
    frame.image.rgb[i] = uint8_t(clamp_byte((px[i] * channel_gain[i % 3] + 128) / 256 + noise));
  }
  return frame;
}

}  // namespace

// ---- SynthVideo ---------------------------------------------------------------------------

SynthVideo::SynthVideo(const SynthOptions& options, int64_t video_index)
    : scene_(std::make_unique<Scene>()) {
  SynthOptions one_video = options;  // the video counts do not matter here
  one_video.train_videos = 1, one_video.val_videos = one_video.test_videos = 0;
  const std::string problem = synth_options_problem(one_video);
  TV3S_CHECK(problem.empty(), "synth: ", problem);
  Scene& s = *scene_;
  s.width = options.width, s.height = options.height, s.frames = options.frames;
  s.unit = int64_t(std::max(std::min(options.width, options.height), 64)) * 2;
  // Independent streams per purpose, so that e.g. an extra event draw cannot shift the
  // objects of later frames.
  Draw seeds(mix64(options.seed ^ mix64(0x5eed5eed00000000ULL + uint64_t(video_index))));
  s.life = Draw(seeds.bits()), s.events = Draw(seeds.bits()), s.numbering = Draw(seeds.bits());
  s.world_key = seeds.bits();

  Draw& d = s.life;
  s.cam_x0 = (4096 + d.below(65536)) * 256, s.cam_y0 = (4096 + d.below(65536)) * 256;
  s.drift_x = s.ref(d.between(-10, 10)), s.drift_y = s.ref(d.between(-10, 10));
  // Sway of up to 6 px over 32–80 frames: at most ~1.2 px per frame, like the drift.
  s.sway_x = s.ref(d.between(0, 6 * 16)), s.sway_y = s.ref(d.between(0, 4 * 16));
  s.sway_step = kFullTurn / d.between(32, 80);
  s.sway_phase_x = d.below(kFullTurn), s.sway_phase_y = d.below(kFullTurn);
  s.light_phase = d.below(kFullTurn), s.light_step = kFullTurn / d.between(20, 60);
  for (int64_t& phase : s.tint_phase) phase = d.below(kFullTurn);

  // About 8 objects on a 128×128 reference frame, more on larger frames; plus debris.
  const int64_t reference_area = int64_t(s.width) * s.height * 65536 / (s.unit * s.unit);
  const int64_t objects = std::clamp<int64_t>((8 * reference_area + 8192) / 16384, 2, 32);
  s.slots.resize(size_t(objects) + 1);
  s.slots.back().debris = true;
  int64_t cx = 0, cy = 0;
  s.camera(0, cx, cy);
  for (Slot& slot : s.slots) {
    if (d.chance(slot.debris ? 1 : 3, slot.debris ? 2 : 4)) s.spawn_inside(slot, cx, cy);
    else slot.wait = d.between(1, slot.debris ? 20 : 10);
  }
  s.number = s.numbering.below(500);
}

SynthVideo::~SynthVideo() = default;
SynthVideo::SynthVideo(SynthVideo&&) noexcept = default;
SynthVideo& SynthVideo::operator=(SynthVideo&&) noexcept = default;

bool SynthVideo::done() const { return scene_->t >= scene_->frames; }

SynthFrame SynthVideo::next() {
  Scene& s = *scene_;
  TV3S_CHECK(!done(), "synth: the video has only ", s.frames, " frames");
  if (s.t > 0) {
    int64_t cx = 0, cy = 0;
    s.camera(s.t, cx, cy);
    s.advance(cx, cy);
    s.number += s.numbering.chance(1, 8) ? 2 : 1;  // numbers skip now and then, as in VSPW
  }
  s.update_event();
  SynthFrame frame = render(s);
  if (s.event != Event::none) --s.event_left;
  ++s.t;
  return frame;
}

std::vector<SynthFrame> render_synth_video(const SynthOptions& options, int64_t video_index) {
  SynthVideo video(options, video_index);
  std::vector<SynthFrame> frames;
  while (!video.done()) frames.push_back(video.next());
  return frames;
}

// ---- options, classes, names --------------------------------------------------------------

std::string synth_options_problem(const SynthOptions& o) {
  const auto side_ok = [](int side) { return side >= kSynthMinSide && side <= kSynthMaxSide; };
  if (!side_ok(o.width) || !side_ok(o.height))
    return str("frame size ", o.width, "x", o.height, ": must be ", kSynthMinSide, "x", kSynthMinSide,
               " to ", kSynthMaxSide, "x", kSynthMaxSide, " pixels, so that the shapes fit");
  if (o.frames < 1 || o.frames > kSynthMaxFrames)
    return str("frames per video must be 1 to ", kSynthMaxFrames, ", got ", o.frames);
  for (const int64_t n : {o.train_videos, o.val_videos, o.test_videos})
    if (n < 0 || n > kSynthMaxVideos)
      return str("videos per split must be 0 to ", kSynthMaxVideos, ", got ", n);
  if (o.train_videos + o.val_videos + o.test_videos == 0)
    return "no videos to make: train, val and test counts are all 0";
  if (o.jpeg_quality < 1 || o.jpeg_quality > 100)
    return str("JPEG quality must be 1 to 100, got ", o.jpeg_quality);
  return "";
}

const ClassTable& synth_classes() {
  static const ClassTable table = [] {
    ClassTable t;
    t.dataset = "synth";
    for (int c = 0; c < kClassCount; ++c) {
      t.names.push_back(kClassNames[c]);
      t.palette.push_back(kClassColours[c]);
    }
    return t;
  }();
  return table;
}

std::string synth_video_name(int64_t index, int64_t total_videos) {
  int digits = 1;
  for (int64_t v = std::max<int64_t>(total_videos - 1, 0); v >= 10; v /= 10) ++digits;
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%0*lld_synth", std::max(digits, 3), (long long)index);
  return buffer;
}

// ---- writing the dataset ------------------------------------------------------------------

namespace {

const char* const kSplitNames[3] = {"train", "val", "test"};
const char* const kDatasetFiles[] = {"train.txt", "val.txt", "test.txt", "classes.json", "data"};

void remove_path(const fs::path& path) {
  std::error_code ec;
  fs::remove_all(path, ec);
  TV3S_CHECK(!ec, path.string(), ": cannot remove it (", ec.message(), ")");
}

// Creates `path` (and missing parents), remembering the outermost folder it created so
// that a failed run can take it away again.
void make_folder(const fs::path& path, std::vector<fs::path>& created) {
  std::error_code ec;
  fs::path outermost;
  for (fs::path p = path; !p.empty() && !fs::exists(p, ec); p = p.parent_path()) {
    outermost = p;
    if (p == p.parent_path()) break;
  }
  fs::create_directories(path, ec);
  if (ec || !fs::is_directory(path))
    fail(str(path.string(), ": cannot create the folder (", ec ? ec.message() : "a file is in the way",
             ")"));
  if (!outermost.empty()) created.push_back(outermost);
}

// Refuses a folder that holds anything unless `force`.
void check_output_folder(const fs::path& root, bool force) {
  std::error_code ec;
  if (!fs::exists(root, ec)) return;
  TV3S_CHECK(fs::is_directory(root, ec), root.string(), ": exists and is not a folder");
  if (force) return;
  for (const char* name : kDatasetFiles)
    TV3S_CHECK(!fs::exists(root / name, ec), root.string(), ": already holds a dataset (", name,
               "); --force replaces it");
  std::string first;
  int64_t count = 0;
  for (fs::directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (count++ == 0 || name < first) first = name;
  }
  TV3S_CHECK(!ec, root.string(), ": cannot read the folder (", ec.message(), ")");
  TV3S_CHECK(count == 0, root.string(), ": folder is not empty ('", first, "'",
             count > 1 ? str(" and ", count - 1, " more") : "", "); --force writes the dataset into it");
}

void write_video(const fs::path& dir, const SynthOptions& options, int64_t index,
                 const io::Palette& palette) {
  SynthVideo video(options, index);
  const std::string extension = options.png_frames ? ".png" : ".jpg";
  while (!video.done()) {
    const SynthFrame frame = video.next();
    char stem[16];
    std::snprintf(stem, sizeof stem, "%08lld", (long long)frame.number);
    const std::string image_path = (dir / "origin" / (stem + extension)).string();
    if (options.png_frames) io::write_png(image_path, frame.image);
    else io::write_jpeg(image_path, frame.image, options.jpeg_quality);
    Tensor mask = Tensor::empty(Shape{frame.image.height, frame.image.width}, DType::u8);
    std::memcpy(mask.data<uint8_t>(), frame.mask.data(), frame.mask.size());
    io::write_label_png((dir / "mask" / (std::string(stem) + ".png")).string(), mask, palette);
  }
}

}  // namespace

void generate_synth_dataset(const std::string& root_name, const SynthOptions& options,
                            const SynthProgress& progress) {
  const std::string problem = synth_options_problem(options);
  TV3S_CHECK(problem.empty(), root_name, ": ", problem);
  const fs::path root(root_name);
  check_output_folder(root, options.force);

  // Mask palette: index 0 ("others") black, index id + 1 the colour of train id `id`.
  io::Palette palette = {{0, 0, 0}};
  for (const auto& colour : synth_classes().palette) palette.push_back(colour);

  const int64_t counts[3] = {options.train_videos, options.val_videos, options.test_videos};
  const int64_t total = counts[0] + counts[1] + counts[2];
  std::vector<std::string> names, splits;
  for (int split = 0; split < 3; ++split)
    for (int64_t i = 0; i < counts[split]; ++i) {
      names.push_back(synth_video_name(int64_t(names.size()), total));
      splits.push_back(kSplitNames[split]);
    }

  std::vector<fs::path> created;
  try {
    make_folder(root, created);
    if (options.force) {  // the old split files first: from now on the folder is "incomplete"
      for (const char* name : kDatasetFiles)
        if (std::string(name) != "data") remove_path(root / name);
      for (const std::string& name : names) remove_path(root / "data" / name);
    }
    make_folder(root / "data", created);
    for (const std::string& name : names) {
      make_folder(root / "data" / name / "origin", created);
      make_folder(root / "data" / name / "mask", created);
    }

    // Videos are independent: one per thread. The first error stops the others.
    std::exception_ptr error;
    std::atomic<bool> stop{false};
    int64_t done = 0;
#pragma omp parallel for schedule(dynamic, 1)
    for (int64_t i = 0; i < total; ++i) {
      if (stop) continue;
      // No exception may leave an OpenMP block: each is caught and kept for the caller.
      std::exception_ptr failed;
      try {
        write_video(root / "data" / names[size_t(i)], options, i, palette);
      } catch (...) {
        failed = std::current_exception();
      }
#pragma omp critical(tv3s_synth)
      {
        if (!failed && !stop) {
          try {
            ++done;
            if (progress) progress(names[size_t(i)], splits[size_t(i)], done, total);
          } catch (...) {
            failed = std::current_exception();
          }
        }
        if (failed && !error) error = failed;
        if (failed) stop = true;
      }
    }
    if (error) std::rethrow_exception(error);

    write_class_file((root / "classes.json").string(), synth_classes());
    for (int split = 0; split < 3; ++split) {
      std::string list;
      for (size_t i = 0; i < names.size(); ++i)
        if (splits[i] == kSplitNames[split]) list += names[i] + "\n";
      io::write_file_atomic((root / (std::string(kSplitNames[split]) + ".txt")).string(), list);
    }
  } catch (...) {
    std::error_code ignored;
    for (auto it = created.rbegin(); it != created.rend(); ++it) fs::remove_all(*it, ignored);
    throw;
  }
}

}  // namespace tv3s::data
