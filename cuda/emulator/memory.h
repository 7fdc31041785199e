// Device memory of the CUDA emulator: host memory laid out so that the mistakes
// compute-sanitizer's memcheck reports fault here too.
//
// Every cudaMalloc gets its own mapping: a PROT_NONE guard page, the data placed so
// that it ends exactly where a second guard page begins, and nothing else. A read or
// write one byte past the end faults at once (SIGSEGV), and the fault handler (fault.h)
// names the kernel, block and thread. Fresh allocations are filled with 0xFF bytes,
// which are NaN in f32, f16 and bf16 (and -1 in every integer type), so a kernel that
// reads memory nobody wrote produces NaN, not a plausible zero. cudaFree does not
// unmap: the pages become PROT_NONE and stay reserved for a while (the quarantine), so a
// late use of the freed block faults and is reported as "freed", not as some other
// allocation's data.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace tv3s::emu {

constexpr unsigned char kPoisonByte = 0xFF;  // NaN in every float format tv3s uses

void* device_malloc(size_t bytes);  // nullptr when the host is out of memory
bool device_free(void* p);          // false when p is not the start of a live allocation

enum class Where { null, device, freed, guard, host };
struct Place {
  Where where = Where::host;
  const char* base = nullptr;  // the allocation's first byte (device, freed, guard)
  size_t bytes = 0;            // its size
  int64_t offset = 0;          // p − base (negative before it, ≥ bytes after it)
};
// Where p points: inside a live allocation, into a freed one, around one (its guard
// pages, the rounding after its end: offset says where), or elsewhere (host memory).
Place locate(const void* p);
// "12 bytes past the end of the 4096-byte device allocation at 0x…", for messages.
std::string describe(const void* p);
// The same without taking the table's lock: for the fault handler only.
Place locate_unlocked(const void* p);
std::string describe_unlocked(const void* p);

// Empty when [p, p + bytes) lies inside one live device allocation, else why not.
std::string device_range_problem(const void* p, size_t bytes);

size_t device_bytes_in_use();

}  // namespace tv3s::emu
