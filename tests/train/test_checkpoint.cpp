// Training checkpoints: a round trip is bit-exact in every field; each kind of bad file
// gets its one-line message naming the path (truncated at several places, a flipped data
// byte, a flipped header byte, a model file, something that is not safetensors, a
// moment missing or of the wrong shape); a failing save leaves the previous file intact
// and no temporary file behind.
#include <cmath>
#include <cstdio>
#include <cstring>

#include "src/io/safetensors.h"
#include "src/io/zip_reader.h"
#include "src/train/checkpoint.h"
#include "tests/io/io_test_util.h"
#include "tests/test_util.h"

using namespace tv3s;
using namespace tv3s::train;

namespace {

TrainCheckpoint sample_checkpoint() {
  TrainCheckpoint c;
  c.iteration = 123456;
  c.model["backbone.block1.0.attn.q.weight"] = test::random(Shape{4, 3}, 1);
  c.model["decode_head.linear_fuse.bn.weight"] = test::random(Shape{5}, 2);
  c.model["decode_head.linear_fuse.bn.running_var"] = test::random(Shape{5}, 3, 0.5, 2);  // a buffer: no moments
  c.model["decode_head.conv_seg.bias"] = Tensor::zeros(Shape{0});                         // empty is fine
  for (const char* name : {"backbone.block1.0.attn.q.weight", "decode_head.linear_fuse.bn.weight"}) {
    const Shape shape = c.model[name].shape();
    c.adam_m[name] = test::random(shape, 10 + c.adam_m.size(), -1e-3, 1e-3);
    c.adam_v[name] = test::random(shape, 20 + c.adam_v.size(), 0, 1e-6);
  }
  c.adam_steps["backbone.block1.0.attn.q.weight"] = 123456;
  c.adam_steps["decode_head.linear_fuse.bn.weight"] = 99;
  // A NaN in a moment must survive too (bits, not values, are compared).
  c.adam_m["decode_head.linear_fuse.bn.weight"].data<float>()[2] = NAN;
  c.rng[0] = 0x0123456789abcdefULL;
  c.rng[1] = 0xffffffffffffffffULL;
  c.rng[2] = 0;
  c.rng[3] = 0x8000000000000001ULL;
  c.loss_scale = 1.0 / 3.0;  // not representable in decimal with few digits
  c.loss_scale_good_steps = 1999;
  c.model_config_json = R"({"arch":"tv3s","mit":"b1","note":"é ✓"})";
  c.train_config_json = R"({"lr":6e-05,"max_iters":160000})";
  return c;
}

bool same_bits(const Tensor& a, const Tensor& b) {
  return a.dtype() == b.dtype() && a.shape() == b.shape() && !a.is_cuda() && !b.is_cuda() &&
         (a.nbytes() == 0 || std::memcmp(a.raw(), b.raw(), a.nbytes()) == 0);
}

bool same_tensors(const std::map<std::string, Tensor>& a, const std::map<std::string, Tensor>& b) {
  if (a.size() != b.size()) return false;
  for (const auto& [name, t] : a)
    if (!b.count(name) || !same_bits(t, b.at(name))) return false;
  return true;
}

// The checksum exactly as checkpoint.h describes it, written from that description.
std::string documented_crc(const std::map<std::string, Tensor>& tensors,
                           const std::map<std::string, std::string>& metadata) {
  uint32_t crc = 0;
  const auto text = [&](const std::string& t) { crc = io::crc32(t.c_str(), t.size() + 1, crc); };
  for (const auto& [name, t] : tensors) {
    text(name);
    text(std::string(dtype_name(t.dtype())) + t.shape().str());
    crc = io::crc32(t.raw(), t.nbytes(), crc);
  }
  for (const auto& [key, value] : metadata) {
    if (key == "tv3s.crc32") continue;
    text(key);
    text(value);
  }
  char hex[16];
  std::snprintf(hex, sizeof(hex), "%08x", unsigned(crc));
  return hex;
}

void flip_byte(const std::string& path, size_t offset) {
  std::string bytes = test::read_bytes(path);
  REQUIRE(offset < bytes.size());
  bytes[offset] = char(bytes[offset] ^ 0x04);
  test::write_bytes(path, bytes);
}

}  // namespace

