// Listing evaluation sets (src/data/eval_dataset.h) on tiny layouts built in a temporary
// folder: VSPW split files (stripped, sorted), frame order, masks and reduce_zero_label,
// Cityscapes gtFine scan and neighbouring frames (leftImg8bit first, then
// leftImg8bit_sequence), --videos/--limit, and every bad input with its exact message.
#include <filesystem>

#include "src/data/eval_dataset.h"
#include "tests/eval/eval_test_util.h"
#include "tests/io/io_test_util.h"

using namespace tv3s;
using data::DatasetKind;

namespace {

// ROOT with val.txt listing vid_b, vid_a, vid_c (unsorted, a blank line, spaces, no final
// newline), 3 / 2 / 1 frames of 2×3, K = 6 from classes.json.
void write_vspw_root(const std::string& root) {
  test::write_text(root + "/val.txt", "vid_b\n\n  vid_a \nvid_c");
  test::write_classes(root, {"a", "b", "c", "d", "e", "f"});
  const test::Labels mask = {0, 1, 2, 6, 255, 3};
  test::write_vspw_video(root, "vid_a", 2, 3, {mask, mask, mask});
  test::write_vspw_video(root, "vid_b", 2, 3, {mask, mask});
  test::write_vspw_video(root, "vid_c", 2, 3, {mask});
}

std::string names(const data::EvalSet& set) {
  std::string s;
  for (const data::EvalVideo& v : set.videos) s += (s.empty() ? "" : ",") + v.name;
  return s;
}

}  // namespace

TEST_CASE("eval dataset: VSPW split file, frame order, masks and reduce_zero_label") {
  const test::TempDir tmp;
  const std::string root = tmp.path();
  write_vspw_root(root);
  // Frames sort by name (byte order, as Python's sorted()): 00000010 after 00000005.
  const data::EvalSet set = data::list_eval_set(root, DatasetKind::vspw, {});
  CHECK(data::detect_dataset_kind(root) == DatasetKind::vspw);
  CHECK(names(set) == "vid_a,vid_b,vid_c");
  CHECK(set.frames() == 6);
  CHECK(set.reduce_zero_label);
  CHECK(set.classes.size() == 6);
  CHECK(set.classes_from == root + "/classes.json");
  const data::EvalVideo& a = set.videos[0];
  REQUIRE(a.frames.size() == 3);
  CHECK(a.frames[0].name == "00000000");
  CHECK(a.frames[2].name == "00000010");
  CHECK(a.frames[2].image == root + "/data/vid_a/origin/00000010.png");
  CHECK(a.frames[2].mask == root + "/data/vid_a/mask/00000010.png");
  // raw 0 ("others") → 255, v → v − 1, 255 (void) → 255.
  const io::LabelMap gt = data::read_ground_truth(set, a.frames[0]);
  CHECK(gt.width == 3);
  CHECK(gt.values == test::Labels{255, 0, 1, 5, 255, 2});
  CHECK(data::prediction_path(set, "P", a, a.frames[1]) == "P/vid_a/00000005.png");

  // Subsets: named videos in split order, or the first N.
  data::EvalOptions some;
  some.videos = {"vid_c", "vid_a"};
  CHECK(names(data::list_eval_set(root, DatasetKind::vspw, some)) == "vid_a,vid_c");
  data::EvalOptions first;
  first.limit = 2;
  CHECK(names(data::list_eval_set(root, DatasetKind::vspw, first)) == "vid_a,vid_b");
  some.videos = {"vid_x"};
  CHECK(test::error_message([&] { data::list_eval_set(root, DatasetKind::vspw, some); }) ==
        root + "/val.txt: has no video 'vid_x' (asked for by --videos)");

  // Without classes.json: the VSPW table.
  std::filesystem::remove(root + "/classes.json");
  const data::EvalSet plain = data::list_eval_set(root, DatasetKind::vspw, {});
  CHECK(plain.classes.size() == 124);
  CHECK(plain.classes.names[0] == "wall");
  CHECK(plain.classes_from == "the VSPW class table");
}

