// Training clips: listing, sampling, loading and batch assembly (src/data/train_clips.h
// has the rules). The listing reuses the evaluation listing (src/data/eval_dataset.h), so
// training and evaluation find videos, frames and masks by the same rules.
#include "src/data/train_clips.h"

#include <algorithm>
#include <filesystem>
#include <string>

#include "tv3s/error.h"

namespace tv3s::data {
namespace {

namespace fs = std::filesystem;

std::string join(const std::string& a, const std::string& b) { return (fs::path(a) / b).string(); }

uint64_t mix64(uint64_t z) {  // splitmix64's finaliser: spreads nearby seeds apart
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// Distinct streams for the sampler's permutations and the clips' draws.
constexpr uint64_t kPermutationStream = 0x5045524d55544531ULL;
constexpr uint64_t kClipStream = 0x434c495044524157ULL;

// Reads the frames and label maps of a clip, checking that they agree in size.
void load_clip(const EvalSet& set, const ClipFiles& files, std::vector<io::Image>& frames,
               std::vector<io::LabelMap>& labels) {
  frames.clear(), labels.clear();
  for (size_t t = 0; t < files.images.size(); ++t) {
    frames.push_back(io::read_image(files.images[t]));
    const io::Image& f = frames.back();
    TV3S_CHECK(f.width == frames[0].width && f.height == frames[0].height, files.images[t], ": is ",
               f.width, "×", f.height, ", the other frames of its clip (", files.images[0], ") are ",
               frames[0].width, "×", frames[0].height);
    if (t > 0 && files.masks[t] == files.masks[t - 1]) {
      labels.push_back(labels.back());  // Cityscapes: the target's labels for every frame
    } else {
      EvalFrame frame;
      frame.mask = files.masks[t];
      labels.push_back(read_ground_truth(set, frame));
    }
    TV3S_CHECK(labels.back().width == f.width && labels.back().height == f.height, files.masks[t],
               ": mask is ", labels.back().width, "×", labels.back().height, ", its frame ",
               files.images[t], " is ", f.width, "×", f.height);
  }
}

}  // namespace

std::vector<int64_t> random_permutation(int64_t n, Rng& rng) {
  std::vector<int64_t> order(size_t(std::max<int64_t>(n, 0)));
  for (int64_t i = 0; i < n; ++i) order[size_t(i)] = i;
  for (int64_t i = n - 1; i > 0; --i) std::swap(order[size_t(i)], order[size_t(rng.uniform_int(i + 1))]);
  return order;
}

TrainClips TrainClips::open(const std::string& root, DatasetKind kind, const std::string& split) {
  EvalOptions options;
  options.split = split;
  TrainClips clips;
  clips.set_ = list_eval_set(root, kind, options);  // split file, folders, masks, empty set
  EvalSet& set = clips.set_;
  if (kind == DatasetKind::vspw) {
    for (const EvalVideo& video : set.videos) {
      TV3S_CHECK(video.frames.size() > size_t(kClipSpan),
                 join(join(join(root, "data"), video.name), "origin"), ": video '", video.name,
                 "' has ", video.frames.size(), " frames; a training clip needs at least ",
                 kClipSpan + 1, " (the oldest frame is ", kClipSpan, " before the target)");
    }
    return clips;
  }
  // Cityscapes: each annotated frame with the neighbours the official code reads.
  for (const EvalVideo& city : set.videos) {
    const std::string sequence_dir = join(join(join(root, "leftImg8bit_sequence"), split), city.name);
    for (const EvalFrame& f : city.frames) {
      const std::string image_dir = fs::path(f.image).parent_path().string();
      std::vector<std::string> frames;
      for (int sign : {-1, +1}) {  // n−9, n−6, n−3; if any is missing n+9, n+6, n+3
        frames.clear();
        for (int offset : {9, 6, 3}) {
          const std::string file = cityscapes_neighbour_file(f, sign * offset);
          frames.push_back(file.empty() ? file : find_cityscapes_frame(root, split, city.name, file));
        }
        if (std::none_of(frames.begin(), frames.end(), [](const std::string& p) { return p.empty(); })) break;
      }
      TV3S_CHECK(std::none_of(frames.begin(), frames.end(), [](const std::string& p) { return p.empty(); }),
                 f.image, ": the neighbouring frames of ", f.name, " exist neither at n−9, n−6, n−3 nor at "
                 "n+9, n+6, n+3 (looked in ", image_dir, " and ", sequence_dir, ")");
      frames.push_back(f.image);
      clips.city_frames_.push_back(std::move(frames));
      clips.city_masks_.push_back(f.mask);
    }
  }
  return clips;
}

int64_t TrainClips::size() const {
  return set_.kind == DatasetKind::vspw ? int64_t(set_.videos.size()) : int64_t(city_frames_.size());
}

int64_t TrainClips::item_of(int64_t clips, uint64_t seed, int64_t iteration, int64_t b) const {
  const int64_t n = size();
  const int64_t g = iteration * clips + b;
  Rng rng(mix64(mix64(seed ^ kPermutationStream) ^ uint64_t(g / n)));
  return random_permutation(n, rng)[size_t(g % n)];
}

Rng TrainClips::clip_rng(uint64_t seed, int64_t iteration, int64_t b) {
  return Rng(mix64(mix64(mix64(seed ^ kClipStream) ^ uint64_t(iteration)) ^ uint64_t(b)));
}

ClipFiles TrainClips::sample_clip(int64_t item, Rng& rng) const {
  TV3S_CHECK(item >= 0 && item < size(), "TrainClips: item ", item, " of ", size());
  ClipFiles clip;
  if (set_.kind == DatasetKind::cityscapes) {
    clip.images = city_frames_[size_t(item)];
    clip.masks.assign(clip.images.size(), city_masks_[size_t(item)]);
    return clip;
  }
  const EvalVideo& video = set_.videos[size_t(item)];
  std::vector<const EvalFrame*> frames;
  for (const EvalFrame& f : video.frames) frames.push_back(&f);
  if (rng.uniform() < 0.5) std::reverse(frames.begin(), frames.end());  // flip_video
  const int64_t n = int64_t(frames.size());
  const int64_t target = kClipSpan + rng.uniform_int(n - kClipSpan);  // uniform in [9, N−1]
  for (int64_t offset : {9, 6, 3, 0}) {
    const EvalFrame& f = *frames[size_t(target - offset)];
    clip.images.push_back(f.image);
    clip.masks.push_back(f.mask);
  }
  return clip;
}

ClipBatch TrainClips::batch(int64_t clips, uint64_t seed, int64_t iteration, const AugmentConfig& aug) const {
  TV3S_CHECK(clips > 0 && iteration >= 0, "TrainClips::batch: ", clips, " clips at iteration ", iteration);
  TV3S_CHECK(aug.crop_h > 0 && aug.crop_w > 0, "TrainClips::batch: crop size ", aug.crop_h, "×", aug.crop_w);
  ClipBatch out;
  out.clips = clips, out.frames = kClipFrames;
  const int64_t H = aug.crop_h, W = aug.crop_w;
  out.images = Tensor::empty({clips * kClipFrames, H, W, 3}, DType::f32);
  out.labels = Tensor::empty({clips * kClipFrames, H, W}, DType::i32);
  float* images = out.images.data<float>();
  int32_t* labels = out.labels.data<int32_t>();

  // Items first (cheap, serial): the permutations are shared by the clips of an epoch.
  std::vector<int64_t> items(static_cast<size_t>(clips));
  {
    const int64_t n = size();
    int64_t epoch = -1;
    std::vector<int64_t> order;
    for (int64_t b = 0; b < clips; ++b) {
      const int64_t g = iteration * clips + b;
      if (g / n != epoch) {
        epoch = g / n;
        Rng rng(mix64(mix64(seed ^ kPermutationStream) ^ uint64_t(epoch)));
        order = random_permutation(n, rng);
      }
      items[size_t(b)] = order[size_t(g % n)];
    }
  }

  std::vector<std::string> errors(static_cast<size_t>(clips));
#pragma omp parallel for schedule(dynamic, 1)
  for (int64_t b = 0; b < clips; ++b) {
    try {
      Rng rng = clip_rng(seed, iteration, b);
      const ClipFiles files = sample_clip(items[size_t(b)], rng);
      std::vector<io::Image> frames;
      std::vector<io::LabelMap> maps;
      load_clip(set_, files, frames, maps);
      augment_clip(frames, maps, aug, rng);
      for (int64_t t = 0; t < kClipFrames; ++t) {
        const int64_t row = b * kClipFrames + t;
        normalize_and_pad(frames[size_t(t)], images + row * H * W * 3, int(H), int(W));
        pad_labels(maps[size_t(t)], labels + row * H * W, int(H), int(W));
      }
    } catch (const std::exception& e) {
      errors[size_t(b)] = e.what();
    }
  }
  for (const std::string& e : errors)  // the first failing clip, whatever the thread count
    if (!e.empty()) fail(e);
  return out;
}

}  // namespace tv3s::data
