// NumPy .npy files (https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html).
//
// read_npy rules, each violation an Error "<path>: npy: <what>":
//  - the magic "\x93NUMPY", format version 1.0 (2-byte header length) or 2.0 (4-byte);
//  - the header length fits the file and is at most 10000 bytes (NumPy's own limit);
//  - the header is a Python dict literal with exactly the keys 'descr' (one of '<f4',
//    '<f8', '<f2', '<i4', '<i8', '|u1', '|b1'), 'fortran_order' (False) and 'shape' (a
//    tuple of at most 8 non-negative integers whose product does not overflow), each
//    once, followed only by the space/newline padding;
//  - the data is exactly numel × item size bytes;
//  - '<i8' values fit in i32 ('<i8' → i32, '<f2' → f32, '|b1' → u8 in memory).
//
// write_npy writes what np.save writes for the same array (format 1.0, the header padded
// to a multiple of 64 bytes with room for the first axis to grow), byte for byte.
#include <cstring>
#include <limits>

#include "src/io/atomic_file.h"
#include "src/io/image.h"
#include "src/io/input_file.h"
#include "src/io/limits.h"

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "npy I/O assumes little-endian");

namespace tv3s::io {
namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicSize = 6;

struct NpyDType {
  const char* descr;
  size_t item_size;  // in the file
  DType dtype;       // in memory
};
constexpr NpyDType kNpyDTypes[] = {
    {"<f4", 4, DType::f32}, {"<f8", 8, DType::f64}, {"<f2", 2, DType::f32}, {"<i4", 4, DType::i32},
    {"<i8", 8, DType::i32}, {"|u1", 1, DType::u8},  {"|b1", 1, DType::u8},
};

[[noreturn]] void bad(const std::string& path, const std::string& what) {
  fail(str(path, ": npy: ", what));
}

struct NpyHeader {
  const NpyDType* dtype = nullptr;
  std::vector<int64_t> shape;
  uint64_t numel = 1;
};

// A recursive-descent parser for the one dict literal NumPy writes, e.g.
// {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
class HeaderParser {
 public:
  HeaderParser(const std::string& path, const std::string& text) : path_(path), text_(text) {}

  NpyHeader parse() {
    NpyHeader header;
    bool seen_descr = false, seen_order = false, seen_shape = false;
    expect('{');
    while (!peek('}')) {
      const std::string key = quoted();
      expect(':');
      bool* seen = key == "descr"           ? &seen_descr
                   : key == "fortran_order" ? &seen_order
                   : key == "shape"         ? &seen_shape
                                            : nullptr;
      if (!seen) bad(path_, str("header has an unexpected key '", key, "'"));
      if (*seen) bad(path_, str("header has the key '", key, "' twice"));
      *seen = true;
      if (key == "descr") header.dtype = descr(quoted());
      if (key == "fortran_order" && boolean())
        bad(path_, "Fortran-order arrays are not supported (save a C-order array)");
      if (key == "shape") shape(header);
      if (peek(',')) {
        ++pos_;
      } else if (!peek('}')) {
        bad(path_, str("header is not a dict literal: expected ',' or '}' at byte ", pos_));
      }
    }
    expect('}');
    if (text_.find_first_not_of(" \n", pos_) != std::string::npos)
      bad(path_, "header has text after the dict");
    if (!seen_descr || !seen_order || !seen_shape)
      bad(path_, "header lacks one of 'descr', 'fortran_order', 'shape'");
    return header;
  }

