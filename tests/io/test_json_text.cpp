// io::parse_json and the typed reads (src/io/json_text.h): every failure is one tv3s::Error
// line naming what was read and the rule; the nesting bound is exact; integers are
// range-checked before any conversion (a double beyond int64 is never cast).
#include <cmath>
#include <limits>

#include "src/io/json_text.h"
#include "src/io/limits.h"
#include "tests/io/io_test_util.h"
#include "tests/test_util.h"

using namespace tv3s;
using nlohmann::json;
using test::error_message;

TEST_CASE("json text: syntax, overflow, UTF-8 and nesting are the project's error naming the source") {
  CHECK(io::parse_json(R"({"a": [1, 2.5, "x"]})", "t.json") == json{{"a", {1, 2.5, "x"}}});
  const std::string syntax = error_message([] { io::parse_json("{\"a\": ", "t.json"); });
  CHECK(syntax.rfind("t.json: not valid JSON ([json.exception.parse_error.101] ", 0) == 0);
  CHECK(syntax.find('\n') == std::string::npos);
  const std::string overflow = error_message([] { io::parse_json("[-1e999]", "t.json"); });
  CHECK(overflow == "t.json: not valid JSON ([json.exception.out_of_range.406] number overflow parsing '-1e999')");
  CHECK(error_message([] { io::parse_json("[\"\xc0\xaf\"]", "t.json"); }).rfind("t.json: not valid JSON (", 0) ==
        0);  // an overlong UTF-8 form
  CHECK(error_message([] { io::parse_json("", "t.json"); }).rfind("t.json: not valid JSON (", 0) == 0);

  // kMaxJsonDepth containers nest; one more is refused as it is opened.
  const auto nested = [](int levels) {
    std::string text;
    for (int i = 0; i < levels; ++i) text += i % 2 ? "[" : "{\"k\":";
    text += "0";
    for (int i = levels; i-- > 0;) text += i % 2 ? "]" : "}";
    return text;
  };
  CHECK_NOTHROW(io::parse_json(nested(io::kMaxJsonDepth), "t.json"));
  CHECK(error_message([&] { io::parse_json(nested(io::kMaxJsonDepth + 1), "t.json"); }) ==
        "t.json: JSON nested deeper than 64 levels");
  CHECK(error_message([&] { io::parse_json(std::string(1'000'000, '['), "t.json"); }) ==
        "t.json: JSON nested deeper than 64 levels");

  // The caller's callback sees the events, and may throw its own error.
  int keys = 0;
  io::parse_json(R"({"a": {"b": 1}})", "t.json", [&](int, json::parse_event_t event, json&) {
    keys += event == json::parse_event_t::key;
    return true;
  });
  CHECK(keys == 2);
}

TEST_CASE("json text: typed reads name the value, the rule and what was there") {
  constexpr int64_t kMin = std::numeric_limits<int64_t>::min(), kMax = std::numeric_limits<int64_t>::max();
  const json values = io::parse_json(
      R"([7, -7, 1e5, 2.5, 1e300, -9.2e18, 9223372036854775807, 18446744073709551615, "7", true, null])", "t");
  CHECK(io::json_int(values[0], "v", 0, 10) == 7);
  CHECK(io::json_int(values[1], "v", -10, 10) == -7);
  CHECK(io::json_int(values[2], "v", 0, kMax) == 100000);
  CHECK(io::json_int(values[6], "v", kMin, kMax) == kMax);
  CHECK(error_message([&] { io::json_int(values[0], "t: 'n'", 8, 10); }) ==
        "t: 'n' must be an integer in [8, 10], got 7");
  CHECK(error_message([&] { io::json_int(values[1], "v", 0, 10); }) == "v must be an integer in [0, 10], got -7");
  CHECK(error_message([&] { io::json_int(values[3], "v", 0, 10); }) == "v must be an integer in [0, 10], got 2.5");
  // Beyond int64 as a double, and as an unsigned integer: refused, never converted.
  CHECK(error_message([&] { io::json_int(values[4], "v", kMin, kMax); }) ==
        "v must be an integer in [-9223372036854775808, 9223372036854775807], got 1e+300");
  CHECK(io::json_int(values[5], "v", kMin, 0) == -9'200'000'000'000'000'000);
  CHECK(error_message([&] { io::json_int(json(-9.3e18), "v", kMin, kMax); }).find("got -9.3e+18") !=
        std::string::npos);
  CHECK(error_message([&] { io::json_int(values[7], "v", kMin, kMax); }) ==
        "v must be an integer in [-9223372036854775808, 9223372036854775807], got 18446744073709551615");
  CHECK(error_message([&] { io::json_int(values[8], "v", 0, 10); }) == "v must be an integer in [0, 10], got \"7\"");
  CHECK(error_message([&] { io::json_int(json(0x1p63), "v", kMin, kMax); }).find("must be an integer") !=
        std::string::npos);
  CHECK(io::json_int(json(-0x1p63), "v", kMin, kMax) == kMin);

  CHECK(io::json_number(values[3], "v") == 2.5);
  CHECK(io::json_number(values[0], "v") == 7.0);
  CHECK(error_message([&] { io::json_number(values[8], "v"); }) == "v must be a number, got \"7\"");
  CHECK(io::json_bool(values[9], "v"));
  CHECK(error_message([&] { io::json_bool(values[10], "v"); }) == "v must be true or false, got null");
  CHECK(io::json_string(values[8], "v") == "7");
  CHECK(error_message([&] { io::json_string(values[0], "v"); }) == "v must be a string, got 7");
  CHECK_NOTHROW(io::json_list(values, "v", 11, 11));
  CHECK(error_message([&] { io::json_list(values[0], "v", 2, 2); }) == "v must be a list of 2 entries, got 7");
  CHECK(error_message([&] { io::json_list(json::array(), "v", 1, 3); }) ==
        "v must be a list of 1 to 3 entries, got []");
  CHECK(error_message([&] { io::json_object(values, "v"); }).rfind("v must be a JSON object, got [7,-7,", 0) == 0);
  // What was there is cut to 40 bytes (never inside a UTF-8 sequence).
  const std::string long_text = error_message([] { io::json_string(json(std::vector<int>(100, 1)), "v"); });
  CHECK(long_text == "v must be a string, got [1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1…");
}