TEST_CASE("eval dataset: VSPW bad inputs name the path and what is wrong") {
  const test::TempDir tmp;
  const std::string root = tmp.path();
  write_vspw_root(root);
  auto list = [&](const data::EvalOptions& o = {}) {
    return test::error_message([&] { data::list_eval_set(root, DatasetKind::vspw, o); });
  };
  CHECK(test::error_message([&] { data::list_eval_set(root + "/nope", DatasetKind::vspw, {}); }) ==
        root + "/nope: no such dataset folder");
  CHECK(test::error_message([&] { data::detect_dataset_kind(root + "/data/vid_a"); }) ==
        root + "/data/vid_a: neither a VSPW root (<split>.txt, data/<video>/origin/) nor a Cityscapes "
               "root (gtFine/, leftImg8bit/); --dataset vspw|cityscapes names the layout");
  data::EvalOptions train;
  train.split = "train";
  CHECK(list(train) == root + "/train.txt: no such split file (a VSPW root lists the videos of a "
                              "split in <split>.txt)");
  data::EvalOptions test_split;
  test_split.split = "test";
  CHECK(list(test_split) == root + "/test.txt: the VSPW test split has no public masks, so it cannot "
                                   "be scored (with a model, --save-pred DIR writes its predictions only)");

  // A mask that is missing, one that is not a PNG, one with a label beyond K.
  std::filesystem::remove(root + "/data/vid_b/mask/00000005.png");
  CHECK(list() == root + "/data/vid_b/mask/00000005.png: missing mask of frame '00000005' of video 'vid_b'");
  test::write_text(root + "/data/vid_b/mask/00000005.png", "not an image");
  const data::EvalSet set = data::list_eval_set(root, DatasetKind::vspw, {});
  CHECK(test::error_message([&] { data::read_ground_truth(set, set.videos[1].frames[1]); }) ==
        root + "/data/vid_b/mask/00000005.png: not a PNG file");
  test::write_labels(root + "/data/vid_c/mask/00000000.png", 2, 3, {1, 1, 1, 1, 7, 1});
  CHECK(test::error_message([&] { data::read_ground_truth(set, set.videos[2].frames[0]); }) ==
        root + "/data/vid_c/mask/00000000.png: label 7 at row 1, column 1 is not a class of " + root +
            "/classes.json (masks hold 0 = others, 1..6, 255 = void)");

  // A video folder that is missing, one without frames.
  std::filesystem::remove_all(root + "/data/vid_c/origin");
  CHECK(list() == root + "/data/vid_c/origin: no such folder (the frames of video 'vid_c' listed in " +
                      root + "/val.txt)");
  std::filesystem::create_directories(root + "/data/vid_c/origin");
  CHECK(list() == root + "/data/vid_c/origin: no .jpg or .png frames in the folder");

  // Split files listing a video twice, or nothing.
  test::write_text(root + "/val.txt", "vid_a\nvid_a\n");
  CHECK(list() == root + "/val.txt: video 'vid_a' is listed twice");
  test::write_text(root + "/val.txt", "\n  \n");
  CHECK(list() == root + "/val.txt: the split file lists no videos");
}

TEST_CASE("eval dataset: K of the model against the dataset's class table") {
  const test::TempDir tmp;
  write_vspw_root(tmp.path());
  const data::EvalSet set = data::list_eval_set(tmp.path(), DatasetKind::vspw, {});
  data::check_model_classes(set, 6, "m.safetensors");
  CHECK(test::error_message([&] { data::check_model_classes(set, 5, "m.safetensors"); }) ==
        "m.safetensors: the model predicts 5 classes, " + tmp.path() + "/classes.json has 6");
}

TEST_CASE("eval dataset: saved predictions must match the mask's size and hold classes only") {
  const test::TempDir tmp;
  const std::string p = tmp.file("p.png");
  test::write_labels(p, 2, 3, {0, 1, 2, 3, 4, 5});
  CHECK(data::read_prediction(p, 6, 3, 2, "m.png").values == test::Labels{0, 1, 2, 3, 4, 5});
  CHECK(test::error_message([&] { data::read_prediction(p, 6, 2, 3, "m.png"); }) ==
        p + ": prediction is 3×2, its ground truth m.png is 2×3");
  CHECK(test::error_message([&] { data::read_prediction(p, 5, 3, 2, "m.png"); }) ==
        p + ": label 5 at row 1, column 2 is not a class (a prediction holds train ids 0..4)");
}

