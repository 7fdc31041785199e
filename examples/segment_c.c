/* segment_c — the C API (tv3s/tv3s.h) in one page, in C99: two videos segmented side by
 * side in one batch, one frame of each per call, with a class histogram printed for every
 * frame. The frames are generated in memory (a moving colour ramp), so the program needs
 * nothing but a model file:
 *
 *   segment_c MODEL.safetensors [FRAMES]     (FRAMES per video, default 3)
 *
 * Every call's status is checked; on a failure the program prints tv3s_last_error() and
 * exits with status 1.
 */
#include <tv3s/tv3s.h>

#include <stdio.h>
#include <stdlib.h>

enum { kVideos = 2, kWidth = 64, kHeight = 48 };

/* Frame t of video v: integer arithmetic only, so anyone can regenerate the same bytes. */
static void make_frame(uint8_t* rgb, int video, int t) {
  for (int y = 0; y < kHeight; ++y)
    for (int x = 0; x < kWidth; ++x)
      for (int c = 0; c < 3; ++c)
        rgb[(y * kWidth + x) * 3 + c] = (uint8_t)((x * 4 + y * 2 + t * 8 + video * 64 + c * 85) % 256);
}

/* Prints "video V frame T: name=pixels ..." for the classes present in `labels`. */
static void print_histogram(const tv3s_segmenter* seg, const uint8_t* labels, int video, long t) {
  long counts[256] = {0};
  for (int p = 0; p < kWidth * kHeight; ++p) ++counts[labels[p]];
  printf("video %d frame %ld:", video, t);
  for (int k = 0; k < tv3s_num_classes(seg); ++k)
    if (counts[k] > 0) printf(" %s=%ld", tv3s_class_name(seg, k), counts[k]);
  printf("\n");
}

/* False (after printing why) when `status` is a failure. */
static int ok(tv3s_status status, const char* what) {
  if (status == TV3S_OK) return 1;
  fprintf(stderr, "segment_c: %s failed (%s): %s\n", what, tv3s_status_name(status),
          tv3s_last_error());
  return 0;
}

int main(int argc, char** argv) {
  if (argc < 2 || argc > 3) {
    fprintf(stderr, "usage: segment_c MODEL.safetensors [FRAMES]\n");
    return 2;
  }
  const int frames = argc == 3 ? atoi(argv[2]) : 3;
  if (frames < 1) {
    fprintf(stderr, "segment_c: FRAMES must be a positive number, got '%s'\n", argv[2]);
    return 2;
  }

  tv3s_options options = TV3S_OPTIONS_INIT; /* defaults: the model's mode, CPU */
  options.videos = kVideos;
  tv3s_segmenter* seg = NULL;
  if (!ok(tv3s_segmenter_create(argv[1], &options, &seg), "tv3s_segmenter_create")) return 1;
  printf("tv3s %s, %d classes:", tv3s_version(), tv3s_num_classes(seg));
  for (int k = 0; k < tv3s_num_classes(seg); ++k) {
    uint8_t rgb[3];
    if (!ok(tv3s_class_color(seg, k, rgb), "tv3s_class_color")) goto fail;
    printf(" %s #%02x%02x%02x", tv3s_class_name(seg, k), rgb[0], rgb[1], rgb[2]);
  }
  printf("\n");

  static uint8_t pixels[kVideos][kHeight * kWidth * 3];
  static uint8_t labels[kVideos][kHeight * kWidth]; /* videos × height × width */
  const uint8_t* frame_of_video[kVideos];
  for (int t = 0; t < frames; ++t) {
    for (int v = 0; v < kVideos; ++v) {
      make_frame(pixels[v], v, t);
      frame_of_video[v] = pixels[v];
    }
    const long index = (long)tv3s_frame_index(seg, 0);
    if (!ok(tv3s_segment(seg, frame_of_video, kVideos, kWidth, kHeight, 0, &labels[0][0], NULL),
            "tv3s_segment"))
      goto fail;
    for (int v = 0; v < kVideos; ++v) print_histogram(seg, labels[v], v, index);
  }
  printf("carried state: %zu bytes\n", tv3s_state_bytes(seg));

  /* The next call would start both videos afresh (a new pair of videos). */
  if (!ok(tv3s_reset(seg, -1), "tv3s_reset")) goto fail;
  tv3s_destroy(seg);
  return 0;

fail:
  tv3s_destroy(seg);
  return 1;
}
