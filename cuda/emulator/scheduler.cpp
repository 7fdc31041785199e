// Blocks over the host's cores, a block's threads as fibers: see scheduler.h.
//
// One Worker per host thread. Worker::run_block() is the whole life of a block:
//   1. lay out the threads (coordinates, warps, lanes) and poison the dynamic shared
//      memory;
//   2. loop: resume a thread whose barrier has opened, else start a fiber on the next
//      thread that has not started, else stop;
//   3. every thread must have exited by then; if one still waits, nothing can ever wake
//      it (a GPU would hang) and that is a fault.
// A fiber runs run_threads(): it takes the next unstarted thread, runs the kernel body
// for it and, when that returns, takes the next one. A thread that must wait calls
// suspend(), which switches back to run_block(); the last thread to arrive at a barrier
// marks the others ready and goes on without switching.
#include "cuda/emulator/scheduler.h"

#include <omp.h>
#include <sys/mman.h>

#include <boost/context/fiber.hpp>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "cuda/emulator/fault.h"
#include "cuda/emulator/memory.h"

namespace tv3s::emu {

thread_local const Coordinates* tls_coordinates = nullptr;
thread_local const char* tls_kernel = nullptr;

namespace {

namespace ctx = boost::context;

std::string site_string(Site s) { return std::string(s.file) + ":" + std::to_string(s.line); }
std::string hex(unsigned v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", v);
  return buf;
}
bool same_site(Site a, Site b) { return a.line == b.line && std::strcmp(a.file, b.file) == 0; }

const char* op_name(WarpOp op) {
  switch (op) {
    case WarpOp::sync: return "__syncwarp";
    case WarpOp::shfl_idx: return "__shfl_sync";
    case WarpOp::shfl_up: return "__shfl_up_sync";
    case WarpOp::shfl_down: return "__shfl_down_sync";
    case WarpOp::shfl_xor: return "__shfl_xor_sync";
  }
  return "?";
}

// ---- fiber stacks: mmap'ed, a guard page below each, reused across blocks -------------
constexpr size_t kStackBytes = size_t(256) << 10;
constexpr size_t kPage = 4096;

class StackPool {
 public:
  ctx::stack_context allocate() {
    char* base;
    if (!free_.empty()) {
      base = free_.back();
      free_.pop_back();
    } else {
      void* p = mmap(nullptr, kStackBytes + kPage, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
      if (p == MAP_FAILED) fault("out of host memory for the stacks of emulated threads");
      mprotect(p, kPage, PROT_NONE);  // a thread that overflows its stack faults here
      base = static_cast<char*>(p);
    }
    ctx::stack_context sc;
    sc.size = kStackBytes;
    sc.sp = base + kPage + kStackBytes;  // stacks grow down
    return sc;
  }
  void release(ctx::stack_context& sc) {
    free_.push_back(static_cast<char*>(sc.sp) - kStackBytes - kPage);
  }

 private:
  std::vector<char*> free_;
};

// Boost.Context's stack-allocator concept, over the worker's pool.
struct PooledStack {
  StackPool* pool;
  ctx::stack_context allocate() { return pool->allocate(); }
  void deallocate(ctx::stack_context& sc) noexcept { pool->release(sc); }
};

// ---- the state of one block ------------------------------------------------------------
enum class ThreadState { unstarted, running, ready, at_barrier, at_warp, exited };

struct EmulatedThread {
  Coordinates coords;
  int linear = 0;
  ThreadState state = ThreadState::unstarted;
  ctx::fiber fiber;  // its context while it waits
  // The warp collective it offers or waits at.
  WarpOp op = WarpOp::sync;
  unsigned mask = 0;
  int lane_arg = 0, width = kWarpSize;
  uint64_t value = 0, result = 0;
  Site site{"", 0};
};

struct Warp {
  unsigned present = 0;  // lanes that exist (the last warp of a block may be partial)
  unsigned arrived = 0;  // lanes waiting at a collective
  unsigned exited = 0;
};

struct StaticShared {
  const void* key;
  size_t offset, bytes;
  const char* name;
};

class Worker {
 public:
  Worker() : static_arena_(kStaticSharedLimit), stack_{&stacks_} { install_fault_handler(); }

  // reverse_order: start the threads from the last one (see run_grid).
  void run_block(const Launch& launch, uint3 block_idx, bool reverse_order);

