// The allowlist, torch's rebuild functions and the strided gather; the rules are listed in
// torch_pickle.h.
#include "src/io/torch_pickle.h"

#include <cstring>
#include <limits>
#include <map>

#include "tv3s/error.h"

namespace tv3s::io::torch_pickle {
namespace {

using pickle::Value;
using Kind = Value::Kind;

const StorageType kStorageTypes[] = {
    {"torch.FloatStorage", 4, DType::f32, StorageType::none},
    {"torch.HalfStorage", 2, DType::f16, StorageType::none},
    {"torch.BFloat16Storage", 2, DType::bf16, StorageType::none},
    {"torch.DoubleStorage", 8, DType::f64, StorageType::none},
    {"torch.IntStorage", 4, DType::i32, StorageType::none},
    {"torch.LongStorage", 8, DType::i32, StorageType::narrow_int64},
    {"torch.ByteStorage", 1, DType::u8, StorageType::none},
    {"torch.BoolStorage", 1, DType::u8, StorageType::bool_to_u8},
};
const std::string kOrderedDict = "collections.OrderedDict";
const std::string kRebuildTensor = "torch._utils._rebuild_tensor_v2";
const std::string kRebuildParameter = "torch._utils._rebuild_parameter";
const std::string kRebuildParameterWithState = "torch._utils._rebuild_parameter_with_state";
const std::string kEncode = "_codecs.encode";
const char* const kStorageObject = "torch storage";
const char* const kTensorObject = "torch tensor";

const StorageType* storage_type(const std::string& global) {
  for (const StorageType& t : kStorageTypes)
    if (global == t.global) return &t;
  return nullptr;
}

const Value& arg(const Value& args, size_t i, Kind kind, const char* what) {
  const Value& v = *args.items[i];
  TV3S_CHECK(v.is(kind), what, " has type ", pickle::kind_name(v.kind), ", not ",
             pickle::kind_name(kind));
  return v;
}

std::vector<int64_t> int_tuple(const Value& v, const char* what) {
  std::vector<int64_t> out;
  for (const Value* item : v.items) {
    TV3S_CHECK(item->is(Kind::integer), what, " holds a value of type ",
               pickle::kind_name(item->kind));
    out.push_back(item->integer);
  }
  return out;
}

// No backward hooks, no tensor metadata: either would change what the values mean.
void expect_empty(const Value& v, const char* what) {
  TV3S_CHECK(v.is(Kind::none) || (v.is(Kind::dict) && v.entries.empty()), "a tensor with ", what,
             " is not supported");
}

// a * b + c without overflow, for non-negative operands; false when it would overflow.
bool mul_add(int64_t a, int64_t b, int64_t c, int64_t* out) {
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  if (b != 0 && a > (kMax - c) / b) return false;
  *out = a * b + c;
  return true;
}

Value* rebuild_tensor(pickle::Arena& arena, const Value& args) {
  const size_t n = args.items.size();
  TV3S_CHECK(n == 6 || n == 7, kRebuildTensor, " takes 6 or 7 arguments, got ", n);
  const Value& storage = arg(args, 0, Kind::object, "the storage");
  TV3S_CHECK(storage.text == kStorageObject, "the storage argument is a ", storage.text);
  TensorRef t;
  t.storage = std::any_cast<std::shared_ptr<const StorageRef>>(storage.payload);
  t.offset = arg(args, 1, Kind::integer, "the storage offset").integer;
  t.size = int_tuple(arg(args, 2, Kind::tuple, "the size"), "the size");
  t.stride = int_tuple(arg(args, 3, Kind::tuple, "the stride"), "the stride");
  expect_empty(*args.items[5], "backward hooks");
  if (n == 7) expect_empty(*args.items[6], "tensor metadata (conjugate/negative bits, ...)");

  TV3S_CHECK(t.size.size() == t.stride.size(), "a tensor has ", t.size.size(), " sizes but ",
             t.stride.size(), " strides");
  TV3S_CHECK(t.size.size() <= size_t(kMaxDims), "a tensor has ", t.size.size(),
             " dimensions; tv3s tensors have at most ", kMaxDims);
  TV3S_CHECK(t.offset >= 0, "a tensor has a negative storage offset ", t.offset);
  int64_t last = t.offset;  // the highest element index the view reaches
  for (size_t d = 0; d < t.size.size(); ++d) {
    TV3S_CHECK(t.size[d] >= 0 && t.stride[d] >= 0, "a tensor has size ", Shape(t.size),
               " and stride ", Shape(t.stride), " (negative values are not valid)");
    TV3S_CHECK(mul_add(t.numel, t.size[d], 0, &t.numel), "a tensor of size ", Shape(t.size),
               " has too many elements");
    if (t.size[d] > 0)
      TV3S_CHECK(mul_add(t.size[d] - 1, t.stride[d], last, &last), "a tensor of size ",
                 Shape(t.size), " and stride ", Shape(t.stride), " overflows its index range");
  }
  TV3S_CHECK(t.numel == 0 || last < t.storage->numel, "a tensor of size ", Shape(t.size),
             ", stride ", Shape(t.stride), " at offset ", t.offset, " reaches element ", last,
             " of storage '", t.storage->key, "', which holds ", t.storage->numel, " elements");
  Value* v = arena.make(Kind::object);
  v->text = kTensorObject;
  v->payload = std::make_shared<const TensorRef>(std::move(t));
  return v;
}

// Protocol 2 has no bytes opcode: b'...' is pickled as _codecs.encode(its latin-1 text,
// 'latin1'), so every code point of the (valid UTF-8) text is one byte, < 256.
Value* latin1_bytes(pickle::Arena& arena, const Value& args) {
  TV3S_CHECK(args.items.size() == 2 && args.items[0]->is(Kind::string) &&
                 args.items[1]->is(Kind::string) &&
                 (args.items[1]->text == "latin1" || args.items[1]->text == "latin-1"),
             kEncode, " is only accepted as (text, 'latin1')");
  const std::string& text = args.items[0]->text;
  Value* v = arena.make(Kind::bytes);
  for (size_t i = 0; i < text.size(); ++i) {
    const auto c = uint8_t(text[i]);
    if (c < 0x80) {
      v->text += char(c);
      continue;
    }
    TV3S_CHECK((c & 0xFE) == 0xC2, kEncode, " of a character beyond latin-1");
    v->text += char((c & 0x1F) << 6 | (uint8_t(text[++i]) & 0x3F));
  }
  return v;
}

Value* rebuild_parameter(const std::string& function, const Value& args) {
  const size_t want = function == kRebuildParameter ? 3 : 4;
  TV3S_CHECK(args.items.size() == want, function, " takes ", want, " arguments, got ",
             args.items.size());
  Value* tensor = args.items[0];
  TV3S_CHECK(as_tensor(*tensor), function, " of a value of type ",
             pickle::kind_name(tensor->kind), ", not a tensor");
  expect_empty(*args.items[2], "backward hooks");
  return tensor;  // a Parameter is its data; requires_grad and Python attributes do not matter
}

void check_global(const std::string& module, const std::string& name) {
  const std::string global = module + "." + name;
  const bool allowed = global == kOrderedDict || global == kRebuildTensor ||
                       global == kRebuildParameter || global == kRebuildParameterWithState ||
                       global == kEncode || storage_type(global) != nullptr;
  TV3S_CHECK(allowed, "forbidden global '", global,
             "' — tv3s only reads tensors, it never runs pickle code");
}

Value* call(pickle::Arena& arena, const Value& callable, const Value& args) {
  const std::string& f = callable.text;
  if (f == kOrderedDict) {
    TV3S_CHECK(args.items.empty(), kOrderedDict, " with arguments is not supported");
    return arena.make(Kind::dict);
  }
  if (f == kRebuildTensor) return rebuild_tensor(arena, args);
  if (f == kRebuildParameter || f == kRebuildParameterWithState) return rebuild_parameter(f, args);
  if (f == kEncode) return latin1_bytes(arena, args);
  fail(str(f, " is only allowed as a storage type in a persistent id, not called"));
}

void build(Value& object, const Value& state) {
  // An OrderedDict's attributes: a state dict's `_metadata` (module versions). Not needed.
  TV3S_CHECK(object.is(Kind::dict) && (state.is(Kind::dict) || state.is(Kind::none)),
             "BUILD of a value of type ", pickle::kind_name(object.kind), " with state of type ",
             pickle::kind_name(state.kind), " (only a dict's attributes are accepted)");
}

// Element i of the view, in row-major order, copied as raw bytes into out[i].
void gather(const uint8_t* storage, size_t element_size, const TensorRef& t, uint8_t* out) {
  if (t.numel == 0) return;
  const int nd = int(t.size.size());
  const int64_t inner = nd ? t.size[nd - 1] : 1, inner_stride = nd ? t.stride[nd - 1] : 0;
  std::vector<int64_t> index(size_t(nd), 0);
  int64_t src = t.offset;  // element index of the start of the current innermost row
  for (int64_t done = 0; done < t.numel; done += inner) {
    if (inner_stride == 1) {
      std::memcpy(out, storage + size_t(src) * element_size, size_t(inner) * element_size);
      out += size_t(inner) * element_size;
    } else {
      for (int64_t j = 0; j < inner; ++j, out += element_size)
        std::memcpy(out, storage + size_t(src + j * inner_stride) * element_size, element_size);
    }
    for (int d = nd - 2; d >= 0; --d) {  // the odometer over the outer dimensions
      src += t.stride[d];
      if (++index[d] < t.size[d]) break;
      src -= t.stride[d] * t.size[d];
      index[d] = 0;
    }
  }
}

}  // namespace

size_t TensorRef::output_bytes() const { return size_t(numel) * dtype_size(storage->type->dtype); }

pickle::Callbacks callbacks(std::function<void(const StorageRef&)> check_storage) {
  // Storages by key, so that every persistent id naming one key gets the same object.
  auto storages = std::make_shared<std::map<std::string, std::shared_ptr<const StorageRef>>>();
  pickle::Callbacks cb;
  cb.check_global = check_global;
  cb.call = call;
  cb.build = build;
  cb.persistent_load = [storages, check_storage](pickle::Arena& arena, const Value& pid) {
    TV3S_CHECK(pid.is(Kind::tuple) && pid.items.size() == 5 && pid.items[0]->is(Kind::string) &&
                   pid.items[0]->text == "storage",
               "a persistent id that is not ('storage', type, key, location, numel)");
    const Value& type = arg(pid, 1, Kind::global, "the type in a persistent id");
    const std::string& key = arg(pid, 2, Kind::string, "the storage key").text;
    arg(pid, 3, Kind::string, "the storage location");
    const int64_t numel = arg(pid, 4, Kind::integer, "the storage size").integer;
    const StorageType* st = storage_type(type.text);
    TV3S_CHECK(st, type.text, " is not a storage type");
    TV3S_CHECK(numel >= 0, "storage '", key, "' has a negative size ", numel);
    auto& known = (*storages)[key];
    if (!known) {
      known = std::make_shared<const StorageRef>(StorageRef{key, st, numel});
      check_storage(*known);
    }
    TV3S_CHECK(known->type == st && known->numel == numel, "storage '", key,
               "' is named twice with different types or sizes");
    Value* v = arena.make(Kind::object);
    v->text = kStorageObject;
    v->payload = known;
    return v;
  };
  return cb;
}

const TensorRef* as_tensor(const Value& value) {
  if (!value.is(Kind::object) || value.text != kTensorObject) return nullptr;
  return std::any_cast<std::shared_ptr<const TensorRef>>(value.payload).get();
}

Tensor materialize(const TensorRef& t, const uint8_t* storage, const std::string& name) {
  const StorageType& type = *t.storage->type;
  Tensor out = Tensor::empty(Shape(t.size), type.dtype);
  if (type.conversion == StorageType::none) {
    gather(storage, type.element_size, t, static_cast<uint8_t*>(out.raw()));
    return out;
  }
  std::vector<uint8_t> raw(size_t(t.numel) * type.element_size);
  gather(storage, type.element_size, t, raw.data());
  if (type.conversion == StorageType::bool_to_u8) {
    auto* dst = out.data<uint8_t>();
    for (int64_t i = 0; i < t.numel; ++i) dst[i] = raw[size_t(i)] != 0;
    return out;
  }
  auto* dst = out.data<int32_t>();
  for (int64_t i = 0; i < t.numel; ++i) {
    int64_t v;
    std::memcpy(&v, raw.data() + size_t(i) * 8, 8);
    TV3S_CHECK(v >= std::numeric_limits<int32_t>::min() && v <= std::numeric_limits<int32_t>::max(),
               name, ": int64 value ", v, " does not fit the int32 that tv3s stores integers in");
    dst[i] = int32_t(v);
  }
  return out;
}

}  // namespace tv3s::io::torch_pickle
