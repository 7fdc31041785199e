// The safetensors format (https://huggingface.co/docs/safetensors): 8-byte little-endian
// header length n, n bytes of JSON {name: {dtype, shape, data_offsets: [begin, end)},
// "__metadata__": {str: str}}, then the tensor bytes (offsets relative to the end of
// the header).
//
// The reader trusts nothing in the file: the header length is capped and must fit the
// file, the JSON must parse and have exactly this structure, every dtype must be known,
// every shape non-negative with a product that does not overflow, every byte range inside
// the data area and equal to numel × dtype size, and no two ranges may overlap. Any
// violation throws tv3s::Error "<path>: safetensors: <what is wrong> (tensor '<name>')".
#pragma once
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "tv3s/tensor.h"

namespace tv3s::io {

struct SafetensorsFile {
  std::map<std::string, std::string> metadata;             // "__metadata__", may be empty
  std::vector<std::pair<std::string, Tensor>> tensors;     // in data-offset order, on CPU
  // The tensor called `name`, or an undefined Tensor.
  Tensor find(const std::string& name) const;
};

// Dtypes read: F32, F16, BF16, F64, I32, U8, and I64 / BOOL (converted to i32 / u8; an
// I64 value outside the i32 range is an error).
SafetensorsFile read_safetensors(const std::string& path);

// Whether the file starts like a safetensors file: its header length (little-endian u64,
// at least 2 and within the file) and the header's '{'. For telling it from a PyTorch
// checkpoint before choosing a reader; read_safetensors still checks everything.
bool looks_like_safetensors(const std::string& path);

// Writes atomically (a temporary file in the same folder, then rename): either the whole
// file appears at `path` or nothing does. Tensors may live on any device; names unique.
void write_safetensors(const std::string& path,
                       const std::vector<std::pair<std::string, Tensor>>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace tv3s::io
