// The CUDA runtime API over host memory: the calls tv3s makes, defined against the
// toolkit's own declarations (<cuda_runtime_api.h>), so that code written for libcudart
// links against this instead, unchanged.
//
// One emulated device. Work issued to a stream runs when it is issued, so stream order
// holds trivially and a synchronisation only checks its stream. Errors are a GPU's:
// a refused call returns its cudaError_t and records it for cudaGetLastError() (per host
// thread, as libcudart does), and the emulator says on stderr what exactly was wrong:
// the pointer that is not device memory, the copy that runs past an allocation, the
// launch dimension a GPU would refuse.
#include <cuda_runtime_api.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <string>

#include "cuda/emulator/fault.h"
#include "cuda/emulator/launch.h"
#include "cuda/emulator/memory.h"
#include "cuda/emulator/scheduler.h"

struct CUstream_st {
  unsigned flags;
};

namespace tv3s::emu {
namespace {

thread_local cudaError_t last_error = cudaSuccess;

cudaError_t refuse(cudaError_t error, const std::string& why) {
  std::fprintf(stderr, "tv3s CUDA emulator: %s\n", why.c_str());
  last_error = error;
  return error;
}

struct Streams {
  std::mutex mutex;
  std::set<cudaStream_t> live;
};
Streams& streams() {
  static Streams* s = new Streams();
  return *s;
}

bool valid_stream(cudaStream_t s) {
  if (s == nullptr || s == cudaStreamLegacy || s == cudaStreamPerThread) return true;
  std::lock_guard<std::mutex> lock(streams().mutex);
  return streams().live.count(s) > 0;
}

// The dynamic shared memory a kernel may use, raised by cudaFuncSetAttribute.
std::mutex attributes_mutex;
std::map<const void*, size_t> max_dynamic_shared;

std::string dims(dim3 d) {
  return "(" + std::to_string(d.x) + "," + std::to_string(d.y) + "," + std::to_string(d.z) + ")";
}

const char* kind_name(cudaMemcpyKind kind) {
  switch (kind) {
    case cudaMemcpyHostToHost: return "HostToHost";
    case cudaMemcpyHostToDevice: return "HostToDevice";
    case cudaMemcpyDeviceToHost: return "DeviceToHost";
    case cudaMemcpyDeviceToDevice: return "DeviceToDevice";
    case cudaMemcpyDefault: return "Default";
  }
  return "?";
}

// Empty when `bytes` at p are what `device` says they are: inside one live device
// allocation, or host memory (not device memory of any kind).
std::string side_problem(const void* p, size_t bytes, bool device) {
  if (device) return device_range_problem(p, bytes);
  const Place place = locate(p);
  if (place.where == Where::null) return "a null pointer";
  if (place.where != Where::host) return "expected host memory but got " + describe(p);
  return "";
}

cudaError_t copy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind,
                 cudaStream_t stream, const char* call) {
  if (!valid_stream(stream)) return refuse(cudaErrorInvalidResourceHandle, std::string(call) + ": invalid stream");
  if (bytes == 0) return cudaSuccess;
  if (kind == cudaMemcpyDefault) {  // unified addressing: the pointers say where they are
    const bool dst_device = locate(dst).where != Where::host;
    const bool src_device = locate(src).where != Where::host;
    kind = dst_device ? (src_device ? cudaMemcpyDeviceToDevice : cudaMemcpyHostToDevice)
                      : (src_device ? cudaMemcpyDeviceToHost : cudaMemcpyHostToHost);
  }
  const bool dst_device = kind == cudaMemcpyHostToDevice || kind == cudaMemcpyDeviceToDevice;
  const bool src_device = kind == cudaMemcpyDeviceToHost || kind == cudaMemcpyDeviceToDevice;
  const std::string what = std::string(call) + "(" + kind_name(kind) + ", " +
                           std::to_string(bytes) + " bytes): ";
  if (std::string p = side_problem(dst, bytes, dst_device); !p.empty())
    return refuse(cudaErrorInvalidValue, what + "destination is " + p);
  if (std::string p = side_problem(src, bytes, src_device); !p.empty())
    return refuse(cudaErrorInvalidValue, what + "source is " + p);
  std::memmove(dst, src, bytes);
  return cudaSuccess;
}

cudaError_t fill(void* p, int value, size_t bytes, cudaStream_t stream, const char* call) {
  if (!valid_stream(stream)) return refuse(cudaErrorInvalidResourceHandle, std::string(call) + ": invalid stream");
  if (bytes == 0) return cudaSuccess;
  if (std::string problem = device_range_problem(p, bytes); !problem.empty())
    return refuse(cudaErrorInvalidValue, std::string(call) + "(" + std::to_string(bytes) +
                                             " bytes): " + problem);
  std::memset(p, value, bytes);
  return cudaSuccess;
}

}  // namespace

