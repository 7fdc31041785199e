// Reading the entries of a zip archive as torch.save writes them (PyTorch's miniz writer:
// every entry stored uncompressed, data aligned by padding in the local header's extra
// field, a ZIP64 end-of-central-directory record even for small files).
//
// Format rules followed (APPNOTE.TXT): the end-of-central-directory record (EOCD) is
// found by searching backwards from the end of the file for its signature with a comment
// length that ends exactly at the end of the file; a ZIP64 locator right before it points
// to the ZIP64 EOCD, whose counts and offsets then replace the 16/32-bit ones; each central
// directory record may carry a ZIP64 extra field (id 0x0001) holding, in this order, the
// 64-bit uncompressed size, compressed size and local header offset — only those whose
// 32-bit field is 0xFFFFFFFF. The data of an entry starts after its *local* header, whose
// name and extra field lengths may differ from the central ones (torch pads there).
//
// Safety rules: nothing read from the file is trusted. Every offset and size is checked
// against the file size before it is used; records must lie inside the central
// directory; names must be non-empty, fit their record and be unique; the local header
// must carry the signature and the same name; entries must be stored (method 0), not
// encrypted, and their byte ranges must not overlap one another or the central
// directory; multi-disk archives are refused. The CRC-32 of an entry is verified every
// time it is read. Any violation throws tv3s::Error "<path>: <what is wrong>".
#pragma once
#include <cstdint>
#include <fstream>
#include <map>
#include <string>
#include <vector>

namespace tv3s::io {

class ZipReader {
 public:
  struct Entry {
    std::string name;
    uint64_t size = 0;         // bytes; stored entries are the same size in the file
    uint32_t crc32 = 0;        // from the central directory
    uint64_t data_offset = 0;  // where the bytes start in the file (after the local header)
  };

  // Opens `path`, reads the central directory and checks every local header.
  explicit ZipReader(const std::string& path);

  const std::string& path() const { return path_; }
  uint64_t file_size() const { return file_size_; }
  const std::vector<Entry>& entries() const { return entries_; }
  const Entry* find(const std::string& name) const;  // nullptr when absent

  // The entry's bytes, CRC-checked.
  std::string read(const Entry& entry);
  // entry.size bytes into `dst` (e.g. a tensor's memory), CRC-checked.
  void read_into(const Entry& entry, void* dst);

 private:
  void read_at(uint64_t offset, void* dst, uint64_t size, const char* what);
  void read_central_directory();

  std::string path_;
  std::ifstream file_;
  uint64_t file_size_ = 0;
  std::vector<Entry> entries_;
  std::map<std::string, size_t> index_;  // name → position in entries_
};

// CRC-32 (IEEE 802.3, as in zip and gzip) of `size` bytes, continuing from `crc`.
uint32_t crc32(const void* data, size_t size, uint32_t crc = 0);

}  // namespace tv3s::io
