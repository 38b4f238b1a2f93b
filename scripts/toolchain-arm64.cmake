# Cross-compiling for aarch64 Linux on a Debian build machine: Debian's cross gcc
# (gcc-aarch64-linux-gnu) and the arm64 libraries installed with multiarch (libpng-dev:arm64, ...;
# scripts/install-deps.sh --cross arm64 installs them; so does scripts/cross-test.sh). Tests and
# tools run under qemu-user.
#   cmake -S . -B build-arm64 -DCMAKE_TOOLCHAIN_FILE=scripts/toolchain-arm64.cmake
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)
# pkg-config reads only the arm64 .pc files (multiarch) and the architecture-independent ones
set(ENV{PKG_CONFIG_LIBDIR} "/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig")
set(ENV{PKG_CONFIG_PATH} "")
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
# ctest runs the test binaries through qemu (shell tests exec them through binfmt_misc)
find_program(SG_QEMU_AARCH64 NAMES qemu-aarch64-static qemu-aarch64)
if(SG_QEMU_AARCH64)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${SG_QEMU_AARCH64})
endif()
