// Training checkpoints as safetensors files (the format is described in checkpoint.h).
//
// Loading checks, in this order, so each kind of bad file gets its own message:
//  1. the header alone (read here, before the full reader): too short or not safetensors
//     → "not a tv3s training checkpoint"; no tv3s.checkpoint in the metadata (a model
//     file) → the same; a file shorter than its header says → "truncated";
//  2. the full safetensors checks (src/io/safetensors.cpp) → "damaged" with their reason;
//  3. the CRC-32 over tensors and metadata → "damaged (checksum mismatch)";
//  4. the content: every parameter with optimizer state has both moments and a step
//     count, each moment f32 with its parameter's shape.
// Saving runs check 4 too, so a checkpoint that would be refused is never written.
#include "src/train/checkpoint.h"

#include <algorithm>
#include <charconv>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <vector>

#include "src/io/input_file.h"
#include "src/io/json_text.h"
#include "src/io/limits.h"
#include "src/io/safetensors.h"
#include "src/io/zip_reader.h"
#include "tv3s/autograd.h"

namespace tv3s::train {
namespace {

using nlohmann::json;

constexpr const char* kFormatVersion = "1";

// Metadata keys.
constexpr const char* kFormatKey = "tv3s.checkpoint";
constexpr const char* kIterationKey = "tv3s.iteration";
constexpr const char* kRngKey = "tv3s.rng";
constexpr const char* kLossScaleKey = "tv3s.loss_scale";
constexpr const char* kGoodStepsKey = "tv3s.loss_scale_good_steps";
constexpr const char* kAdamStepsKey = "tv3s.adam_steps";
constexpr const char* kModelConfigKey = "tv3s.model_config";
constexpr const char* kTrainConfigKey = "tv3s.train_config";
constexpr const char* kCrcKey = "tv3s.crc32";

// Tensor name prefixes.
constexpr const char* kModelPrefix = "model/";
constexpr const char* kFirstMomentPrefix = "adam_m/";
constexpr const char* kSecondMomentPrefix = "adam_v/";

// CRC-32 of the whole content except the CRC itself: each tensor (by full name, sorted)
// as name, dtype, shape and bytes; then each metadata entry (sorted) as key and value.
// A NUL after each text keeps "ab"+"c" apart from "a"+"bc".
uint32_t content_crc(const std::map<std::string, Tensor>& host_tensors,
                     const std::map<std::string, std::string>& metadata) {
  uint32_t crc = 0;
  const auto add_text = [&](const std::string& text) { crc = io::crc32(text.c_str(), text.size() + 1, crc); };
  for (const auto& [name, t] : host_tensors) {
    add_text(name);
    add_text(str(dtype_name(t.dtype()), t.shape().str()));
    if (t.nbytes() > 0) crc = io::crc32(t.raw(), t.nbytes(), crc);
  }
  for (const auto& [key, value] : metadata) {
    if (key == kCrcKey) continue;
    add_text(key);
    add_text(value);
  }
  return crc;
}

std::string hex32(uint32_t value) {
  char text[16];
  std::snprintf(text, sizeof(text), "%08" PRIx32, value);
  return text;
}

// Exact text forms of the scalars.
std::string double_text(double value) {
  char text[64];
  std::snprintf(text, sizeof(text), "%a", value);
  return text;
}

std::string rng_text(const uint64_t rng[4]) {
  char text[80];
  std::snprintf(text, sizeof(text), "%016" PRIx64 " %016" PRIx64 " %016" PRIx64 " %016" PRIx64, rng[0], rng[1],
                rng[2], rng[3]);
  return text;
}

// Every structural rule of a checkpoint (shared by save and load): optimizer state only
// for model tensors, all three pieces of it for each, moments f32 in the parameter's shape.
void check_content(const TrainCheckpoint& c, const std::string& path) {
  TV3S_CHECK(c.iteration >= 0, path, ": checkpoint iteration is negative (", c.iteration, ")");
  TV3S_CHECK(std::isfinite(c.loss_scale) && c.loss_scale > 0, path, ": checkpoint loss scale ", c.loss_scale,
             " is not a positive number");
  TV3S_CHECK(c.loss_scale_good_steps >= 0, path, ": checkpoint loss-scale step count is negative (",
             c.loss_scale_good_steps, ")");
  for (const auto& [name, t] : c.model)
    TV3S_CHECK(t.defined(), path, ": model tensor '", name, "' is undefined");
  std::set<std::string> names;
  for (const auto& entry : c.adam_m) names.insert(entry.first);
  for (const auto& entry : c.adam_v) names.insert(entry.first);
  for (const auto& entry : c.adam_steps) names.insert(entry.first);
  for (const std::string& name : names) {
    const auto param = c.model.find(name);
    TV3S_CHECK(param != c.model.end(), path, ": optimizer state for '", name, "', which is not a model tensor");
    const auto m = c.adam_m.find(name), v = c.adam_v.find(name);
    const auto steps = c.adam_steps.find(name);
    TV3S_CHECK(m != c.adam_m.end(), path, ": parameter '", name, "' has no first moment (", kFirstMomentPrefix, name,
               ")");
    TV3S_CHECK(v != c.adam_v.end(), path, ": parameter '", name, "' has no second moment (", kSecondMomentPrefix,
               name, ")");
    TV3S_CHECK(steps != c.adam_steps.end(), path, ": parameter '", name, "' has no step count in ", kAdamStepsKey);
    TV3S_CHECK(steps->second >= 0, path, ": step count of '", name, "' is negative (", steps->second, ")");
    for (const auto& [prefix, moment] : {std::pair{kFirstMomentPrefix, &m->second}, {kSecondMomentPrefix, &v->second}}) {
      TV3S_CHECK(moment->defined() && moment->dtype() == DType::f32 && moment->shape() == param->second.shape(), path,
                 ": wrong shape: ", prefix, name, " is ", moment->desc(), " but its parameter is ",
                 param->second.shape().str(), " (moments are f32 in the parameter's shape)");
    }
  }
}

// --- loading -------------------------------------------------------------------------

[[noreturn]] void damaged(const std::string& path, const std::string& why) {
  fail(str(path, ": damaged checkpoint (", why, ")"));
}

// Step 1: the header on its own. Tells apart what is not a checkpoint at all, a model
// file, a newer format, and a file cut short.
void check_header(const std::string& path) {
  io::InputFile input = io::open_input_file(path);
  const uint64_t size = input.size;
  TV3S_CHECK(size >= 8, path, ": not a tv3s training checkpoint (the file is only ", size, " bytes)");
  unsigned char length_bytes[8];
  input.stream.read(reinterpret_cast<char*>(length_bytes), 8);
  uint64_t header_size = 0;
  for (int i = 7; i >= 0; --i) header_size = header_size << 8 | length_bytes[i];
  TV3S_CHECK(header_size <= io::kMaxSafetensorsHeaderBytes, path, ": not a tv3s training checkpoint (not a safetensors file)");
  TV3S_CHECK(header_size <= size - 8, path, ": truncated checkpoint (the file ends inside its header: ", size,
             " bytes, the header alone needs ", 8 + header_size, ")");
  std::string text(size_t(header_size), '\0');
  input.stream.read(text.data(), std::streamsize(header_size));
  json header;
  try {
    header = io::parse_json(text, "its header");
  } catch (const Error& e) {
    damaged(path, e.what());
  }
  const bool tagged = header.is_object() && header.contains("__metadata__") && header["__metadata__"].is_object() &&
                      header["__metadata__"].contains(kFormatKey);
  TV3S_CHECK(tagged, path, ": not a tv3s training checkpoint (its metadata has no ", kFormatKey,
             " entry; a model file cannot be resumed from)");
  const json& version = header["__metadata__"][kFormatKey];
  TV3S_CHECK(version.is_string() && version.get<std::string>() == kFormatVersion, path,
             ": checkpoint format version ", version.dump(), " is not supported (this build reads version ",
             kFormatVersion, ")");
  // Where the data should end, by the header's own offsets (checked properly in step 2).
  uint64_t data_end = 0;
  for (const auto& item : header.items()) {
    const json& entry = item.value();
    if (item.key() == "__metadata__" || !entry.is_object() || !entry.contains("data_offsets")) continue;
    const json& offsets = entry["data_offsets"];
    if (offsets.is_array() && offsets.size() == 2 && offsets[1].is_number_unsigned())
      data_end = std::max(data_end, offsets[1].get<uint64_t>());
  }
  const uint64_t data_size = size - 8 - header_size;
  TV3S_CHECK(data_size >= data_end, path, ": truncated checkpoint (", size, " bytes, its header describes ",
             8 + header_size + data_end, ")");
  if (data_size > data_end) damaged(path, str(size, " bytes, its header describes ", 8 + header_size + data_end));
}

const std::string& metadata_entry(const std::map<std::string, std::string>& metadata, const std::string& path,
                                  const char* key) {
  const auto it = metadata.find(key);
  if (it == metadata.end()) damaged(path, str("metadata has no ", key));
  return it->second;
}

int64_t parse_int64(const std::string& text, const std::string& path, const char* key) {
  int64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size())
    damaged(path, str("metadata ", key, " = '", text, "' is not an integer"));
  return value;
}

double parse_double(const std::string& text, const std::string& path, const char* key) {
  char* end = nullptr;
  const double value = text.empty() ? 0 : std::strtod(text.c_str(), &end);
  if (text.empty() || end != text.c_str() + text.size())
    damaged(path, str("metadata ", key, " = '", text, "' is not a number"));
  return value;
}

void parse_rng(const std::string& text, const std::string& path, uint64_t rng[4]) {
  const char* p = text.data();
  const char* const end = text.data() + text.size();
  for (int i = 0; i < 4; ++i) {
    if (i > 0 && (p == end || *p++ != ' ')) damaged(path, str("metadata ", kRngKey, " is not four hex words"));
    const auto [next, error] = std::from_chars(p, end, rng[i], 16);
    if (error != std::errc() || next - p != 16) damaged(path, str("metadata ", kRngKey, " is not four hex words"));
    p = next;
  }
  if (p != end) damaged(path, str("metadata ", kRngKey, " is not four hex words"));
}

std::map<std::string, int64_t> parse_steps(const std::string& text, const std::string& path) {
  std::map<std::string, int64_t> steps;
  try {
    const std::string what = str("metadata ", kAdamStepsKey);
    const json object = io::parse_json(text, what);
    io::json_object(object, what);
    for (const auto& item : object.items())
      steps[item.key()] = io::json_int(item.value(), str(what, ": the step count of '", item.key(), "'"), 0,
                                       std::numeric_limits<int64_t>::max());
  } catch (const Error& e) {
    damaged(path, e.what());
  }
  return steps;
}

bool strip_prefix(const std::string& name, const char* prefix, std::string& rest) {
  const size_t n = std::char_traits<char>::length(prefix);
  if (name.compare(0, n, prefix) != 0) return false;
  rest = name.substr(n);
  return true;
}

}  // namespace

