// .npy: files written by NumPy read correctly, write_npy byte-identical to np.save, round
// trips for every dtype, and one crafted bad file per rule of the reader. Fixtures:
// tools/gen_io_fixtures.py.
#include <limits>

#include "src/io/image.h"
#include "tests/io/io_test_util.h"
#include "tests/test_util.h"

using namespace tv3s;
using tv3s::test::error_message;
using tv3s::test::read_bytes;
using tv3s::test::TempDir;
using tv3s::test::write_bytes;

namespace {

const std::string kData = TV3S_SOURCE_DIR "/tests/data/io/";
constexpr int32_t kI32Max = std::numeric_limits<int32_t>::max();

// Magic, version, header length (2 bytes for 1.0, 4 for 2.0), header, data.
std::string npy_bytes(const std::string& header, const std::string& data = "", int major = 1) {
  std::string bytes = std::string("\x93NUMPY", 6) + char(major) + '\0';
  for (int i = 0; i < (major == 1 ? 2 : 4); ++i) bytes += char(uint8_t(header.size() >> (8 * i)));
  return bytes + header + data;
}

std::string dict(const std::string& descr, const std::string& shape,
                 const std::string& order = "False") {
  return "{'descr': '" + descr + "', 'fortran_order': " + order + ", 'shape': " + shape + ", }";
}

// What reading `bytes` throws, minus the "<path>: npy: " prefix (checked here).
std::string read_error(const std::string& bytes) {
  TempDir dir;
  const std::string path = dir.file("bad.npy");
  write_bytes(path, bytes);
  const std::string message = error_message([&] { io::read_npy(path); });
  const std::string prefix = path + ": npy: ";
  if (message.rfind(prefix, 0) != 0) return "missing prefix: " + message;
  return message.substr(prefix.size());
}

}  // namespace

TEST_CASE("npy: reads files written by NumPy") {
  const Tensor f32 = io::read_npy(kData + "np_f32.npy");
  CHECK(f32.desc() == "f32[2, 3] cpu");
  CHECK(f32.to_vector() == std::vector<float>{-0.25f, -0.125f, 0.f, 0.125f, 0.25f, 0.375f});
  const Tensor f64 = io::read_npy(kData + "np_f64_scalar.npy");
  CHECK(f64.desc() == "f64[] cpu");
  CHECK(f64.item() == -0.1);
  CHECK(io::read_npy(kData + "np_i32.npy").to_vector_i32() == std::vector<int32_t>{-7, 0, kI32Max});
  const Tensor i64 = io::read_npy(kData + "np_i64.npy");
  CHECK(i64.desc() == "i32[4] cpu");
  CHECK(i64.to_vector_i32() == std::vector<int32_t>{-3, 0, 5, kI32Max});
  const Tensor u8 = io::read_npy(kData + "np_u8.npy");
  CHECK(u8.desc() == "u8[2, 2, 3] cpu");
  for (int i = 0; i < 12; ++i) CHECK(u8.to_vector_i32()[size_t(i)] == i * 20);
  const Tensor f16 = io::read_npy(kData + "np_f16.npy");
  CHECK(f16.desc() == "f32[3] cpu");
  CHECK(f16.to_vector() == std::vector<float>{0.5f, -1.f, 65504.f});
  const Tensor b = io::read_npy(kData + "np_bool.npy");
  CHECK(b.desc() == "u8[4] cpu");
  CHECK(b.to_vector_i32() == std::vector<int32_t>{1, 0, 1, 1});
}

TEST_CASE("npy: write_npy is byte-identical to np.save") {
  TempDir dir;
  const auto same_as_numpy = [&](const Tensor& t, const std::string& fixture) {
    const std::string path = dir.file(fixture);
    io::write_npy(path, t);
    CHECK_MESSAGE(read_bytes(path) == read_bytes(kData + fixture), fixture);
  };
  same_as_numpy(Tensor::from_vector({-0.25f, -0.125f, 0.f, 0.125f, 0.25f, 0.375f}, Shape{2, 3}),
                "np_f32.npy");
  same_as_numpy(Tensor::from_vector_f64({-0.1}, Shape{}), "np_f64_scalar.npy");
  same_as_numpy(Tensor::from_vector_i32({-7, 0, kI32Max}, Shape{3}), "np_i32.npy");
  std::vector<float> u8;
  for (int i = 0; i < 12; ++i) u8.push_back(float(i * 20));
  same_as_numpy(Tensor::from_vector(u8, Shape{2, 2, 3}, DType::u8), "np_u8.npy");
}