 private:
  void skip_spaces() {
    while (pos_ < text_.size() && text_[pos_] == ' ') ++pos_;
  }
  bool peek(char c) {
    skip_spaces();
    return pos_ < text_.size() && text_[pos_] == c;
  }
  void expect(char c) {
    if (!peek(c))
      bad(path_, str("header is not a dict literal: expected '", c, "' at byte ", pos_));
    ++pos_;
  }
  std::string quoted() {
    skip_spaces();
    const char quote = pos_ < text_.size() ? text_[pos_] : '\0';
    if (quote != '\'' && quote != '"')
      bad(path_, str("header: expected a quoted string at byte ", pos_));
    const size_t end = text_.find(quote, pos_ + 1);
    if (end == std::string::npos) bad(path_, "header: unterminated string");
    std::string s = text_.substr(pos_ + 1, end - pos_ - 1);
    pos_ = end + 1;
    return s;
  }
  bool boolean() {
    skip_spaces();
    for (const char* word : {"True", "False"}) {
      if (text_.compare(pos_, std::strlen(word), word) == 0) {
        pos_ += std::strlen(word);
        return word[0] == 'T';
      }
    }
    bad(path_, "header: 'fortran_order' is not True or False");
  }
  const NpyDType* descr(const std::string& name) {
    for (const NpyDType& d : kNpyDTypes)
      if (name == d.descr) return &d;
    bad(path_,
        str("dtype '", name, "' is not supported (tv3s reads <f4, <f8, <f2, <i4, <i8, |u1, |b1)"));
  }
  // A Python tuple: (), (5,), (2, 3) or (2, 3,).
  void shape(NpyHeader& header) {
    expect('(');
    constexpr uint64_t kMax = std::numeric_limits<int64_t>::max();
    while (!peek(')')) {
      if (pos_ >= text_.size() || text_[pos_] < '0' || text_[pos_] > '9')
        bad(path_, "shape is not a tuple of non-negative integers");
      uint64_t n = 0;
      for (; pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9'; ++pos_) {
        const uint64_t digit = uint64_t(text_[pos_] - '0');
        if (n > (kMax - digit) / 10) bad(path_, "shape has too many elements");
        n = n * 10 + digit;
      }
      if (header.shape.size() == size_t(kMaxDims))
        bad(path_, str("shape has more than tv3s's ", kMaxDims, " dimensions"));
      if (n != 0 && header.numel > kMax / n) bad(path_, "shape has too many elements");
      header.numel *= n;
      header.shape.push_back(int64_t(n));
      if (peek(',')) {
        ++pos_;
      } else if (header.shape.size() == 1 || !peek(')')) {
        bad(path_, "shape is not a tuple of non-negative integers");  // "(5)" is no tuple
      }
    }
    expect(')');
  }

  const std::string& path_;
  const std::string& text_;
  size_t pos_ = 0;
};

std::string shape_tuple(const Shape& shape) {
  if (shape.ndim() == 1) return str("(", shape[0], ",)");
  std::string s = "(";
  for (int i = 0; i < shape.ndim(); ++i) s += str(i ? ", " : "", shape[i]);
  return s + ")";
}

}  // namespace

void write_npy(const std::string& path, const Tensor& tensor) {
  if (!tensor.defined()) fail(str(path, ": write_npy: undefined tensor"));
  // NumPy has no bfloat16; half precision is widened too, so every float file is '<f4'/'<f8'.
  const Tensor t = (tensor.dtype() == DType::f16 || tensor.dtype() == DType::bf16)
                       ? tensor.cpu().to(DType::f32)
                       : tensor.cpu();
  const char* descr = t.dtype() == DType::f32   ? "<f4"
                      : t.dtype() == DType::f64 ? "<f8"
                      : t.dtype() == DType::i32 ? "<i4"
                                                : "|u1";
  std::string header = str("{'descr': '", descr,
                           "', 'fortran_order': False, 'shape': ", shape_tuple(t.shape()), ", }");
  // As np.save: room for the first axis to grow to 21 digits, then spaces and '\n' up to
  // a multiple of 64 bytes (a full 64 when already aligned).
  if (t.ndim() > 0) header.append(21 - std::to_string(t.shape()[0]).size(), ' ');
  const size_t unpadded = kMagicSize + 4 + header.size() + 1;
  header.append(64 - unpadded % 64, ' ');
  header += '\n';
  write_file_atomic(path, [&](const ByteSink& sink) {
    const uint8_t version_and_length[4] = {1, 0, uint8_t(header.size()),
                                           uint8_t(header.size() >> 8)};
    sink(kMagic, kMagicSize);
    sink(version_and_length, 4);
    sink(header.data(), header.size());
    if (t.nbytes() > 0) sink(t.raw(), t.nbytes());
  });
}