TEST_CASE("eval dataset: Cityscapes gtFine scan, images and neighbouring frames") {
  const test::TempDir tmp;
  const std::string root = tmp.path();
  const test::Labels gt = {0, 1, 18, 255};
  for (const char* name : {"lindau_000001_000019", "frankfurt_000000_000294", "frankfurt_000001_000019"}) {
    const std::string city = std::string(name).substr(0, std::string(name).find('_'));
    test::write_labels(root + "/gtFine/val/" + city + "/" + name + "_gtFine_labelTrainIds.png", 2, 2, gt);
    test::write_frame(root + "/leftImg8bit/val/" + city + "/" + name + "_leftImg8bit.png", 2, 2);
  }
  test::write_text(root + "/gtFine/val/frankfurt/frankfurt_000000_000294_gtFine_labelIds.png", "other");
  // Neighbours of frankfurt_000000_000294: 285 in leftImg8bit itself, 288 and 291 only in
  // the sequence tree.
  test::write_frame(root + "/leftImg8bit/val/frankfurt/frankfurt_000000_000285_leftImg8bit.png", 2, 2);
  for (const char* n : {"000285", "000288", "000291"})
    test::write_frame(root + "/leftImg8bit_sequence/val/frankfurt/frankfurt_000000_" + std::string(n) +
                          "_leftImg8bit.png", 2, 2);

  CHECK(data::detect_dataset_kind(root) == DatasetKind::cityscapes);
  const data::EvalSet set = data::list_eval_set(root, DatasetKind::cityscapes, {});
  CHECK(names(set) == "frankfurt,lindau");
  CHECK(set.frames() == 3);
  CHECK(!set.reduce_zero_label);
  CHECK(set.classes.size() == 19);
  const data::EvalFrame& f = set.videos[0].frames[0];
  CHECK(f.name == "frankfurt_000000_000294");
  CHECK(f.image == root + "/leftImg8bit/val/frankfurt/frankfurt_000000_000294_leftImg8bit.png");
  CHECK(f.mask == root + "/gtFine/val/frankfurt/frankfurt_000000_000294_gtFine_labelTrainIds.png");
  CHECK(data::read_ground_truth(set, f).values == gt);  // train ids as they are
  CHECK(data::prediction_path(set, "P", set.videos[0], f) == "P/frankfurt/frankfurt_000000_000294_leftImg8bit.png");

  data::EvalOptions clip;
  clip.context_offsets = {-9, -6, -3};
  clip.videos = {"frankfurt"};
  clip.limit = 1;
  const data::EvalSet with_context = data::list_eval_set(root, DatasetKind::cityscapes, clip);
  REQUIRE(with_context.frames() == 1);
  CHECK(with_context.context_offsets == clip.context_offsets);
  CHECK(set.context_offsets.empty());
  const data::EvalFrame& g = with_context.videos[0].frames[0];
  CHECK(g.context == std::vector<std::string>{
                         root + "/leftImg8bit/val/frankfurt/frankfurt_000000_000285_leftImg8bit.png",
                         root + "/leftImg8bit_sequence/val/frankfurt/frankfurt_000000_000288_leftImg8bit.png",
                         root + "/leftImg8bit_sequence/val/frankfurt/frankfurt_000000_000291_leftImg8bit.png"});

  // Frame 000019's neighbour −9 (000010) exists nowhere.
  clip.limit = 2;
  CHECK(test::error_message([&] { data::list_eval_set(root, DatasetKind::cityscapes, clip); }) ==
        root + "/leftImg8bit_sequence/val/frankfurt/frankfurt_000001_000010_leftImg8bit.png: missing "
               "neighbouring frame (offset -9) of frankfurt_000001_000019 (not in " +
            root + "/leftImg8bit/val/frankfurt either)");
  // A missing annotated image; a missing gtFine split.
  std::filesystem::remove(root + "/leftImg8bit/val/lindau/lindau_000001_000019_leftImg8bit.png");
  CHECK(test::error_message([&] { data::list_eval_set(root, DatasetKind::cityscapes, {}); }) ==
        root + "/leftImg8bit/val/lindau/lindau_000001_000019_leftImg8bit.png: missing image of the "
               "annotated frame lindau_000001_000019");
  data::EvalOptions train;
  train.split = "train";
  CHECK(test::error_message([&] { data::list_eval_set(root, DatasetKind::cityscapes, train); }) ==
        root + "/gtFine/train: no such folder (a Cityscapes root holds "
               "gtFine/<split>/<city>/*_gtFine_labelTrainIds.png)");
}
