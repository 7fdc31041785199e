// What every fuzz target shares (header-only: each target is one translation unit).
//
// The library's parsers take paths, as the command line hands them over, so each input is
// written to a file first (one folder per process, in $TV3S_FUZZ_TMP, else /dev/shm, else
// /tmp) and the target calls the same entry point the CLI calls on that file.
//
// The rule checked: for any bytes, a parser succeeds or throws tv3s::Error (the project's
// one-line error). Anything else is a finding and aborts, so that libFuzzer keeps the
// input: another exception type (a library's own, std::bad_alloc, ...) and — through the
// sanitizers the targets are built with — an out-of-bounds access, a leak, undefined
// behaviour, an allocation beyond -malloc_limit_mb, or a run beyond -timeout.
#pragma once
#include <sys/stat.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

#include "tv3s/error.h"

namespace tv3s::fuzz {

// This process's scratch folder, created on first use.
inline const std::string& scratch_dir() {
  static const std::string dir = [] {
    std::string base = "/tmp";
    if (const char* env = std::getenv("TV3S_FUZZ_TMP")) base = env;
    else if (access("/dev/shm", W_OK) == 0) base = "/dev/shm";
    const std::string path = base + "/tv3s-fuzz-" + std::to_string(getpid());
    mkdir(path.c_str(), 0700);
    return path;
  }();
  return dir;
}

// Writes the input to scratch_dir()/name and returns that path.
inline std::string write_input(const uint8_t* data, size_t size, const std::string& name) {
  const std::string path = scratch_dir() + "/" + name;
  std::FILE* file = std::fopen(path.c_str(), "wb");
  if (!file || (size > 0 && std::fwrite(data, 1, size, file) != size) || std::fclose(file) != 0) {
    std::fprintf(stderr, "fuzz: cannot write %s\n", path.c_str());
    std::abort();
  }
  return path;
}

// Runs `parse`: returns when it succeeds or throws tv3s::Error, aborts on anything else.
template <class Parse>
void expect_project_error_only(Parse&& parse) {
  try {
    parse();
  } catch (const tv3s::Error&) {
    // The project's own answer to a bad file: correct.
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fuzz finding: an exception other than tv3s::Error escaped: %s\n",
                 e.what());
    std::abort();
  } catch (...) {
    std::fprintf(stderr, "fuzz finding: an exception of no std type escaped\n");
    std::abort();
  }
}

}  // namespace tv3s::fuzz
