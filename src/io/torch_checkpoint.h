// Reading PyTorch checkpoints (`torch.save` files: a zip archive holding `<prefix>/data.pkl`
// and one `<prefix>/data/<key>` entry per storage) without Python and without ever
// running pickle code.
//
// The unpickler is an interpreter for the subset of the pickle protocol (0–5) that a
// tensor checkpoint needs. Every opcode it does not know is rejected, and GLOBAL /
// STACK_GLOBAL may only name entries of an allowlist (torch's tensor-rebuild functions and
// storage types, collections.OrderedDict, and a few plain-data constructors); a global
// outside it — `os.system`, `builtins.eval`, anything — is an error naming it, never a
// call. Storages are resolved through persistent ids to zip entries whose sizes are
// checked against every tensor view (offset, shape, strides) before a byte is read.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "tv3s/tensor.h"

namespace tv3s::io {

struct TorchCheckpoint {
  // Every tensor found, named by its path of dict keys joined with '.', minus the
  // wrapper that holds the weights: for {"state_dict": {...}, "meta": ...} (mmseg) the
  // names are the state_dict's keys; for a bare state dict, its keys; for {"model": {...}}
  // the model's keys. In file order. Tensors are CPU, contiguous; int64 values are
  // converted to i32 (error when out of range).
  std::vector<std::pair<std::string, Tensor>> tensors;
  // The checkpoint's `meta` dict (mmseg: CLASSES, PALETTE, config, ...) as JSON — strings,
  // numbers, booleans, None, lists/tuples and dicts with string keys; anything else null.
  // Null when there is no meta.
  nlohmann::json meta;
};

// Throws tv3s::Error "<path>: <what is wrong>" for anything that is not a plain tensor
// checkpoint (not a zip, no data.pkl, a forbidden global or opcode, a storage too small
// for its tensor, a truncated file, ...).
TorchCheckpoint read_torch_checkpoint(const std::string& path);

}  // namespace tv3s::io