  // ---- called by the emulated threads of this worker's block ----
  void syncthreads(Site site);
  uint64_t warp_collective(WarpOp op, unsigned mask, uint64_t value, int lane_arg, int width,
                           Site site);
  void* static_shared(const void* key, size_t bytes, size_t alignment, const char* name);
  void* dynamic_shared() { return dynamic_arena_.data(); }

 private:
  void run_threads();  // a fiber's body
  void start_fiber();
  void resume(EmulatedThread& t);
  void suspend();
  void make_current(EmulatedThread& t) {
    current_ = &t;
    tls_coordinates = &t.coords;
  }
  void exit_thread(EmulatedThread& t);
  void wake(EmulatedThread& t) {
    t.state = ThreadState::ready;
    ready_.push_back(&t);
  }
  [[noreturn]] void report_deadlock();

  const Launch* launch_ = nullptr;
  uint3 block_idx_{0, 0, 0};
  bool reverse_order_ = false;
  std::vector<EmulatedThread> threads_;
  std::vector<Warp> warps_;
  int next_unstarted_ = 0, exited_ = 0, at_barrier_ = 0;
  Site barrier_site_{"", 0};
  std::vector<EmulatedThread*> ready_;
  EmulatedThread* current_ = nullptr;

  std::vector<char> static_arena_, dynamic_arena_;
  std::vector<StaticShared> statics_;
  size_t static_bytes_ = 0;

