// safetensors reader and writer.
//
// Rules the reader enforces, each violation an Error
// "<path>: safetensors: <what> (tensor '<name>')":
//  - the file holds at least the 8-byte header length n; n ≤ 100 MB (the reference
//    implementation's limit) and n ≤ file size − 8;
//  - the header is valid JSON (UTF-8), nested at most kMaxJsonDepth deep (limits.h), a
//    top-level object, with no key repeated in any object (a JSON library would silently
//    keep one of two same-named tensors);
//  - "__metadata__", when present, is an object of string → string;
//  - every other entry is an object with exactly "dtype" (a string naming a dtype tv3s
//    reads), "shape" (at most 8 non-negative integers whose product, and its size in
//    bytes, do not overflow) and "data_offsets" ([begin, end], integers, begin ≤ end ≤
//    size of the data area, end − begin = numel × dtype size);
//  - no two non-empty byte ranges overlap;
//  - I64 values fit in i32 (tv3s has no 64-bit integers; they become i32), BOOL → u8.
//
// The writer produces exactly what the Python `safetensors` library writes for the same
// tensors in the same order: compact JSON with "__metadata__" first, entries keyed
// dtype/shape/data_offsets, the header padded with spaces to a multiple of 8 bytes,
// contiguous data in the given order.
#include "src/io/safetensors.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>

#include "src/io/atomic_file.h"
#include "src/io/input_file.h"
#include "src/io/json_text.h"
#include "src/io/limits.h"

// Tensor bytes are copied between file and memory as they are: the host must be
// little-endian like the format.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "safetensors I/O assumes little-endian");

