// Lock primitives of the host OS behind one interface, for LockBenchmark (seed 4.4.1).
//
// Each platform backend (native/src/platform/<os>/lock_primitives_<os>.cpp) lists the
// kinds it offers and builds them by name. The first kind listed is the platform's
// in-process user-mode lock (the CRITICAL_SECTION analog): benchmarks use it as the
// baseline. The others are the process-shared or kernel-backed primitives it is
// compared with.
//
// Thread safety: lockKinds() and makeLockPrimitive() are safe from any thread. A
// LockPrimitive's lock()/unlock() are called concurrently by many threads (that is the
// point); name()/description() are immutable. Create and destroy a primitive on one
// thread, never while another thread holds it or waits for it.
#pragma once
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <system_error>

namespace gamesrv::platform {

struct LockKind {
  std::string_view name;         // stable identifier, snake_case: "std_mutex", "sysv_semaphore"
  std::string_view description;  // one line: what it is and what it maps to
};

class LockPrimitive {
 public:
  virtual ~LockPrimitive() = default;

  virtual std::string_view name() const noexcept = 0;
  virtual std::string_view description() const noexcept = 0;

  // Blocks until the calling thread holds the lock. An empty error_code means it does;
  // any other value means the primitive failed and the lock is not held. Interrupted
  // waits are retried, never reported. An owner that died holding a process-shared
  // lock is recovered (the lock is then held), not reported as a failure.
  [[nodiscard]] virtual std::error_code lock() noexcept = 0;
  // Requires: the calling thread holds the lock.
  virtual void unlock() noexcept = 0;

 protected:
  LockPrimitive() = default;
  LockPrimitive(const LockPrimitive&) = delete;
  LockPrimitive& operator=(const LockPrimitive&) = delete;
};

// The kinds this platform implements, in benchmark order; [0] is the baseline.
std::span<const LockKind> lockKinds() noexcept;

struct LockPrimitiveResult {
  std::unique_ptr<LockPrimitive> lock;  // null on failure
  std::string error;                    // on failure: the call that failed and why
};

// Builds a lock of the named kind. Setting one up can fail (no SysV IPC in a container,
// no /dev/shm): that is a result, not an exception. An unknown name is a failure too.
LockPrimitiveResult makeLockPrimitive(std::string_view kind);

}  // namespace gamesrv::platform