  StackPool stacks_;
  PooledStack stack_;
  ctx::fiber scheduler_;  // run_block()'s context, to switch back to
};

thread_local Worker* tls_worker = nullptr;

Worker& this_worker() {
  if (!tls_worker) tls_worker = new Worker();  // kept for the life of the host thread
  return *tls_worker;
}

void Worker::run_block(const Launch& launch, uint3 block_idx, bool reverse_order) {
  launch_ = &launch;
  reverse_order_ = reverse_order;
  tls_kernel = launch.kernel;
  const dim3 bd = launch.block;
  const int n = int(bd.x * bd.y * bd.z);
  threads_.resize(size_t(n));  // each is laid out when it starts (run_threads)
  block_idx_ = block_idx;
  warps_.assign(size_t((n + kWarpSize - 1) / kWarpSize), Warp{});
  for (int w = 0; w < int(warps_.size()); ++w) {
    const int lanes = n - w * kWarpSize < kWarpSize ? n - w * kWarpSize : kWarpSize;
    warps_[size_t(w)].present = lanes == kWarpSize ? ~0u : (1u << lanes) - 1;
  }
  dynamic_arena_.assign(launch.dynamic_shared, char(kPoisonByte));
  statics_.clear();
  static_bytes_ = 0;
  next_unstarted_ = exited_ = at_barrier_ = 0;
  ready_.clear();

  for (;;) {
    if (!ready_.empty()) {
      EmulatedThread* t = ready_.back();
      ready_.pop_back();
      resume(*t);
    } else if (next_unstarted_ < n) {
      start_fiber();
    } else {
      break;
    }
  }
  if (exited_ != n) report_deadlock();
  current_ = nullptr;
  tls_coordinates = nullptr;
  tls_kernel = nullptr;
}

void Worker::run_threads() {
  const int n = int(threads_.size());
  const dim3 bd = launch_->block;
  while (next_unstarted_ < n) {
    const int started = next_unstarted_++;
    const int i = reverse_order_ ? n - 1 - started : started;
    EmulatedThread& t = threads_[size_t(i)];
    t.coords.thread_idx = uint3{unsigned(i) % bd.x, unsigned(i) / bd.x % bd.y,
                                unsigned(i) / (bd.x * bd.y)};
    t.coords.block_idx = block_idx_;
    t.coords.block_dim = bd;
    t.coords.grid_dim = launch_->grid;
    t.linear = i;
    make_current(t);
    t.state = ThreadState::running;
    launch_->body(launch_->context);
    exit_thread(*current_);
  }
}

void Worker::start_fiber() {
  ctx::fiber f{std::allocator_arg, stack_, [this](ctx::fiber&& scheduler) {
                 scheduler_ = std::move(scheduler);
                 run_threads();
                 return std::move(scheduler_);
               }};
  f = std::move(f).resume();
  if (f) current_->fiber = std::move(f);  // it stopped in a wait: keep its context
}

void Worker::resume(EmulatedThread& t) {
  make_current(t);
  t.state = ThreadState::running;
  ctx::fiber f = std::move(t.fiber).resume();
  if (f) current_->fiber = std::move(f);
}

void Worker::suspend() {
  scheduler_ = std::move(scheduler_).resume();
  // Back in this thread: resume() has made it current again.
}

void Worker::exit_thread(EmulatedThread& t) {
  t.state = ThreadState::exited;
  ++exited_;
  Warp& w = warps_[size_t(t.linear / kWarpSize)];
  const unsigned bit = 1u << (t.linear % kWarpSize);
  w.exited |= bit;
  if (at_barrier_ > 0)
    fault("barrier divergence: this thread exited while " + std::to_string(at_barrier_) +
          " thread(s) of its block wait at __syncthreads() at " + site_string(barrier_site_) +
          " (every thread of a block must reach every __syncthreads)");
  for (int lane = 0; w.arrived && lane < kWarpSize; ++lane) {
    if (!(w.arrived >> lane & 1)) continue;
    const EmulatedThread& other = threads_[size_t(t.linear / kWarpSize * kWarpSize + lane)];
    if (other.mask & bit)
      fault("warp divergence: this thread exited while lane " + std::to_string(lane) +
            " waits for it at " + op_name(other.op) + "(mask " + hex(other.mask) + ") at " +
            site_string(other.site));
  }
}

void Worker::syncthreads(Site site) {
  const int n = int(threads_.size());
  if (exited_ > 0)
    fault("barrier divergence: __syncthreads() at " + site_string(site) + " is reached after " +
          std::to_string(exited_) + " thread(s) of the block exited (every thread of a block "
          "must reach every __syncthreads)");
  if (at_barrier_ > 0 && !same_site(site, barrier_site_))
    fault("barrier divergence: this thread waits at __syncthreads() at " + site_string(site) +
          " while others wait at " + site_string(barrier_site_));
  barrier_site_ = site;
  if (++at_barrier_ == n) {  // the last to arrive opens the barrier and goes on
    at_barrier_ = 0;
    for (EmulatedThread& t : threads_)
      if (t.state == ThreadState::at_barrier) wake(t);
    return;
  }
  current_->state = ThreadState::at_barrier;
  suspend();
}

uint64_t Worker::warp_collective(WarpOp op, unsigned mask, uint64_t value, int lane_arg,
                                 int width, Site site) {
  EmulatedThread& me = *current_;
  const int warp = me.linear / kWarpSize, lane = me.linear % kWarpSize;
  Warp& w = warps_[size_t(warp)];
  // (Messages are built only when something is wrong: this is the hot path of every shuffle.)
  const auto call = [&] {
    return std::string(op_name(op)) + "(mask " + hex(mask) + ") at " + site_string(site);
  };
  if (!(mask >> lane & 1))
    fault(call() + ": the mask does not name the calling lane " + std::to_string(lane));
  if (mask & ~w.present)
    fault(call() + ": the mask names lanes that do not exist (warp " + std::to_string(warp) +
          " of this " + std::to_string(threads_.size()) + "-thread block has lanes " +
          hex(w.present) + ")");
  if (mask & w.exited)
    fault(call() + ": the mask names lanes that have exited (" + hex(mask & w.exited) + ")");
  if (width < 1 || width > kWarpSize || (width & (width - 1)))
    fault(call() + ": width " + std::to_string(width) + " is not a power of two in [1, 32]");
  me.op = op;
  me.mask = mask;
  me.lane_arg = lane_arg;
  me.width = width;
  me.value = value;
  me.site = site;
  w.arrived |= 1u << lane;
  if ((w.arrived & mask) != mask) {
    me.state = ThreadState::at_warp;
    suspend();
    return me.result;
  }
  // Everyone is here: check that they agree, then exchange.
  EmulatedThread* lanes = &threads_[size_t(warp * kWarpSize)];
  for (int l = 0; l < kWarpSize; ++l) {
    if (!(mask >> l & 1)) continue;
    const EmulatedThread& t = lanes[l];
    if (t.mask != mask || t.op != op || t.width != width)
      fault(call() + ": lane " + std::to_string(l) + " is at " + op_name(t.op) + "(mask " +
            hex(t.mask) + ") at " + site_string(t.site) + " instead");
  }
  for (int l = 0; l < kWarpSize; ++l) {
    if (!(mask >> l & 1)) continue;
    EmulatedThread& t = lanes[l];
    const int segment = l / width * width;  // the first lane of l's width-group
    int src = l;
    switch (op) {
      case WarpOp::sync: break;
      case WarpOp::shfl_idx: src = segment + ((t.lane_arg % width) + width) % width; break;
      case WarpOp::shfl_up: src = l - t.lane_arg >= segment ? l - t.lane_arg : l; break;
      case WarpOp::shfl_down: src = l + t.lane_arg < segment + width ? l + t.lane_arg : l; break;
      case WarpOp::shfl_xor: src = (l ^ t.lane_arg) < segment + width ? l ^ t.lane_arg : l; break;
    }
    if (!(mask >> src & 1))
      fault(call() + ": lane " + std::to_string(l) + " reads lane " + std::to_string(src) +
            ", which the mask does not name (its value is undefined)");
    t.result = lanes[src].value;
  }
  w.arrived &= ~mask;
  for (int l = 0; l < kWarpSize; ++l)
    if ((mask >> l & 1) && &lanes[l] != &me) wake(lanes[l]);
  return me.result;
}

void* Worker::static_shared(const void* key, size_t bytes, size_t alignment, const char* name) {
  for (const StaticShared& s : statics_)
    if (s.key == key) return static_arena_.data() + s.offset;
  const size_t offset = (static_bytes_ + alignment - 1) / alignment * alignment;
  if (offset + bytes > kStaticSharedLimit)
    fault("kernel declares " + std::to_string(offset + bytes) + " bytes of static __shared__ "
          "memory (with '" + name + "'): more than the 48 KiB a GPU allows (ptxas refuses it)");
  if (offset + bytes + launch_->dynamic_shared > kSharedPerBlockLimit)
    fault("static (" + std::to_string(offset + bytes) + " B) plus dynamic (" +
          std::to_string(launch_->dynamic_shared) + " B) shared memory exceed the 227 KiB of "
          "a block");
  std::memset(static_arena_.data() + offset, kPoisonByte, bytes);
  statics_.push_back({key, offset, bytes, name});
  static_bytes_ = offset + bytes;
  return static_arena_.data() + offset;
}

void Worker::report_deadlock() {
  // Name a waiting thread and what it waits for.
  for (EmulatedThread& t : threads_) {
    if (t.state == ThreadState::at_barrier) {
      make_current(t);
      fault("barrier divergence: this thread waits forever at __syncthreads() at " +
            site_string(barrier_site_) + ": " + std::to_string(threads_.size() - exited_ - at_barrier_) +
            " thread(s) of the block wait elsewhere and " + std::to_string(exited_) + " exited");
    }
    if (t.state == ThreadState::at_warp) {
      make_current(t);
      const Warp& w = warps_[size_t(t.linear / kWarpSize)];
      fault("warp divergence: this thread waits forever at " + std::string(op_name(t.op)) +
            "(mask " + hex(t.mask) + ") at " + site_string(t.site) + ": lanes " +
            hex(t.mask & ~w.arrived) + " of the mask never arrive");
    }
  }
  fault("a block ended with threads that never ran to completion");
}

}  // namespace

int worker_count() {
  static const int count = [] {
    if (const char* s = std::getenv("TV3S_EMULATOR_THREADS")) {
      const int n = std::atoi(s);
      if (n > 0) return n;
    }
    return omp_get_num_procs();
  }();
  return count;
}

void run_grid(const Launch& launch) {
  const int64_t gx = launch.grid.x, gy = launch.grid.y;
  const int64_t blocks = gx * gy * int64_t(launch.grid.z);
  std::atomic<int64_t> next{0};
  const int workers = int(blocks < worker_count() ? blocks : worker_count());
#pragma omp parallel num_threads(workers)
  {
    Worker& w = this_worker();
    // Odd blocks start their threads from the last one. Between two barriers a block's
    // threads run one after another, so a thread reading what another wrote without a
    // __syncthreads() in between sees it in one order and the poison (NaN) in the other:
    // with both orders in every grid, such a race shows up in the results.
    for (int64_t b = next++; b < blocks; b = next++)
      w.run_block(launch, uint3{unsigned(b % gx), unsigned(b / gx % gy), unsigned(b / (gx * gy))},
                  b % 2 == 1);
  }
}

void syncthreads(Site site) { this_worker().syncthreads(site); }

uint64_t warp_collective(WarpOp op, unsigned mask, uint64_t value, int lane_arg, int width,
                         Site site) {
  return this_worker().warp_collective(op, mask, value, lane_arg, width, site);
}

void* static_shared(const void* key, size_t bytes, size_t alignment, const char* name) {
  return this_worker().static_shared(key, bytes, alignment, name);
}

void* dynamic_shared() { return this_worker().dynamic_shared(); }

}  // namespace tv3s::emu
