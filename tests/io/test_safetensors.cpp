// safetensors: files from the Python library read correctly, our writer byte-identical to
// it, and one crafted bad file per rule of the reader, each rejected with a message that
// names the file and the problem. Fixtures: tools/gen_io_fixtures.py.
#include <cmath>
#include <cstdint>
#include <limits>

#include "src/io/safetensors.h"
#include "tests/io/io_test_util.h"
#include "tests/test_util.h"

using namespace tv3s;
using tv3s::test::error_message;
using tv3s::test::read_bytes;
using tv3s::test::TempDir;
using tv3s::test::write_bytes;

namespace {

const std::string kData = TV3S_SOURCE_DIR "/tests/data/io/";

// The 8-byte little-endian length, the header, the data.
std::string safetensors_bytes(const std::string& header, const std::string& data = "",
                              uint64_t claimed_length = UINT64_MAX) {
  const uint64_t n = claimed_length == UINT64_MAX ? header.size() : claimed_length;
  std::string bytes(8, '\0');
  for (int i = 0; i < 8; ++i) bytes[i] = char(uint8_t(n >> (8 * i)));
  return bytes + header + data;
}

// Writes `bytes` to a file and returns what reading it throws, minus the
// "<path>: safetensors: " prefix (checked here, so every case checks it).
std::string read_error(const std::string& bytes) {
  TempDir dir;
  const std::string path = dir.file("bad.safetensors");
  write_bytes(path, bytes);
  const std::string message = error_message([&] { io::read_safetensors(path); });
  const std::string prefix = path + ": safetensors: ";
  if (message.rfind(prefix, 0) != 0) return "missing prefix: " + message;
  return message.substr(prefix.size());
}

std::string header_error(const std::string& header, const std::string& data = "") {
  return read_error(safetensors_bytes(header, data));
}

}  // namespace

TEST_CASE("safetensors: reads every dtype written by the Python library") {
  const io::SafetensorsFile f = io::read_safetensors(kData + "st_dtypes.safetensors");
  CHECK(f.metadata ==
        std::map<std::string, std::string>{{"format", "pt"}, {"config", "{\"num_classes\": 124}"}});
  std::vector<std::string> names;
  for (const auto& [name, t] : f.tensors) names.push_back(name);
  // Data-offset order (the library sorts by dtype width, then name).
  CHECK(names == std::vector<std::string>{"i64", "f64", "empty", "f32", "scalar", "i32", "bf16",
                                          "f16", "u8", "bool"});

  const Tensor f32 = f.find("f32");
  CHECK(f32.desc() == "f32[2, 3] cpu");
  CHECK(f32.to_vector() == std::vector<float>{1.5f, -2.f, 3.f, 0.25f, 1e-3f, -7.f});
  const Tensor f16 = f.find("f16");
  CHECK(f16.desc() == "f16[4] cpu");
  CHECK(f16.to_vector() == std::vector<float>{1.f, -0.5f, 65504.f, std::ldexp(1.f, -14)});
  const Tensor bf16 = f.find("bf16");
  CHECK(bf16.desc() == "bf16[2, 2] cpu");
  CHECK(bf16.to_vector() == std::vector<float>{1.f, -2.f, 3.140625f, std::ldexp(1.f, 100)});
  CHECK(f.find("f64").to_vector_f64() == std::vector<double>{0.1, -1e300, 2.5});
  const int32_t lo = std::numeric_limits<int32_t>::min(), hi = std::numeric_limits<int32_t>::max();
  CHECK(f.find("i32").to_vector_i32() == std::vector<int32_t>{lo, hi, 0});
  const Tensor i64 = f.find("i64");
  CHECK(i64.desc() == "i32[3] cpu");
  CHECK(i64.to_vector_i32() == std::vector<int32_t>{-5, hi, lo});
  const Tensor u8 = f.find("u8");
  CHECK(u8.desc() == "u8[2, 2] cpu");
  CHECK(u8.to_vector_i32() == std::vector<int32_t>{0, 255, 7, 128});
  const Tensor b = f.find("bool");
  CHECK(b.desc() == "u8[3] cpu");
  CHECK(b.to_vector_i32() == std::vector<int32_t>{1, 0, 1});
  CHECK(f.find("empty").desc() == "f32[0, 4] cpu");
  const Tensor scalar = f.find("scalar");
  CHECK(scalar.ndim() == 0);
  CHECK(scalar.item() == 42.5);
  CHECK_FALSE(f.find("nope").defined());
}

