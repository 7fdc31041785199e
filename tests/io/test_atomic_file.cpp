// write_file_atomic: the whole file or nothing, and never a stray temporary file.
#include "src/io/atomic_file.h"
#include "tests/io/io_test_util.h"
#include "tests/test_util.h"

using namespace tv3s;
using tv3s::test::error_message;
using tv3s::test::read_bytes;
using tv3s::test::TempDir;

TEST_CASE("atomic file: writes the content and replaces an existing file") {
  TempDir dir;
  const std::string path = dir.file("out.bin");
  io::write_file_atomic(path, std::string("first", 5));
  CHECK(read_bytes(path) == "first");
  io::write_file_atomic(path, [](const io::ByteSink& sink) {
    sink("ab", 2);
    sink("", 0);
    sink("\0c", 2);
  });
  CHECK(read_bytes(path) == std::string("ab\0c", 4));
  CHECK(dir.entries() == std::vector<std::string>{"out.bin"});
}

TEST_CASE("atomic file: a throwing writer leaves nothing, and the old file untouched") {
  TempDir dir;
  const std::string path = dir.file("out.bin");
  const auto failing = [](const io::ByteSink& sink) {
    sink("partial", 7);
    fail("encoder: broken");
  };
  CHECK(error_message([&] { io::write_file_atomic(path, failing); }) == "encoder: broken");
  CHECK(dir.entries().empty());

  io::write_file_atomic(path, std::string("old"));
  CHECK(error_message([&] { io::write_file_atomic(path, failing); }) == "encoder: broken");
  CHECK(read_bytes(path) == "old");
  CHECK(dir.entries() == std::vector<std::string>{"out.bin"});

  // Exceptions that are not tv3s::Error become one, naming the file.
  const auto throws_std = [](const io::ByteSink&) { throw std::runtime_error("out of luck"); };
  CHECK(error_message([&] { io::write_file_atomic(path, throws_std); }) == path + ": out of luck");
  CHECK(read_bytes(path) == "old");
}

TEST_CASE("atomic file: an impossible destination names the file and the reason") {
  TempDir dir;
  const std::string missing = dir.file("no/such/folder/out.bin");
  CHECK(error_message([&] { io::write_file_atomic(missing, std::string("x")); }) ==
        missing + ": cannot create a file there: No such file or directory");
  // A folder in the way: the rename fails and the temporary file goes away.
  const std::string folder = dir.file("taken");
  std::filesystem::create_directory(folder);
  std::filesystem::create_directory(folder + "/child");
  CHECK(error_message([&] {
          io::write_file_atomic(folder, std::string("x"));
        }).rfind(folder + ": cannot move the finished file into place: ", 0) == 0);
  CHECK(dir.entries() == std::vector<std::string>{"taken"});
}
