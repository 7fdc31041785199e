"""tv3s: video semantic segmentation (SegFormer / TV3S) over the tv3s C++ library.

Segment a video frame by frame with numpy arrays::

    import tv3s
    seg = tv3s.Segmenter("weights/tv3s_synth_b0.safetensors")  # stream mode: state carried over frames
    with tv3s.VideoReader("street.mp4") as video, tv3s.VideoWriter(
            "street_seg.mp4", video.info["width"], video.info["height"], fps=video.info["frame_rate"]) as out:
        for frame, pts in video:                    # frame: uint8 [H, W, 3] RGB; pts: seconds
            labels = seg.segment(frame)[0]          # uint8 [H, W] class ids
            out.write(tv3s.overlay(frame, labels, seg.palette), pts)

Segmenter      a model and the state of its videos: segment(frames, logits=False),
               reset(video=-1), mode, videos, num_classes, class_names, palette,
               frame_index(video). Inference releases the GIL.
VideoReader    frames and timestamps of a video file, camera or stream (FFmpeg).
VideoWriter    frames into a video file (FFmpeg; atomic: nothing is left on failure).
overlay        a frame with its label colours blended in.
read_image     a PNG/JPEG decoded as the C++ pipeline decodes it, uint8 [H, W, 3].
read_label_png the values of a label-map PNG, uint8 [H, W].
Error          every failure of the library (a RuntimeError with its one-line message);
               bad arguments raise ValueError.
"""

from ._tv3s import (
    Error,
    Segmenter,
    VideoReader,
    VideoWriter,
    __version__,
    cuda_available,
    ffmpeg_available,
    overlay,
    read_image,
    read_label_png,
)

__all__ = [
    "Error",
    "Segmenter",
    "VideoReader",
    "VideoWriter",
    "__version__",
    "cuda_available",
    "ffmpeg_available",
    "overlay",
    "read_image",
    "read_label_png",
]

# Shown as tv3s.Segmenter, tv3s.Error, ... rather than by the extension's private name.
for _name in ("Error", "Segmenter", "VideoReader", "VideoWriter"):
    globals()[_name].__module__ = __name__
del _name