TEST_CASE("safetensors: the writer is byte-identical to the Python library") {
  // The tensors of tools/gen_io_fixtures.py in the order the library stores them.
  const std::vector<std::pair<std::string, Tensor>> tensors = {
      {"d.double", Tensor::from_vector_f64({1.0 / 3.0}, Shape{1})},
      {"a.weight", Tensor::from_vector({0, 0.25, 0.5, 0.75, 1, 1.25}, Shape{2, 3})},
      {"g.empty", Tensor::zeros(Shape{2, 0})},
      {"h.scalar", Tensor::full(Shape{}, -1.25)},
      {"e.index", Tensor::from_vector_i32({3, -1, 7, 0, 2}, Shape{5})},
      {"c.brain", Tensor::from_vector({0.5, -4}, Shape{2, 1}, DType::bf16)},
      {"b.half", Tensor::from_vector({1, -2.5, 0.125}, Shape{3}, DType::f16)},
      {"f.mask", Tensor::from_vector({1, 0, 255}, Shape{1, 3}, DType::u8)},
  };
  TempDir dir;
  const std::string path = dir.file("ours.safetensors");
  io::write_safetensors(path, tensors, {{"config", "x\"y\\z\n\xc3\xa9\x01 {\"k\": [1, 2]}"}});
  const std::string ours = read_bytes(path);
  const std::string reference = read_bytes(kData + "st_writer_ref.safetensors");
  REQUIRE(!reference.empty());
  CHECK(ours == reference);
}

TEST_CASE("safetensors: write then read gives the same tensors") {
  const std::vector<std::pair<std::string, Tensor>> tensors = {
      {"w", test::random(Shape{3, 4, 5}, 1)},
      {"h", test::random(Shape{7}, 2, -1, 1, false, DType::f16)},
      {"b", test::random(Shape{2, 3}, 3, -1, 1, false, DType::bf16)},
      {"d", Tensor::from_vector_f64({1e-300, -2}, Shape{2})},
      {"i", Tensor::from_vector_i32({-1, 1 << 30}, Shape{1, 2})},
      {"m", Tensor::from_vector({0, 9, 255}, Shape{3}, DType::u8)},
      {"s", Tensor::full(Shape{}, 3)},
      {"e", Tensor::zeros(Shape{0})},
  };
  const std::map<std::string, std::string> metadata = {{"b", "2"}, {"a", "1"}};
  TempDir dir;
  const std::string path = dir.file("round.safetensors");
  io::write_safetensors(path, tensors, metadata);
  const io::SafetensorsFile f = io::read_safetensors(path);
  CHECK(f.metadata == metadata);
  REQUIRE(f.tensors.size() == tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    CAPTURE(tensors[i].first);
    CHECK(f.tensors[i].first == tensors[i].first);
    CHECK(f.tensors[i].second.desc() == tensors[i].second.desc());
    CHECK(f.tensors[i].second.to_vector_f64() == tensors[i].second.to_vector_f64());
  }
  CHECK(dir.entries() == std::vector<std::string>{"round.safetensors"});
}

TV3S_CUDA_TEST_CASE("safetensors: the writer takes CUDA tensors") {
  const Tensor w = test::random(Shape{4, 3}, 5);
  TempDir dir;
  const std::string path = dir.file("cuda.safetensors");
  io::write_safetensors(path, {{"w", w.cuda()}, {"h", w.to(DType::f16).cuda()}});
  const io::SafetensorsFile f = io::read_safetensors(path);
  CHECK(f.find("w").to_vector() == w.to_vector());
  CHECK(f.find("h").to_vector() == w.to(DType::f16).to_vector());
}