// ---- kernel launches (launch.h) --------------------------------------------------------

std::string parse_kernel_name(const char* pretty_function) {
  // GCC and Clang: "const char* tv3s::emu::kernel_name() [with auto kernel = NAME]".
  std::string s = pretty_function;
  const size_t equals = s.find(" = ");
  if (equals == std::string::npos) return s;
  s = s.substr(equals + 3, s.rfind(']') - equals - 3);
  for (size_t at; (at = s.find("{anonymous}::")) != std::string::npos;) s.erase(at, 13);
  for (size_t at; (at = s.find("(anonymous namespace)::")) != std::string::npos;) s.erase(at, 23);
  return s;
}

void launch_grid(const Launch& launch, const void* kernel_key, cudaStream_t stream) {
  const dim3 g = launch.grid, b = launch.block;
  const std::string refused = std::string("launch of ") + launch.kernel + " with grid " +
                              dims(g) + ", block " + dims(b) + " refused: ";
  if (!valid_stream(stream)) {
    refuse(cudaErrorInvalidResourceHandle, refused + "invalid stream");
    return;
  }
  const uint64_t threads = uint64_t(b.x) * b.y * b.z;
  if (g.x == 0 || g.y == 0 || g.z == 0 || threads == 0) {
    refuse(cudaErrorInvalidConfiguration, refused + "a dimension is 0");
    return;
  }
  if (threads > 1024 || b.x > 1024 || b.y > 1024 || b.z > 64) {
    refuse(cudaErrorInvalidConfiguration,
           refused + "a block holds at most 1024 threads (x, y ≤ 1024, z ≤ 64)");
    return;
  }
  if (g.x > 2147483647u || g.y > 65535 || g.z > 65535) {
    refuse(cudaErrorInvalidConfiguration, refused + "grid.y and grid.z are at most 65535");
    return;
  }
  size_t dynamic_limit = kDynamicSharedDefault;
  {
    std::lock_guard<std::mutex> lock(attributes_mutex);
    auto it = max_dynamic_shared.find(kernel_key);
    if (it != max_dynamic_shared.end()) dynamic_limit = it->second;
  }
  if (launch.dynamic_shared > dynamic_limit) {
    refuse(cudaErrorInvalidValue,
           refused + std::to_string(launch.dynamic_shared) + " bytes of dynamic shared memory; " +
               "the kernel may use " + std::to_string(dynamic_limit) +
               (dynamic_limit == kDynamicSharedDefault
                    ? " (more needs cudaFuncSetAttribute(kernel, "
                      "cudaFuncAttributeMaxDynamicSharedMemorySize, bytes))"
                    : ""));
    return;
  }
  static const bool trace = std::getenv("TV3S_EMULATOR_TRACE") != nullptr;
  if (trace)
    std::fprintf(stderr, "tv3s CUDA emulator: launch %s grid %s block %s shared %zu\n",
                 launch.kernel, dims(g).c_str(), dims(b).c_str(), launch.dynamic_shared);
  run_grid(launch);
}

void check_pointer_argument(const char* kernel, int index, const void* pointer) {
  const Place place = locate(pointer);
  if (place.where == Where::null || place.where == Where::device) return;
  if (place.where == Where::guard && size_t(place.offset) == place.bytes) return;  // one past the end
  fault("launch of " + std::string(kernel) + ": argument " + std::to_string(index) + " is " +
        describe(pointer) + "; a GPU thread using it would fault");
}

}  // namespace tv3s::emu

