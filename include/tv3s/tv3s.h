/* tv3s.h — the C API of tv3s: video semantic segmentation behind an opaque handle.
 *
 * For programs in C (or any language with a C FFI) and for a stable ABI: plain types,
 * no exceptions cross this boundary, every failure is a status code plus a one-line
 * message (tv3s_last_error). The C++ API (tv3s/segmenter.h) is what this wraps.
 *
 *   tv3s_options options = TV3S_OPTIONS_INIT;          // all defaults
 *   options.videos = 2;                                // two videos side by side
 *   tv3s_segmenter* seg = NULL;
 *   if (tv3s_segmenter_create("tv3s_b1.safetensors", &options, &seg) != TV3S_OK) {
 *     fprintf(stderr, "%s\n", tv3s_last_error());
 *     return 1;
 *   }
 *   const uint8_t* frames[2] = {rgb_of_video0, rgb_of_video1};  // one frame per video
 *   uint8_t* labels = malloc(2 * (size_t)width * height);        // 2 × height × width
 *   tv3s_segment(seg, frames, 2, width, height, 0, labels, NULL);
 *   tv3s_reset(seg, 1);                                // video 1 starts a new video
 *   tv3s_destroy(seg);
 *
 * For embedded integrators (a Jetson and its camera or hardware decoder): frames can come
 * in as NV12 as well as RGB (tv3s_segment_frames); labels and logits are written into
 * the caller's buffers; once the first frames of a size have run (the caching
 * allocators settle within three), a call takes every tensor from the library's caches
 * and allocates nothing from the system or the driver (on CUDA no cudaMalloc). options.precision runs the model in 16 bits;
 * options.videos is the number of videos in flight, one batch; tv3s_state_bytes is
 * what each set of videos carries from frame to frame. examples/embedded.c shows it all.
 *
 * Thread safety: a segmenter is used by one thread at a time (calls on one handle must
 * not overlap); different segmenters may run on different threads at once. Error
 * messages are kept per thread. Pixels are read during a call and never kept.
 *
 * Compatible with C99 and C++; the library itself is C++ (link with a C++ linker, as
 * CMake does for the tv3s::tv3s target).
 */
#ifndef TV3S_TV3S_H
#define TV3S_TV3S_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- status codes ------------------------------------------------------------------- */

typedef enum tv3s_status {
  TV3S_OK = 0,
  TV3S_INVALID_ARGUMENT = 1, /* a NULL pointer, a size or index out of range, bad options */
  TV3S_MODEL_ERROR = 2,      /* the model file is missing, unreadable or not a tv3s model,
                                or does not support the requested mode */
  TV3S_RUNTIME_ERROR = 3,    /* anything else that failed while running (e.g. CUDA) */
  TV3S_OUT_OF_MEMORY = 4     /* an allocation failed (host or GPU) */
} tv3s_status;

/* "ok", "invalid argument", "model error", "runtime error", "out of memory"; "unknown
 * status" for anything else. A static string. */
const char* tv3s_status_name(tv3s_status status);

/* The message of the most recent failed call on the calling thread, one line naming
 * what was wrong (a file's path, an argument, a size); "" when nothing has failed on this
 * thread yet. Successful calls leave it unchanged. The pointer stays valid until the
 * next failing tv3s call on this thread. Never NULL. */
const char* tv3s_last_error(void);

/* The library version, "MAJOR.MINOR.PATCH" (a static string). */
const char* tv3s_version(void);

/* ---- options ------------------------------------------------------------------------ */

typedef enum tv3s_mode {
  TV3S_MODE_DEFAULT = 0, /* stream for a TV3S model, frame for a SegFormer model */
  TV3S_MODE_FRAME = 1,   /* per-frame SegFormer path, no temporal context */
  TV3S_MODE_STREAM = 2,  /* TV3S: the Mamba state carried from frame to frame (constant
                            memory); frame t sees frames 0..t of its video */
  TV3S_MODE_CLIP = 3     /* TV3S: the official evaluation, 4-frame clips [t-9, t-6, t-3, t] */
} tv3s_mode;