TEST_CASE("train checkpoint: round trip is bit-exact in every field") {
  test::TempDir dir;
  const std::string path = dir.file("ckpt.safetensors");
  const TrainCheckpoint c = sample_checkpoint();
  save_checkpoint(path, c);
  const TrainCheckpoint r = load_checkpoint(path);
  CHECK(r.iteration == c.iteration);
  CHECK(same_tensors(r.model, c.model));
  CHECK(same_tensors(r.adam_m, c.adam_m));
  CHECK(same_tensors(r.adam_v, c.adam_v));
  CHECK(r.adam_steps == c.adam_steps);
  for (int i = 0; i < 4; ++i) CHECK(r.rng[i] == c.rng[i]);
  CHECK(r.loss_scale == c.loss_scale);
  CHECK(r.loss_scale_good_steps == c.loss_scale_good_steps);
  CHECK(r.model_config_json == c.model_config_json);
  CHECK(r.train_config_json == c.train_config_json);
  // Overwriting in place works and leaves only the checkpoint in the folder.
  TrainCheckpoint later = c;
  later.iteration = 130000;
  save_checkpoint(path, later);
  CHECK(load_checkpoint(path).iteration == 130000);
  CHECK(dir.entries() == std::vector<std::string>{"ckpt.safetensors"});
}

TEST_CASE("train checkpoint: damaged, truncated and foreign files are refused with one line") {
  test::TempDir dir;
  const std::string path = dir.file("ckpt.safetensors");
  save_checkpoint(path, sample_checkpoint());
  const std::string good = test::read_bytes(path);
  const auto message = [&] { return test::error_message([&] { load_checkpoint(path); }); };
  uint64_t header_size = 0;
  for (int i = 7; i >= 0; --i) header_size = header_size << 8 | uint8_t(good[size_t(i)]);
  const size_t data_start = 8 + size_t(header_size);

  SUBCASE("truncated in the data") {
    test::write_bytes(path, good.substr(0, good.size() - 10));
    CHECK(message() == path + ": truncated checkpoint (" + std::to_string(good.size() - 10) +
                           " bytes, its header describes " + std::to_string(good.size()) + ")");
  }
  SUBCASE("truncated in the header") {
    test::write_bytes(path, good.substr(0, 100));
    CHECK(message() == path + ": truncated checkpoint (the file ends inside its header: 100 bytes, the header "
                              "alone needs " + std::to_string(data_start) + ")");
  }
  SUBCASE("truncated to a few bytes") {
    test::write_bytes(path, good.substr(0, 5));
    CHECK(message() == path + ": not a tv3s training checkpoint (the file is only 5 bytes)");
  }
  SUBCASE("a flipped data byte") {
    flip_byte(path, data_start + (good.size() - data_start) / 2);
    CHECK(message().rfind(path + ": damaged checkpoint (checksum mismatch: the file says ", 0) == 0);
  }
  SUBCASE("a flipped byte in the last tensor's data") {
    flip_byte(path, good.size() - 1);
    CHECK(message().find("checksum mismatch") != std::string::npos);
  }
  SUBCASE("a flipped header byte: a metadata value") {
    const size_t at = good.find("\"tv3s.iteration\":\"123456\"");
    REQUIRE(at != std::string::npos);
    flip_byte(path, at + std::strlen("\"tv3s.iteration\":\"") + 2);  // 123456 → 127456
    CHECK(message().rfind(path + ": damaged checkpoint (checksum mismatch", 0) == 0);
  }
  SUBCASE("a flipped header byte: a tensor name") {
    const size_t at = good.find("adam_m/decode_head");
    REQUIRE(at != std::string::npos);
    flip_byte(path, at + 10);
    CHECK(message().rfind(path + ": damaged checkpoint (", 0) == 0);
  }
  SUBCASE("a flipped header byte that breaks the JSON") {
    const size_t at = good.find("\"shape\"");
    REQUIRE(at != std::string::npos);
    flip_byte(path, at);  // '"' → '&'
    CHECK(message().rfind(path + ": damaged checkpoint (its header: not valid JSON ([json.exception.parse_error", 0) ==
          0);
  }
  SUBCASE("a flipped byte in a shape") {
    const size_t at = good.find("\"shape\":[4,3]");
    REQUIRE(at != std::string::npos);
    flip_byte(path, at + std::strlen("\"shape\":["));  // [4,3] → [0,3]
    CHECK(message().rfind(path + ": damaged checkpoint (safetensors: data_offsets", 0) == 0);
  }
  SUBCASE("extra bytes at the end") {
    test::write_bytes(path, good + "xx");
    CHECK(message().rfind(path + ": damaged checkpoint (", 0) == 0);
  }
  SUBCASE("a model file") {
    io::write_safetensors(path, {{"backbone.block1.0.attn.q.weight", Tensor::zeros(Shape{2})}},
                          {{"tv3s.arch", "tv3s"}});
    CHECK(message() == path + ": not a tv3s training checkpoint (its metadata has no tv3s.checkpoint entry; a "
                              "model file cannot be resumed from)");
  }
  SUBCASE("not safetensors at all") {
    test::write_bytes(path, "\x89PNG\r\n\x1a\n and more bytes");
    CHECK(message() == path + ": not a tv3s training checkpoint (not a safetensors file)");
  }
  SUBCASE("a newer format version") {
    io::write_safetensors(path, {}, {{"tv3s.checkpoint", "2"}});
    CHECK(message() == path + ": checkpoint format version \"2\" is not supported (this build reads version 1)");
  }
  SUBCASE("missing file") {
    CHECK(test::error_message([&] { load_checkpoint(dir.file("nope.safetensors")); })
              .rfind(dir.file("nope.safetensors") + ": ", 0) == 0);
  }
}

