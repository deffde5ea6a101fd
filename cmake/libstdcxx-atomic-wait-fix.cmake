# libstdc++ before GCC 13, on targets without a futex (mingw-w64 among them), implements
# std::atomic::wait with a mutex and condition variable that loses wake-ups: the waiter
# reads the value before taking the mutex, and notify signals without taking it, so a
# notify that lands in between is gone and the waiter sleeps forever. std::latch,
# std::counting_semaphore and std::stop_callback (hence condition_variable_any waits
# with a stop_token) are built on it, and the engine's threads hang at random under
# wine. (Reports: botan #3202, yuzu #10813; fixed upstream in GCC 13.)
#
# The code is header-only, so the fix is a patched copy of <bits/atomic_wait.h> put
# ahead of the toolchain's on the include path of every target: the waiter checks the
# value under the mutex, and notify takes the mutex. The patch is checked to apply.
#
# Include from CMakeLists.txt after project(), for mingw builds only.
find_file(_gs_atomic_wait_h bits/atomic_wait.h
  PATHS ${CMAKE_CXX_IMPLICIT_INCLUDE_DIRECTORIES}
  NO_DEFAULT_PATH NO_CMAKE_FIND_ROOT_PATH)
if(NOT _gs_atomic_wait_h)
  message(FATAL_ERROR "libstdc++ <bits/atomic_wait.h> not found in ${CMAKE_CXX_IMPLICIT_INCLUDE_DIRECTORIES}")
endif()
file(READ "${_gs_atomic_wait_h}" _gs_text)

set(_gs_wait_old [=[
	__platform_wait_t __val;
	__atomic_load(__addr, &__val, __ATOMIC_SEQ_CST);
	if (__val == __old)
	  {
	    lock_guard<mutex> __l(_M_mtx);
	    _M_cv.wait(_M_mtx);
	  }
]=])
set(_gs_wait_new [=[
	lock_guard<mutex> __l(_M_mtx);  // gamesrv: check under the mutex notify takes
	__platform_wait_t __val;
	__atomic_load(__addr, &__val, __ATOMIC_SEQ_CST);
	if (__val == __old)
	  _M_cv.wait(_M_mtx);
]=])
set(_gs_notify_old [=[
#else
	if (__all)
	  _M_cv.notify_all();
]=])
set(_gs_notify_new [=[
#else
	lock_guard<mutex> __l(_M_mtx);  // gamesrv: no notify between a waiter's check and its wait
	if (__all)
	  _M_cv.notify_all();
]=])

string(FIND "${_gs_text}" "${_gs_wait_old}" _gs_at_wait)
string(FIND "${_gs_text}" "${_gs_notify_old}" _gs_at_notify)
if(_gs_at_wait EQUAL -1 OR _gs_at_notify EQUAL -1)
  message(FATAL_ERROR "${_gs_atomic_wait_h} is not the libstdc++ 12 text this fix patches; "
                      "check whether the toolchain still needs cmake/libstdcxx-atomic-wait-fix.cmake")
endif()
string(REPLACE "${_gs_wait_old}" "${_gs_wait_new}" _gs_text "${_gs_text}")
string(REPLACE "${_gs_notify_old}" "${_gs_notify_new}" _gs_text "${_gs_text}")

set(_gs_fix_dir "${CMAKE_BINARY_DIR}/libstdcxx-fix")
# Written through a copy-if-different so an unchanged header does not rebuild everything.
file(WRITE "${_gs_fix_dir}/atomic_wait.h.new" "${_gs_text}")
execute_process(COMMAND ${CMAKE_COMMAND} -E copy_if_different "${_gs_fix_dir}/atomic_wait.h.new"
                        "${_gs_fix_dir}/bits/atomic_wait.h")
include_directories(BEFORE SYSTEM "${_gs_fix_dir}")
message(STATUS "libstdc++ atomic wait: using the patched copy in ${_gs_fix_dir}")