typedef enum tv3s_device {
  TV3S_DEVICE_CPU = 0,
  TV3S_DEVICE_CUDA = 1 /* needs a build with CUDA and a usable GPU */
} tv3s_device;

typedef enum tv3s_precision {
  TV3S_PRECISION_FP32 = 0, /* f32 throughout (the official numbers) */
  TV3S_PRECISION_FP16 = 1, /* parameters and activations in f16, f32 inside norms, softmax,
                              the scan's state and the residual stream; on the CPU the 16-bit
                              products are emulated (accuracy as a GPU's, not faster) */
  TV3S_PRECISION_BF16 = 2  /* the same in bfloat16 */
} tv3s_precision;

typedef enum tv3s_resize {
  TV3S_RESIZE_NONE = 0,      /* the network sees each frame at its own size */
  TV3S_RESIZE_VSPW = 1,      /* the official VSPW test resize (labels still at frame size) */
  TV3S_RESIZE_CITYSCAPES = 2 /* the official Cityscapes test resize */
} tv3s_resize;

/* Options for tv3s_segmenter_create. All-zero fields mean the defaults, so
 * `tv3s_options o = TV3S_OPTIONS_INIT;` is a valid default set. `struct_size` must be
 * sizeof(tv3s_options) as the caller compiled it: fields added in later versions go at
 * the end, and the library gives defaults to those a caller's (older, shorter) struct
 * lacks. Fields are int-typed so the layout is the same in every C compiler. */
typedef struct tv3s_options {
  size_t struct_size; /* sizeof(tv3s_options) */
  int mode;           /* a tv3s_mode */
  int device;         /* a tv3s_device */
  int videos;         /* videos segmented side by side, one frame of each per call; 0 = 1 */
  int resize;         /* a tv3s_resize */
  int threads;        /* OpenMP threads for the CPU work of each call (the calling
                         thread's setting is restored afterwards); 0 = OpenMP's default */
  int precision;      /* a tv3s_precision (added after 0.1.0: a caller built with the
                         shorter struct gets fp32) */
} tv3s_options;

#define TV3S_OPTIONS_INIT {sizeof(tv3s_options), 0, 0, 0, 0, 0, 0}

/* ---- the segmenter ------------------------------------------------------------------ */

typedef struct tv3s_segmenter tv3s_segmenter; /* opaque */

/* Loads a tv3s model file (.safetensors written by `tv3s convert`) and makes a
 * segmenter for `options` (NULL = defaults). On success *out owns the new segmenter
 * (free it with tv3s_destroy); on failure *out is set to NULL (when `out` is not NULL)
 * and the status says why: TV3S_INVALID_ARGUMENT (NULL path or out, bad options),
 * TV3S_MODEL_ERROR (the file), TV3S_RUNTIME_ERROR (e.g. CUDA requested but unusable),
 * TV3S_OUT_OF_MEMORY. */
tv3s_status tv3s_segmenter_create(const char* model_path, const tv3s_options* options,
                                  tv3s_segmenter** out);

/* Frees the segmenter and everything it holds. NULL is allowed (nothing happens). */
void tv3s_destroy(tv3s_segmenter* seg);

/* Segments the next frame of every video.
 *   frames_rgb  `num_frames` pointers, one per video in video order (num_frames must be the
 *               `videos` option): 8-bit RGB, 3 bytes per pixel, rows `stride` bytes apart
 *               (stride 0 = width * 3; otherwise at least width * 3). Read, not kept.
 *   width, height  the frames' size, the same for all videos in a call. A video's frames
 *               keep one size (its carried state belongs to that size): to change size,
 *               first reset every video (tv3s_reset(seg, -1)).
 *   labels_out  caller-owned, num_frames × height × width bytes: the class id of every
 *               pixel (video-major, then rows, then columns).
 *   logits_out  optional (NULL: not computed): caller-owned, num_frames × height × width ×
 *               num_classes floats, the class scores before the argmax, classes innermost.
 * An argument error is found before anything is read or written. After a failure while
 * running (TV3S_RUNTIME_ERROR, TV3S_OUT_OF_MEMORY) the outputs may be partly written and
 * the carried state undefined: reset the videos before going on. */
