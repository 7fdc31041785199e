// Listing VSPW and Cityscapes evaluation sets (src/data/eval_dataset.h has the rules).
// Everything a run will open is checked here, up front, so that a missing mask is
// reported in a second rather than after hours of inference.
#include "src/data/eval_dataset.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "src/core/text.h"
#include "src/io/frame_list.h"
#include "tv3s/error.h"

namespace tv3s::data {
namespace {

namespace fs = std::filesystem;

std::string join(const std::string& a, const std::string& b) { return (fs::path(a) / b).string(); }

bool is_file(const std::string& path) {
  std::error_code ec;
  return fs::is_regular_file(path, ec);
}

bool is_dir(const std::string& path) {
  std::error_code ec;
  return fs::is_directory(path, ec);
}

std::string trim(const std::string& s) {
  size_t a = 0, b = s.size();
  while (a < b && std::isspace(static_cast<unsigned char>(s[a]))) ++a;
  while (b > a && std::isspace(static_cast<unsigned char>(s[b - 1]))) --b;
  return s.substr(a, b - a);
}

// The video names of a split file: stripped, blank lines skipped, sorted (datasets.md §1.1).
std::vector<std::string> read_split_file(const std::string& path) {
  TV3S_CHECK(is_file(path), path, ": no such split file (a VSPW root lists the videos of a split "
             "in <split>.txt)");
  std::ifstream in(path);
  TV3S_CHECK(in.good(), path, ": cannot read the split file");
  std::vector<std::string> names;
  std::set<std::string> seen;
  for (std::string line; std::getline(in, line);) {
    const std::string name = trim(line);
    if (name.empty()) continue;
    TV3S_CHECK(name.find('/') == std::string::npos && name != "." && name != "..", path,
               ": '", name, "' is not a video folder name");
    TV3S_CHECK(seen.insert(name).second, path, ": video '", name, "' is listed twice");
    names.push_back(name);
  }
  TV3S_CHECK(!names.empty(), path, ": the split file lists no videos");
  std::sort(names.begin(), names.end());
  return names;
}

// The frame files of a VSPW origin/ folder, sorted as Python's sorted() sorts them.
std::vector<std::string> list_origin_frames(const std::string& dir, const std::string& video,
                                            const std::string& split_file) {
  TV3S_CHECK(is_dir(dir), dir, ": no such folder (the frames of video '", video, "' listed in ",
             split_file, ")");
  std::vector<std::string> names;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (!it->is_regular_file(ec)) continue;
    if (io::has_image_extension(it->path().string())) names.push_back(it->path().filename().string());
  }
  TV3S_CHECK(!ec, dir, ": cannot list the folder (", ec.message(), ")");
  TV3S_CHECK(!names.empty(), dir, ": no .jpg or .png frames in the folder");
  std::sort(names.begin(), names.end());
  std::set<std::string> stems;
  for (const std::string& n : names)
    TV3S_CHECK(stems.insert(fs::path(n).stem().string()).second, join(dir, n),
               ": another frame of the video has the same name (one mask per name)");
  return names;
}

// Keeps the named videos (each must be in the listing, `source`) or the first `limit`.
template <class Named, class NameOf>
void select(std::vector<Named>& all, const std::vector<std::string>& names, int64_t limit,
            const std::string& source, NameOf name_of) {
  if (!names.empty()) {
    std::set<std::string> wanted;
    for (const std::string& v : names) {
      const bool found = std::any_of(all.begin(), all.end(), [&](const Named& n) { return name_of(n) == v; });
      TV3S_CHECK(found, source, ": has no video '", v, "' (asked for by --videos)");
      wanted.insert(v);
    }
    all.erase(std::remove_if(all.begin(), all.end(), [&](const Named& n) { return !wanted.count(name_of(n)); }),
              all.end());
  }
  if (limit > 0 && int64_t(all.size()) > limit) all.resize(size_t(limit));
}

EvalSet list_vspw(const std::string& root, const EvalOptions& options) {
  EvalSet set;
  set.kind = DatasetKind::vspw;
  set.root = root, set.split = options.split;
  set.reduce_zero_label = true;
  set.source = join(root, options.split + ".txt");
  TV3S_CHECK(!(options.masks && options.split == "test"), set.source,
             ": the VSPW test split has no public masks, so it cannot be scored "
             "(with a model, --save-pred DIR writes its predictions only)");
  std::vector<std::string> names = read_split_file(set.source);
  select(names, options.videos, options.limit, set.source, [](const std::string& n) { return n; });
  for (const std::string& video : names) {
    const std::string dir = join(join(root, "data"), video);
    EvalVideo v;
    v.name = video;
    for (const std::string& file : list_origin_frames(join(dir, "origin"), video, set.source)) {
      EvalFrame f;
      f.name = fs::path(file).stem().string();
      if (options.images) f.image = join(join(dir, "origin"), file);
      if (options.masks) {
        f.mask = join(join(dir, "mask"), f.name + ".png");
        TV3S_CHECK(is_file(f.mask), f.mask, ": missing mask of frame '", f.name, "' of video '",
                   video, "'");
      }
      v.frames.push_back(std::move(f));
    }
    set.videos.push_back(std::move(v));
  }
  return set;
}

EvalSet list_cityscapes(const std::string& root, const EvalOptions& options) {
  EvalSet set;
  set.kind = DatasetKind::cityscapes;
  set.root = root, set.split = options.split;
  set.context_offsets = options.context_offsets;
  set.reduce_zero_label = false;
  const std::string gt_dir = join(join(root, "gtFine"), options.split);
  set.source = gt_dir;
  TV3S_CHECK(is_dir(gt_dir), gt_dir, ": no such folder (a Cityscapes root holds "
             "gtFine/<split>/<city>/*_gtFine_labelTrainIds.png)");
  const std::string suffix = "_gtFine_labelTrainIds.png";
  std::vector<std::string> gt_files;  // relative to gt_dir
  std::error_code ec;
  for (fs::recursive_directory_iterator it(gt_dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string file = it->path().filename().string();
    if (it->is_regular_file(ec) && ends_with(file, suffix) && file.size() > suffix.size())
      gt_files.push_back(it->path().lexically_relative(gt_dir).string());
  }
  TV3S_CHECK(!ec, gt_dir, ": cannot list the folder (", ec.message(), ")");
  TV3S_CHECK(!gt_files.empty(), gt_dir, ": no *", suffix, " files (render them from the polygons "
             "with cityscapesscripts' createTrainIdLabelImgs)");
  std::sort(gt_files.begin(), gt_files.end());

  // Group by city folder (the path's folder part), keeping the sorted order.
  std::vector<EvalVideo> cities;
  for (const std::string& rel : gt_files) {
    const std::string city = fs::path(rel).parent_path().string();
    if (cities.empty() || cities.back().name != city) cities.push_back({city, {}});
    const std::string file = fs::path(rel).filename().string();
    EvalFrame f;
    f.name = file.substr(0, file.size() - suffix.size());
    f.mask = join(gt_dir, rel);  // found by the scan (also names the frame in errors)
    cities.back().frames.push_back(std::move(f));
  }
  select(cities, options.videos, 0, gt_dir, [](const EvalVideo& v) { return v.name; });
  int64_t kept = 0;
  for (EvalVideo& city : cities) {
    if (options.limit > 0 && kept + int64_t(city.frames.size()) > options.limit)
      city.frames.resize(size_t(std::max<int64_t>(0, options.limit - kept)));
    kept += int64_t(city.frames.size());
    if (city.frames.empty()) continue;
    const std::string image_dir = join(join(join(root, "leftImg8bit"), options.split), city.name);
    const std::string sequence_dir =
        join(join(join(root, "leftImg8bit_sequence"), options.split), city.name);
    for (EvalFrame& f : city.frames) {
      if (!options.images) continue;
      f.image = join(image_dir, f.name + "_leftImg8bit.png");
      TV3S_CHECK(is_file(f.image), f.image, ": missing image of the annotated frame ", f.name);
      for (int offset : options.context_offsets) {
        const std::string file = cityscapes_neighbour_file(f, offset);
        TV3S_CHECK(!file.empty(), f.mask, ": frame ", f.name, " has no frame at offset ", offset);
        std::string path = find_cityscapes_frame(root, options.split, city.name, file);
        TV3S_CHECK(!path.empty(), join(sequence_dir, file), ": missing neighbouring frame (offset ", offset,
                   ") of ", f.name, " (not in ", image_dir, " either)");
        f.context.push_back(std::move(path));
      }
    }
    set.videos.push_back(std::move(city));
  }
  return set;
}

}  // namespace

std::string cityscapes_neighbour_file(const EvalFrame& frame, int offset) {
  const std::string& name = frame.name;  // <city>_<seq>_<frame>
  const size_t last = name.rfind('_');
  const std::string field = last == std::string::npos ? std::string() : name.substr(last + 1);
  TV3S_CHECK(!field.empty() && field.size() <= 9 &&
                 std::all_of(field.begin(), field.end(), [](unsigned char c) { return std::isdigit(c); }),
             frame.mask, ": not a Cityscapes name <city>_<seq>_<frame>_gtFine_labelTrainIds.png "
             "(the neighbouring frames are found through the frame number)");
  const long number = std::stol(field) + offset;
  if (number < 0) return "";
  char digits[32];
  std::snprintf(digits, sizeof digits, "%06ld", number);
  return name.substr(0, last + 1) + digits + "_leftImg8bit.png";
}

std::string find_cityscapes_frame(const std::string& root, const std::string& split, const std::string& city,
                                  const std::string& file) {
  for (const char* folder : {"leftImg8bit", "leftImg8bit_sequence"}) {
    const std::string path = join(join(join(join(root, folder), split), city), file);
    if (is_file(path)) return path;
  }
  return "";
}

DatasetKind parse_dataset_kind(const std::string& name) {
  if (name == "vspw") return DatasetKind::vspw;
  if (name == "cityscapes") return DatasetKind::cityscapes;
  throw Error(str("unknown dataset '", name, "' (vspw or cityscapes)"));
}

const char* dataset_kind_name(DatasetKind kind) {
  return kind == DatasetKind::vspw ? "VSPW" : "Cityscapes";
}

DatasetKind detect_dataset_kind(const std::string& root) {
  TV3S_CHECK(is_dir(root), root, ": no such dataset folder");
  if (is_dir(join(root, "gtFine"))) return DatasetKind::cityscapes;
  if (is_dir(join(root, "data")) || is_file(join(root, "val.txt")) || is_file(join(root, "test.txt")))
    return DatasetKind::vspw;
  fail(str(root, ": neither a VSPW root (<split>.txt, data/<video>/origin/) nor a Cityscapes "
           "root (gtFine/, leftImg8bit/); --dataset vspw|cityscapes names the layout"));
}

int64_t EvalSet::frames() const {
  int64_t n = 0;
  for (const EvalVideo& v : videos) n += int64_t(v.frames.size());
  return n;
}

EvalSet list_eval_set(const std::string& root, DatasetKind kind, const EvalOptions& options) {
  TV3S_CHECK(is_dir(root), root, ": no such dataset folder");
  EvalSet set = kind == DatasetKind::vspw ? list_vspw(root, options) : list_cityscapes(root, options);
  const std::string class_file = join(root, "classes.json");
  if (is_file(class_file)) {
    set.classes = read_class_file(class_file);
    set.classes_from = class_file;
  } else {
    set.classes = kind == DatasetKind::vspw ? vspw_classes() : cityscapes_classes();
    set.classes_from = str("the ", dataset_kind_name(kind), " class table");
  }
  TV3S_CHECK(set.frames() > 0, set.source, ": no frames to evaluate");
  return set;
}

void check_model_classes(const EvalSet& set, int64_t model_classes, const std::string& model) {
  TV3S_CHECK(model_classes == set.classes.size(), model, ": the model predicts ", model_classes,
             " classes, ", set.classes_from, " has ", set.classes.size());
}

io::LabelMap read_ground_truth(const EvalSet& set, const EvalFrame& frame) {
  io::LabelMap gt = io::read_label_png(frame.mask);
  const int64_t K = set.classes.size();
  for (size_t i = 0; i < gt.values.size(); ++i) {
    const uint8_t raw = gt.values[i];
    // reduce_zero_label: 0 ("others") → 255, v → v − 1, 255 (void) stays 255.
    const uint8_t v = !set.reduce_zero_label ? raw : raw == 0 ? 255 : raw == 255 ? 255 : uint8_t(raw - 1);
    if (v != 255 && v >= K) {
      fail(str(frame.mask, ": label ", int(raw), " at row ", i / size_t(gt.width), ", column ",
               i % size_t(gt.width), " is not a class of ", set.classes_from, " (",
               set.reduce_zero_label ? str("masks hold 0 = others, 1..", K, ", 255 = void")
                                     : str("masks hold train ids 0..", K - 1, ", 255 = ignored"),
               ")"));
    }
    gt.values[i] = v;
  }
  return gt;
}

std::string prediction_path(const EvalSet& set, const std::string& dir, const EvalVideo& video,
                            const EvalFrame& frame) {
  const std::string file = set.kind == DatasetKind::vspw ? frame.name + ".png" : frame.name + "_leftImg8bit.png";
  return join(join(dir, video.name), file);
}

io::LabelMap read_prediction(const std::string& path, int64_t classes, int width, int height,
                             const std::string& mask) {
  io::LabelMap pred = io::read_label_png(path);
  TV3S_CHECK(pred.width == width && pred.height == height, path, ": prediction is ", pred.width,
             "×", pred.height, ", its ground truth ", mask, " is ", width, "×", height);
  for (size_t i = 0; i < pred.values.size(); ++i) {
    if (pred.values[i] >= classes) {
      fail(str(path, ": label ", int(pred.values[i]), " at row ", i / size_t(width), ", column ",
               i % size_t(width), " is not a class (a prediction holds train ids 0..", classes - 1, ")"));
    }
  }
  return pred;
}

}  // namespace tv3s::data
