/* segment_nv12 — the C API as an embedded integrator uses it (a Jetson with two cameras or
 * a hardware decoder, in C99): frames arrive already decoded as NV12, two videos are in
 * flight in one batch, the model runs in the precision asked for, and every buffer —
 * frames in, labels out — is the program's own, allocated once before the loop; the
 * library allocates nothing per frame after the first (tv3s/tv3s.h).
 *
 *   segment_nv12 MODEL.safetensors [FRAMES] [fp32|fp16|bf16] [cpu|cuda]
 *
 * The NV12 frames are generated in memory (limited-range BT.601, as most cameras give),
 * so the program needs nothing but a model file. For each frame of each video it prints
 * the class that covers most pixels and its share.
 */
#include <tv3s/tv3s.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { kVideos = 2, kWidth = 64, kHeight = 48 };
/* A camera's rows are often padded: here Y rows are 80 bytes, UV rows 80. */
enum { kStride = 80 };

/* Frame t of camera v, NV12: integer arithmetic only, so anyone can regenerate the bytes. */
static void make_nv12(uint8_t* y_plane, uint8_t* uv_plane, int video, int t) {
  for (int y = 0; y < kHeight; ++y)
    for (int x = 0; x < kStride; ++x)
      y_plane[y * kStride + x] = (uint8_t)(16 + (x * 3 + y * 2 + t * 5 + video * 50) % 220);
  for (int y = 0; y < kHeight / 2; ++y)
    for (int x = 0; x < kStride; ++x)
      uv_plane[y * kStride + x] = (uint8_t)(40 + (x * 7 + y * 3 + t * 9 + video * 30) % 180);
}

static int ok(tv3s_status status, const char* what) {
  if (status == TV3S_OK) return 1;
  fprintf(stderr, "segment_nv12: %s failed (%s): %s\n", what, tv3s_status_name(status),
          tv3s_last_error());
  return 0;
}

int main(int argc, char** argv) {
  if (argc < 2 || argc > 5) {
    fprintf(stderr, "usage: segment_nv12 MODEL.safetensors [FRAMES] [fp32|fp16|bf16] [cpu|cuda]\n");
    return 2;
  }
  int frames = argc >= 3 ? atoi(argv[2]) : 3;
  const char* precision = argc >= 4 ? argv[3] : "fp32";
  const char* device = argc >= 5 ? argv[4] : "cpu";
  tv3s_options options = TV3S_OPTIONS_INIT;
  options.videos = kVideos; /* videos in flight: one frame of each per call */
  if (strcmp(precision, "fp16") == 0) options.precision = TV3S_PRECISION_FP16;
  else if (strcmp(precision, "bf16") == 0) options.precision = TV3S_PRECISION_BF16;
  else if (strcmp(precision, "fp32") != 0) frames = 0;
  if (strcmp(device, "cuda") == 0) options.device = TV3S_DEVICE_CUDA;
  else if (strcmp(device, "cpu") != 0) frames = 0;
  if (frames < 1) {
    fprintf(stderr, "segment_nv12: FRAMES must be positive, the precision fp32, fp16 or bf16, "
                    "the device cpu or cuda\n");
    return 2;
  }

  tv3s_segmenter* seg = NULL;
  if (!ok(tv3s_segmenter_create(argv[1], &options, &seg), "tv3s_segmenter_create")) return 1;

  /* Every buffer of the loop, allocated once. */
  static uint8_t y_planes[kVideos][kHeight * kStride];
  static uint8_t uv_planes[kVideos][kHeight / 2 * kStride];
  static uint8_t labels[kVideos][kHeight * kWidth];
  tv3s_frame batch[kVideos];
  for (int v = 0; v < kVideos; ++v) {
    batch[v].format = TV3S_PIXELS_NV12;
    batch[v].yuv_colors = TV3S_YUV_BT601_LIMITED;
    batch[v].planes[0] = y_planes[v];
    batch[v].planes[1] = uv_planes[v];
    batch[v].strides[0] = kStride;
    batch[v].strides[1] = kStride;
  }

  for (int t = 0; t < frames; ++t) {
    for (int v = 0; v < kVideos; ++v) make_nv12(y_planes[v], uv_planes[v], v, t); /* "capture" */
    if (!ok(tv3s_segment_frames(seg, batch, kVideos, kWidth, kHeight, &labels[0][0], NULL),
            "tv3s_segment_frames")) {
      tv3s_destroy(seg);
      return 1;
    }
    printf("frame %d:", t);
    for (int v = 0; v < kVideos; ++v) {
      long counts[256] = {0};
      int top = 0;
      for (int p = 0; p < kWidth * kHeight; ++p) ++counts[labels[v][p]];
      for (int k = 1; k < tv3s_num_classes(seg); ++k)
        if (counts[k] > counts[top]) top = k;
      printf(" video %d %s %ld/%d", v, tv3s_class_name(seg, top), counts[top], kWidth * kHeight);
    }
    printf("\n");
  }
  printf("%s on %s, carried state %zu bytes for %d videos\n", precision, device,
         tv3s_state_bytes(seg), kVideos);
  tv3s_destroy(seg);
  return 0;
}
