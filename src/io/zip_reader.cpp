// Zip central directory parsing and checked entry reads; the format and safety rules are
// listed in zip_reader.h.
#include "src/io/zip_reader.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <tuple>

#include "src/io/input_file.h"
#include "src/io/limits.h"
#include "tv3s/error.h"

namespace tv3s::io {
namespace {

constexpr uint32_t kLocalSignature = 0x04034b50;
constexpr uint32_t kCentralSignature = 0x02014b50;
constexpr uint32_t kEocdSignature = 0x06054b50;
constexpr uint32_t kZip64EocdSignature = 0x06064b50;
constexpr uint32_t kZip64LocatorSignature = 0x07064b50;
constexpr uint64_t kLocalSize = 30, kCentralSize = 46, kEocdSize = 22;
constexpr uint64_t kZip64LocatorSize = 20, kZip64EocdSize = 56;
constexpr uint64_t kMaxComment = 0xFFFF;
constexpr uint16_t kZip64ExtraId = 0x0001;
constexpr uint32_t kZip64Marker = 0xFFFFFFFF;  // "the real value is in the ZIP64 extra field"

uint16_t le16(const uint8_t* p) { return uint16_t(p[0] | p[1] << 8); }
uint32_t le32(const uint8_t* p) { return uint32_t(le16(p)) | uint32_t(le16(p + 2)) << 16; }
uint64_t le64(const uint8_t* p) { return uint64_t(le32(p)) | uint64_t(le32(p + 4)) << 32; }

std::string hex32(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%08x", v);
  return buf;
}

const std::array<uint32_t, 256>& crc_table() {
  static const std::array<uint32_t, 256> table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  return table;
}

}  // namespace

uint32_t crc32(const void* data, size_t size, uint32_t crc) {
  const auto& table = crc_table();
  const auto* p = static_cast<const uint8_t*>(data);
  crc = ~crc;
  for (size_t i = 0; i < size; ++i) crc = table[(crc ^ p[i]) & 0xFF] ^ (crc >> 8);
  return ~crc;
}

ZipReader::ZipReader(const std::string& path) : path_(path) {
  InputFile input = open_input_file(path);
  file_ = std::move(input.stream);
  file_size_ = input.size;
  read_central_directory();
}

const ZipReader::Entry* ZipReader::find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &entries_[it->second];
}

void ZipReader::read_at(uint64_t offset, void* dst, uint64_t size, const char* what) {
  TV3S_CHECK(offset <= file_size_ && size <= file_size_ - offset, path_, ": ", what, " (", size,
             " bytes at offset ", offset, ") lies beyond the end of the file (", file_size_,
             " bytes; truncated?)");
  if (size == 0) return;
  file_.clear();
  file_.seekg(std::streamoff(offset));
  file_.read(static_cast<char*>(dst), std::streamsize(size));
  TV3S_CHECK(file_ && uint64_t(file_.gcount()) == size, path_, ": read error in ", what);
}

