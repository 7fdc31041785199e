// classes.json (data::read_class_file): a file written by write_class_file reads back, and
// every bad file — JSON the library refuses, numbers out of range, wrong types, deep
// nesting, a file too large — is one line naming the file and the rule.
#include <filesystem>

#include "src/data/class_tables.h"
#include "tests/io/io_test_util.h"
#include "tests/test_util.h"

using namespace tv3s;

TEST_CASE("class tables: classes.json round trip, and bad files are one-line errors naming them") {
  test::TempDir dir;
  const std::string path = dir.file("classes.json");
  data::ClassTable table;
  table.dataset = "mine";
  table.names = {"sky", "road"};
  table.palette = {{1, 2, 3}, {250, 251, 252}};
  data::write_class_file(path, table);
  const data::ClassTable back = data::read_class_file(path);
  CHECK(back.dataset == "mine");
  CHECK(back.names == table.names);
  CHECK(back.palette == table.palette);

  const auto error_of = [&](const std::string& text) {
    test::write_bytes(path, text);
    return test::error_message([&] { data::read_class_file(path); });
  };
  const auto with_class = [&](const std::string& entry) {
    return error_of(R"({"classes": [)" + entry + "]}");
  };
  CHECK(with_class(R"({"name": "a", "color": [1, 2, 3]})") == "(no error)");
  const std::string overflow = with_class(R"({"name": "a", "color": [1e999, 2, 3]})");
  CHECK(overflow.rfind(path + ": not valid JSON (", 0) == 0);
  CHECK(overflow.find("number overflow") != std::string::npos);
  CHECK(with_class(R"({"name": "a", "color": [256, 2, 3]})") ==
        path + ": class 0: colour value must be an integer in [0, 255], got 256");
  CHECK(with_class(R"({"name": "a", "color": [1e300, 2, 3]})") ==
        path + ": class 0: colour value must be an integer in [0, 255], got 1e+300");
  CHECK(with_class(R"({"name": "a", "color": [-1, 2, 3]})") ==
        path + ": class 0: colour value must be an integer in [0, 255], got -1");
  CHECK(with_class(R"({"name": "a", "color": "red"})") ==
        path + ": class 0: \"color\" [r, g, b] must be a list of 3 entries, got \"red\"");
  CHECK(with_class(R"({"name": 5, "color": [1, 2, 3]})") == path + ": class 0: \"name\" must be a string, got 5");
  CHECK(with_class(R"({"color": [1, 2, 3]})") == path + ": class 0: needs \"name\" and \"color\"");
  CHECK(with_class(R"(["a", [1, 2, 3]])") == path + ": class 0 must be a JSON object, got [\"a\",[1,2,3]]");
  CHECK(error_of(R"({"classes": {"a": 1}})") == path + ": \"classes\" must be a list of 1 to 256 entries, got {\"a\":1}");
  CHECK(error_of(R"({"classes": []})") == path + ": \"classes\" must be a list of 1 to 256 entries, got []");
  CHECK(error_of(R"({"dataset": 7, "classes": []})") == path + ": \"dataset\" must be a string, got 7");
  CHECK(error_of("[1]") == path + ": a class list must be a JSON object, got [1]");
  CHECK(error_of("{}") == path + ": a class list needs \"classes\"");
  CHECK(error_of(R"({"classes": )" + std::string(100, '[') + std::string(100, ']') + "}") ==
        path + ": JSON nested deeper than 64 levels");
  CHECK(error_of("{\"dataset\": \"\xe9t\xe9\"}").rfind(path + ": not valid JSON (", 0) == 0);  // Latin-1
  // A file is read whole: its size is bounded first (limits.h, 16 MiB).
  {
    std::ofstream big(path, std::ios::binary | std::ios::trunc);
    big.seekp((std::streamoff(16) << 20));
    big.put(' ');
  }
  CHECK(test::error_message([&] { data::read_class_file(path); }) ==
        path + ": 16777217 bytes is too large for a JSON file (at most 16777216)");
}
