// Named shared-memory segments and a process-shared, owner-death-aware mutex.
// Implemented once per platform under native/src/platform/ (posix: shm_open + mmap,
// an OFD record lock for ownership, a robust pthread mutex; win32: named file mappings
// in Local\, named events for ownership, a named kernel mutex; see
// shared_memory_win32.cpp for how unlink and ownership are rebuilt there).
//
// Win32 differences: ':' is reserved in names (InvalidName); a segment whose owner died
// survives only while some process still maps it, so acquireOwner() then starts a fresh
// segment (previousSize 0) where POSIX would hand back the abandoned bytes.
//
// The layer knows nothing about what the bytes mean: the monitor (gamesrv/monitor.hpp)
// owns the layout and its validation.
//
// Ownership: at most one live process owns a segment name (the writer). The claim is
// held by the OS for the owner's lifetime and dropped by the kernel when the owner dies,
// so a crashed writer never leaves the name wedged, and "is the owner alive?" has an
// exact answer without trusting a pid (which the OS may reuse).
//
// Thread safety: a SharedSegment is not synchronized; share it between threads only
// for reads of data()/size(). ProcessMutex::lock()/unlock() are safe from any thread of
// any process that mapped the segment.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace gamesrv::platform {

enum class ShmError {
  None,
  InvalidName,       // empty, too long, or holds a path separator
  NotFound,          // no segment by that name
  AlreadyOwned,      // another live process (or another SharedSegment in this one) owns it
  PermissionDenied,  // exists but belongs to another user, or mode forbids access
  Empty,             // exists with no bytes yet: its creator is still setting it up (or died)
  System,            // any other OS failure; see errnum / detail
};
const char* toString(ShmError e) noexcept;

enum class ShmAccess { ReadOnly, ReadWrite };

class SharedSegment;

struct ShmResult {
  ShmError error = ShmError::None;
  int errnum = 0;      // OS error code when error == System (errno / GetLastError)
  std::string detail;  // human-readable, names the segment
};

// A mapping of one named segment. Move-only; the destructor unmaps and closes (and so
// releases ownership) but never unlinks: only the owner's explicit unlink() removes a name.
class SharedSegment {
 public:
  SharedSegment() = default;
  SharedSegment(SharedSegment&& other) noexcept;
  SharedSegment& operator=(SharedSegment&& other) noexcept;
  SharedSegment(const SharedSegment&) = delete;
  SharedSegment& operator=(const SharedSegment&) = delete;
  ~SharedSegment();

  // Creates the segment `name` (mode 0600, owner-only) or claims an existing one whose
  // owner is gone, and maps it read-write with exactly `size` bytes. `name` is portable
  // ("gamesrv-foo"); the backend adds its own prefix ("/" on POSIX, "Local\" on Win32).
  // On success previousSize() tells what was there: 0 = brand new (zero-filled), equal
  // to `size` = an abandoned segment whose bytes are kept for the caller to validate.
  // An abandoned segment of another size is replaced by a fresh one (so a reader that
  // still maps the old one never faults on a shrunk file). A segment held by a live
  // owner fails with AlreadyOwned.
  static ShmResult acquireOwner(std::string_view name, std::size_t size, SharedSegment& out);

  // Maps an existing segment in full, without claiming it (readers, tools, tests).
  static ShmResult open(std::string_view name, ShmAccess access, SharedSegment& out);

  bool valid() const noexcept { return data_ != nullptr; }
  void* data() const noexcept { return data_; }
  std::size_t size() const noexcept { return size_; }
  bool owner() const noexcept { return owner_; }
  std::size_t previousSize() const noexcept { return previousSize_; }
  const std::string& name() const noexcept { return name_; }

  // Is some process (possibly this one, through another SharedSegment) the live owner of
  // this segment? nullopt if the OS cannot tell; callers then fall back on a pid check.
  // One system call; keep it off hot paths.
  std::optional<bool> ownerAlive() const;

  // Owner only: removes the name so new open() calls fail with NotFound; existing mappings
  // stay valid. Skips the removal if the name was meanwhile re-pointed at another segment.
  // Returns false if there was nothing of ours to remove.
  bool unlink();

  // Unmaps and closes now (what the destructor does).
  void close() noexcept;

 private:
  void forget() noexcept;  // the state of a closed segment (after the backend let go)

  void* data_ = nullptr;
  std::size_t size_ = 0;
  std::size_t previousSize_ = 0;
  bool owner_ = false;
  std::intptr_t handle_ = -1;  // fd on POSIX; on Win32 the backend's record of its handles
  std::string name_;           // portable name, as given
};

// Bytes a ProcessMutex occupies inside a segment (opaque; pthread_mutex_t on POSIX; on
// Win32 the name tag of a kernel mutex beside the mapping, and the pid of its holder).
inline constexpr std::size_t kProcessMutexStorageSize = 64;
inline constexpr std::size_t kProcessMutexStorageAlign = 8;

enum class LockResult {
  Ok,
  Recovered,  // the previous owner died holding the lock; the caller now owns it and must
              // assume the data it guards was left half-written
  Failed,
};
const char* toString(LockResult r) noexcept;

// A mutex shared by every process that maps a segment. If a holder dies, the next
// lock() gets it with LockResult::Recovered instead of blocking forever or failing.
// The storage lives in the segment; this object is only a handle to it.
class ProcessMutex {
 public:
  ProcessMutex() = default;
  ProcessMutex(ProcessMutex&& other) noexcept;
  ProcessMutex& operator=(ProcessMutex&& other) noexcept;
  ProcessMutex(const ProcessMutex&) = delete;
  ProcessMutex& operator=(const ProcessMutex&) = delete;
  ~ProcessMutex();

  // Creates a fresh, unlocked mutex in `storage` (kProcessMutexStorageSize bytes,
  // kProcessMutexStorageAlign aligned, inside `segment`). Requires: the caller owns the
  // segment and no process holds or waits on whatever was in `storage` before.
  ShmResult initialize(void* storage, const SharedSegment& segment);
  // Binds to a mutex that another process (or an earlier owner) initialized.
  ShmResult attach(void* storage, const SharedSegment& segment);

  LockResult lock() noexcept;
  void unlock() noexcept;

 private:
  void* storage_ = nullptr;
  std::intptr_t handle_ = -1;  // unused on POSIX; a named mutex HANDLE on Win32
};

}  // namespace gamesrv::platform