Tensor read_npy(const std::string& path) {
  InputFile file = open_input_file(path);
  std::ifstream& in = file.stream;
  const uint64_t file_size = file.size;

  unsigned char prefix[12] = {};
  in.read(reinterpret_cast<char*>(prefix), std::streamsize(std::min<uint64_t>(file_size, 12)));
  if (file_size < kMagicSize || std::memcmp(prefix, kMagic, kMagicSize) != 0)
    bad(path, "not a .npy file (no \\x93NUMPY magic)");
  if (file_size < 10) bad(path, str("file is ", file_size, " bytes, too short for a .npy header"));
  const int major = prefix[6], minor = prefix[7];
  if ((major != 1 && major != 2) || minor != 0)
    bad(path, str("format version ", major, ".", minor, " is not supported (1.0 and 2.0 are)"));
  const uint64_t start = major == 1 ? 10 : 12;
  if (file_size < start)
    bad(path, str("file is ", file_size, " bytes, too short for a .npy header"));
  uint64_t header_size = 0;
  for (uint64_t i = start - 1; i >= 8; --i) header_size = header_size << 8 | prefix[i];
  if (header_size > kMaxNpyHeaderBytes)
    bad(path,
        str("header length ", header_size, " exceeds the limit of ", kMaxNpyHeaderBytes, " bytes"));
  if (header_size > file_size - start)
    bad(path, str("header length ", header_size, " exceeds the file size (", file_size, " bytes)"));
  std::string text(size_t(header_size), '\0');
  in.seekg(std::streamoff(start));
  if (!in.read(text.data(), std::streamsize(header_size))) bad(path, "read failed");

  const NpyHeader header = HeaderParser(path, text).parse();
  if (header.numel > uint64_t(std::numeric_limits<int64_t>::max()) / header.dtype->item_size)
    bad(path, "shape has too many elements");
  const uint64_t data_size = file_size - start - header_size;
  const uint64_t needed = header.numel * header.dtype->item_size;
  if (data_size != needed) {
    bad(path, str("data is ", data_size, " bytes but ", header.dtype->descr, " ",
                  Shape(header.shape).str(), " needs ", needed));
  }

  Tensor t = Tensor::empty(Shape(header.shape), header.dtype->dtype);
  if (data_size == 0) return t;
  std::vector<char> file_items;  // '<f2' and '<i8' are read here, then converted
  char* dst = static_cast<char*>(t.raw());
  if (header.dtype->item_size != dtype_size(t.dtype())) {
    file_items.resize(size_t(data_size));
    dst = file_items.data();
  }
  if (!in.read(dst, std::streamsize(data_size))) bad(path, "read failed");
  const size_t n = size_t(header.numel);
  if (std::strcmp(header.dtype->descr, "<f2") == 0) {
    float* out = t.data<float>();
    for (size_t i = 0; i < n; ++i) {
      uint16_t bits;
      std::memcpy(&bits, &file_items[2 * i], 2);
      out[i] = f16_to_f32(bits);
    }
  } else if (std::strcmp(header.dtype->descr, "<i8") == 0) {
    int32_t* out = t.data<int32_t>();
    for (size_t i = 0; i < n; ++i) {
      int64_t v;
      std::memcpy(&v, &file_items[8 * i], 8);
      if (v < std::numeric_limits<int32_t>::min() || v > std::numeric_limits<int32_t>::max())
        bad(path, str("int64 value ", v, " at index ", i, " does not fit in i32"));
      out[i] = int32_t(v);
    }
  }
  return t;
}

}  // namespace tv3s::io
