// The class tables of the two datasets (datasets.md §1.3, §2.3): the palettes and names of
// the official code's VSPWDataset2 and CityscapesDataset_clips, in train-id order.
#include "src/data/class_tables.h"

#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "src/io/atomic_file.h"
#include "src/io/json_text.h"
#include "tv3s/error.h"

namespace tv3s::data {
namespace {

struct ClassInfo {
  const char* name;
  std::array<uint8_t, 3> rgb;
};

// VSPW: the first 124 colours of the ADE20K palette (train ids 6 and 48 share one colour).
const ClassInfo kVspw[] = {
    {"wall", {120, 120, 120}},
    {"ceiling", {180, 120, 120}},
    {"door", {6, 230, 230}},
    {"stair", {80, 50, 50}},
    {"ladder", {4, 200, 3}},
    {"escalator", {120, 120, 80}},
    {"Playground_slide", {140, 140, 140}},
    {"handrail_or_fence", {204, 5, 255}},
    {"window", {230, 230, 230}},
    {"rail", {4, 250, 7}},
    {"goal", {224, 5, 255}},
    {"pillar", {235, 255, 7}},
    {"pole", {150, 5, 61}},
    {"floor", {120, 120, 70}},
    {"ground", {8, 255, 51}},
    {"grass", {255, 6, 82}},
    {"sand", {143, 255, 140}},
    {"athletic_field", {204, 255, 4}},
    {"road", {255, 51, 7}},
    {"path", {204, 70, 3}},
    {"crosswalk", {0, 102, 200}},
    {"building", {61, 230, 250}},
    {"house", {255, 6, 51}},
    {"bridge", {11, 102, 255}},
    {"tower", {255, 7, 71}},
    {"windmill", {255, 9, 224}},
    {"well_or_well_lid", {9, 7, 230}},
    {"other_construction", {220, 220, 220}},
    {"sky", {255, 9, 92}},
    {"mountain", {112, 9, 255}},
    {"stone", {8, 255, 214}},
    {"wood", {7, 255, 224}},
    {"ice", {255, 184, 6}},
    {"snowfield", {10, 255, 71}},
    {"grandstand", {255, 41, 10}},
    {"sea", {7, 255, 255}},
    {"river", {224, 255, 8}},
    {"lake", {102, 8, 255}},
    {"waterfall", {255, 61, 6}},
    {"water", {255, 194, 7}},
    {"billboard_or_Bulletin_Board", {255, 122, 8}},
    {"sculpture", {0, 255, 20}},
    {"pipeline", {255, 8, 41}},
    {"flag", {255, 5, 153}},
    {"parasol_or_umbrella", {6, 51, 255}},
    {"cushion_or_carpet", {235, 12, 255}},
    {"tent", {160, 150, 20}},
    {"roadblock", {0, 163, 255}},
    {"car", {140, 140, 140}},
    {"bus", {250, 10, 15}},
    {"truck", {20, 255, 0}},
    {"bicycle", {31, 255, 0}},
    {"motorcycle", {255, 31, 0}},
    {"wheeled_machine", {255, 224, 0}},
    {"ship_or_boat", {153, 255, 0}},
    {"raft", {0, 0, 255}},
    {"airplane", {255, 71, 0}},
    {"tyre", {0, 235, 255}},
    {"traffic_light", {0, 173, 255}},
    {"lamp", {31, 0, 255}},
    {"person", {11, 200, 200}},
    {"cat", {255, 82, 0}},
    {"dog", {0, 255, 245}},
    {"horse", {0, 61, 255}},
    {"cattle", {0, 255, 112}},
    {"other_animal", {0, 255, 133}},
    {"tree", {255, 0, 0}},
    {"flower", {255, 163, 0}},
    {"other_plant", {255, 102, 0}},
    {"toy", {194, 255, 0}},
    {"ball_net", {0, 143, 255}},
    {"backboard", {51, 255, 0}},
    {"skateboard", {0, 82, 255}},
    {"bat", {0, 255, 41}},
    {"ball", {0, 255, 173}},
    {"cupboard_or_showcase_or_storage_rack", {10, 0, 255}},
    {"box", {173, 255, 0}},
    {"traveling_case_or_trolley_case", {0, 255, 153}},
    {"basket", {255, 92, 0}},
    {"bag_or_package", {255, 0, 255}},
    {"trash_can", {255, 0, 245}},
    {"cage", {255, 0, 102}},
    {"plate", {255, 173, 0}},
    {"tub_or_bowl_or_pot", {255, 0, 20}},
    {"bottle_or_cup", {255, 184, 184}},
    {"barrel", {0, 31, 255}},
    {"fishbowl", {0, 255, 61}},
    {"bed", {0, 71, 255}},
    {"pillow", {255, 0, 204}},
    {"table_or_desk", {0, 255, 194}},
    {"chair_or_seat", {0, 255, 82}},
    {"bench", {0, 10, 255}},
    {"sofa", {0, 112, 255}},
    {"shelf", {51, 0, 255}},
    {"bathtub", {0, 194, 255}},
    {"gun", {0, 122, 255}},
    {"commode", {0, 255, 163}},
    {"roaster", {255, 153, 0}},
    {"other_machine", {0, 255, 10}},
    {"refrigerator", {255, 112, 0}},
    {"washing_machine", {143, 255, 0}},
    {"Microwave_oven", {82, 0, 255}},
    {"fan", {163, 255, 0}},
    {"curtain", {255, 235, 0}},
    {"textiles", {8, 184, 170}},
    {"clothes", {133, 0, 255}},
    {"painting_or_poster", {0, 255, 92}},
    {"mirror", {184, 0, 255}},
    {"flower_pot_or_vase", {255, 0, 31}},
    {"clock", {0, 184, 255}},
    {"book", {0, 214, 255}},
    {"tool", {255, 0, 112}},
    {"blackboard", {92, 255, 0}},
    {"tissue", {0, 224, 255}},
    {"screen_or_television", {112, 224, 255}},
    {"computer", {70, 184, 160}},
    {"printer", {163, 0, 255}},
    {"Mobile_phone", {153, 0, 255}},
    {"keyboard", {71, 255, 0}},
    {"other_electronic_product", {255, 0, 163}},
    {"fruit", {255, 204, 0}},
    {"food", {255, 0, 143}},
    {"instrument", {0, 255, 235}},
    {"train", {133, 255, 0}},
};

const ClassInfo kCityscapes[] = {
    {"road", {128, 64, 128}},
    {"sidewalk", {244, 35, 232}},
    {"building", {70, 70, 70}},
    {"wall", {102, 102, 156}},
    {"fence", {190, 153, 153}},
    {"pole", {153, 153, 153}},
    {"traffic light", {250, 170, 30}},
    {"traffic sign", {220, 220, 0}},
    {"vegetation", {107, 142, 35}},
    {"terrain", {152, 251, 152}},
    {"sky", {70, 130, 180}},
    {"person", {220, 20, 60}},
    {"rider", {255, 0, 0}},
    {"car", {0, 0, 142}},
    {"truck", {0, 0, 70}},
    {"bus", {0, 60, 100}},
    {"train", {0, 80, 100}},
    {"motorcycle", {0, 0, 230}},
    {"bicycle", {119, 11, 32}},
};

template <size_t N>
ClassTable make_table(const std::string& dataset, const ClassInfo (&info)[N]) {
  ClassTable table;
  table.dataset = dataset;
  for (const ClassInfo& c : info) {
    table.names.push_back(c.name);
    table.palette.push_back(c.rgb);
  }
  return table;
}

}  // namespace

const ClassTable& vspw_classes() {
  static const ClassTable table = make_table("vspw", kVspw);
  return table;
}

const ClassTable& cityscapes_classes() {
  static const ClassTable table = make_table("cityscapes", kCityscapes);
  return table;
}

io::Palette generated_palette(int64_t classes) {
  // Hue stepped by the golden angle, two lightness levels alternating: neighbouring ids
  // get clearly different colours for any count.
  io::Palette palette;
  for (int64_t i = 0; i < classes; ++i) {
    const double h = std::fmod(double(i) * 0.6180339887498949, 1.0) * 6.0;
    const double v = (i % 2 == 0) ? 0.95 : 0.7, s = 0.75;
    const double c = v * s, x = c * (1 - std::fabs(std::fmod(h, 2.0) - 1)), m = v - c;
    double r = 0, g = 0, b = 0;
    switch (int(h)) {
      case 0: r = c, g = x; break;
      case 1: r = x, g = c; break;
      case 2: g = c, b = x; break;
      case 3: g = x, b = c; break;
      case 4: r = x, b = c; break;
      default: r = c, b = x; break;
    }
    palette.push_back({uint8_t(std::lround((r + m) * 255)), uint8_t(std::lround((g + m) * 255)),
                       uint8_t(std::lround((b + m) * 255))});
  }
  return palette;
}

ClassTable classes_of(int64_t classes, const std::vector<std::string>& names,
                      const io::Palette& palette) {
  const int64_t K = classes;
  ClassTable table;
  if (K == vspw_classes().size()) table = vspw_classes();
  else if (K == cityscapes_classes().size()) table = cityscapes_classes();
  else {
    table.dataset = "generated";
    for (int64_t i = 0; i < K; ++i) table.names.push_back(str("class ", i));
    table.palette = generated_palette(K);
  }
  // The file's own names and colours win over the guess from the class count.
  if (int64_t(names.size()) == K) table.names = names, table.dataset = "model";
  if (int64_t(palette.size()) >= K) table.palette.assign(palette.begin(), palette.begin() + K);
  return table;
}

ClassTable class_table_by_name(const std::string& name, int64_t classes) {
  ClassTable table = name == "vspw"         ? vspw_classes()
                     : name == "cityscapes" ? cityscapes_classes()
                                            : read_class_file(name);
  TV3S_CHECK(table.size() >= classes, name, ": palette has ", table.size(), " colours, the model "
             "predicts ", classes, " classes");
  return table;
}

ClassTable read_class_file(const std::string& path) {
  const nlohmann::json j = io::parse_json(io::read_json_file(path), path);
  io::json_object(j, path + ": a class list");
  ClassTable table;
  table.dataset = j.contains("dataset") ? io::json_string(j["dataset"], path + ": \"dataset\"")
                                        : std::filesystem::path(path).stem().string();
  TV3S_CHECK(j.contains("classes"), path, ": a class list needs \"classes\"");
  const nlohmann::json& classes = j["classes"];
  io::json_list(classes, path + ": \"classes\"", 1, 256);
  for (size_t i = 0; i < classes.size(); ++i) {
    const std::string where = str(path, ": class ", i);
    const nlohmann::json& c = classes[i];
    io::json_object(c, where);
    TV3S_CHECK(c.contains("name") && c.contains("color"), where, ": needs \"name\" and \"color\"");
    const nlohmann::json& rgb = c["color"];
    io::json_list(rgb, where + ": \"color\" [r, g, b]", 3, 3);
    std::array<uint8_t, 3> colour{};
    for (size_t k = 0; k < 3; ++k) colour[k] = uint8_t(io::json_int(rgb[k], str(where, ": colour value"), 0, 255));
    table.names.push_back(io::json_string(c["name"], where + ": \"name\""));
    table.palette.push_back(colour);
  }
  return table;
}

void write_class_file(const std::string& path, const ClassTable& table) {
  TV3S_CHECK(table.names.size() == table.palette.size(), path, ": ", table.names.size(),
             " class names for ", table.palette.size(), " colours");
  nlohmann::json classes = nlohmann::json::array();
  for (size_t i = 0; i < table.names.size(); ++i)
    classes.push_back({{"name", table.names[i]}, {"color", table.palette[i]}});
  const nlohmann::json j = {{"dataset", table.dataset}, {"classes", classes}};
  io::write_file_atomic(path, j.dump(2) + "\n");
}

}  // namespace tv3s::data
