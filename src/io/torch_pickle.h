// torch's meaning for the pickle machine's callbacks (pickle.h): which globals a
// torch.save pickle may name, what rebuilding a tensor from a storage means, and turning
// such a rebuilt view into a contiguous tv3s Tensor.
//
// The allowlist — every other global is an error as soon as GLOBAL/STACK_GLOBAL reads it:
//   collections.OrderedDict                      called with no arguments: an empty dict;
//                                                BUILD on it (the `_metadata` attribute of
//                                                a state dict) is accepted and ignored
//   torch._utils._rebuild_tensor_v2              (storage, offset, size, stride,
//                                                 requires_grad, hooks[, metadata])
//   torch._utils._rebuild_parameter              (tensor, requires_grad, hooks) → the tensor
//   torch._utils._rebuild_parameter_with_state   (tensor, requires_grad, hooks, state)
//   torch.{Float,Half,BFloat16,Double,Int,Long,Byte,Bool}Storage
//                                                only as the type in a persistent id
//   _codecs.encode                               (text, 'latin1') → bytes: how protocol 2
//                                                pickles a bytes object (e.g. in meta)
// Persistent ids are ('storage', <storage type>, key, location, numel); the location is
// ignored (everything is read to the CPU). Backward hooks and tensor metadata must be
// empty (they would change what the values mean).
//
// Safety rules: a rebuilt view must have at most kMaxDims non-negative sizes, non-negative
// strides and offset, a numel that does not overflow, and every element it reaches must
// lie inside its storage — all checked when REDUCE is read, before any byte is touched.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "src/io/pickle.h"
#include "tv3s/tensor.h"

namespace tv3s::io::torch_pickle {

struct StorageType {
  const char* global;   // "torch.FloatStorage"
  size_t element_size;  // bytes per element in the file
  DType dtype;          // what tv3s makes of it
  enum Conversion { none, narrow_int64, bool_to_u8 } conversion;
};

struct StorageRef {
  std::string key;  // the zip entry is "<prefix>/data/<key>"
  const StorageType* type;
  int64_t numel;
};

struct TensorRef {
  std::shared_ptr<const StorageRef> storage;
  int64_t offset = 0;  // in elements
  std::vector<int64_t> size, stride;
  int64_t numel = 1;
  size_t output_bytes() const;  // of the contiguous tv3s tensor it becomes
};

// `check_storage` is called for each storage a persistent id names, the first time it
// does (e.g. to check that its zip entry exists and has the right size); it may throw.
pickle::Callbacks callbacks(std::function<void(const StorageRef&)> check_storage);

// The tensor a pickle value stands for, or nullptr.
const TensorRef* as_tensor(const pickle::Value& value);

// The view's elements, contiguous and converted (int64 → i32 with a range check, bool →
// u8), from the storage's bytes (storage.numel × element_size of them). `name` is for
// errors.
Tensor materialize(const TensorRef& view, const uint8_t* storage_bytes, const std::string& name);

}  // namespace tv3s::io::torch_pickle