namespace tv3s::io {
namespace {

using nlohmann::json;

struct FileDType {
  const char* name;
  DType dtype;       // what it becomes in memory
  size_t file_size;  // bytes per element in the file
};
constexpr FileDType kFileDTypes[] = {
    {"F32", DType::f32, 4}, {"F16", DType::f16, 2}, {"BF16", DType::bf16, 2},
    {"F64", DType::f64, 8}, {"I32", DType::i32, 4}, {"U8", DType::u8, 1},
    {"I64", DType::i32, 8}, {"BOOL", DType::u8, 1},
};

const FileDType* find_file_dtype(const std::string& name) {
  for (const FileDType& d : kFileDTypes)
    if (name == d.name) return &d;
  return nullptr;
}

// The name the writer gives each tv3s dtype (its in-memory layout is the file's).
const char* file_dtype_name(DType dtype) {
  for (const FileDType& d : kFileDTypes)
    if (d.dtype == dtype && d.file_size == dtype_size(dtype)) return d.name;
  fail(str("safetensors: no file dtype for ", dtype_name(dtype)));
}

[[noreturn]] void bad(const std::string& path, const std::string& what,
                      const std::string& tensor = {}) {
  if (tensor.empty()) fail(str(path, ": safetensors: ", what));
  fail(str(path, ": safetensors: ", what, " (tensor '", tensor, "')"));
}

struct Header {
  json root;
  std::vector<std::string> names;  // top-level keys in file order (json objects sort them)
};

// Parses the header JSON, rejecting repeated keys in any object as they are met.
Header parse_header(const std::string& path, const std::string& text) {
  const size_t first = text.find_first_not_of(" \t\r\n");
  if (first == std::string::npos || text[first] != '{') bad(path, "header is not a JSON object");
  struct Open {
    std::set<std::string> keys;
    std::string last;
  };
  std::vector<Open> open;  // the objects being parsed, outermost first
  Header header;
  const auto callback = [&](int, json::parse_event_t event, json& parsed) {
    if (event == json::parse_event_t::object_start) {
      open.emplace_back();
    } else if (event == json::parse_event_t::object_end) {
      open.pop_back();
    } else if (event == json::parse_event_t::key) {
      const std::string key = parsed.get<std::string>();
      if (!open.back().keys.insert(key).second) {
        const std::string& entry = open.front().last;
        if (open.size() == 1) bad(path, "tensor name appears twice", key);
        if (entry == "__metadata__") bad(path, str("__metadata__ key '", key, "' appears twice"));
        bad(path, str("key '", key, "' appears twice"), entry);
      }
      open.back().last = key;
      if (open.size() == 1) header.names.push_back(key);
    }
    return true;
  };
  header.root = parse_json(text, str(path, ": safetensors: header"), callback);
  return header;
}

std::map<std::string, std::string> parse_metadata(const std::string& path, const json& value) {
  if (!value.is_object()) bad(path, "__metadata__ is not an object");
  std::map<std::string, std::string> metadata;
  for (const auto& [key, v] : value.items()) {
    if (!v.is_string()) bad(path, str("__metadata__ value of '", key, "' is not a string"));
    metadata[key] = v.get<std::string>();
  }
  return metadata;
}

struct Entry {
  std::string name;
  const FileDType* dtype;
  Shape shape;
  uint64_t begin, end;  // relative to the start of the data area
};

Entry parse_entry(const std::string& path, const std::string& name, const json& value,
                  uint64_t data_size) {
  if (!value.is_object()) bad(path, "entry is not an object", name);
  for (const char* key : {"dtype", "shape", "data_offsets"})
    if (!value.contains(key)) bad(path, str("missing '", key, "'"), name);
  for (const auto& item : value.items())
    if (item.key() != "dtype" && item.key() != "shape" && item.key() != "data_offsets")
      bad(path, str("unexpected key '", item.key(), "'"), name);

  Entry e{name, nullptr, Shape{}, 0, 0};
  const json& dtype = value["dtype"];
  if (!dtype.is_string()) bad(path, "dtype is not a string", name);
  e.dtype = find_file_dtype(dtype.get<std::string>());
  if (!e.dtype) {
    bad(path,
        str("dtype '", dtype.get<std::string>(),
            "' is not supported (tv3s reads F32, F16, BF16, F64, I32, U8, I64, BOOL)"),
        name);
  }

  const json& shape = value["shape"];
  if (!shape.is_array()) bad(path, "shape is not an array", name);
  if (shape.size() > size_t(kMaxDims))
    bad(path, str("shape has ", shape.size(), " dimensions, more than tv3s's ", kMaxDims), name);
  std::vector<int64_t> dims;
  constexpr uint64_t kMax = std::numeric_limits<int64_t>::max();
  uint64_t numel = 1;
  for (const json& d : shape) {
    if (!d.is_number_unsigned())
      bad(path, "shape holds something other than a non-negative integer", name);
    const uint64_t n = d.get<uint64_t>();
    if (n > kMax || (n != 0 && numel > kMax / n)) bad(path, "shape has too many elements", name);
    numel *= n;
    dims.push_back(int64_t(n));
  }
  e.shape = Shape(dims);
  if (numel > kMax / e.dtype->file_size) bad(path, "shape has too many elements", name);

  const json& offsets = value["data_offsets"];
  if (!offsets.is_array() || offsets.size() != 2 || !offsets[0].is_number_unsigned() ||
      !offsets[1].is_number_unsigned())
    bad(path, "data_offsets is not [begin, end] with non-negative integers", name);
  e.begin = offsets[0].get<uint64_t>();
  e.end = offsets[1].get<uint64_t>();
  if (e.begin > e.end)
    bad(path, str("data_offsets [", e.begin, ", ", e.end, "] end before they begin"), name);
  if (e.end > data_size) {
    bad(path,
        str("data_offsets [", e.begin, ", ", e.end, "] extend past the end of the file (",
            data_size, " data bytes)"),
        name);
  }
  if (e.end - e.begin != numel * e.dtype->file_size) {
    bad(path,
        str("data_offsets [", e.begin, ", ", e.end, "] hold ", e.end - e.begin, " bytes but ",
            e.dtype->name, e.shape.str(), " needs ", numel * e.dtype->file_size),
        name);
  }
  return e;
}

// Reads one tensor's bytes (the range was checked against the file size).
Tensor read_tensor(const std::string& path, std::ifstream& in, uint64_t data_start,
                   const Entry& e) {
  Tensor t = Tensor::empty(e.shape, e.dtype->dtype);
  const uint64_t bytes = e.end - e.begin;
  if (bytes == 0) return t;
  std::vector<int64_t> wide;  // I64 is read here, then narrowed
  char* dst = static_cast<char*>(t.raw());
  if (e.dtype->file_size != dtype_size(t.dtype())) {
    wide.resize(size_t(t.numel()));
    dst = reinterpret_cast<char*>(wide.data());
  }
  in.seekg(std::streamoff(data_start + e.begin));
  if (!in.read(dst, std::streamsize(bytes)))
    bad(path, "the file ended while reading the data", e.name);
  if (!wide.empty()) {
    int32_t* out = t.data<int32_t>();
    for (size_t i = 0; i < wide.size(); ++i) {
      if (wide[i] < std::numeric_limits<int32_t>::min() ||
          wide[i] > std::numeric_limits<int32_t>::max())
        bad(path, str("I64 value ", wide[i], " at index ", i, " does not fit in i32"), e.name);
      out[i] = int32_t(wide[i]);
    }
  }
  return t;
}

}  // namespace

Tensor SafetensorsFile::find(const std::string& name) const {
  for (const auto& [n, t] : tensors)
    if (n == name) return t;
  return Tensor();
}

SafetensorsFile read_safetensors(const std::string& path) {
  InputFile input = open_input_file(path);
  std::ifstream& in = input.stream;
  const uint64_t file_size = input.size;
  if (file_size < 8)
    bad(path, str("file is ", file_size, " bytes, too short for the 8-byte header length"));
  unsigned char length_bytes[8];
  in.read(reinterpret_cast<char*>(length_bytes), 8);
  uint64_t header_size = 0;
  for (int i = 7; i >= 0; --i) header_size = header_size << 8 | length_bytes[i];
  if (header_size > kMaxSafetensorsHeaderBytes)
    bad(path,
        str("header length ", header_size, " exceeds the limit of ", kMaxSafetensorsHeaderBytes, " bytes"));
  if (header_size > file_size - 8)
    bad(path, str("header length ", header_size, " exceeds the file size (", file_size, " bytes)"));
  std::string text(size_t(header_size), '\0');
  if (!in.read(text.data(), std::streamsize(header_size)))
    bad(path, "the file ended inside the header");

  const Header header = parse_header(path, text);
  if (!header.root.is_object()) bad(path, "header is not a JSON object");
  const uint64_t data_start = 8 + header_size;
  const uint64_t data_size = file_size - data_start;

  SafetensorsFile file;
  std::vector<Entry> entries;
  for (const std::string& name : header.names) {
    const json& value = header.root.at(name);
    if (name == "__metadata__") {
      file.metadata = parse_metadata(path, value);
    } else {
      entries.push_back(parse_entry(path, name, value, data_size));
    }
  }

  // Stable: empty tensors sharing an offset keep their header order.
  std::stable_sort(entries.begin(), entries.end(),
                   [](const Entry& a, const Entry& b) { return a.begin < b.begin; });
  const Entry* previous = nullptr;  // the non-empty range that reaches furthest so far
  for (const Entry& e : entries) {
    if (e.begin == e.end) continue;
    if (previous && e.begin < previous->end) {
      bad(path,
          str("data_offsets [", e.begin, ", ", e.end, "] overlap those of tensor '", previous->name,
              "' [", previous->begin, ", ", previous->end, "]"),
          e.name);
    }
    if (!previous || e.end > previous->end) previous = &e;
  }

  for (const Entry& e : entries)
    file.tensors.emplace_back(e.name, read_tensor(path, in, data_start, e));
  return file;
}

void write_safetensors(const std::string& path,
                       const std::vector<std::pair<std::string, Tensor>>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  // ordered_json keeps the insertion order, which is the reference writer's order.
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::set<std::string> names;
  std::vector<Tensor> host;
  uint64_t offset = 0;
  for (const auto& [name, tensor] : tensors) {
    if (!tensor.defined()) bad(path, "cannot write an undefined tensor", name);
    if (name == "__metadata__") bad(path, "'__metadata__' cannot name a tensor");
    if (!names.insert(name).second) bad(path, "tensor name appears twice", name);
    host.push_back(tensor.cpu());
    const uint64_t bytes = tensor.nbytes();
    header[name] = {{"dtype", file_dtype_name(tensor.dtype())},
                    {"shape", tensor.shape().vec()},
                    {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string text;
  try {
    text = header.dump();
  } catch (const nlohmann::json::exception&) {
    bad(path, "a tensor name or metadata string is not valid UTF-8");
  }
  text.append((8 - text.size() % 8) % 8, ' ');

  write_file_atomic(path, [&](const ByteSink& sink) {
    unsigned char length_bytes[8];
    for (int i = 0; i < 8; ++i) length_bytes[i] = uint8_t(uint64_t(text.size()) >> (8 * i));
    sink(length_bytes, 8);
    sink(text.data(), text.size());
    for (const Tensor& t : host)
      if (t.nbytes() > 0) sink(t.raw(), t.nbytes());
  });
}

bool looks_like_safetensors(const std::string& path) {
  InputFile in = open_input_file(path);
  unsigned char head[9] = {};
  in.stream.read(reinterpret_cast<char*>(head), sizeof head);
  if (in.stream.gcount() != sizeof head) return false;
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = n << 8 | head[i];
  return head[8] == '{' && n >= 2 && n <= in.size - 8;
}

}  // namespace tv3s::io
