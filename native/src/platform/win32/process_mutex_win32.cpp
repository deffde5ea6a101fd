// Win32 ProcessMutex (gamesrv/platform/shared_memory.hpp).
// A named kernel mutex, "Local\<segment>:<tag>:lock", stands beside the mapping; the
// storage in the segment holds its tag (so initialize() always makes a fresh one) and the
// pid of the holder. Two ways an owner can die holding it:
// - its thread ends while the mutex object lives on: the next wait returns
//   WAIT_ABANDONED, and the caller holds the mutex;
// - its process dies and no other process had the mutex open: the kernel destroys the
//   object with its last handle, and attach() creates a new, free one. The holder pid
//   left in the storage is then the only witness, so a lock that finds it set knows the
//   previous holder never unlocked.
// Both return LockResult::Recovered. Unlike a POSIX mutex, a Win32 mutex is recursive:
// a thread that locks twice does not deadlock (callers must not rely on either).

#include <atomic>
#include <cstddef>
#include <cstring>
#include <string>
#include <utility>

#include "shared_memory_win32.hpp"

namespace gamesrv::platform {

using namespace win32shm;

namespace {

constexpr std::uint32_t kMutexMagic = 0x4d575347u;  // "GSWM"

struct MutexStorage {
  std::uint32_t magic;
  std::uint32_t holderPid;  // 0 = free; written only by the holder
  std::uint64_t tag;
};
static_assert(sizeof(MutexStorage) <= kProcessMutexStorageSize);

template <class T>
std::atomic_ref<T> field(void* storage, std::size_t offset) {
  return std::atomic_ref<T>(*reinterpret_cast<T*>(static_cast<unsigned char*>(storage) + offset));
}
std::atomic_ref<std::uint32_t> holderOf(void* s) { return field<std::uint32_t>(s, offsetof(MutexStorage, holderPid)); }

ShmResult checkStorage(void* storage, const SharedSegment& segment) {
  auto* base = static_cast<unsigned char*>(segment.data());
  auto* p = static_cast<unsigned char*>(storage);
  if (base == nullptr || p < base || p + kProcessMutexStorageSize > base + segment.size() ||
      reinterpret_cast<std::uintptr_t>(p) % kProcessMutexStorageAlign != 0)
    return fail(ShmError::System, ERROR_INVALID_PARAMETER, "mutex storage outside segment " + segment.name());
  return {};
}

std::string mutexName(const SharedSegment& segment, std::uint64_t tag) {
  return indexName(segment.name()) + ":" + hex(tag) + ":lock";
}

}  // namespace

ProcessMutex::ProcessMutex(ProcessMutex&& other) noexcept { *this = std::move(other); }

ProcessMutex& ProcessMutex::operator=(ProcessMutex&& other) noexcept {
  if (this != &other) {
    if (handle_ != -1) ::CloseHandle(reinterpret_cast<HANDLE>(handle_));
    storage_ = std::exchange(other.storage_, nullptr);
    handle_ = std::exchange(other.handle_, -1);
  }
  return *this;
}

// Closes this process's handle only: the mutex belongs to the segment, and other
// processes may hold or wait on it.
ProcessMutex::~ProcessMutex() {
  if (handle_ != -1) ::CloseHandle(reinterpret_cast<HANDLE>(handle_));
}

ShmResult ProcessMutex::initialize(void* storage, const SharedSegment& segment) {
  if (ShmResult r = checkStorage(storage, segment); r.error != ShmError::None) return r;
  win32::OwnerOnlySecurity security;
  if (!security.valid()) return fail(ShmError::System, security.error(), "owner-only security descriptor");
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    const std::uint64_t tag = freshTag();
    const std::string os = mutexName(segment, tag);
    HANDLE h = ::CreateMutexW(security.get(), FALSE, win32::widen(os).c_str());
    if (h == nullptr) return failFromLastError("cannot create " + os);
    if (::GetLastError() == ERROR_ALREADY_EXISTS) {
      ::CloseHandle(h);
      continue;
    }
    std::memset(storage, 0, kProcessMutexStorageSize);
    field<std::uint64_t>(storage, offsetof(MutexStorage, tag)).store(tag, std::memory_order_relaxed);
    field<std::uint32_t>(storage, offsetof(MutexStorage, magic)).store(kMutexMagic, std::memory_order_release);
    if (handle_ != -1) ::CloseHandle(reinterpret_cast<HANDLE>(handle_));
    handle_ = reinterpret_cast<std::intptr_t>(h);
    storage_ = storage;
    return {};
  }
  return fail(ShmError::System, ERROR_ALREADY_EXISTS, "no free mutex name for " + segment.name());
}

ShmResult ProcessMutex::attach(void* storage, const SharedSegment& segment) {
  if (ShmResult r = checkStorage(storage, segment); r.error != ShmError::None) return r;
  if (field<std::uint32_t>(storage, offsetof(MutexStorage, magic)).load(std::memory_order_acquire) != kMutexMagic)
    return fail(ShmError::System, ERROR_INVALID_DATA, "no mutex was initialized in segment " + segment.name());
  const std::uint64_t tag = field<std::uint64_t>(storage, offsetof(MutexStorage, tag)).load(std::memory_order_relaxed);
  win32::OwnerOnlySecurity security;
  if (!security.valid()) return fail(ShmError::System, security.error(), "owner-only security descriptor");
  const std::string os = mutexName(segment, tag);
  // Create, not open: the object is gone if every process that had it died.
  HANDLE h = ::CreateMutexW(security.get(), FALSE, win32::widen(os).c_str());
  if (h == nullptr) return failFromLastError("cannot open " + os);
  if (handle_ != -1) ::CloseHandle(reinterpret_cast<HANDLE>(handle_));
  handle_ = reinterpret_cast<std::intptr_t>(h);
  storage_ = storage;
  return {};
}

LockResult ProcessMutex::lock() noexcept {
  if (storage_ == nullptr || handle_ == -1) return LockResult::Failed;
  const DWORD w = ::WaitForSingleObject(reinterpret_cast<HANDLE>(handle_), INFINITE);
  if (w != WAIT_OBJECT_0 && w != WAIT_ABANDONED) return LockResult::Failed;
  auto holder = holderOf(storage_);
  const bool recovered = w == WAIT_ABANDONED || holder.load(std::memory_order_relaxed) != 0;
  holder.store(::GetCurrentProcessId(), std::memory_order_relaxed);
  return recovered ? LockResult::Recovered : LockResult::Ok;
}

void ProcessMutex::unlock() noexcept {
  if (storage_ == nullptr || handle_ == -1) return;
  holderOf(storage_).store(0, std::memory_order_relaxed);
  ::ReleaseMutex(reinterpret_cast<HANDLE>(handle_));
}

}  // namespace gamesrv::platform