TEST_CASE("npy: write_npy then read_npy for every dtype and rank") {
  TempDir dir;
  const std::string path = dir.file("t.npy");
  const std::vector<Tensor> same = {
      test::random(Shape{3, 4}, 1),
      Tensor::from_vector_f64({1e-300, -2, 3}, Shape{3}),
      Tensor::from_vector_i32({std::numeric_limits<int32_t>::min(), 5}, Shape{2, 1}),
      Tensor::from_vector({0, 255, 7}, Shape{1, 3}, DType::u8),
      Tensor::full(Shape{}, 2.5),
      Tensor::zeros(Shape{0, 3}),
      test::random(Shape{1, 2, 1, 2, 1, 2, 1, 2}, 2),
      Tensor::zeros(Shape{123456789012, 0}, DType::i32),  // a first axis with many digits
  };
  for (const Tensor& t : same) {
    CAPTURE(t.desc());
    io::write_npy(path, t);
    const Tensor back = io::read_npy(path);
    CHECK(back.desc() == t.desc());
    CHECK(back.to_vector_f64() == t.to_vector_f64());
  }
  // Half precision is widened to f32 ('<f4'), NumPy having no bfloat16.
  for (const DType dtype : {DType::f16, DType::bf16}) {
    const Tensor t = test::random(Shape{5}, 3).to(dtype);
    io::write_npy(path, t);
    const Tensor back = io::read_npy(path);
    CHECK(back.desc() == "f32[5] cpu");
    CHECK(back.to_vector() == t.to_vector());
  }
  CHECK(dir.entries() == std::vector<std::string>{"t.npy"});
}

TEST_CASE("npy: a version 2.0 file (4-byte header length) reads") {
  TempDir dir;
  const std::string path = dir.file("v2.npy");
  write_bytes(
      path, npy_bytes(dict("<i4", "(2,)") + "\n", std::string("\x01\0\0\0\xff\xff\xff\xff", 8), 2));
  CHECK(io::read_npy(path).to_vector_i32() == std::vector<int32_t>{1, -1});
}

TEST_CASE("npy: magic, version and header length") {
  TempDir dir;
  const std::string missing = dir.file("missing.npy");
  CHECK(error_message([&] { io::read_npy(missing); }) ==
        missing + ": cannot open: No such file or directory");
  CHECK(error_message([&] { io::read_npy(dir.file("")); }) ==
        dir.file("") + ": is a folder, not a file");
  CHECK(read_error("") == "not a .npy file (no \\x93NUMPY magic)");
  CHECK(read_error("PK\3\4 a zip, not an array") == "not a .npy file (no \\x93NUMPY magic)");
  CHECK(read_error(std::string("\x93NUMPY\1\0", 8)) ==
        "file is 8 bytes, too short for a .npy header");
  CHECK(read_error(std::string("\x93NUMPY\2\0\0\0", 10)) ==
        "file is 10 bytes, too short for a .npy header");
  CHECK(read_error(npy_bytes(dict("<f4", "()"), "abcd", 3)) ==
        "format version 3.0 is not supported (1.0 and 2.0 are)");
  std::string minor = npy_bytes(dict("<f4", "()"), "abcd");
  minor[7] = 1;
  CHECK(read_error(minor) == "format version 1.1 is not supported (1.0 and 2.0 are)");
  std::string too_long = npy_bytes("{}");
  too_long[8] = char(0xf4);  // claims 500 header bytes
  too_long[9] = 1;
  CHECK(read_error(too_long) == "header length 500 exceeds the file size (12 bytes)");
  CHECK(read_error(npy_bytes(std::string(20000, ' '), "", 2)) ==
        "header length 20000 exceeds the limit of 10000 bytes");
}

