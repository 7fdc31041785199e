// read_torch_checkpoint against files torch.save wrote (tools/gen_checkpoint_fixtures.py):
// every tensor compared exactly with the values PyTorch stored beside it, meta compared as
// JSON; and the refusals — a pickle naming os.system, broken archives, broken pickles.
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "src/io/torch_checkpoint.h"
#include "src/io/zip_reader.h"
#include "tests/io/io_test_util.h"
#include "tests/test_util.h"

namespace {

using tv3s::io::read_torch_checkpoint;
using tv3s::io::TorchCheckpoint;
using tv3s::test::error_message;

std::string fixture(const std::string& name) {
  return std::string(TV3S_SOURCE_DIR) + "/tests/data/io/" + name;
}

nlohmann::json expected(const std::string& name) {
  std::ifstream in(fixture(name));
  return nlohmann::json::parse(in);
}

void check_tensors(const TorchCheckpoint& got, const nlohmann::json& want) {
  const auto& tensors = want["tensors"];
  REQUIRE(got.tensors.size() == tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    const auto& w = tensors[i];
    const auto& [name, t] = got.tensors[i];
    INFO("tensor ", i, " ", w["name"].get<std::string>(), ": got ", name, " ", t.desc());
    CHECK(name == w["name"].get<std::string>());
    CHECK(std::string(tv3s::dtype_name(t.dtype())) == w["dtype"].get<std::string>());
    CHECK(t.shape().vec() == w["shape"].get<std::vector<int64_t>>());
    CHECK(t.to_vector_f64() == w["values"].get<std::vector<double>>());
  }
}

const char* const kMarker = "/tmp/tv3s_pickle_marker_must_not_exist";

std::string le(uint64_t v, int bytes) {
  std::string s;
  for (int i = 0; i < bytes; ++i) s += char((v >> (8 * i)) & 0xFF);
  return s;
}

// A zip archive of stored entries, as torch.save writes them (without its padding).
std::string stored_zip(const std::vector<std::pair<std::string, std::string>>& entries) {
  std::string out, cd;
  for (const auto& [name, data] : entries) {
    const std::string sizes = le(tv3s::io::crc32(data.data(), data.size()), 4) + le(data.size(), 4) + le(data.size(), 4);
    cd += le(0x02014b50, 4) + le(20, 2) + le(20, 2) + le(0, 8) + sizes + le(name.size(), 2) + le(0, 8) +
          le(0, 4) + le(out.size(), 4) + name;
    out += le(0x04034b50, 4) + le(20, 2) + le(0, 4) + le(0, 4) + sizes + le(name.size(), 2) + le(0, 2) + name + data;
  }
  return out + cd + le(0x06054b50, 4) + le(0, 4) + le(entries.size(), 2) + le(entries.size(), 2) +
         le(cd.size(), 4) + le(out.size(), 4) + le(0, 2);
}

}  // namespace

TEST_CASE("checkpoint: a state dict of every dtype, views and a shared storage, as torch wrote it") {
  const nlohmann::json want = expected("ckpt_state_dict.json");
  // Protocol 2 (torch's default), protocol 4, and the same archive with ZIP64 records.
  for (const char* file : {"ckpt_state_dict.pth", "ckpt_state_dict_p4.pth",
                           "ckpt_state_dict_zip64.pth"}) {
    INFO(file);
    const TorchCheckpoint ckpt = read_torch_checkpoint(fixture(file));
    check_tensors(ckpt, want);
    CHECK(ckpt.meta.is_null());
  }
}

TEST_CASE("checkpoint: an mmseg checkpoint gives its state_dict's tensors and its meta as JSON") {
  const nlohmann::json want = expected("ckpt_mmseg.json");
  const TorchCheckpoint ckpt = read_torch_checkpoint(fixture("ckpt_mmseg.pth"));
  check_tensors(ckpt, want);  // the optimizer's tensors are not among them
  CHECK(ckpt.meta == want["meta"]);
  CHECK(ckpt.meta["CLASSES"] == nlohmann::json({"sky", "road"}));
  CHECK(ckpt.meta["blob"].is_null());  // bytes have no JSON form
}

TEST_CASE("checkpoint: nested dicts under 'model' are named by their keys joined with '.'") {
  check_tensors(read_torch_checkpoint(fixture("ckpt_nested.pth")), expected("ckpt_nested.json"));
}

TEST_CASE("checkpoint: Hugging Face tensors viewing one storage at different offsets and strides") {
  check_tensors(read_torch_checkpoint(fixture("ckpt_hf_shared.bin")),
                expected("ckpt_hf_shared.json"));
}

TEST_CASE("checkpoint: a pickle naming os.system is refused when the name is read, never run") {
  std::filesystem::remove(kMarker);
  for (const char* file : {"evil_reduce.pth", "evil_reduce_p4.pth"}) {
    const std::string path = fixture(file);
    const std::string message = error_message([&] { read_torch_checkpoint(path); });
    INFO(message);
    CHECK(message.rfind(path + ": pickle byte ", 0) == 0);
    CHECK(message.find("forbidden global 'posix.system' — tv3s only reads tensors, it never "
                       "runs pickle code") != std::string::npos);
  }
  CHECK(!std::filesystem::exists(kMarker));
}

