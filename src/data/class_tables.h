// Class names and colours: the tables of VSPW and Cityscapes, a model's own (from its
// file's metadata), and a dataset's `classes.json` (what `tv3s synth` writes beside its
// videos). Used for overlays, palette PNGs and the per-class tables of `tv3s eval`.
#pragma once
#include <string>
#include <vector>

#include "src/io/image.h"

namespace tv3s::data {

struct ClassTable {
  std::string dataset;             // "vspw", "cityscapes", "synth", a file name, or "model"
  std::vector<std::string> names;  // one per class (train id order)
  io::Palette palette;             // one RGB colour per class
  int64_t size() const { return int64_t(names.size()); }
};

const ClassTable& vspw_classes();        // 124 classes (datasets.md §1.3)
const ClassTable& cityscapes_classes();  // 19 classes (datasets.md §2.3)

// K well-separated colours (hues stepped by the golden angle), for models without a palette.
io::Palette generated_palette(int64_t classes);

// The classes of a model predicting `classes` classes: `names` and `palette` from its
// file's metadata where they cover every class; otherwise VSPW's for 124 classes,
// Cityscapes' for 19, "class <i>" and generated colours for others.
ClassTable classes_of(int64_t classes, const std::vector<std::string>& names,
                      const io::Palette& palette);

// A named table for the command line: "vspw", "cityscapes", or a classes.json file.
// Throws when the table has fewer colours than `classes` ("<name>: palette has N colours,
// the model predicts K classes").
ClassTable class_table_by_name(const std::string& name, int64_t classes);

// classes.json: {"dataset": "...", "classes": [{"name": "...", "color": [r, g, b]}, ...]}.
// Reading checks every field and names the file in the error.
ClassTable read_class_file(const std::string& path);
void write_class_file(const std::string& path, const ClassTable& table);

}  // namespace tv3s::data
