// How the CUDA emulator stops a program that a GPU would stop.
//
// On a GPU, an illegal address, a barrier that not every thread reaches or a bad shuffle
// kills the kernel, and every later CUDA call fails. The emulator does the same, loudly:
// fault() prints one line naming what went wrong and where (kernel, block, thread, and
// the source line where it knows it), then abort()s, so that a debugger stops right
// there with the emulated thread's stack in view.
#pragma once
#include <string>

namespace tv3s::emu {

// "tv3s CUDA emulator: <what> [in kernel K, block (x,y,z), thread (x,y,z)]", then abort().
[[noreturn]] void fault(const std::string& what);

// SIGSEGV/SIGBUS inside a kernel (or inside host code touching a guard page or a freed
// block) become fault()s that say which allocation the address belongs to.
void install_fault_handler();

// "kernel K, block (x,y,z), thread (x,y,z)" of the calling emulated thread, or "" on the
// host.
std::string where_in_kernel();

}  // namespace tv3s::emu
