// Reading a torch.save file: the zip's `<prefix>/data.pkl` is run through the pickle
// machine with torch's callbacks (torch_pickle.h), the weights are picked out of their
// wrapper, and each tensor is copied out of its storage entry `<prefix>/data/<key>`.
//
// Rules beyond those of the zip reader and the pickle machine: exactly one data.pkl, in a
// top-level folder whose name varies (torch uses the file's stem or "archive"); a
// `<prefix>/byteorder` entry, when present, must say "little"; every storage entry must
// exist and hold exactly numel × element-size bytes; the result must be a dict; names
// must be unique; dicts may nest at most kMaxPickleDepth deep and the walks over the
// pickled structure are bounded (memo references can make a small pickle describe a huge
// tree); the tensors together may take at most kMaxTorchTensorBytesPerFileByte × the
// file's size + kTorchTensorBytesSlack (limits.h: overlapping views of one storage could
// otherwise ask for unbounded memory). Each storage is read once
// and freed after its last tensor; a contiguous tensor that is its storage's only user is
// read straight into the tensor's memory.
#include "src/io/torch_checkpoint.h"

#include <cstring>
#include <map>
#include <unordered_set>

#include "src/io/input_file.h"
#include "src/io/limits.h"
#include "src/io/pickle.h"
#include "src/io/torch_pickle.h"
#include "src/io/zip_reader.h"