TEST_CASE("checkpoint: broken archives, pickles and storages are errors naming the file") {
  struct Case {
    const char* file;
    const char* fault;
  };
  for (const Case& c : {
           Case{"bad_truncated.pth", "no end-of-central-directory record"},
           Case{"bad_crc.pth", "'bad_base/data/0' is corrupt (CRC-32"},
           Case{"bad_offset.pth", "has its local header at offset"},
           Case{"bad_compressed.pth", "is compressed (method 8)"},
           Case{"bad_no_pickle.pth", "a zip archive without <folder>/data.pkl"},
           Case{"bad_missing_storage.pth", "storage '0' has no entry bad_base/data/0"},
           Case{"bad_short_storage.pth",
                "storage '0' should hold 4 × 4 bytes (torch.FloatStorage), its entry has 12"},
           Case{"bad_view_too_large.pth",
                "a tensor of size [3, 2], stride [2, 1] at offset 0 reaches element 5 of storage "
                "'0', which holds 4 elements"},
           Case{"bad_opcode.pth", "pickle byte 5: unknown opcode 0xff"},
           Case{"bad_big_endian.pth", "byte order 'big'"},
           Case{"bad_int64_range.pth",
                "tensor 'big': int64 value 1099511627776 does not fit the int32"},
           Case{"ckpt_state_dict.json", "not a PyTorch checkpoint (torch.save files are zip archives)"},
       }) {
    const std::string path = fixture(c.file);
    const std::string message = error_message([&] { read_torch_checkpoint(path); });
    INFO(c.file, ": ", message);
    CHECK(message.rfind(path + ": ", 0) == 0);
    CHECK(message.find(c.fault) != std::string::npos);
    CHECK(message.find('\n') == std::string::npos);
  }
}

TEST_CASE("checkpoint: views that would take more memory than the file allows are refused before allocating") {
  // {"w": _rebuild_tensor_v2(<a one-float storage>, 0, (n,), (0,), False, None)}: every
  // element is the storage's one float, so n is free. n × 4 bytes is beyond the budget
  // (limits.h: 256 × the file's size + 256 MiB) — for n = 2^62 it also wraps to 0 in 64 bits.
  tv3s::test::TempDir dir;
  for (const uint64_t n : {uint64_t(1) << 30, uint64_t(1) << 62}) {
    INFO(n);
    const auto unicode = [](const std::string& s) { return "X" + le(s.size(), 4) + s; };
    const std::string pickle = "\x80\x02}" + unicode("w") + "ctorch._utils\n_rebuild_tensor_v2\n(" + "(" +
                               unicode("storage") + "ctorch\nFloatStorage\n" + unicode("0") + unicode("cpu") +
                               "J" + le(1, 4) + "tQ" + "J" + le(0, 4) + "(\x8a\x08" + le(n, 8) + "t(J" + le(0, 4) +
                               "t\x89Nt" + "Rs.";
    const std::string path = dir.file("views.pth");
    tv3s::test::write_bytes(path, stored_zip({{"views/data.pkl", pickle}, {"views/data/0", le(0x3f800000, 4)}}));
    const uint64_t size = std::filesystem::file_size(path), limit = 256 * size + (uint64_t(256) << 20);
    CHECK(error_message([&] { read_torch_checkpoint(path); }) ==
          path + ": the tensors would take more than 256× the file's size + 256 MiB (" + std::to_string(limit) +
              " bytes; views overlapping one storage many times?)");
  }
}

TEST_CASE("checkpoint: dicts nested deeper than kMaxPickleDepth are refused") {
  // {"k": {"k": ... {}}}: `levels` dicts inside the root, built by SETITEMs from the inside out.
  tv3s::test::TempDir dir;
  const auto nested = [&](int levels) {
    const std::string key = "X" + le(1, 4) + "k";
    std::string pickle = "\x80\x02}";
    for (int i = 0; i < levels; ++i) pickle += key + "}";
    pickle += std::string(size_t(levels), 's') + ".";
    const std::string path = dir.file("deep.pth");
    tv3s::test::write_bytes(path, stored_zip({{"deep/data.pkl", pickle}}));
    return error_message([&] { read_torch_checkpoint(path); });
  };
  CHECK(nested(64) == "(no error)");
  std::string prefix = "k";
  for (int i = 1; i < 64; ++i) prefix += ".k";
  CHECK(nested(65) == dir.file("deep.pth") + ": dicts nested more than 64 deep at '" + prefix + ".k'");
}

TEST_CASE("checkpoint: legacy (torch < 1.6) files get a message saying how to re-save them") {
  tv3s::test::TempDir dir;
  // The start of a legacy file: PROTO 2, LONG1 of torch's 10-byte magic number.
  const std::string legacy("\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19.", 15);
  tv3s::test::write_bytes(dir.file("old.pth"), legacy);
  const std::string message = error_message([&] { read_torch_checkpoint(dir.file("old.pth")); });
  CHECK(message.find("legacy torch format (saved by torch < 1.6); re-save it with torch >= 1.6") !=
        std::string::npos);
  CHECK(error_message([&] { read_torch_checkpoint(dir.file("absent.pth")); })
            .find("absent.pth: cannot open") != std::string::npos);
}