void save_checkpoint(const std::string& path, const TrainCheckpoint& c) {
  check_content(c, path);
  NoGradGuard no_grad;  // device copies of parameters must not be recorded
  std::map<std::string, Tensor> host;  // full tensor name → CPU tensor
  for (const auto& [name, t] : c.model) host[kModelPrefix + name] = t.detach().cpu();
  for (const auto& [name, t] : c.adam_m) host[kFirstMomentPrefix + name] = t.detach().cpu();
  for (const auto& [name, t] : c.adam_v) host[kSecondMomentPrefix + name] = t.detach().cpu();

  std::map<std::string, std::string> metadata;
  metadata[kFormatKey] = kFormatVersion;
  metadata[kIterationKey] = std::to_string(c.iteration);
  metadata[kRngKey] = rng_text(c.rng);
  metadata[kLossScaleKey] = double_text(c.loss_scale);
  metadata[kGoodStepsKey] = std::to_string(c.loss_scale_good_steps);
  json steps = json::object();
  for (const auto& [name, count] : c.adam_steps) steps[name] = count;
  try {
    metadata[kAdamStepsKey] = steps.dump();
  } catch (const json::exception&) {
    fail(str(path, ": a parameter name is not valid UTF-8"));
  }
  metadata[kModelConfigKey] = c.model_config_json;
  metadata[kTrainConfigKey] = c.train_config_json;
  metadata[kCrcKey] = hex32(content_crc(host, metadata));

  // write_safetensors writes to a temporary file, fsyncs it and renames it into place
  // (src/io/atomic_file.cpp), so a crash or an error never leaves half a checkpoint.
  io::write_safetensors(path, std::vector<std::pair<std::string, Tensor>>(host.begin(), host.end()), metadata);
}