namespace tv3s::io {
namespace {

using pickle::Value;
using torch_pickle::StorageRef;
using torch_pickle::TensorRef;
using Kind = Value::Kind;

// How many values the walks over the unpickled structure may visit in all.
struct Budget {
  size_t left;
  void spend() {
    TV3S_CHECK(left-- > 0, "the pickle's structure is too large (shared many times over)");
  }
};

// A torch < 1.6 file: a stream of pickles starting with torch's magic number (protocol 2,
// LONG1 0x1950a86a20f9469cfc6c), or an even older tar archive.
bool is_legacy_torch_file(const std::string& head) {
  static const unsigned char kMagic[] = {0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c,
                                         0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};
  const bool pickle_stream =
      head.size() >= sizeof kMagic && std::memcmp(head.data(), kMagic, sizeof kMagic) == 0;
  const bool tar = head.size() >= 262 && head.compare(257, 5, "ustar") == 0;
  return pickle_stream || tar;
}

void check_is_zip(const std::string& path) {
  InputFile in = open_input_file(path);
  std::string head(512, '\0');
  in.stream.read(head.data(), std::streamsize(head.size()));
  head.resize(size_t(in.stream.gcount()));
  if (head.compare(0, 2, "PK") == 0) return;
  TV3S_CHECK(!is_legacy_torch_file(head), path,
             ": legacy torch format (saved by torch < 1.6); re-save it with torch >= 1.6: "
             "torch.save(torch.load(path), new_path)");
  fail(str(path, ": not a PyTorch checkpoint (torch.save files are zip archives)"));
}

// The folder holding data.pkl.
std::string find_prefix(const ZipReader& zip) {
  std::vector<std::string> found;
  for (const auto& e : zip.entries()) {
    const size_t slash = e.name.find('/');
    if (slash != std::string::npos && e.name.compare(slash, std::string::npos, "/data.pkl") == 0)
      found.push_back(e.name.substr(0, slash));
  }
  TV3S_CHECK(!found.empty(), zip.path(),
             ": a zip archive without <folder>/data.pkl, so not a torch.save file");
  TV3S_CHECK(found.size() == 1, zip.path(), ": the archive holds ", found.size(),
             " data.pkl entries ('", found[0], "/data.pkl', '", found[1], "/data.pkl', ...)");
  return found[0];
}

void collect_tensors(const Value& dict, const std::string& prefix, int depth, Budget& budget,
                     std::vector<std::pair<std::string, const TensorRef*>>& out) {
  TV3S_CHECK(depth <= kMaxPickleDepth, "dicts nested more than ", kMaxPickleDepth, " deep at '", prefix, "'");
  for (const auto& [key, value] : dict.entries) {
    budget.spend();
    std::string name;
    if (key->is(Kind::string)) name = key->text;
    else if (key->is(Kind::integer)) name = std::to_string(key->integer);
    else fail(str("a dict key of type ", pickle::kind_name(key->kind), " at '", prefix, "'"));
    if (!prefix.empty()) name = prefix + "." + name;
    if (const TensorRef* t = torch_pickle::as_tensor(*value)) out.emplace_back(name, t);
    else if (value->is(Kind::dict)) collect_tensors(*value, name, depth + 1, budget, out);
    // Other values (numbers, strings, ...) in a state dict carry no weights.
  }
}

nlohmann::json to_json(const Value& v, int depth, Budget& budget) {
  budget.spend();
  TV3S_CHECK(depth <= kMaxPickleDepth, "meta nests more than ", kMaxPickleDepth, " deep");
  switch (v.kind) {
    case Kind::boolean: return v.boolean;
    case Kind::integer: return v.integer;
    case Kind::floating: return v.floating;
    case Kind::string: return v.text;
    case Kind::list:
    case Kind::tuple: {
      nlohmann::json array = nlohmann::json::array();
      for (const Value* item : v.items) array.push_back(to_json(*item, depth + 1, budget));
      return array;
    }
    case Kind::dict: {
      nlohmann::json object = nlohmann::json::object();
      for (const auto& [key, value] : v.entries) {
        if (!key->is(Kind::string)) return nullptr;
        object[key->text] = to_json(*value, depth + 1, budget);
      }
      return object;
    }
    default: return nullptr;  // None, bytes, tensors, ...
  }
}

bool is_contiguous(const TensorRef& t) {
  int64_t expected = 1;
  for (size_t d = t.size.size(); d-- > 0;) {
    if (t.size[d] != 1 && t.stride[d] != expected) return false;
    expected *= t.size[d];
  }
  return true;
}

}  // namespace

TorchCheckpoint read_torch_checkpoint(const std::string& path) {
  check_is_zip(path);
  ZipReader zip(path);
  const std::string prefix = find_prefix(zip);
  if (const ZipReader::Entry* order = zip.find(prefix + "/byteorder")) {
    const std::string byteorder = zip.read(*order);
    TV3S_CHECK(byteorder == "little", path, ": byte order '", byteorder,
               "' (tv3s reads little-endian checkpoints)");
  }
  const std::string program = zip.read(*zip.find(prefix + "/data.pkl"));

  auto storage_entry = [&](const StorageRef& s) { return zip.find(prefix + "/data/" + s.key); };
  pickle::Arena arena;
  TorchCheckpoint checkpoint;
  std::vector<std::pair<std::string, const TensorRef*>> found;
  try {
    const Value* root = pickle::unpickle(
        program, arena, torch_pickle::callbacks([&](const StorageRef& s) {
          const ZipReader::Entry* entry = storage_entry(s);
          TV3S_CHECK(entry, "storage '", s.key, "' has no entry ", prefix, "/data/", s.key);
          TV3S_CHECK(uint64_t(s.numel) <= entry->size / s.type->element_size &&
                         entry->size == uint64_t(s.numel) * s.type->element_size,
                     "storage '", s.key, "' should hold ", s.numel, " × ", s.type->element_size,
                     " bytes (", s.type->global, "), its entry has ", entry->size);
        }));
    TV3S_CHECK(root->is(Kind::dict), "the checkpoint holds a value of type ",
               pickle::kind_name(root->kind), ", not a dict of tensors");
    // The wrapper: mmseg {state_dict, meta, optimizer}, {model: ...}, or a bare state dict.
    const Value* weights = root;
    for (const char* wrapper : {"state_dict", "model"}) {
      const Value* inner = root->get(wrapper);
      if (inner && inner->is(Kind::dict)) {
        weights = inner;
        break;
      }
    }
    Budget budget{arena.max_values()};
    collect_tensors(*weights, "", 0, budget, found);
    if (const Value* meta = root->get("meta"); meta && meta->is(Kind::dict))
      checkpoint.meta = to_json(*meta, 0, budget);
  } catch (const Error& e) {
    throw Error(str(path, ": ", e.what()));
  }

  // Views may overlap (tensors sharing a storage), so the tensors can legitimately be
  // larger than the file, but a small file must not be able to make us allocate without
  // bound. Counted in elements first: numel × element size itself can overflow.
  const uint64_t limit = kMaxTorchTensorBytesPerFileByte * zip.file_size() + kTorchTensorBytesSlack;
  std::unordered_set<std::string> names;
  std::map<const StorageRef*, size_t> users, last_user;
  uint64_t total_bytes = 0;
  for (size_t i = 0; i < found.size(); ++i) {
    TV3S_CHECK(names.insert(found[i].first).second, path, ": two tensors are named '",
               found[i].first, "'");
    const TensorRef& t = *found[i].second;
    const StorageRef* s = t.storage.get();
    users[s]++;
    last_user[s] = i;
    const uint64_t element = dtype_size(s->type->dtype);
    TV3S_CHECK(uint64_t(t.numel) <= (limit - total_bytes) / element, path, ": the tensors would take more than ",
               kMaxTorchTensorBytesPerFileByte, "× the file's size + ", kTorchTensorBytesSlack >> 20,
               " MiB (", limit, " bytes; views overlapping one storage many times?)");
    total_bytes += uint64_t(t.numel) * element;
  }

  std::map<const StorageRef*, std::vector<uint8_t>> loaded;
  for (size_t i = 0; i < found.size(); ++i) {
    const auto& [name, t] = found[i];
    const StorageRef* s = t->storage.get();
    const ZipReader::Entry& entry = *storage_entry(*s);
    Tensor tensor;
    if (users[s] == 1 && t->offset == 0 && t->numel == s->numel && is_contiguous(*t) &&
        s->type->conversion == torch_pickle::StorageType::none) {
      tensor = Tensor::empty(Shape(t->size), s->type->dtype);
      zip.read_into(entry, tensor.raw());
    } else {
      auto [it, first] = loaded.try_emplace(s);
      if (first) {
        it->second.resize(entry.size);
        zip.read_into(entry, it->second.data());
      }
      tensor = torch_pickle::materialize(*t, it->second.data(), str(path, ": tensor '", name, "'"));
      if (last_user[s] == i) loaded.erase(it);
    }
    checkpoint.tensors.emplace_back(name, std::move(tensor));
  }
  return checkpoint;
}

}  // namespace tv3s::io
