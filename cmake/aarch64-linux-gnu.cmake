# Cross build for 64-bit ARM Linux (Jetson Orin's CPU: Cortex-A78AE) with Debian's cross
# toolchain, against Debian's multiarch :arm64 libraries; the tests run under qemu-aarch64.
#
#   sudo dpkg --add-architecture arm64 && sudo apt-get update
#   sudo apt-get install g++-aarch64-linux-gnu qemu-user \
#       libjpeg62-turbo-dev:arm64 libpng-dev:arm64 zlib1g-dev:arm64 \
#       libstdc++6:arm64 libgomp1:arm64
#   make test-aarch64            # cmake -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake ...
#
# CPU backend only: the CUDA toolkit for aarch64 (sm_87) is not in Debian; see the README's
# "On a Jetson". FFmpeg is off unless its :arm64 -dev packages are installed (pkg-config
# looks at the arm64 .pc files only).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
# Debian multiarch: the arm64 libraries are in /usr/lib/aarch64-linux-gnu, their headers in
# /usr/include (and /usr/include/aarch64-linux-gnu), where the cross compiler looks.
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(ENV{PKG_CONFIG_LIBDIR} /usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig)
# Orin's cores: ARMv8.2-A with NEON (Advanced SIMD) and fp16 arithmetic.
set(CMAKE_C_FLAGS_INIT "-mcpu=cortex-a78ae")
# -Wno-psabi: GCC notes that std::pair<double, double> is passed as GCC 10 changed it
# (an ABI remark for mixing objects from GCC < 10, which this build never does).
set(CMAKE_CXX_FLAGS_INIT "-mcpu=cortex-a78ae -Wno-psabi")
# Test programs (and the `tv3s` command the tests start) run through qemu's user mode
# against Debian's own arm64 runtime (libc6, libstdc++6, libgomp1 :arm64, found through
# /lib/ld-linux-aarch64.so.1), not the cross toolchain's copy under /usr/aarch64-linux-gnu
# (qemu -L): that glibc (libc6-arm64-cross 2.36-8) hangs at the first pthread_create under
# qemu-user 7.2 here — a two-line std::thread program shows it — while libc6:arm64
# 2.36-9+deb12u14 runs threads, OpenMP's included.
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64)
