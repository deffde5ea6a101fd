# Fails when code under GS_SCAN_ROOT names std::shared_mutex or std::shared_timed_mutex
# (gamesrv/platform/shared_mutex.hpp says why: in the mingw-w64 build they are
# winpthreads' rwlock, which fails on a contended first use). Run at every build
# by the gamesrv_no_std_shared_mutex target:
#   cmake -DGS_SCAN_ROOT=<dir> -P cmake/check-no-std-shared-mutex.cmake
# Comment lines are not code; `#include <shared_mutex>` (for std::shared_lock) is allowed.
if(NOT GS_SCAN_ROOT)
  message(FATAL_ERROR "set GS_SCAN_ROOT")
endif()
file(GLOB_RECURSE _gs_files LIST_DIRECTORIES false
  "${GS_SCAN_ROOT}/*.cpp" "${GS_SCAN_ROOT}/*.hpp" "${GS_SCAN_ROOT}/*.h" "${GS_SCAN_ROOT}/*.cc")
set(_gs_found "")
foreach(_gs_file IN LISTS _gs_files)
  file(STRINGS "${_gs_file}" _gs_lines REGEX "shared_(timed_)?mutex")
  foreach(_gs_line IN LISTS _gs_lines)
    if(_gs_line MATCHES "^[ \t]*(//|/?\\*)")
      continue()
    endif()
    string(REGEX REPLACE "//.*$" "" _gs_line "${_gs_line}")
    if(_gs_line MATCHES "(^|[^A-Za-z0-9_<./])shared_(timed_)?mutex([^A-Za-z0-9_.>]|$)")
      string(STRIP "${_gs_line}" _gs_line)
      string(APPEND _gs_found "\n  ${_gs_file}: ${_gs_line}")
    endif()
  endforeach()
endforeach()
if(_gs_found)
  message(FATAL_ERROR "std::shared_mutex / std::shared_timed_mutex in native/; use gamesrv::platform::SharedMutex (gamesrv/platform/shared_mutex.hpp):${_gs_found}")
endif()