TEST_CASE("safetensors: a failing write leaves no file behind") {
  TempDir dir;
  const std::string missing = dir.file("no/folder/x.safetensors");
  CHECK(error_message([&] {
          io::write_safetensors(missing, {{"a", Tensor::zeros(Shape{2})}});
        }) == missing + ": cannot create a file there: No such file or directory");
  const std::string path = dir.file("x.safetensors");
  const Tensor t = Tensor::zeros(Shape{2});
  CHECK(error_message([&] {
          io::write_safetensors(path, {{"a", t}, {"a", t}});
        }) == path + ": safetensors: tensor name appears twice (tensor 'a')");
  CHECK(error_message([&] {
          io::write_safetensors(path, {{"__metadata__", t}});
        }) == path + ": safetensors: '__metadata__' cannot name a tensor");
  CHECK(error_message([&] {
          io::write_safetensors(path, {{"u", Tensor()}});
        }) == path + ": safetensors: cannot write an undefined tensor (tensor 'u')");
  CHECK(error_message([&] {
          io::write_safetensors(path, {{"bad\xff", t}});
        }) == path + ": safetensors: a tensor name or metadata string is not valid UTF-8");
  CHECK(dir.entries().empty());
}

TEST_CASE("safetensors: the file and its header length") {
  TempDir dir;
  const std::string missing = dir.file("missing.safetensors");
  CHECK(error_message([&] { io::read_safetensors(missing); }) ==
        missing + ": cannot open: No such file or directory");
  CHECK(error_message([&] { io::read_safetensors(dir.file("")); }) ==
        dir.file("") + ": is a folder, not a file");
  CHECK(read_error(std::string("\x05\0\0\0", 4)) ==
        "file is 4 bytes, too short for the 8-byte header length");
  CHECK(read_error(safetensors_bytes("{}", "", 200'000'000)) ==
        "header length 200000000 exceeds the limit of 100000000 bytes");
  CHECK(read_error(safetensors_bytes("{}", "", UINT64_MAX - 1)) ==
        "header length 18446744073709551614 exceeds the limit of 100000000 bytes");
  CHECK(read_error(safetensors_bytes("{}      ", "", 100)) ==
        "header length 100 exceeds the file size (16 bytes)");
  // Valid: an empty header object, with the reference writer's space padding.
  const std::string path = dir.file("empty.safetensors");
  write_bytes(path, safetensors_bytes("{}      "));
  CHECK(io::read_safetensors(path).tensors.empty());
}

TEST_CASE("safetensors: the header must be a JSON object without repeated keys") {
  CHECK(header_error("{\"a\": ").rfind("header: not valid JSON (", 0) == 0);
  CHECK(header_error("") == "header is not a JSON object");
  CHECK(header_error("[{\"a\": 1}]") == "header is not a JSON object");
  CHECK(header_error("  \"text\"") == "header is not a JSON object");
  CHECK(header_error("{} {}").rfind("header: not valid JSON (", 0) == 0);
  CHECK(header_error("{\"a\xff\": 1}").rfind("header: not valid JSON (", 0) == 0);
  const std::string entry = R"({"dtype":"F32","shape":[1],"data_offsets":[0,4]})";
  CHECK(header_error("{\"t\":" + entry + ",\"t\":" + entry + "}", "abcd") ==
        "tensor name appears twice (tensor 't')");
  CHECK(header_error(R"({"t":{"dtype":"F32","dtype":"F32","shape":[1],"data_offsets":[0,4]}})",
                     "abcd") == "key 'dtype' appears twice (tensor 't')");
  CHECK(header_error(R"({"__metadata__":{"k":"1","k":"2"}})") ==
        "__metadata__ key 'k' appears twice");
}