TEST_CASE("train checkpoint: a moment missing or of the wrong shape is refused, on save and on load") {
  test::TempDir dir;
  const std::string path = dir.file("ckpt.safetensors");
  const auto refused = [&](const TrainCheckpoint& c) { return test::error_message([&] { save_checkpoint(path, c); }); };
  TrainCheckpoint c = sample_checkpoint();
  c.adam_v.erase("decode_head.linear_fuse.bn.weight");
  CHECK(refused(c) == path + ": parameter 'decode_head.linear_fuse.bn.weight' has no second moment "
                            "(adam_v/decode_head.linear_fuse.bn.weight)");
  c = sample_checkpoint();
  c.adam_m.erase("backbone.block1.0.attn.q.weight");
  CHECK(refused(c).find("has no first moment") != std::string::npos);
  c = sample_checkpoint();
  c.adam_steps.erase("backbone.block1.0.attn.q.weight");
  CHECK(refused(c).find("has no step count") != std::string::npos);
  c = sample_checkpoint();
  c.adam_m["decode_head.linear_fuse.bn.weight"] = Tensor::zeros(Shape{6});
  CHECK(refused(c) == path + ": wrong shape: adam_m/decode_head.linear_fuse.bn.weight is f32[6] cpu but its "
                            "parameter is [5] (moments are f32 in the parameter's shape)");
  c = sample_checkpoint();
  c.adam_steps["backbone.norm1.weight"] = 1;
  CHECK(refused(c).find("optimizer state for 'backbone.norm1.weight', which is not a model tensor") !=
        std::string::npos);
  CHECK(dir.entries().empty());

  // The same checks on load, on files another writer made with a valid checksum.
  save_checkpoint(path, sample_checkpoint());
  const io::SafetensorsFile file = io::read_safetensors(path);
  const auto rewrite = [&](const std::string& drop, const std::string& reshape) {
    std::map<std::string, Tensor> tensors;
    for (const auto& [name, t] : file.tensors)
      if (name != drop) tensors[name] = name == reshape ? Tensor::zeros(Shape{2, 2}) : t;
    std::map<std::string, std::string> metadata = file.metadata;
    metadata["tv3s.crc32"] = documented_crc(tensors, metadata);
    io::write_safetensors(path, {tensors.begin(), tensors.end()}, metadata);
    return test::error_message([&] { load_checkpoint(path); });
  };
  CHECK(rewrite("", "") == "(no error)");  // the CRC as checkpoint.h documents it
  CHECK(rewrite("adam_v/backbone.block1.0.attn.q.weight", "") ==
        path + ": parameter 'backbone.block1.0.attn.q.weight' has no second moment "
               "(adam_v/backbone.block1.0.attn.q.weight)");
  CHECK(rewrite("", "adam_m/decode_head.linear_fuse.bn.weight") ==
        path + ": wrong shape: adam_m/decode_head.linear_fuse.bn.weight is f32[2, 2] cpu but its parameter is [5] "
               "(moments are f32 in the parameter's shape)");
  CHECK(rewrite("", "model/decode_head.linear_fuse.bn.weight").find("wrong shape") != std::string::npos);
}

