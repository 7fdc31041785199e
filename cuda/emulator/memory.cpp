// Device memory with guard pages, poison and a quarantine for freed blocks (memory.h).
//
// The layout of one allocation of n bytes (P = page, d = round_up(n, 256)):
//
//   | guard P | slack | data: n bytes | (≤255 B of the 256-B rounding) | guard P |
//                     ^ 256-aligned, as cudaMalloc's are
//
// so a read one past the 256-rounded end faults. Allocations are found by address in
// an ordered map under a mutex; the fault handler reads it without the lock (*_unlocked:
// it is about to abort, and a lock held by the faulting thread would hang it).
#include "cuda/emulator/memory.h"

#include "cuda/emulator/fault.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>

namespace tv3s::emu {
namespace {

constexpr size_t kAlignment = 256;      // cudaMalloc's alignment guarantee
constexpr size_t kQuarantine = 4096;    // freed mappings kept PROT_NONE before unmapping

size_t page_size() {
  static const size_t page = size_t(sysconf(_SC_PAGESIZE));
  return page;
}
size_t round_up(size_t n, size_t m) { return (n + m - 1) / m * m; }
std::string hex_pointer(const void* p) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%p", p);
  return buf;
}

struct Mapping {
  char* map;         // the whole mapping, guards included
  size_t map_bytes;
  char* data;
  size_t bytes;
  bool live;
};

struct Table {
  std::mutex mutex;
  std::map<uintptr_t, Mapping> by_start;  // mapping start → mapping
  std::deque<uintptr_t> quarantine;       // freed mappings, oldest first
  size_t bytes_in_use = 0;
};

Table& table() {
  static Table* t = new Table();  // never destroyed: tensors may be freed after main()
  return *t;
}

const Mapping* find(const Table& t, uintptr_t address) {
  auto it = t.by_start.upper_bound(address);
  if (it == t.by_start.begin()) return nullptr;
  --it;
  const Mapping& m = it->second;
  return address < uintptr_t(m.map) + m.map_bytes ? &m : nullptr;
}

}  // namespace

void* device_malloc(size_t bytes) {
  const size_t page = page_size();
  const size_t data_span = round_up(bytes == 0 ? 1 : bytes, kAlignment);
  const size_t body = round_up(data_span, page);
  const size_t map_bytes = body + 2 * page;
  void* p = mmap(nullptr, map_bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                 -1, 0);
  if (p == MAP_FAILED) return nullptr;
  char* map = static_cast<char*>(p);
  if (mprotect(map + page, body, PROT_READ | PROT_WRITE) != 0) {
    munmap(map, map_bytes);
    return nullptr;
  }
  char* data = map + page + body - data_span;
  std::memset(data, kPoisonByte, data_span);  // the rounding slack too: see device_free
  Table& t = table();
  std::lock_guard<std::mutex> lock(t.mutex);
  t.by_start[uintptr_t(map)] = Mapping{map, map_bytes, data, bytes, true};
  t.bytes_in_use += bytes;
  return data;
}

bool device_free(void* p) {
  Table& t = table();
  std::lock_guard<std::mutex> lock(t.mutex);
  const Mapping* found = find(t, uintptr_t(p));
  if (!found || !found->live || found->data != p) return false;
  Mapping& m = t.by_start[uintptr_t(found->map)];
  // The bytes between the end and the 256-byte rounding do not fault when written; a
  // kernel that wrote there is caught here, later than a guard page would catch it.
  const char* guard = m.map + m.map_bytes - page_size();
  for (const char* c = m.data + m.bytes; c < guard; ++c)
    if (*c != char(kPoisonByte))
      fault("cudaFree(" + hex_pointer(p) + "): a kernel wrote byte " +
            std::to_string(c - m.data) + " of this " + std::to_string(m.bytes) +
            "-byte device allocation, past its end (seen only now: the write fell short "
            "of the guard page)");
  madvise(m.map, m.map_bytes, MADV_DONTNEED);  // give the pages back, keep the addresses
  mprotect(m.map, m.map_bytes, PROT_NONE);
  m.live = false;
  t.bytes_in_use -= m.bytes;
  t.quarantine.push_back(uintptr_t(m.map));
  if (t.quarantine.size() > kQuarantine) {
    const Mapping& oldest = t.by_start[t.quarantine.front()];
    munmap(oldest.map, oldest.map_bytes);
    t.by_start.erase(t.quarantine.front());
    t.quarantine.pop_front();
  }
  return true;
}

Place locate_unlocked(const void* p) {
  Place place;
  if (!p) {
    place.where = Where::null;
    return place;
  }
  const Mapping* m = find(table(), uintptr_t(p));
  if (!m) return place;  // host
  place.base = m->data;
  place.bytes = m->bytes;
  place.offset = static_cast<const char*>(p) - m->data;
  if (!m->live)
    place.where = Where::freed;
  else if (place.offset >= 0 && size_t(place.offset) < m->bytes)
    place.where = Where::device;
  else
    place.where = Where::guard;
  return place;
}

Place locate(const void* p) {
  std::lock_guard<std::mutex> lock(table().mutex);
  return locate_unlocked(p);
}

std::string describe_unlocked(const void* p) {
  const Place place = locate_unlocked(p);
  char buf[256];
  switch (place.where) {
    case Where::null: return "a null pointer";
    case Where::host:
      std::snprintf(buf, sizeof buf, "%p, which is not device memory (a host pointer?)", p);
      return buf;
    case Where::device:
      std::snprintf(buf, sizeof buf, "byte %lld of the %zu-byte device allocation at %p",
                    (long long)place.offset, place.bytes, static_cast<const void*>(place.base));
      return buf;
    case Where::freed:
      std::snprintf(buf, sizeof buf, "byte %lld of the %zu-byte device allocation at %p, "
                    "which has been freed", (long long)place.offset, place.bytes,
                    static_cast<const void*>(place.base));
      return buf;
    case Where::guard:
      if (place.offset < 0)
        std::snprintf(buf, sizeof buf, "%lld bytes before the %zu-byte device allocation at %p",
                      (long long)-place.offset, place.bytes, static_cast<const void*>(place.base));
      else
        std::snprintf(buf, sizeof buf, "%lld bytes past the end of the %zu-byte device "
                      "allocation at %p", (long long)(place.offset - int64_t(place.bytes)),
                      place.bytes, static_cast<const void*>(place.base));
      return buf;
  }
  return "?";
}

std::string describe(const void* p) {
  std::lock_guard<std::mutex> lock(table().mutex);
  return describe_unlocked(p);
}

std::string device_range_problem(const void* p, size_t bytes) {
  const Place first = locate(p);
  if (first.where != Where::device) return describe(p);
  if (size_t(first.offset) + bytes > first.bytes) {
    char buf[160];
    std::snprintf(buf, sizeof buf, "%zu bytes from byte %lld run %zu bytes past the end of "
                  "the %zu-byte device allocation at %p", bytes, (long long)first.offset,
                  size_t(first.offset) + bytes - first.bytes, first.bytes,
                  static_cast<const void*>(first.base));
    return buf;
  }
  return "";
}

size_t device_bytes_in_use() {
  Table& t = table();
  std::lock_guard<std::mutex> lock(t.mutex);
  return t.bytes_in_use;
}

}  // namespace tv3s::emu
