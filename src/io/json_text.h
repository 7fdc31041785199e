// JSON text that a file holds (configs, class lists, metadata values, headers), read with
// the project's errors only: nlohmann::json's exceptions (syntax, a number beyond double
// range such as 1e999, invalid UTF-8) and a value of the wrong type or range each become
// one tv3s::Error line naming the file (or value) and the rule, and nesting is bounded
// (limits.h, kMaxJsonDepth) as the text is parsed.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace tv3s::io {

// Parses `text`; `what` names it in errors: "<what>: not valid JSON (<the reason>)",
// "<what>: JSON nested deeper than 64 levels". `also`, when given, sees every parse event
// as nlohmann's parser callback does (it may throw tv3s::Error; false drops the value).
nlohmann::json parse_json(const std::string& text, const std::string& what,
                          const nlohmann::json::parser_callback_t& also = nullptr);

// The whole of a JSON file, at most kMaxJsonFileBytes: "<path>: N bytes is too large ...".
std::string read_json_file(const std::string& path);

// Typed reads of a parsed value; `what` names the value ("x.json: 'iters'") and the error
// says what it must be and what it is: "<what> must be an integer in [0, 255], got 300".
// An integer is a JSON integer, or a number with no fraction (1e5), within [lo, hi].
int64_t json_int(const nlohmann::json& value, const std::string& what, int64_t lo, int64_t hi);
double json_number(const nlohmann::json& value, const std::string& what);
bool json_bool(const nlohmann::json& value, const std::string& what);
std::string json_string(const nlohmann::json& value, const std::string& what);
// Checks that `value` is a list of lo … hi entries / an object.
void json_list(const nlohmann::json& value, const std::string& what, size_t lo, size_t hi);
void json_object(const nlohmann::json& value, const std::string& what);

}  // namespace tv3s::io