TEST_CASE("train checkpoint: step counts in the metadata — overflow, wrong types, nesting — are one line") {
  test::TempDir dir;
  const std::string path = dir.file("ckpt.safetensors");
  save_checkpoint(path, sample_checkpoint());
  const io::SafetensorsFile file = io::read_safetensors(path);
  const std::map<std::string, Tensor> tensors(file.tensors.begin(), file.tensors.end());
  const auto with_steps = [&](const std::string& steps) {
    std::map<std::string, std::string> metadata = file.metadata;
    metadata["tv3s.adam_steps"] = steps;
    metadata["tv3s.crc32"] = documented_crc(tensors, metadata);
    io::write_safetensors(path, {tensors.begin(), tensors.end()}, metadata);
    return test::error_message([&] { load_checkpoint(path); });
  };
  const std::string damaged = path + ": damaged checkpoint (metadata tv3s.adam_steps";
  CHECK(with_steps(R"({"decode_head.linear_fuse.bn.weight": 1e300})") ==
        damaged + ": the step count of 'decode_head.linear_fuse.bn.weight' must be an integer in [0, "
                  "9223372036854775807], got 1e+300)");
  CHECK(with_steps(R"({"decode_head.linear_fuse.bn.weight": 18446744073709551615})") ==
        damaged + ": the step count of 'decode_head.linear_fuse.bn.weight' must be an integer in [0, "
                  "9223372036854775807], got 18446744073709551615)");
  CHECK(with_steps(R"({"decode_head.linear_fuse.bn.weight": -1})").find("must be an integer in [0, ") !=
        std::string::npos);
  CHECK(with_steps(R"({"decode_head.linear_fuse.bn.weight": "7"})").find("got \"7\")") != std::string::npos);
  CHECK(with_steps("[1, 2]") == damaged + " must be a JSON object, got [1,2])");
  CHECK(with_steps("{\"a\": 1e999}").rfind(damaged + ": not valid JSON (", 0) == 0);
  CHECK(with_steps(std::string(70, '[') + std::string(70, ']')) == damaged + ": JSON nested deeper than 64 levels)");
}

TEST_CASE("train checkpoint: a failing save leaves the previous checkpoint intact") {
  test::TempDir dir;
  const std::string path = dir.file("ckpt.safetensors");
  save_checkpoint(path, sample_checkpoint());
  const std::string before = test::read_bytes(path);
  // Fails inside the safetensors writer (metadata must be UTF-8), after every check.
  TrainCheckpoint bad = sample_checkpoint();
  bad.iteration = 999;
  bad.train_config_json = "\xff\xfe not utf-8";
  CHECK(test::error_message([&] { save_checkpoint(path, bad); }).rfind(path + ": ", 0) == 0);
  // Fails in the content checks.
  bad = sample_checkpoint();
  bad.loss_scale = INFINITY;
  CHECK(test::error_message([&] { save_checkpoint(path, bad); }).find("loss scale") != std::string::npos);
  CHECK(test::read_bytes(path) == before);
  CHECK(load_checkpoint(path).iteration == 123456);
  CHECK(dir.entries() == std::vector<std::string>{"ckpt.safetensors"});
}
