// The zip reader against archives written by torch.save and Python's zipfile, against
// archives broken one fault at a time (tools/gen_checkpoint_fixtures.py), and against
// archives assembled byte by byte here for the faults no zip writer produces.
#include <algorithm>

#include "src/io/zip_reader.h"
#include "tests/io/io_test_util.h"
#include "tests/test_util.h"

namespace {

using tv3s::io::ZipReader;
using tv3s::test::error_message;

std::string fixture(const std::string& name) {
  return std::string(TV3S_SOURCE_DIR) + "/tests/data/io/" + name;
}

std::string le(uint64_t v, int bytes) {
  std::string s;
  for (int i = 0; i < bytes; ++i) s += char((v >> (8 * i)) & 0xFF);
  return s;
}

std::string local_header(const std::string& name, const std::string& data, uint16_t flags = 0) {
  const uint32_t crc = tv3s::io::crc32(data.data(), data.size());
  return le(0x04034b50, 4) + le(20, 2) + le(flags, 2) + le(0, 2) + le(0, 4) + le(crc, 4) +
         le(data.size(), 4) + le(data.size(), 4) + le(name.size(), 2) + le(0, 2) + name;
}

// A stored zip: each entry's local header and data in order (unless `written` is false),
// then the central directory and the end record. `local_name` / `local_offset` lie.
struct RawEntry {
  std::string name, data;
  std::string local_name = "";      // default: name
  int64_t local_offset = -1;        // default: where it was written
  bool written = true;
  uint16_t flags = 0;
};

std::string build_zip(const std::vector<RawEntry>& entries) {
  std::string out, cd;
  for (const RawEntry& e : entries) {
    const uint64_t offset = e.local_offset >= 0 ? uint64_t(e.local_offset) : out.size();
    if (e.written)
      out += local_header(e.local_name.empty() ? e.name : e.local_name, e.data, e.flags) + e.data;
    const uint32_t crc = tv3s::io::crc32(e.data.data(), e.data.size());
    cd += le(0x02014b50, 4) + le(20, 2) + le(20, 2) + le(e.flags, 2) + le(0, 2) + le(0, 4) +
          le(crc, 4) + le(e.data.size(), 4) + le(e.data.size(), 4) + le(e.name.size(), 2) +
          le(0, 2) + le(0, 2) + le(0, 2) + le(0, 2) + le(0, 4) + le(offset, 4) + e.name;
  }
  const uint64_t cd_offset = out.size();
  out += cd + le(0x06054b50, 4) + le(0, 2) + le(0, 2) + le(entries.size(), 2) +
         le(entries.size(), 2) + le(cd.size(), 4) + le(cd_offset, 4) + le(0, 2);
  return out;
}

}  // namespace

TEST_CASE("zip: CRC-32 of the standard check string, in one piece and in two") {
  CHECK(tv3s::io::crc32("123456789", 9) == 0xCBF43926u);
  CHECK(tv3s::io::crc32("", 0) == 0u);
  CHECK(tv3s::io::crc32("6789", 4, tv3s::io::crc32("12345", 5)) == 0xCBF43926u);
}

TEST_CASE("zip: the entries of a torch.save archive, data found after torch's padded local headers") {
  ZipReader zip(fixture("ckpt_state_dict.pth"));
  const ZipReader::Entry* pickle = zip.find("ckpt_state_dict/data.pkl");
  REQUIRE(pickle != nullptr);
  CHECK(zip.read(*pickle).substr(0, 2) == "\x80\x02");  // PROTO 2
  const ZipReader::Entry* order = zip.find("ckpt_state_dict/byteorder");
  REQUIRE(order != nullptr);
  CHECK(zip.read(*order) == "little");
  CHECK(zip.find("ckpt_state_dict/nothing") == nullptr);
  int storages = 0;
  for (const auto& e : zip.entries()) {
    if (e.name.find("/data/") == std::string::npos) continue;
    ++storages;
    CHECK(e.data_offset % 64 == 0);  // torch aligns storages with local extra-field padding
  }
  CHECK(storages == 14);
}

TEST_CASE("zip: ZIP64 extra fields and end records give the same entries") {
  ZipReader plain(fixture("ckpt_state_dict.pth")), zip64(fixture("ckpt_state_dict_zip64.pth"));
  REQUIRE(plain.entries().size() == zip64.entries().size());
  for (const auto& e : plain.entries()) {
    const ZipReader::Entry* other = zip64.find(e.name);
    REQUIRE_MESSAGE(other != nullptr, e.name);
    CHECK(other->size == e.size);
    CHECK(zip64.read(*other) == plain.read(e));
  }
}

