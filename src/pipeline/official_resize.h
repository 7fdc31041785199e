// The official test-time resize of frames, as `--resize` and `tv3s eval --protocol
// official` apply it (model-spec §8.1 step 2), over OpenCV's resize (src/io/image_resize.h).
//
//   VSPW        AlignedResize_clips, scale (853, 480), keep ratio:
//               sf = min(853 / long side, 480 / short side),
//               (W', H') = (int(W·sf + 0.5), int(H·sf + 0.5)), cv2 bilinear on uint8;
//               then (ceil(W'/32)·32, ceil(H'/32)·32), cv2 bilinear again.
//               480×853 → 480×853 (no-op) → 480×864.
//   Cityscapes  mmcv Resize keep ratio to scale (1024, 512): sf = min(1024 / long,
//               512 / short), new size (int(W·sf + 0.5), int(H·sf + 0.5)), cv2 bilinear;
//               no 32-alignment. 2048×1024 → 1024×512.
// A resize to the frame's own size is a no-op (cv2 returns a copy).
#pragma once
#include <string>

#include "src/io/image.h"
#include "tv3s/segmenter.h"  // InputResize, parse_input_resize, input_resize_name

namespace tv3s {

struct ImageSize {
  int width = 0, height = 0;
};
// The network input size for a width×height frame under `rule` (the frame's size for none).
// Throws an Error for a non-positive size, or a frame so elongated that a side would
// round to 0.
ImageSize network_input_size(InputResize rule, int width, int height);
// The frame resized as the rule says (both passes for vspw).
io::Image apply_input_resize(InputResize rule, const io::Image& image);

}  // namespace tv3s
