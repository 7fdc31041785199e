// model_classes (include/tv3s/model_classes.h): the public face of data::classes_of, so that a
// library user gets class names and colours without the internal headers.
#include "tv3s/model_classes.h"

#include "src/data/class_tables.h"
#include "src/pipeline/segmenter.h"

namespace tv3s {

std::vector<ClassInfo> model_classes(const Segmenter& segmenter) {
  const ModelConfig& config = segmenter.config();
  const data::ClassTable table = data::classes_of(config.num_classes, config.class_names, config.palette);
  std::vector<ClassInfo> classes;
  for (int64_t i = 0; i < table.size(); ++i)
    classes.push_back({table.names[size_t(i)], table.palette[size_t(i)]});
  return classes;
}

}  // namespace tv3s
