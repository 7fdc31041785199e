// fault(): one line on stderr, then abort() (fault.h). The SIGSEGV/SIGBUS handler turns
// a hardware fault inside a kernel into such a line, saying which allocation the address
// belongs to (memory.h); it runs on an alternate stack, so that a thread overflowing its
// fiber stack is reported too.
#include "cuda/emulator/fault.h"

#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <mutex>

#include "cuda/emulator/memory.h"
#include "cuda/emulator/scheduler.h"

namespace tv3s::emu {
namespace {

std::string dims(uint3 v) {
  return "(" + std::to_string(v.x) + "," + std::to_string(v.y) + "," + std::to_string(v.z) + ")";
}

void on_memory_fault(int signal, siginfo_t* info, void*) {
  const void* address = info->si_addr;
  const Place place = locate_unlocked(address);
  if (!tls_kernel && place.where != Where::guard && place.where != Where::freed) {
    // Not the emulator's business: let the default action (a crash) happen.
    ::signal(signal, SIG_DFL);
    return;
  }
  std::string what;
  switch (place.where) {
    case Where::guard: what = "out-of-bounds global memory access: "; break;
    case Where::freed: what = "use of freed device memory: "; break;
    default:
      what = signal == SIGBUS ? "bus error at " : "invalid memory access (a host pointer, or "
                                                  "this thread's stack overflowing?): ";
  }
  fault(what + describe_unlocked(address));
}

}  // namespace

std::string where_in_kernel() {
  if (!tls_kernel || !tls_coordinates) return "";
  return std::string("kernel ") + tls_kernel + ", block " + dims(tls_coordinates->block_idx) +
         ", thread " + dims(tls_coordinates->thread_idx);
}

void fault(const std::string& what) {
  const std::string where = where_in_kernel();
  const std::string line =
      "tv3s CUDA emulator: " + what + (where.empty() ? "" : " (in " + where + ")") + "\n";
  if (write(STDERR_FILENO, line.data(), line.size()) < 0) {
    // nothing more can be said
  }
  std::abort();
}

void install_fault_handler() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction action {};
    action.sa_sigaction = on_memory_fault;
    action.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&action.sa_mask);
    sigaction(SIGSEGV, &action, nullptr);
    sigaction(SIGBUS, &action, nullptr);
  });
  // Each host thread that runs blocks gets its own alternate signal stack.
  thread_local bool has_alternate_stack = false;
  if (!has_alternate_stack) {
    stack_t stack{};
    stack.ss_size = size_t(64) << 10;
    stack.ss_sp = std::malloc(stack.ss_size);  // kept for the thread's life
    sigaltstack(&stack, nullptr);
    has_alternate_stack = true;
  }
}

}  // namespace tv3s::emu