TEST_CASE("npy: the header dict has exactly descr, fortran_order and shape") {
  const std::string d = "abcdefgh";
  CHECK(read_error(npy_bytes("[1, 2]", d)) ==
        "header is not a dict literal: expected '{' at byte 0");
  CHECK(read_error(npy_bytes("{'descr': '<f4' 'shape': (2,)}", d)) ==
        "header is not a dict literal: expected ',' or '}' at byte 16");
  CHECK(read_error(npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2,)", d)) ==
        "header is not a dict literal: expected ',' or '}' at byte 54");
  CHECK(read_error(npy_bytes("{descr: '<f4'}", d)) == "header: expected a quoted string at byte 1");
  CHECK(read_error(npy_bytes("{'descr: '<f4'}", d)) ==
        "header is not a dict literal: expected ':' at byte 10");
  CHECK(read_error(npy_bytes("{'descr': '<f4}", d)) == "header: unterminated string");
  CHECK(read_error(npy_bytes("{'descr': '<f4', 'shape': (2,)}", d)) ==
        "header lacks one of 'descr', 'fortran_order', 'shape'");
  CHECK(read_error(npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}",
                             d)) == "header has an unexpected key 'x'");
  CHECK(read_error(npy_bytes(
            "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2,)}", d)) ==
        "header has the key 'descr' twice");
  CHECK(read_error(npy_bytes(dict("<f4", "(2,)") + "  \n#", d)) ==
        "header has text after the dict");
  // Double quotes and no trailing comma are fine.
  TempDir dir;
  const std::string path = dir.file("ok.npy");
  write_bytes(
      path, npy_bytes("{\"descr\": \"|u1\", \"shape\": (3, 1), \"fortran_order\": False}", "xyz"));
  CHECK(io::read_npy(path).to_vector_i32() == std::vector<int32_t>{'x', 'y', 'z'});
}

TEST_CASE("npy: descr, fortran_order and shape values") {
  const std::string d = "abcdefgh";
  CHECK(read_error(npy_bytes(dict(">f4", "(2,)"), d)) ==
        "dtype '>f4' is not supported (tv3s reads <f4, <f8, <f2, <i4, <i8, |u1, |b1)");
  CHECK(read_error(npy_bytes(dict("<c8", "(1,)"), d)).rfind("dtype '<c8' is not supported", 0) ==
        0);
  CHECK(read_error(npy_bytes(dict("<f4", "(2,)", "True"), d)) ==
        "Fortran-order arrays are not supported (save a C-order array)");
  CHECK(read_error(npy_bytes(dict("<f4", "(2,)", "0"), d)) ==
        "header: 'fortran_order' is not True or False");
  const std::string not_tuple = "shape is not a tuple of non-negative integers";
  CHECK(read_error(npy_bytes(dict("<f4", "(2)"), d)) == not_tuple);
  CHECK(read_error(npy_bytes(dict("<f4", "2"), d)) ==
        "header is not a dict literal: expected '(' at byte 50");
  CHECK(read_error(npy_bytes(dict("<f4", "(-2,)"), d)) == not_tuple);
  CHECK(read_error(npy_bytes(dict("<f4", "(2.0,)"), d)) == not_tuple);
  CHECK(read_error(npy_bytes(dict("<f4", "(1, 2 3)"), d)) == not_tuple);
  CHECK(read_error(npy_bytes(dict("<f4", "(,)"), d)) == not_tuple);
  CHECK(read_error(npy_bytes(dict("<f4", "(1, 1, 1, 1, 1, 1, 1, 1, 1)"), d)) ==
        "shape has more than tv3s's 8 dimensions");
  CHECK(read_error(npy_bytes(dict("<f4", "(99999999999999999999,)"), d)) ==
        "shape has too many elements");
  CHECK(read_error(npy_bytes(dict("<f4", "(4294967296, 4294967296)"), d)) ==
        "shape has too many elements");
  CHECK(read_error(npy_bytes(dict("<f8", "(2305843009213693952,)"), d)) ==
        "shape has too many elements");
}

TEST_CASE("npy: the data matches the shape exactly") {
  CHECK(read_error(npy_bytes(dict("<f4", "(2,)"), "abcd")) ==
        "data is 4 bytes but <f4 [2] needs 8");
  CHECK(read_error(npy_bytes(dict("<f4", "(2,)"), "abcdefghi")) ==
        "data is 9 bytes but <f4 [2] needs 8");
  CHECK(read_error(npy_bytes(dict("<f4", "(0, 5)"), "a")) ==
        "data is 1 bytes but <f4 [0, 5] needs 0");
  std::string data(8, '\0');
  data[4] = 1;  // 2^32
  CHECK(read_error(npy_bytes(dict("<i8", "(1,)"), data)) ==
        "int64 value 4294967296 at index 0 does not fit in i32");
}

TEST_CASE("npy: writing into a missing folder throws and leaves nothing") {
  TempDir dir;
  const std::string path = dir.file("missing/logits.npy");
  CHECK(error_message([&] { io::write_npy(path, Tensor::zeros(Shape{2})); }) ==
        path + ": cannot create a file there: No such file or directory");
  CHECK(error_message([&] { io::write_npy(dir.file("x.npy"), Tensor()); }) ==
        dir.file("x.npy") + ": write_npy: undefined tensor");
  CHECK(dir.entries().empty());
}
