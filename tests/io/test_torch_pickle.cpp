// torch's meaning for the pickle callbacks (src/io/torch_pickle.h) on programs assembled
// here, for the rules no torch.save file breaks: the shape of persistent ids and rebuild
// arguments, hooks, dimension and stride limits, storages named twice; and the strided
// gather with its dtype conversions.
#include <cstring>

#include "src/io/torch_pickle.h"
#include "tests/io/io_test_util.h"
#include "tests/test_util.h"

namespace {

using namespace tv3s;
using io::pickle::Arena;
using io::pickle::Value;
using io::torch_pickle::StorageRef;
using io::torch_pickle::TensorRef;
using test::error_message;

// Pickle protocol 2 pieces, as torch.save writes them.
std::string le32(int64_t v) {
  std::string s;
  for (int i = 0; i < 4; ++i) s += char((uint64_t(v) >> (8 * i)) & 0xFF);
  return s;
}
std::string text(const std::string& s) { return "X" + le32(int64_t(s.size())) + s; }
std::string integer(int64_t v) { return "J" + le32(v); }
std::string global(const std::string& module, const std::string& name) {
  return "c" + module + "\n" + name + "\n";
}
std::string tuple(const std::vector<std::string>& items) {
  std::string s = "(";
  for (const std::string& item : items) s += item;
  return s + "t";
}
std::string ints(const std::vector<int64_t>& values) {
  std::vector<std::string> items;
  for (int64_t v : values) items.push_back(integer(v));
  return tuple(items);
}
std::string storage(const std::string& type, const std::string& key, int64_t numel) {
  return tuple({text("storage"), global("torch", type), text(key), text("cpu"), integer(numel)}) +
         "Q";  // BINPERSID
}
const std::string kEmptyHooks = global("collections", "OrderedDict") + ")R";
std::string rebuild(const std::string& storage_pid, int64_t offset,
                    const std::vector<int64_t>& size, const std::vector<int64_t>& stride,
                    const std::string& hooks = kEmptyHooks) {
  return global("torch._utils", "_rebuild_tensor_v2") +
         tuple({storage_pid, integer(offset), ints(size), ints(stride), "\x89", hooks}) + "R";
}
// {"w": value, ...} as a whole program.
std::string program(const std::vector<std::pair<std::string, std::string>>& items) {
  std::string s = "\x80\x02}(";
  for (const auto& [key, value] : items) s += text(key) + value;
  return s + "u.";
}

struct Run {
  Arena arena;
  std::vector<std::string> storages;  // keys, as check_storage saw them
  const Value* root = nullptr;
  explicit Run(const std::string& bytes) {
    auto record = [this](const StorageRef& s) { storages.push_back(s.key); };
    root = io::pickle::unpickle(bytes, arena, io::torch_pickle::callbacks(record));
  }
};

std::string run_error(const std::string& bytes) {
  return error_message([&] { Run run(bytes); });
}

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

template <class T>
const uint8_t* bytes_of(const T* values) {
  return reinterpret_cast<const uint8_t*>(values);
}

}  // namespace

TEST_CASE("checkpoint: rebuilt views share one storage object per key") {
  const std::string s0 = storage("FloatStorage", "0", 24);
  Run run(program({{"a", rebuild(s0, 1, {2, 4}, {1, 6})},
                   {"b", rebuild(storage("FloatStorage", "0", 24), 0, {}, {})},
                   {"p", global("torch._utils", "_rebuild_parameter") +
                             tuple({rebuild(storage("HalfStorage", "1", 3), 0, {3}, {1}), "\x88",
                                    kEmptyHooks}) + "R"}}));
  CHECK(run.storages == std::vector<std::string>{"0", "1"});  // each checked once
  const TensorRef* a = io::torch_pickle::as_tensor(*run.root->get("a"));
  const TensorRef* b = io::torch_pickle::as_tensor(*run.root->get("b"));
  const TensorRef* p = io::torch_pickle::as_tensor(*run.root->get("p"));
  REQUIRE((a && b && p));
  CHECK(a->storage == b->storage);
  CHECK((a->numel == 8 && b->numel == 1 && p->numel == 3));
  CHECK(std::string(p->storage->type->global) == "torch.HalfStorage");

  std::vector<float> values(24);
  for (int i = 0; i < 24; ++i) values[size_t(i)] = float(i);
  const Tensor t = io::torch_pickle::materialize(*a, bytes_of(values.data()), "a");
  // element [r][c] = storage[1 + r + 6c]
  CHECK(t.to_vector() == std::vector<float>{1, 7, 13, 19, 2, 8, 14, 20});
  CHECK(io::torch_pickle::materialize(*b, bytes_of(values.data()), "b").item() == 0);
}