TrainCheckpoint load_checkpoint(const std::string& path) {
  check_header(path);
  io::SafetensorsFile file;
  try {
    file = io::read_safetensors(path);
  } catch (const Error& e) {
    std::string why = e.what();
    if (why.rfind(path + ": ", 0) == 0) why = why.substr(path.size() + 2);
    damaged(path, why);
  }

  const std::map<std::string, Tensor> tensors(file.tensors.begin(), file.tensors.end());
  const std::string& stored_crc = metadata_entry(file.metadata, path, kCrcKey);
  const std::string computed_crc = hex32(content_crc(tensors, file.metadata));
  if (io::kVerifyChecksums && stored_crc != computed_crc)
    damaged(path, str("checksum mismatch: the file says ", stored_crc, ", its content gives ", computed_crc));

  TrainCheckpoint c;
  const auto& meta = file.metadata;
  c.iteration = parse_int64(metadata_entry(meta, path, kIterationKey), path, kIterationKey);
  parse_rng(metadata_entry(meta, path, kRngKey), path, c.rng);
  c.loss_scale = parse_double(metadata_entry(meta, path, kLossScaleKey), path, kLossScaleKey);
  c.loss_scale_good_steps = parse_int64(metadata_entry(meta, path, kGoodStepsKey), path, kGoodStepsKey);
  c.adam_steps = parse_steps(metadata_entry(meta, path, kAdamStepsKey), path);
  c.model_config_json = metadata_entry(meta, path, kModelConfigKey);
  c.train_config_json = metadata_entry(meta, path, kTrainConfigKey);

  for (const auto& [full_name, t] : tensors) {
    std::string name;
    if (strip_prefix(full_name, kModelPrefix, name)) c.model[name] = t;
    else if (strip_prefix(full_name, kFirstMomentPrefix, name)) c.adam_m[name] = t;
    else if (strip_prefix(full_name, kSecondMomentPrefix, name)) c.adam_v[name] = t;
    else damaged(path, str("unexpected tensor '", full_name, "'"));
  }
  check_content(c, path);
  return c;
}

}  // namespace tv3s::train
