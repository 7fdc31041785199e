// Reading PyTorch checkpoints (`torch.save` files since torch 1.6: a zip archive holding
// `<prefix>/data.pkl` and one `<prefix>/data/<key>` entry per storage) without Python and
// without ever running pickle code.
//
// The unpickler (pickle.h) is an interpreter for the subset of the pickle protocol (0–5)
// that a tensor checkpoint needs; every opcode it does not know is rejected by name.
// GLOBAL / STACK_GLOBAL may only name entries of an allowlist (torch_pickle.h: torch's
// tensor-rebuild functions and storage types, collections.OrderedDict, _codecs.encode for
// protocol-2 bytes); a global outside it — `os.system`, `builtins.eval`, anything — is an
// error naming it as soon as the opcode is read, never a call. Storages are resolved
// through persistent ids to zip entries (zip_reader.h) whose sizes are checked against
// every tensor view (offset, shape, strides) before a byte is read; CRCs are verified.
// Files of torch < 1.6 (a bare pickle stream or a tar) are refused with a message that says
// how to re-save them.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "tv3s/tensor.h"

namespace tv3s::io {

struct TorchCheckpoint {
  // Every tensor found, named by its path of dict keys (integer keys in decimal) joined
  // with '.', minus the wrapper that holds the weights: for {"state_dict": {...}, "meta":
  // ...} (mmseg) the names are the state_dict's keys; for a bare state dict, its keys; for
  // {"model": {...}} the model's keys. Other values (numbers, strings, lists) are skipped,
  // and so is everything outside the wrapper (an optimizer's tensors are never read). In
  // file order. Tensors are CPU, contiguous copies of the stored views; f32/f16/bf16/f64/
  // i32/u8 keep their dtype, bool becomes u8 and int64 i32 (an error when out of range).
  std::vector<std::pair<std::string, Tensor>> tensors;
  // The checkpoint's `meta` dict (mmseg: CLASSES, PALETTE, config, ...) as JSON — strings,
  // numbers, booleans, None, lists/tuples and dicts with string keys; anything else null.
  // Null when there is no meta.
  nlohmann::json meta;
};

// Throws tv3s::Error "<path>: <what is wrong>" (one line) for anything that is not a plain
// tensor checkpoint: not a zip, no data.pkl, a forbidden global or opcode, a storage too
// small for its tensor, a corrupt or truncated file, two tensors of one name, an int64 that
// does not fit int32, tensors that would take more than 256× the file's size
// + 256 MiB (limits.h), ...
TorchCheckpoint read_torch_checkpoint(const std::string& path);

}  // namespace tv3s::io
