#include "src/data/train_clips.h"

#include <algorithm>
#include <exception>

#include "src/pipeline/official_resize.h"

namespace tv3s::data {

namespace {

constexpr int kClipOffsets[4] = {-9, -6, -3, 0};

// splitmix64 of the parts: independent streams per (seed, epoch) and (seed, iteration, clip).
uint64_t mix(uint64_t a, uint64_t b, uint64_t c = 0) {
  uint64_t z = a * 0x9e3779b97f4a7c15ULL ^ (b + 0x632be59bd9b4e019ULL) * 0xbf58476d1ce4e5b9ULL ^ c * 0x94d049bb133111ebULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// Item of global clip g: a Fisher–Yates permutation per epoch.
size_t item_of(uint64_t seed, int64_t g, size_t items) {
  const int64_t epoch = g / int64_t(items);
  std::vector<size_t> order(items);
  for (size_t i = 0; i < items; ++i) order[i] = i;
  Rng rng(mix(seed, uint64_t(epoch), 0xe90c));
  for (size_t i = items - 1; i > 0; --i) std::swap(order[i], order[size_t(rng.uniform_int(int64_t(i) + 1))]);
  return order[size_t(g % int64_t(items))];
}

}  // namespace

TrainClips TrainClips::open(const std::string& root, DatasetKind kind, const std::string& split) {
  TrainClips t;
  EvalOptions listing;
  listing.split = split;
  if (kind == DatasetKind::cityscapes) listing.context_offsets = {-9, -6, -3};
  t.set_ = list_eval_set(root, kind, listing);
  for (size_t v = 0; v < t.set_.videos.size(); ++v) {
    const EvalVideo& video = t.set_.videos[v];
    if (kind == DatasetKind::vspw) {
      TV3S_CHECK(video.frames.size() >= 10, root, ": video '", video.name, "' has ", video.frames.size(),
                 " frames; training clips need at least 10 (frames t−9 … t)");
      t.items_.push_back({v, 0});
    } else {
      for (size_t f = 0; f < video.frames.size(); ++f) t.items_.push_back({v, f});
    }
  }
  TV3S_CHECK(!t.items_.empty(), root, ": the ", split, " split has nothing to train on");
  return t;
}

TrainClips::ClipFrames TrainClips::clip_frames(uint64_t seed, int64_t iteration, int64_t b, int64_t clips) const {
  const Item& item = items_[item_of(seed, iteration * clips + b, items_.size())];
  const EvalVideo& video = set_.videos[item.video];
  Rng rng(mix(seed, uint64_t(iteration), uint64_t(b) + 1));
  ClipFrames out;
  if (set_.kind == DatasetKind::vspw) {
    const int64_t n = int64_t(video.frames.size());
    const bool reversed = rng.uniform() < 0.5;   // Python's random.random() < 0.5
    const int64_t i = 9 + rng.uniform_int(n - 9);  // uniform in [9, N − 1]
    for (int offset : kClipOffsets) {
      const int64_t position = i + offset;
      const EvalFrame& f = video.frames[size_t(reversed ? n - 1 - position : position)];
      out.images.push_back(f.image);
      out.labels.push_back(&f);
    }
  } else {
    const EvalFrame& f = video.frames[item.frame];
    for (const std::string& context : f.context) out.images.push_back(context);
    out.images.push_back(f.image);
    out.labels.assign(4, &f);  // every frame gets the target's labels
  }
  return out;
}

ClipBatch TrainClips::batch(int64_t clips, uint64_t seed, int64_t iteration, const AugmentConfig& aug) const {
  TV3S_CHECK(clips > 0, "TrainClips::batch: needs at least one clip");
  ClipBatch batch;
  batch.clips = clips;
  const int64_t T = 4, H = aug.crop_h, W = aug.crop_w;
  batch.images = Tensor::empty(Shape{clips * T, H, W, 3});
  batch.labels = Tensor::empty(Shape{clips * T, H, W}, DType::i32);
  std::vector<std::exception_ptr> errors(static_cast<size_t>(clips));
#pragma omp parallel for schedule(dynamic)
  for (int64_t b = 0; b < clips; ++b) {
    try {
      const ClipFrames frames = clip_frames(seed, iteration, b, clips);
      // The augmentation draws of clip b: its own stream, after the frame choice's.
      Rng rng(mix(seed, uint64_t(iteration), uint64_t(b) + 0x1000001));
      std::vector<io::Image> images;
      std::vector<io::LabelMap> labels;
      for (int t = 0; t < T; ++t) {
        images.push_back(io::read_image(frames.images[size_t(t)]));
        labels.push_back(read_ground_truth(set_, *frames.labels[size_t(t)]));
        TV3S_CHECK(images.back().width == images[0].width && images.back().height == images[0].height &&
                       labels.back().width == images.back().width && labels.back().height == images.back().height,
                   frames.images[size_t(t)], ": ", images.back().width, "×", images.back().height,
                   " (mask ", labels.back().width, "×", labels.back().height, ") differs from the clip's first frame ",
                   images[0].width, "×", images[0].height);
      }
      CropBox box{0, 0, std::min(H, int64_t(images[0].height)), std::min(W, int64_t(images[0].width))};
      if (aug.enabled) {
        const double ratio = rng.uniform(aug.ratio_min, aug.ratio_max);
        const io::ImageSize2D size = rescale_size(images[0].width, images[0].height, aug, ratio);
        for (int t = 0; t < T; ++t) {
          images[size_t(t)] = tv3s::resize_linear_u8(images[size_t(t)], size.width, size.height);
          labels[size_t(t)] = resize_nearest(labels[size_t(t)], size.width, size.height);
        }
        box = random_crop_box(labels.back(), aug, rng);
      }
      for (int t = 0; t < T; ++t) {
        images[size_t(t)] = crop(images[size_t(t)], box);
        labels[size_t(t)] = crop(labels[size_t(t)], box);
      }
      if (aug.enabled) {
        if (rng.uniform() < aug.flip_prob)
          for (int t = 0; t < T; ++t) flip_horizontal(images[size_t(t)]), flip_horizontal(labels[size_t(t)]);
        if (aug.photometric)
          for (int t = 0; t < T; ++t) photometric_distortion(images[size_t(t)], draw_photometric(aug, rng));
      }
      for (int t = 0; t < T; ++t) {
        const int64_t row = b * T + t;
        normalize_and_pad(images[size_t(t)], labels[size_t(t)], int(H), int(W),
                          batch.images.data<float>() + row * H * W * 3, batch.labels.data<int32_t>() + row * H * W);
      }
    } catch (...) {
      errors[size_t(b)] = std::current_exception();
    }
  }
  for (const std::exception_ptr& e : errors)
    if (e) std::rethrow_exception(e);
  return batch;
}

}  // namespace tv3s::data
