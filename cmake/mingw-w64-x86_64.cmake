# Cross-compiles the native core and its tests for Windows x64 with mingw-w64 (the Debian
# package g++-mingw-w64-x86-64-posix). The "-posix" compiler links winpthreads, which is
# what gives libstdc++ std::thread, std::mutex and std::jthread; the "-win32" variant
# has none of them in GCC 12.
#
#   cmake -S . -B build-win -DCMAKE_TOOLCHAIN_FILE=cmake/mingw-w64-x86_64.cmake
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)

set(_gs_triple x86_64-w64-mingw32)
set(CMAKE_C_COMPILER ${_gs_triple}-gcc-posix)
set(CMAKE_CXX_COMPILER ${_gs_triple}-g++-posix)
set(CMAKE_RC_COMPILER ${_gs_triple}-windres)
set(CMAKE_AR ${_gs_triple}-ar CACHE FILEPATH "")
set(CMAKE_RANLIB ${_gs_triple}-ranlib CACHE FILEPATH "")

set(CMAKE_FIND_ROOT_PATH /usr/${_gs_triple})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# Executables carry libstdc++, libgcc and winpthreads inside them: wine (and a Windows
# machine without mingw) then needs no DLL beside the .exe.
set(CMAKE_EXE_LINKER_FLAGS_INIT "-static")

# ctest runs the test executables under wine (CMake's cross-compiling emulator hook);
# scripts/win-test.sh sets up the wine prefix they need.
find_program(GAMESRV_WINE64 NAMES wine64 PATHS /usr/lib/wine NO_CMAKE_FIND_ROOT_PATH)
if(GAMESRV_WINE64)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${GAMESRV_WINE64})
endif()
