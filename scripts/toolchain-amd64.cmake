# Cross-compiling for x86-64 Linux on another Debian build machine (an arm64 one: the Dockerfile's
# build stage for linux/amd64 on Apple Silicon or Graviton): Debian's cross gcc
# (gcc-x86-64-linux-gnu) and the amd64 libraries installed with multiarch (libpng-dev:amd64, ...;
# scripts/install-deps.sh --cross amd64 installs them).
#   cmake -S . -B build-amd64 -DCMAKE_TOOLCHAIN_FILE=scripts/toolchain-amd64.cmake
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR x86_64)
set(CMAKE_C_COMPILER x86_64-linux-gnu-gcc)
set(CMAKE_LIBRARY_ARCHITECTURE x86_64-linux-gnu)
# pkg-config reads only the amd64 .pc files (multiarch) and the architecture-independent ones
set(ENV{PKG_CONFIG_LIBDIR} "/usr/lib/x86_64-linux-gnu/pkgconfig:/usr/share/pkgconfig")
set(ENV{PKG_CONFIG_PATH} "")
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