tv3s_status tv3s_segment(tv3s_segmenter* seg, const uint8_t* const* frames_rgb, int num_frames,
                         int width, int height, int64_t stride, uint8_t* labels_out,
                         float* logits_out);

/* ---- frames in other layouts ------------------------------------------------------- */

typedef enum tv3s_pixel_format {
  TV3S_PIXELS_RGB = 0, /* planes[0]: 8-bit R, G, B per pixel */
  TV3S_PIXELS_NV12 = 1 /* planes[0]: Y, height rows of width bytes; planes[1]: U, V
                          interleaved, (height + 1) / 2 rows of (width + 1) / 2 pairs */
} tv3s_pixel_format;

typedef enum tv3s_yuv_colors { /* NV12's matrix and range */
  TV3S_YUV_BT601_LIMITED = 0,  /* SD video and most cameras (Y 16..235) */
  TV3S_YUV_BT709_LIMITED = 1,  /* HD video */
  TV3S_YUV_BT601_FULL = 2,     /* JPEG-style full range (Y 0..255) */
  TV3S_YUV_BT709_FULL = 3
} tv3s_yuv_colors;

/* One frame already decoded, in the caller's memory (read during the call, not kept). */
typedef struct tv3s_frame {
  int format;               /* a tv3s_pixel_format */
  int yuv_colors;           /* NV12: a tv3s_yuv_colors; ignored for RGB */
  const uint8_t* planes[2]; /* planes[1] NULL for RGB */
  int64_t strides[2];       /* bytes from one row to the next per plane; 0 = tight */
} tv3s_frame;

/* As tv3s_segment, from `num_frames` frames (one per video, all of one format and size).
 * Argument errors (a NULL plane, a short stride, mixed formats) are found before
 * anything is read or written. */
tv3s_status tv3s_segment_frames(tv3s_segmenter* seg, const tv3s_frame* frames, int num_frames,
                                int width, int height, uint8_t* labels_out, float* logits_out);

/* Starts video `video` anew (its next frame is frame 0 of a new video); -1 resets all. */
tv3s_status tv3s_reset(tv3s_segmenter* seg, int video);

/* ---- queries (these return a sentinel on a bad argument and set tv3s_last_error) ---- */

/* Number of videos (the `videos` option); 0 when seg is NULL. */
int tv3s_num_videos(const tv3s_segmenter* seg);

/* Number of classes the model predicts (label values are 0 .. num_classes - 1, at most
 * 256); 0 when seg is NULL. */
int tv3s_num_classes(const tv3s_segmenter* seg);

/* The name of class `index` (from the model file's metadata; VSPW's or Cityscapes' names
 * for 124 or 19 classes without metadata; "class <i>" otherwise). Owned by the segmenter,
 * valid until tv3s_destroy. NULL when seg is NULL or index is out of range. */
const char* tv3s_class_name(const tv3s_segmenter* seg, int index);

/* The display colour of class `index` into rgb[0..2] (the model's palette, the dataset's,
 * or generated well-separated colours). */
tv3s_status tv3s_class_color(const tv3s_segmenter* seg, int index, uint8_t rgb[3]);

/* Frames segmented in video `video` since its last reset (the index the next frame will
 * have); -1 when seg is NULL or video is out of range. */
int64_t tv3s_frame_index(const tv3s_segmenter* seg, int video);

/* Bytes carried from frame to frame (the decoder state in stream mode, the kept frame
 * features in clip mode, 0 in frame mode); 0 when seg is NULL. */
size_t tv3s_state_bytes(const tv3s_segmenter* seg);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* TV3S_TV3S_H */