TEST_CASE("zip: broken archives are one-line errors naming the file and the fault") {
  struct Case {
    const char* file;
    const char* fault;
  };
  for (const Case& c : {Case{"bad_truncated.pth", "no end-of-central-directory record"},
                        Case{"bad_offset.pth", "has its local header at offset"},
                        Case{"bad_compressed.pth", "is compressed (method 8)"},
                        Case{"ckpt_state_dict.json", "not a zip archive"}}) {
    const std::string path = fixture(c.file);
    const std::string message = error_message([&] { ZipReader zip(path); });
    INFO(c.file, ": ", message);
    CHECK(message.rfind(path + ": ", 0) == 0);
    CHECK(message.find(c.fault) != std::string::npos);
  }
}

TEST_CASE("zip: a flipped byte is caught by the CRC when the entry is read") {
  ZipReader zip(fixture("bad_crc.pth"));  // the directory is intact
  const ZipReader::Entry* storage = zip.find("bad_base/data/0");
  REQUIRE(storage != nullptr);
  const std::string message = error_message([&] { zip.read(*storage); });
  CHECK(message.find("'bad_base/data/0' is corrupt (CRC-32") != std::string::npos);
  std::vector<char> buffer(storage->size);
  CHECK(error_message([&] { zip.read_into(*storage, buffer.data()); }) == message);
}

TEST_CASE("zip: duplicate, mislabelled, overlapping, encrypted and out-of-range entries") {
  tv3s::test::TempDir dir;
  auto open_error = [&](const std::string& bytes) {
    const std::string path = dir.file("crafted.zip");
    tv3s::test::write_bytes(path, bytes);
    return error_message([&] { ZipReader zip(path); });
  };

  const std::string good = build_zip({{"a", "alpha"}, {"dir/b", "beta"}});
  CHECK(open_error(good) == "(no error)");
  {
    tv3s::test::write_bytes(dir.file("good.zip"), good);
    ZipReader zip(dir.file("good.zip"));
    CHECK(zip.read(*zip.find("dir/b")) == "beta");
  }
  CHECK(open_error(build_zip({{"x", "1"}, {"x", "2"}})).find("two entries named 'x'") !=
        std::string::npos);
  CHECK(open_error(build_zip({{"x", "1", "y"}})).find("has a local header for 'y'") !=
        std::string::npos);
  RawEntry encrypted{"x", "1"};
  encrypted.flags = 1;
  CHECK(open_error(build_zip({encrypted})).find("'x' is encrypted") != std::string::npos);

  // b's local header and data hidden inside a's data: both read fine alone, but overlap.
  RawEntry outer{"a", local_header("b", "hello") + "hello"};
  RawEntry inner{"b", "hello"};
  inner.written = false;
  inner.local_offset = 30 + 1;  // a's data starts after its 30-byte header and 1-byte name
  CHECK(open_error(build_zip({outer, inner})).find("entries 'a' and 'b' overlap") !=
        std::string::npos);

  // The end record's central-directory offset pointing past the end of the file.
  std::string moved = good;
  const size_t eocd = moved.size() - 22;
  moved.replace(eocd + 16, 4, le(1u << 30, 4));
  CHECK(open_error(moved).find("the central directory") != std::string::npos);
  CHECK(open_error("").find("not a zip archive (only 0 bytes)") != std::string::npos);

  // Bounds set by the archive's size, before anything is allocated for them (limits.h).
  // good: a (31 + 5 bytes), dir/b (35 + 4), then the directory (47 + 51 bytes) and the end.
  const std::string path = dir.file("crafted.zip");
  std::string many = good;
  many.replace(eocd + 8, 2, le(60000, 2));  // entries on this disk
  many.replace(eocd + 10, 2, le(60000, 2));  // entries in all
  CHECK(open_error(many) == path + ": 60000 entries cannot fit a central directory of 98 bytes");
  std::string huge = good;
  const size_t record = 75;  // a's central directory record
  huge.replace(record + 20, 8, le(0xFFFFFFF0, 4) + le(0xFFFFFFF0, 4));  // compressed and real size
  CHECK(open_error(huge) == path + ": entry 'a' (4294967280 bytes at offset 31) runs past the archive's data, "
                                   "which ends at offset 75");
  std::string deflated = good;
  deflated.replace(record + 10, 2, le(8, 2));  // method 8: no compressed entry, so no expansion ratio
  CHECK(open_error(deflated).find("entry 'a' is compressed (method 8)") != std::string::npos);
}
