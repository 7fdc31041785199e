// Listing an evaluation set on disk — which frames are scored, where their images,
// ground-truth masks and saved predictions are — the way the official code finds them
// (docs/datasets.md §1.1, §2.1, §3), with every missing piece reported by path before a
// long run starts.
//
// VSPW      ROOT/<split>.txt (one video per line; whitespace stripped, blank lines
//           skipped, sorted, as VSPWDataset2 sorts them), frames ROOT/data/<video>/origin/
//           *.jpg (or .png/.jpeg) sorted by file name (Python's sorted(): byte order),
//           masks ROOT/data/<video>/mask/<stem>.png, reduce_zero_label (0 → 255,
//           v → v − 1, 255 → 255). The test split has no masks: prediction only.
// Cityscapes every ROOT/gtFine/<split>/**/*_gtFine_labelTrainIds.png (sorted by path),
//           image ROOT/leftImg8bit/<split>/<city>/<name>_leftImg8bit.png, no reduction.
//           The neighbouring frames n + offset (offset −9, −6, −3 for the official clip)
//           are named by datasets.md §3's rule (frame field + offset, zero-padded to 6
//           digits) and looked up in leftImg8bit/<split>/<city>/ as the official code
//           does, then in leftImg8bit_sequence/<split>/<city>/ where the download puts
//           them. A "video" here is a city: its annotated frames, each with its own
//           neighbours (mVC is not defined on Cityscapes).
// Classes: ROOT/classes.json when present (what `tv3s synth` writes, with its own K),
// otherwise the VSPW (124) or Cityscapes (19) table of src/data/class_tables.h.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "src/data/class_tables.h"
#include "src/io/image.h"

namespace tv3s::data {

enum class DatasetKind { vspw, cityscapes };
// "vspw" | "cityscapes"; throws an Error otherwise.
DatasetKind parse_dataset_kind(const std::string& name);
const char* dataset_kind_name(DatasetKind kind);  // "VSPW" | "Cityscapes"
// From what the root holds: gtFine/ → Cityscapes, data/ or a split file → VSPW. Throws
// "<root>: ..." for a missing folder or one that looks like neither.
DatasetKind detect_dataset_kind(const std::string& root);

struct EvalFrame {
  std::string name;   // VSPW: the file stem ("00000587"); Cityscapes: "<city>_<seq>_<frame>"
  std::string image;  // the frame's image ("" unless images were asked for)
  std::string mask;   // its ground truth (VSPW: "" unless masks were asked for)
  std::vector<std::string> context;  // Cityscapes: the images at EvalOptions::context_offsets
};

struct EvalVideo {
  std::string name;  // VSPW: the video folder; Cityscapes: the city folder
  std::vector<EvalFrame> frames;
};

struct EvalOptions {
  std::string split = "val";
  bool images = true;  // list (and check) the frames' images: a model run
  bool masks = true;   // list (and check) the ground truth: metrics
  std::vector<int> context_offsets;   // Cityscapes: neighbours to find, oldest first
  std::vector<std::string> videos;    // only these videos (cities), in split order
  int64_t limit = 0;                  // only the first N videos (Cityscapes: frames); 0 = all
};

struct EvalSet {
  DatasetKind kind = DatasetKind::vspw;
  std::string root, split;
  std::string source;       // what the videos were listed from (split file / gtFine folder)
  bool reduce_zero_label = false;
  ClassTable classes;
  std::string classes_from;  // "ROOT/classes.json" or "the VSPW table" (for messages)
  std::vector<EvalVideo> videos;
  std::vector<int> context_offsets;  // Cityscapes: what each EvalFrame::context holds, in order
  int64_t frames() const;
};

// Lists the set. Throws "<path>: <what is missing>" for a missing split file, video folder,
// frame, mask or neighbouring frame; asking for masks on VSPW's test split is an error
// that says why.
EvalSet list_eval_set(const std::string& root, DatasetKind kind, const EvalOptions& options);

// Cityscapes neighbours, as evaluation and training both find them (datasets.md §3).
// The file of the frame `offset` frames from the annotated `frame`: its frame field +
// offset, zero-padded to 6 digits, + "_leftImg8bit.png"; "" when the number would be
// negative. A name without a frame field throws, naming frame.mask.
std::string cityscapes_neighbour_file(const EvalFrame& frame, int offset);
// Where `file` of `city` is: ROOT/leftImg8bit/<split>/<city>/ (as the official code
// looks), then ROOT/leftImg8bit_sequence/<split>/<city>/; "" when neither holds it.
std::string find_cityscapes_frame(const std::string& root, const std::string& split, const std::string& city,
                                  const std::string& file);

// "<model>: predicts K classes, <classes_from> has K'" when they differ.
void check_model_classes(const EvalSet& set, int64_t model_classes, const std::string& model);

// A frame's ground truth in train ids (VSPW: reduce_zero_label applied). A value that is
// not 255 nor a class of the set's table is an error naming the mask and the pixel.
io::LabelMap read_ground_truth(const EvalSet& set, const EvalFrame& frame);

// Where a frame's prediction lives in a predictions folder (the official result_submission
// layout, what --save-pred writes and --pred reads):
//   VSPW        DIR/<video>/<stem>.png
//   Cityscapes  DIR/<city>/<city>_<seq>_<frame>_leftImg8bit.png  (train ids, not label ids)
std::string prediction_path(const EvalSet& set, const std::string& dir, const EvalVideo& video,
                            const EvalFrame& frame);

// A saved prediction (grey or palette PNG of train ids). It must be width × height (the
// size of `mask`, named in the error) and hold only classes 0..K−1.
io::LabelMap read_prediction(const std::string& path, int64_t classes, int width, int height,
                             const std::string& mask);

}  // namespace tv3s::data
