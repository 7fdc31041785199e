// Frame folders: natural order of file names, the image extensions taken, the errors.
#include <algorithm>
#include <fstream>
#include <vector>

#include "src/io/frame_list.h"
#include "tests/test_util.h"

using tv3s::io::list_frames;
using tv3s::io::natural_less;

TEST_CASE("frame list: natural order compares digit runs as numbers") {
  std::vector<std::string> names = {"frame10.png", "frame2.png", "frame1.png", "frame002.png",
                                    "a.png",       "frame.png",  "frame10b.png", "frame10a.png",
                                    "00000099.jpg", "00000100.jpg", "frame123456789012345678901.png"};
  std::sort(names.begin(), names.end(), natural_less);
  CHECK(names == std::vector<std::string>{"00000099.jpg", "00000100.jpg", "a.png", "frame.png",
                                          "frame1.png", "frame002.png", "frame2.png",
                                          "frame10.png", "frame10a.png", "frame10b.png",
                                          "frame123456789012345678901.png"});
  CHECK(!natural_less("x", "x"));
  CHECK(natural_less("f01", "f1") != natural_less("f1", "f01"));  // a strict order on ties
}

TEST_CASE("frame list: PNG/JPEG files of a folder in natural order; errors name the folder") {
  const tv3s::test::TempDir dir;
  for (const char* name : {"10.png", "9.JPG", "11.jpeg", "notes.txt", "1.png"})
    std::ofstream(dir.file(name)) << "x";
  const std::vector<std::string> frames = list_frames(dir.path());
  CHECK(frames == std::vector<std::string>{dir.file("1.png"), dir.file("9.JPG"),
                                           dir.file("10.png"), dir.file("11.jpeg")});
  const tv3s::test::TempDir empty;
  CHECK_THROWS_WITH(list_frames(empty.path()), doctest::Contains("no PNG or JPEG frames"));
  CHECK_THROWS_WITH(list_frames(dir.file("1.png")), doctest::Contains("not a folder"));
}