TEST_CASE("safetensors: JSON numbers, types and nesting are the reader's one-line errors") {
  const auto with_shape = [](const std::string& shape) {
    return header_error(R"({"t":{"dtype":"F32","shape":)" + shape + R"(,"data_offsets":[0,4]}})", "abcd");
  };
  // Beyond double range: the JSON library's exception, as the project's error.
  const std::string overflow = with_shape("[1e999]");
  CHECK(overflow.rfind("header: not valid JSON (", 0) == 0);
  CHECK(overflow.find("number overflow") != std::string::npos);
  CHECK(overflow.find('\n') == std::string::npos);
  // Beyond uint64 the library reads a double: not an integer.
  CHECK(with_shape("[18446744073709551616]") ==
        "shape holds something other than a non-negative integer (tensor 't')");
  CHECK(with_shape("{}") == "shape is not an array (tensor 't')");
  CHECK(header_error(R"({"t":{"dtype":7,"shape":[1],"data_offsets":[0,4]}})", "abcd") ==
        "dtype is not a string (tensor 't')");
  // Nesting: 64 levels are JSON the reader then judges; 65 are refused while parsing.
  const auto nested = [](int levels) {
    return R"({"__metadata__":{"k":)" + std::string(size_t(levels - 2), '[') + std::string(size_t(levels - 2), ']') +
           "}}";
  };
  CHECK(header_error(nested(64)) == "__metadata__ value of 'k' is not a string");
  CHECK(header_error(nested(65)) == "header: JSON nested deeper than 64 levels");
  CHECK(header_error("{\"t\xc3\x28\": 1}").rfind("header: not valid JSON (", 0) == 0);  // bad UTF-8
}

TEST_CASE("safetensors: __metadata__ is an object of strings") {
  CHECK(header_error(R"({"__metadata__":["a"]})") == "__metadata__ is not an object");
  CHECK(header_error(R"({"__metadata__":{"k":1}})") == "__metadata__ value of 'k' is not a string");
}

TEST_CASE("safetensors: every entry has exactly dtype, shape and data_offsets") {
  CHECK(header_error(R"({"t":5})") == "entry is not an object (tensor 't')");
  CHECK(header_error(R"({"t":{"shape":[1],"data_offsets":[0,4]}})", "abcd") ==
        "missing 'dtype' (tensor 't')");
  CHECK(header_error(R"({"t":{"dtype":"F32","data_offsets":[0,4]}})", "abcd") ==
        "missing 'shape' (tensor 't')");
  CHECK(header_error(R"({"t":{"dtype":"F32","shape":[1]}})", "abcd") ==
        "missing 'data_offsets' (tensor 't')");
  CHECK(header_error(R"({"t":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"x":0}})", "abcd") ==
        "unexpected key 'x' (tensor 't')");
}

TEST_CASE("safetensors: dtype is a known name") {
  CHECK(header_error(R"({"t":{"dtype":4,"shape":[1],"data_offsets":[0,4]}})", "abcd") ==
        "dtype is not a string (tensor 't')");
  CHECK(header_error(R"({"t":{"dtype":"F8_E4M3","shape":[4],"data_offsets":[0,4]}})", "abcd") ==
        "dtype 'F8_E4M3' is not supported (tv3s reads F32, F16, BF16, F64, I32, U8, I64, BOOL) "
        "(tensor 't')");
  CHECK(header_error(R"({"t":{"dtype":"f32","shape":[1],"data_offsets":[0,4]}})", "abcd")
            .rfind("dtype 'f32' is not supported", 0) == 0);
}

TEST_CASE("safetensors: shape is a short list of non-negative integers without overflow") {
  const auto with_shape = [](const std::string& shape) {
    return header_error(R"({"t":{"dtype":"F32","shape":)" + shape + R"(,"data_offsets":[0,4]}})",
                        "abcd");
  };
  CHECK(with_shape("4") == "shape is not an array (tensor 't')");
  CHECK(with_shape("[-1]") ==
        "shape holds something other than a non-negative integer (tensor 't')");
  CHECK(with_shape("[1.0]") ==
        "shape holds something other than a non-negative integer (tensor 't')");
  CHECK(with_shape("[\"1\"]") ==
        "shape holds something other than a non-negative integer (tensor 't')");
  CHECK(with_shape("[1,1,1,1,1,1,1,1,1]") ==
        "shape has 9 dimensions, more than tv3s's 8 (tensor 't')");
  CHECK(with_shape("[4294967296,4294967296]") == "shape has too many elements (tensor 't')");
  CHECK(with_shape("[9223372036854775808]") == "shape has too many elements (tensor 't')");
  CHECK(with_shape("[4611686018427387904]") ==
        "shape has too many elements (tensor 't')");  // × 4 bytes
  CHECK(with_shape("[1,0,99999999999]") ==
        "data_offsets [0, 4] hold 4 bytes but F32[1, 0, 99999999999] needs 0 (tensor 't')");
}

