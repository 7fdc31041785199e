// `tv3s info`: what this build is and what it can see — build options, CUDA runtime and
// driver, the GPU, cuBLAS/cuDNN versions, OpenMP threads. "no GPU" is said plainly.
#include <omp.h>

#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

#include "src/cli/commands.h"
#include "src/core/cuda_context.h"
#include "src/io/video_reader.h"
#include "tv3s/version.h"
#if TV3S_WITH_CUDNN
#include <cudnn.h>
#endif

namespace tv3s::cli {
namespace {

std::string version_string(int v) {  // CUDA encodes 12040 as 12.4
  return std::to_string(v / 1000) + "." + std::to_string((v % 1000) / 10);
}

nlohmann::ordered_json collect_info() {
  nlohmann::ordered_json j;
  j["version"] = TV3S_VERSION_STRING;
  j["build_type"] = TV3S_BUILD_TYPE;
  j["compiler"] = TV3S_CXX_COMPILER;
  j["cpu_native"] = bool(TV3S_NATIVE_BUILD);  // -march=native
  j["cuda_built"] = bool(TV3S_WITH_CUDA);
  j["openmp_threads"] = omp_get_max_threads();
  j["ffmpeg"] = io::ffmpeg_summary();
#if TV3S_CUDA_EMULATOR
  // The kernels were compiled for the host and run in cuda/emulator/: no GPU, no driver.
  j["cuda_emulated"] = true;
  j["cuda_architectures"] = "none: the kernels run in the CUDA emulator on the CPU";
#elif TV3S_WITH_CUDA
  j["cuda_emulated"] = false;
  j["cuda_architectures"] = TV3S_CUDA_ARCHS_STRING;
#endif
#if TV3S_WITH_CUDA
  int runtime = 0, driver = 0;
  cudaRuntimeGetVersion(&runtime);
  if (cudaDriverGetVersion(&driver) != cudaSuccess) driver = 0;
  j["cuda_runtime"] = version_string(runtime);
  j["cuda_driver"] = driver ? version_string(driver) : "none (no NVIDIA driver)";
  int cublas_version = 0;
  cublasGetProperty(MAJOR_VERSION, &cublas_version);
  int minor = 0, patch = 0;
  cublasGetProperty(MINOR_VERSION, &minor);
  cublasGetProperty(PATCH_LEVEL, &patch);
  j["cublas"] = std::to_string(cublas_version) + "." + std::to_string(minor) + "." + std::to_string(patch);
#if TV3S_WITH_CUDNN
  const size_t cudnn = cudnnGetVersion();  // e.g. 90300 = 9.3.0
  j["cudnn"] = std::to_string(cudnn / 10000) + "." + std::to_string(cudnn / 100 % 100) + "." +
               std::to_string(cudnn % 100);
#else
  j["cudnn"] = "not built";
#endif
  if (cuda::available()) {
    int device = 0;
    cudaGetDevice(&device);
    cudaDeviceProp prop{};
    cudaGetDeviceProperties(&prop, device);
    j["gpu"] = prop.name;
    j["gpu_compute_capability"] = std::to_string(prop.major) + "." + std::to_string(prop.minor);
    j["gpu_memory_bytes"] = prop.totalGlobalMem;
    j["gpu_multiprocessors"] = prop.multiProcessorCount;
  } else {
    j["gpu"] = nullptr;
  }
#endif
  return j;
}

}  // namespace

int run_info(int argc, char** argv) {
  bool json = false;
  for (int i = 0; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--json") {
      json = true;
    } else if (arg == "--help" || arg == "-h") {
      std::puts("usage: tv3s info [--json]\n"
                "  Prints the build configuration and the CUDA devices this process can use.");
      return 0;
    } else {
      std::fprintf(stderr, "tv3s info: unknown option '%s'\n", arg.c_str());
      return 2;
    }
  }
  const auto j = collect_info();
  if (json) {
    std::puts(j.dump(2).c_str());
    return 0;
  }
  std::printf("tv3s %s (%s build, %s)\n", TV3S_VERSION_STRING, TV3S_BUILD_TYPE, TV3S_CXX_COMPILER);
  std::printf("  OpenMP threads   %d\n", j["openmp_threads"].get<int>());
  std::printf("  CPU code         %s\n", j["cpu_native"].get<bool>() ? "-march=native" : "generic (no -march=native)");
  std::printf("  FFmpeg (video)   %s\n", j["ffmpeg"].get<std::string>().c_str());
  if (!j["cuda_built"].get<bool>()) {
    std::puts("  CUDA             not built (CPU-only build)\n  GPU              no GPU");
    return 0;
  }
  if (j["cuda_emulated"].get<bool>()) {
    std::puts("  CUDA             emulated on the CPU (-DTV3S_CUDA_EMULATOR=ON): every kernel runs on\n"
              "                   the host with CUDA's semantics and checks; no GPU or driver is used");
  } else {
    std::printf("  CUDA built for   sm_{%s}\n", j["cuda_architectures"].get<std::string>().c_str());
  }
  std::printf("  CUDA runtime     %s\n", j["cuda_runtime"].get<std::string>().c_str());
  std::printf("  CUDA driver      %s\n", j["cuda_driver"].get<std::string>().c_str());
  std::printf("  cuBLAS           %s\n", j["cublas"].get<std::string>().c_str());
  std::printf("  cuDNN            %s\n", j["cudnn"].get<std::string>().c_str());
  if (j["gpu"].is_null()) {
    std::puts("  GPU              no GPU (CUDA tensors unavailable; the CPU backend is used)");
  } else if (j["cuda_emulated"].get<bool>()) {
    std::printf("  CUDA device      %s (emulated on the CPU: %d host threads run its blocks)\n",
                j["gpu"].get<std::string>().c_str(), j["gpu_multiprocessors"].get<int>());
  } else {
    std::printf("  GPU              %s (compute %s, %d SMs, %.1f GiB)\n",
                j["gpu"].get<std::string>().c_str(),
                j["gpu_compute_capability"].get<std::string>().c_str(),
                j["gpu_multiprocessors"].get<int>(),
                double(j["gpu_memory_bytes"].get<size_t>()) / (1024.0 * 1024 * 1024));
  }
  return 0;
}

}  // namespace tv3s::cli