void ZipReader::read_central_directory() {
  TV3S_CHECK(file_size_ >= kEocdSize, path_, ": not a zip archive (only ", file_size_, " bytes)");

  // The EOCD: the last signature whose comment ends exactly at the end of the file.
  const uint64_t tail_size = std::min(file_size_, kEocdSize + kMaxComment);
  std::vector<uint8_t> tail(tail_size);
  read_at(file_size_ - tail_size, tail.data(), tail_size, "end of the archive");
  int64_t at = -1;
  for (int64_t i = int64_t(tail_size - kEocdSize); i >= 0 && at < 0; --i) {
    const uint8_t* p = &tail[size_t(i)];
    if (le32(p) == kEocdSignature && uint64_t(i) + kEocdSize + le16(p + 20) == tail_size) at = i;
  }
  TV3S_CHECK(at >= 0, path_, ": not a zip archive (no end-of-central-directory record)");
  const uint8_t* eocd = &tail[size_t(at)];
  const uint64_t eocd_offset = file_size_ - tail_size + uint64_t(at);
  uint64_t disk = le16(eocd + 4), cd_disk = le16(eocd + 6), disk_entries = le16(eocd + 8);
  uint64_t count = le16(eocd + 10), cd_size = le32(eocd + 12), cd_offset = le32(eocd + 16);
  uint64_t cd_limit = eocd_offset;  // the central directory ends before the EOCD records

  // A ZIP64 locator right before the EOCD: its record's values replace the 16/32-bit ones.
  if (eocd_offset >= kZip64LocatorSize) {
    uint8_t locator[kZip64LocatorSize];
    read_at(eocd_offset - kZip64LocatorSize, locator, kZip64LocatorSize, "ZIP64 locator");
    if (le32(locator) == kZip64LocatorSignature) {
      const uint64_t record = le64(locator + 8), locator_offset = eocd_offset - kZip64LocatorSize;
      TV3S_CHECK(le32(locator + 4) == 0 && le32(locator + 16) <= 1, path_,
                 ": multi-disk zip archives are not supported");
      TV3S_CHECK(record <= locator_offset && locator_offset - record >= kZip64EocdSize, path_,
                 ": ZIP64 end-of-central-directory offset ", record, " is out of range");
      uint8_t z[kZip64EocdSize];
      read_at(record, z, kZip64EocdSize, "ZIP64 end-of-central-directory record");
      TV3S_CHECK(le32(z) == kZip64EocdSignature, path_,
                 ": no ZIP64 end-of-central-directory record at offset ", record);
      disk = le32(z + 16);
      cd_disk = le32(z + 20);
      disk_entries = le64(z + 24);
      count = le64(z + 32);
      cd_size = le64(z + 40);
      cd_offset = le64(z + 48);
      cd_limit = record;
    }
  }
  TV3S_CHECK(disk == 0 && cd_disk == 0 && disk_entries == count, path_,
             ": multi-disk zip archives are not supported");
  TV3S_CHECK(cd_offset <= cd_limit && cd_size <= cd_limit - cd_offset, path_,
             ": the central directory (", cd_size, " bytes at offset ", cd_offset,
             ") lies outside the archive (truncated?)");
  TV3S_CHECK(count <= cd_size / kCentralSize, path_, ": ", count,
             " entries cannot fit a central directory of ", cd_size, " bytes");

  std::vector<uint8_t> cd(cd_size);
  read_at(cd_offset, cd.data(), cd_size, "central directory");
  // (start of local header, end of data, entry index) of every entry, for the overlap check.
  std::vector<std::tuple<uint64_t, uint64_t, size_t>> spans;
  uint64_t pos = 0;
  for (uint64_t i = 0; i < count; ++i) {
    TV3S_CHECK(cd_size - pos >= kCentralSize && le32(&cd[pos]) == kCentralSignature, path_,
               ": central directory record ", i, " is truncated or has a bad signature");
    const uint8_t* r = &cd[pos];
    const uint16_t flags = le16(r + 8), method = le16(r + 10);
    uint64_t compressed = le32(r + 20), size = le32(r + 24), local = le32(r + 42);
    const uint64_t name_len = le16(r + 28), extra_len = le16(r + 30), comment_len = le16(r + 32);
    TV3S_CHECK(cd_size - pos - kCentralSize >= name_len + extra_len + comment_len, path_,
               ": central directory record ", i, " runs past the end of the directory");
    TV3S_CHECK(name_len > 0, path_, ": central directory record ", i, " has an empty name");
    Entry entry;
    entry.name.assign(reinterpret_cast<const char*>(r + kCentralSize), name_len);
    entry.crc32 = le32(r + 16);

    const uint8_t* extra = r + kCentralSize + name_len;
    for (uint64_t q = 0; q + 4 <= extra_len;) {
      const uint16_t id = le16(extra + q), field_size = le16(extra + q + 2);
      TV3S_CHECK(q + 4 + field_size <= extra_len, path_, ": entry '", entry.name,
                 "' has a malformed extra field");
      if (id == kZip64ExtraId) {
        const uint8_t* field = extra + q + 4;
        uint64_t used = 0;
        for (uint64_t* value : {&size, &compressed, &local}) {
          if (*value != kZip64Marker) continue;
          TV3S_CHECK(used + 8 <= field_size, path_, ": entry '", entry.name,
                     "' has a ZIP64 extra field that is too short");
          *value = le64(field + used);
          used += 8;
        }
      }
      q += 4 + field_size;
    }

    TV3S_CHECK(!(flags & 1), path_, ": entry '", entry.name, "' is encrypted");
    TV3S_CHECK(method == 0, path_, ": entry '", entry.name, "' is compressed (method ", method,
               "); tv3s reads only stored entries, which is how torch.save writes them");
    TV3S_CHECK(compressed == size, path_, ": stored entry '", entry.name, "' has compressed size ",
               compressed, " but size ", size);

    TV3S_CHECK(local <= cd_offset && cd_offset - local >= kLocalSize, path_, ": entry '",
               entry.name, "' has its local header at offset ", local,
               ", outside the archive's data (", cd_offset, " bytes)");
    uint8_t header[kLocalSize];
    read_at(local, header, kLocalSize, "local header");
    TV3S_CHECK(le32(header) == kLocalSignature, path_, ": entry '", entry.name,
               "': no local header at offset ", local);
    TV3S_CHECK(le16(header + 8) == 0, path_, ": entry '", entry.name,
               "' is compressed according to its local header");
    const uint64_t local_name_len = le16(header + 26), local_extra_len = le16(header + 28);
    const uint64_t data = local + kLocalSize + local_name_len + local_extra_len;
    TV3S_CHECK(data <= cd_offset && size <= cd_offset - data, path_, ": entry '", entry.name,
               "' (", size, " bytes at offset ", data,
               ") runs past the archive's data, which ends at offset ", cd_offset);
    std::string local_name(local_name_len, '\0');
    read_at(local + kLocalSize, local_name.data(), local_name_len, "local header name");
    TV3S_CHECK(local_name == entry.name, path_, ": entry '", entry.name,
               "' has a local header for '", local_name, "'");
    entry.size = size;
    entry.data_offset = data;

    TV3S_CHECK(index_.emplace(entry.name, entries_.size()).second, path_,
               ": the archive holds two entries named '", entry.name, "'");
    spans.emplace_back(local, data + size, entries_.size());
    entries_.push_back(std::move(entry));
    pos += kCentralSize + name_len + extra_len + comment_len;
  }

  std::sort(spans.begin(), spans.end());
  for (size_t k = 1; k < spans.size(); ++k)
    TV3S_CHECK(std::get<1>(spans[k - 1]) <= std::get<0>(spans[k]), path_, ": entries '",
               entries_[std::get<2>(spans[k - 1])].name, "' and '",
               entries_[std::get<2>(spans[k])].name, "' overlap");
}

std::string ZipReader::read(const Entry& entry) {
  std::string bytes(entry.size, '\0');
  read_into(entry, bytes.data());
  return bytes;
}

void ZipReader::read_into(const Entry& entry, void* dst) {
  read_at(entry.data_offset, dst, entry.size, "entry data");
  const uint32_t crc = crc32(dst, entry.size);
  TV3S_CHECK(!kVerifyChecksums || crc == entry.crc32, path_, ": entry '", entry.name, "' is corrupt (CRC-32 ",
             hex32(crc), ", the archive says ", hex32(entry.crc32), ")");
}

}  // namespace tv3s::io
