// JSON parsing and typed reads with one-line errors; the rules are in json_text.h.
#include "src/io/json_text.h"

#include <cmath>

#include "src/io/input_file.h"
#include "src/io/limits.h"
#include "tv3s/error.h"

namespace tv3s::io {

using nlohmann::json;

namespace {

// The value as JSON text for a message: at most 40 bytes, cut before a UTF-8 sequence.
std::string brief(const json& value) {
  std::string text = value.dump(-1, ' ', false, json::error_handler_t::replace);
  if (text.size() <= 40) return text;
  size_t cut = 40;
  while (cut > 0 && (uint8_t(text[cut]) & 0xC0) == 0x80) --cut;
  return text.substr(0, cut) + "…";
}

}  // namespace

json parse_json(const std::string& text, const std::string& what, const json::parser_callback_t& also) {
  // The depth given with a container's start event is the number of containers around it.
  const auto bounded = [&](int depth, json::parse_event_t event, json& parsed) {
    if ((event == json::parse_event_t::object_start || event == json::parse_event_t::array_start) &&
        depth >= kMaxJsonDepth)
      fail(str(what, ": JSON nested deeper than ", kMaxJsonDepth, " levels"));
    return also ? also(depth, event, parsed) : true;
  };
  try {
    return json::parse(text, bounded);
  } catch (const json::exception& e) {  // syntax, invalid UTF-8, numbers beyond double range
    fail(str(what, ": not valid JSON (", e.what(), ")"));
  }
}

std::string read_json_file(const std::string& path) {
  InputFile file = open_input_file(path);
  TV3S_CHECK(file.size <= kMaxJsonFileBytes, path, ": ", file.size, " bytes is too large for a JSON file (at most ",
             kMaxJsonFileBytes, ")");
  std::string text(size_t(file.size), '\0');
  TV3S_CHECK(bool(file.stream.read(text.data(), std::streamsize(text.size()))), path, ": read failed");
  return text;
}

int64_t json_int(const json& value, const std::string& what, int64_t lo, int64_t hi) {
  bool ok = false;
  int64_t v = 0;
  if (value.is_number_unsigned()) {
    const uint64_t u = value.get<uint64_t>();
    ok = hi >= 0 && u <= uint64_t(hi);
    v = ok ? int64_t(u) : 0;
  } else if (value.is_number_integer()) {
    v = value.get<int64_t>();
    ok = true;
  } else if (value.is_number_float()) {
    // Range first: converting a double beyond int64 is undefined behaviour.
    const double d = value.get<double>();
    ok = d == std::floor(d) && d >= -0x1p63 && d < 0x1p63;
    v = ok ? int64_t(d) : 0;
  }
  TV3S_CHECK(ok && v >= lo && v <= hi, what, " must be an integer in [", lo, ", ", hi, "], got ", brief(value));
  return v;
}

double json_number(const json& value, const std::string& what) {
  TV3S_CHECK(value.is_number(), what, " must be a number, got ", brief(value));
  return value.get<double>();
}

bool json_bool(const json& value, const std::string& what) {
  TV3S_CHECK(value.is_boolean(), what, " must be true or false, got ", brief(value));
  return value.get<bool>();
}

std::string json_string(const json& value, const std::string& what) {
  TV3S_CHECK(value.is_string(), what, " must be a string, got ", brief(value));
  return value.get<std::string>();
}

void json_list(const json& value, const std::string& what, size_t lo, size_t hi) {
  TV3S_CHECK(value.is_array() && value.size() >= lo && value.size() <= hi, what, " must be a list of ",
             lo == hi ? str(lo) : str(lo, " to ", hi), " entries, got ", brief(value));
}

void json_object(const json& value, const std::string& what) {
  TV3S_CHECK(value.is_object(), what, " must be a JSON object, got ", brief(value));
}

}  // namespace tv3s::io