using namespace tv3s::emu;

extern "C" {

// ---- device ----------------------------------------------------------------------------

cudaError_t cudaGetDeviceCount(int* count) {
  *count = 1;
  return cudaSuccess;
}
cudaError_t cudaGetDevice(int* device) {
  *device = 0;
  return cudaSuccess;
}
cudaError_t cudaSetDevice(int device) {
  return device == 0 ? cudaSuccess : refuse(cudaErrorInvalidDevice, "cudaSetDevice: only device 0 is emulated");
}
cudaError_t cudaRuntimeGetVersion(int* version) {
  *version = CUDART_VERSION;
  return cudaSuccess;
}
cudaError_t cudaDriverGetVersion(int* version) {
  *version = CUDART_VERSION;  // the emulator is its own driver
  return cudaSuccess;
}

// A Hopper-sized device whose multiprocessors are the host threads that run blocks.
cudaError_t cudaGetDeviceProperties(cudaDeviceProp* prop, int device) {
  if (device != 0) return refuse(cudaErrorInvalidDevice, "cudaGetDeviceProperties: only device 0 is emulated");
  std::memset(prop, 0, sizeof *prop);
  std::snprintf(prop->name, sizeof prop->name, "tv3s CUDA emulator");
  prop->totalGlobalMem = size_t(sysconf(_SC_PHYS_PAGES)) * size_t(sysconf(_SC_PAGESIZE));
  prop->sharedMemPerBlock = kStaticSharedLimit;
  prop->sharedMemPerBlockOptin = kSharedPerBlockLimit;
  prop->regsPerBlock = 65536;
  prop->warpSize = kWarpSize;
  prop->maxThreadsPerBlock = 1024;
  prop->maxThreadsDim[0] = prop->maxThreadsDim[1] = 1024;
  prop->maxThreadsDim[2] = 64;
  prop->maxGridSize[0] = 2147483647;
  prop->maxGridSize[1] = prop->maxGridSize[2] = 65535;
  prop->major = 9;
  prop->minor = 0;
  prop->multiProcessorCount = worker_count();
  prop->maxThreadsPerMultiProcessor = 2048;
  return cudaSuccess;
}

cudaError_t cudaDeviceGetAttribute(int* value, cudaDeviceAttr attr, int device) {
  cudaDeviceProp prop;
  if (cudaError_t e = cudaGetDeviceProperties(&prop, device); e != cudaSuccess) return e;
  switch (attr) {
    case cudaDevAttrMultiProcessorCount: *value = prop.multiProcessorCount; return cudaSuccess;
    case cudaDevAttrMaxThreadsPerBlock: *value = prop.maxThreadsPerBlock; return cudaSuccess;
    case cudaDevAttrWarpSize: *value = prop.warpSize; return cudaSuccess;
    case cudaDevAttrMaxSharedMemoryPerBlock: *value = int(prop.sharedMemPerBlock); return cudaSuccess;
    case cudaDevAttrMaxSharedMemoryPerBlockOptin: *value = int(prop.sharedMemPerBlockOptin); return cudaSuccess;
    case cudaDevAttrComputeCapabilityMajor: *value = prop.major; return cudaSuccess;
    case cudaDevAttrComputeCapabilityMinor: *value = prop.minor; return cudaSuccess;
    default: return refuse(cudaErrorInvalidValue, "cudaDeviceGetAttribute: attribute " +
                                                      std::to_string(int(attr)) + " is not emulated");
  }
}

cudaError_t cudaFuncSetAttribute(const void* func, cudaFuncAttribute attr, int value) {
  if (attr != cudaFuncAttributeMaxDynamicSharedMemorySize)
    return cudaSuccess;  // carve-out preferences and the like change nothing here
  if (value < 0 || size_t(value) > kSharedPerBlockLimit)
    return refuse(cudaErrorInvalidValue, "cudaFuncSetAttribute: " + std::to_string(value) +
                                             " bytes of dynamic shared memory exceed the 227 KiB of a block");
  std::lock_guard<std::mutex> lock(attributes_mutex);
  max_dynamic_shared[func] = size_t(value);
  return cudaSuccess;
}

cudaError_t cudaDeviceSynchronize(void) { return cudaSuccess; }

// ---- errors ----------------------------------------------------------------------------

cudaError_t cudaGetLastError(void) {
  const cudaError_t e = last_error;
  last_error = cudaSuccess;
  return e;
}
cudaError_t cudaPeekAtLastError(void) { return last_error; }

const char* cudaGetErrorName(cudaError_t error) {
  switch (error) {
    case cudaSuccess: return "cudaSuccess";
    case cudaErrorInvalidValue: return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation: return "cudaErrorMemoryAllocation";
    case cudaErrorInvalidConfiguration: return "cudaErrorInvalidConfiguration";
    case cudaErrorInvalidDevice: return "cudaErrorInvalidDevice";
    case cudaErrorInvalidDevicePointer: return "cudaErrorInvalidDevicePointer";
    case cudaErrorInvalidResourceHandle: return "cudaErrorInvalidResourceHandle";
    default: return "cudaErrorUnknown";
  }
}
const char* cudaGetErrorString(cudaError_t error) {  // libcudart's wording
  switch (error) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument";
    case cudaErrorInvalidDevice: return "invalid device ordinal";
    case cudaErrorInvalidDevicePointer: return "invalid device pointer";
    case cudaErrorInvalidResourceHandle: return "invalid resource handle";
    default: return "unknown error";
  }
}

