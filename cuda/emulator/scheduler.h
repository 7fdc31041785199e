// The execution model of the CUDA emulator: a grid of blocks of threads, on the CPU.
//
//   grid   blocks are handed out one at a time to the host's worker threads (OpenMP),
//          so blocks run in parallel and in no fixed order, as on a GPU;
//   block  runs whole on one worker, start to end, with its own shared memory;
//   thread a block's threads run as fibers (Boost.Context: a switch costs ~10 ns). A
//          fiber runs threads one after another until one of them waits at a barrier
//          or a warp collective; only then is another fiber started for the next
//          thread. A kernel without barriers therefore runs a whole block in one fiber
//          with no switch at all, and a kernel with them gets the suspension it needs.
//
// Barriers are real: __syncthreads() returns only when every thread of the block has
// arrived at the same __syncthreads(); a warp collective (__shfl_*_sync, __syncwarp)
// returns only when every lane its mask names has arrived at the same collective with
// the same mask. Whatever a GPU would hang on or leave undefined is a fault() here:
// a thread that exits while others wait at a barrier, threads at different barriers,
// masks that name missing, exited or disagreeing lanes, a block that cannot finish.
#pragma once
#include <cuda_runtime.h>  // dim3, uint3: the toolkit's own vector types

#include <cstddef>
#include <cstdint>

namespace tv3s::emu {

constexpr int kWarpSize = 32;
constexpr size_t kStaticSharedLimit = size_t(48) << 10;   // what ptxas lets a kernel declare
constexpr size_t kDynamicSharedDefault = size_t(48) << 10;  // without the opt-in attribute
constexpr size_t kSharedPerBlockLimit = size_t(227) << 10;  // static + dynamic, opted in (sm_90)

// A kernel's built-in variables, as one emulated thread sees them.
struct Coordinates {
  uint3 thread_idx;
  uint3 block_idx;
  dim3 block_dim;
  dim3 grid_dim;
};

// The calling emulated thread's coordinates (valid only inside a kernel).
extern thread_local const Coordinates* tls_coordinates;
inline const Coordinates& coordinates() { return *tls_coordinates; }
// The kernel the calling host thread is running blocks of (nullptr outside kernels).
extern thread_local const char* tls_kernel;

struct Site {
  const char* file;
  int line;
};

// One kernel launch, type-erased: body() runs the kernel for the current thread.
struct Launch {
  const char* kernel;        // its name, for messages
  dim3 grid, block;
  size_t dynamic_shared;
  void (*body)(const void* context);
  const void* context;
};

// Runs every block of the launch and returns when all have finished.
void run_grid(const Launch& launch);

// Number of host threads that run blocks (TV3S_EMULATOR_THREADS, else the cores).
int worker_count();

// __syncthreads() of the calling thread.
void syncthreads(Site site);

// A warp collective: the calling lane offers `value` and gets back the value of the
// lane `op` selects (for sync: nothing). Returns when every lane in `mask` is here.
enum class WarpOp { sync, shfl_idx, shfl_up, shfl_down, shfl_xor };
uint64_t warp_collective(WarpOp op, unsigned mask, uint64_t value, int lane_arg, int width,
                         Site site);

// The block's copy of one static __shared__ variable (`key` identifies the declaration).
void* static_shared(const void* key, size_t bytes, size_t alignment, const char* name);
// The block's dynamic (extern __shared__) memory: the launch's shared-memory size.
void* dynamic_shared();

}  // namespace tv3s::emu