TEST_CASE("checkpoint: int64 storages narrow to i32 with a range check, bool to u8") {
  Run run(program({{"i", rebuild(storage("LongStorage", "0", 3), 0, {3}, {1})},
                   {"b", rebuild(storage("BoolStorage", "1", 2), 0, {2}, {1})}}));
  const int64_t longs[3] = {-7, 2147483647, int64_t(1) << 31};
  const TensorRef* i = io::torch_pickle::as_tensor(*run.root->get("i"));
  TensorRef first_two = *i;
  first_two.size = {2};
  first_two.numel = 2;
  const Tensor narrowed = io::torch_pickle::materialize(first_two, bytes_of(longs), "i");
  CHECK(narrowed.dtype() == DType::i32);
  CHECK(narrowed.to_vector_i32() == std::vector<int32_t>{-7, 2147483647});
  CHECK(error_message([&] {
          io::torch_pickle::materialize(*i, bytes_of(longs), "x.pth: tensor 'i'");
        }) == "x.pth: tensor 'i': int64 value 2147483648 does not fit the int32 that tv3s stores "
              "integers in");
  const uint8_t bools[2] = {0, 1};
  const TensorRef* flags = io::torch_pickle::as_tensor(*run.root->get("b"));
  const Tensor b = io::torch_pickle::materialize(*flags, bools, "b");
  CHECK(b.dtype() == DType::u8);
  CHECK(b.to_vector() == std::vector<float>{0, 1});
}

TEST_CASE("checkpoint: malformed persistent ids and rebuild arguments are refused") {
  const std::string f4 = storage("FloatStorage", "0", 4);
  struct Case {
    std::string value, error;
  };
  for (const Case& c : {
           Case{rebuild(f4, 0, {5}, {1}), "a tensor of size [5], stride [1] at offset 0 reaches "
                                          "element 4 of storage '0', which holds 4 elements"},
           Case{rebuild(f4, 3, {2}, {1}), "reaches element 4 of storage '0'"},
           Case{rebuild(f4, -1, {1}, {1}), "a negative storage offset -1"},
           Case{rebuild(f4, 0, {2}, {-1}), "(negative values are not valid)"},
           Case{rebuild(f4, 0, {2, 2}, {1}), "a tensor has 2 sizes but 1 strides"},
           Case{rebuild(f4, 0, {1, 1, 1, 1, 1, 1, 1, 1, 1}, {1, 1, 1, 1, 1, 1, 1, 1, 1}),
                "a tensor has 9 dimensions; tv3s tensors have at most 8"},
           Case{rebuild(f4, 0, {1 << 30, 1 << 30, 1 << 30}, {0, 0, 0}), "has too many elements"},
           Case{rebuild(f4, 0, {1}, {1}, global("collections", "OrderedDict") + ")R" + text("k") +
                                            text("v") + "s"),
                "a tensor with backward hooks is not supported"},
           Case{global("torch._utils", "_rebuild_tensor_v2") + tuple({f4, integer(0)}) + "R",
                "_rebuild_tensor_v2 takes 6 or 7 arguments, got 2"},
           Case{global("torch._utils", "_rebuild_tensor_v2") +
                    tuple({integer(0), integer(0), ints({1}), ints({1}), "\x89", kEmptyHooks}) +
                    "R",
                "the storage has type int, not object"},
           Case{tuple({text("storage"), global("torch", "FloatStorage"), text("0")}) + "Q",
                "a persistent id that is not ('storage', type, key, location, numel)"},
           Case{tuple({text("storage"), text("torch.FloatStorage"), text("0"), text("cpu"),
                       integer(4)}) + "Q",
                "the type in a persistent id has type str, not global"},
           Case{storage("FloatStorage", "0", -4), "storage '0' has a negative size -4"},
           Case{tuple({f4, storage("HalfStorage", "0", 4)}), "storage '0' is named twice with "
                                                              "different types or sizes"},
           Case{global("torch", "FloatStorage") + ")R", "torch.FloatStorage is only allowed as a "
                                                         "storage type in a persistent id"},
           Case{global("collections", "OrderedDict") + tuple({integer(1)}) + "R",
                "collections.OrderedDict with arguments is not supported"},
           Case{"]}b", "BUILD of a value of type list with state of type dict"},
           Case{global("_codecs", "encode") + tuple({text("\xc4\x80"), text("latin1")}) + "R",
                "_codecs.encode of a character beyond latin-1"},
           Case{global("torch", "ShortStorage"), "forbidden global 'torch.ShortStorage'"},
           Case{global("torch.storage", "_load_from_bytes"),
                "forbidden global 'torch.storage._load_from_bytes'"},
           Case{global("builtins", "eval"), "forbidden global 'builtins.eval' — tv3s only reads "
                                            "tensors, it never runs pickle code"},
       }) {
    const std::string message = run_error(program({{"w", c.value}}));
    INFO(message);
    CHECK(contains(message, c.error));
  }
  // The same bytes through _codecs.encode: how protocol 2 writes b'\x00\xff'.
  const std::string latin1 = text(std::string("\x00\xc3\xbf", 3));
  Run bytes(program({{"b", global("_codecs", "encode") + tuple({latin1, text("latin1")}) + "R"}}));
  CHECK(bytes.root->get("b")->text == std::string("\x00\xff", 2));
}