// ---- memory ----------------------------------------------------------------------------

cudaError_t cudaMalloc(void** p, size_t bytes) {
  *p = device_malloc(bytes);
  if (!*p) return refuse(cudaErrorMemoryAllocation, "cudaMalloc(" + std::to_string(bytes) + "): out of host memory");
  return cudaSuccess;
}

cudaError_t cudaFree(void* p) {
  if (p == nullptr) return cudaSuccess;
  if (!device_free(p))
    return refuse(cudaErrorInvalidValue, "cudaFree: " + describe(p) +
                                             " is not the start of a live device allocation");
  return cudaSuccess;
}

cudaError_t cudaMemGetInfo(size_t* free, size_t* total) {
  cudaDeviceProp prop;
  cudaGetDeviceProperties(&prop, 0);
  *total = prop.totalGlobalMem;
  *free = *total - device_bytes_in_use();
  return cudaSuccess;
}

cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind) {
  return copy(dst, src, bytes, kind, nullptr, "cudaMemcpy");
}
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind,
                            cudaStream_t stream) {
  return copy(dst, src, bytes, kind, stream, "cudaMemcpyAsync");
}
cudaError_t cudaMemset(void* p, int value, size_t bytes) {
  return fill(p, value, bytes, nullptr, "cudaMemset");
}
cudaError_t cudaMemsetAsync(void* p, int value, size_t bytes, cudaStream_t stream) {
  return fill(p, value, bytes, stream, "cudaMemsetAsync");
}

// ---- streams ---------------------------------------------------------------------------

cudaError_t cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned flags) {
  *stream = new CUstream_st{flags};
  std::lock_guard<std::mutex> lock(streams().mutex);
  streams().live.insert(*stream);
  return cudaSuccess;
}
cudaError_t cudaStreamCreate(cudaStream_t* stream) {
  return cudaStreamCreateWithFlags(stream, cudaStreamDefault);
}
cudaError_t cudaStreamDestroy(cudaStream_t stream) {
  std::lock_guard<std::mutex> lock(streams().mutex);
  if (!streams().live.erase(stream)) return refuse(cudaErrorInvalidResourceHandle, "cudaStreamDestroy: not a live stream");
  delete stream;
  return cudaSuccess;
}
cudaError_t cudaStreamSynchronize(cudaStream_t stream) {
  // Work runs when it is issued: there is nothing left to wait for.
  return valid_stream(stream) ? cudaSuccess
                              : refuse(cudaErrorInvalidResourceHandle, "cudaStreamSynchronize: not a live stream");
}
cudaError_t cudaStreamQuery(cudaStream_t stream) { return cudaStreamSynchronize(stream); }

}  // extern "C"