TEST_CASE("safetensors: data_offsets lie inside the data and match the shape") {
  const auto with_offsets = [](const std::string& offsets, const std::string& data = "abcdefgh") {
    return header_error(R"({"t":{"dtype":"F32","shape":[2],"data_offsets":)" + offsets + "}}",
                        data);
  };
  const std::string form =
      "data_offsets is not [begin, end] with non-negative integers (tensor 't')";
  CHECK(with_offsets("8") == form);
  CHECK(with_offsets("[0]") == form);
  CHECK(with_offsets("[0,8,8]") == form);
  CHECK(with_offsets("[-8,0]") == form);
  CHECK(with_offsets("[0,8.0]") == form);
  CHECK(with_offsets("[8,0]") == "data_offsets [8, 0] end before they begin (tensor 't')");
  // The file is shorter than the header claims.
  CHECK(with_offsets("[0,8]", "abcdefg") ==
        "data_offsets [0, 8] extend past the end of the file (7 data bytes) (tensor 't')");
  CHECK(with_offsets("[18446744073709551600,18446744073709551608]") ==
        "data_offsets [18446744073709551600, 18446744073709551608] extend past the end of the "
        "file (8 data bytes) (tensor 't')");
  CHECK(with_offsets("[0,4]") ==
        "data_offsets [0, 4] hold 4 bytes but F32[2] needs 8 (tensor 't')");
}

TEST_CASE("safetensors: byte ranges do not overlap") {
  CHECK(header_error(R"({"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},)"
                     R"("b":{"dtype":"U8","shape":[0],"data_offsets":[2,2]},)"
                     R"("c":{"dtype":"U8","shape":[2],"data_offsets":[3,5]}})",
                     "abcdef") ==
        "data_offsets [3, 5] overlap those of tensor 'a' [0, 4] (tensor 'c')");
  // A range inside an earlier, longer one.
  CHECK(header_error(R"({"a":{"dtype":"U8","shape":[6],"data_offsets":[0,6]},)"
                     R"("b":{"dtype":"U8","shape":[1],"data_offsets":[4,5]},)"
                     R"("c":{"dtype":"U8","shape":[1],"data_offsets":[5,6]}})",
                     "abcdef") ==
        "data_offsets [4, 5] overlap those of tensor 'a' [0, 6] (tensor 'b')");
  // Gaps and empty tensors anywhere are fine.
  TempDir dir;
  const std::string path = dir.file("ok.safetensors");
  write_bytes(path, safetensors_bytes(R"({"b":{"dtype":"U8","shape":[2],"data_offsets":[4,6]},)"
                                      R"("a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]},)"
                                      R"("e":{"dtype":"U8","shape":[0],"data_offsets":[5,5]}})",
                                      "abcdefgh"));
  const io::SafetensorsFile f = io::read_safetensors(path);
  REQUIRE(f.tensors.size() == 3);
  CHECK(f.tensors[0].first == "a");
  CHECK(f.tensors[0].second.to_vector_i32() == std::vector<int32_t>{'b'});
  CHECK(f.tensors[1].first == "b");
  CHECK(f.tensors[1].second.to_vector_i32() == std::vector<int32_t>{'e', 'f'});
  CHECK(f.tensors[2].first == "e");
}

TEST_CASE("safetensors: I64 values must fit in i32") {
  std::string data(16, '\0');
  data[3] = char(0x80);  // 2^31
  data[8] = char(0xff);  // -1
  for (int i = 9; i < 16; ++i) data[i] = char(0xff);
  CHECK(header_error(R"({"t":{"dtype":"I64","shape":[2],"data_offsets":[0,16]}})", data) ==
        "I64 value 2147483648 at index 0 does not fit in i32 (tensor 't')");
}
