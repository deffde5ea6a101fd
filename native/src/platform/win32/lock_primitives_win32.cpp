// Win32 lock primitives for LockBenchmark: the seed's own comparison (4.4.1), user-mode
// CRITICAL_SECTION against the kernel Mutex, plus the neighbours a reader of that table
// asks about (spin count, SRW lock, named mutex, semaphore).
#include <array>
#include <atomic>
#include <string>

#include "gamesrv/platform/lock_primitives.hpp"
#include "win32_support.hpp"

namespace gamesrv::platform {
namespace {

constexpr std::string_view kCriticalSection = "critical_section";
constexpr std::string_view kCriticalSectionSpin = "critical_section_spin";
constexpr std::string_view kSrwLock = "srwlock";
constexpr std::string_view kMutex = "mutex";
constexpr std::string_view kNamedMutex = "named_mutex";
constexpr std::string_view kSemaphore = "semaphore";

// The spin count the heap manager uses for its own critical sections: long enough to
// outlast a short hold on another core, short enough not to burn a time slice.
constexpr DWORD kSpinCount = 4000;

constexpr std::array<LockKind, 6> kKinds{{
    {kCriticalSection, "CRITICAL_SECTION (InitializeCriticalSection): in-process, user mode until contended, "
                       "then a keyed event (the seed's baseline)"},
    {kCriticalSectionSpin, "CRITICAL_SECTION with a spin count of 4000 (InitializeCriticalSectionAndSpinCount): "
                           "spins on another core's hold before sleeping"},
    {kSrwLock, "SRWLOCK taken exclusive (AcquireSRWLockExclusive): pointer-sized, in-process, no set-up"},
    {kMutex, "unnamed kernel Mutex (CreateMutexW): a system call on every lock and unlock (the seed's Mutex)"},
    {kNamedMutex, "named kernel Mutex in the Local\\ namespace: what another process would open; "
                  "abandonment by a dead owner is reported"},
    {kSemaphore, "kernel Semaphore of count 1 (CreateSemaphoreW): a system call per lock and unlock, no owner"},
}};

std::string_view describe(std::string_view kind) {
  for (const LockKind& k : kKinds)
    if (k.name == kind) return k.description;
  return {};
}

std::error_code lastError() { return {static_cast<int>(::GetLastError()), std::system_category()}; }

std::string failure(std::string_view call) { return win32::describeError(call, ::GetLastError()); }

class CriticalSectionLock final : public LockPrimitive {
 public:
  explicit CriticalSectionLock(bool spin) : spin_(spin) {
    if (spin) {
      ::InitializeCriticalSectionAndSpinCount(&cs_, kSpinCount);  // cannot fail since Vista
    } else {
      ::InitializeCriticalSection(&cs_);
    }
  }
  ~CriticalSectionLock() override { ::DeleteCriticalSection(&cs_); }
  std::string_view name() const noexcept override { return spin_ ? kCriticalSectionSpin : kCriticalSection; }
  std::string_view description() const noexcept override { return describe(name()); }
  std::error_code lock() noexcept override {
    ::EnterCriticalSection(&cs_);
    return {};
  }
  void unlock() noexcept override { ::LeaveCriticalSection(&cs_); }

 private:
  const bool spin_;
  CRITICAL_SECTION cs_;
};

class SrwLock final : public LockPrimitive {
 public:
  std::string_view name() const noexcept override { return kSrwLock; }
  std::string_view description() const noexcept override { return describe(kSrwLock); }
  std::error_code lock() noexcept override {
    ::AcquireSRWLockExclusive(&lock_);
    return {};
  }
  void unlock() noexcept override { ::ReleaseSRWLockExclusive(&lock_); }

 private:
  SRWLOCK lock_ = SRWLOCK_INIT;
};

// Mutex (named or not) and Semaphore: one kernel object waited on with
// WaitForSingleObject. A Mutex whose owning thread ended without releasing it comes
// back WAIT_ABANDONED: the caller then holds it, which is the recovery the interface
// asks for (a benchmark counter has no invariant to repair).
class KernelObjectLock final : public LockPrimitive {
 public:
  enum class Type { Mutex, NamedMutex, Semaphore };

  static LockPrimitiveResult create(Type type) {
    HANDLE h = nullptr;
    std::string call;
    if (type == Type::Semaphore) {
      h = ::CreateSemaphoreW(nullptr, 1, 1, nullptr);
      call = "CreateSemaphoreW(1, 1)";
    } else if (type == Type::Mutex) {
      h = ::CreateMutexW(nullptr, FALSE, nullptr);
      call = "CreateMutexW(unnamed)";
    } else {
      // A name unique to this process and call: a name that already exists is someone
      // else's object (or a leftover), never ours to share.
      static std::atomic<unsigned> sequence{0};
      win32::OwnerOnlySecurity security;
      if (!security.valid()) return {nullptr, win32::describeError("owner-only security descriptor", security.error())};
      for (int attempt = 0; attempt < 8; ++attempt) {
        const std::string name = "Local\\gamesrv-lockbench-" + std::to_string(::GetCurrentProcessId()) + "-" +
                                 std::to_string(sequence.fetch_add(1));
        call = "CreateMutexW(" + name + ")";
        h = ::CreateMutexW(security.get(), FALSE, win32::widen(name).c_str());
        if (h == nullptr || ::GetLastError() != ERROR_ALREADY_EXISTS) break;
        ::CloseHandle(h);
        h = nullptr;
        ::SetLastError(ERROR_ALREADY_EXISTS);
      }
    }
    if (h == nullptr) return {nullptr, failure(call)};
    return {std::unique_ptr<LockPrimitive>(new KernelObjectLock(type, h)), {}};
  }

  ~KernelObjectLock() override { ::CloseHandle(h_); }

  std::string_view name() const noexcept override {
    switch (type_) {
      case Type::Mutex: return kMutex;
      case Type::NamedMutex: return kNamedMutex;
      case Type::Semaphore: return kSemaphore;
    }
    return {};
  }
  std::string_view description() const noexcept override { return describe(name()); }

  std::error_code lock() noexcept override {
    switch (::WaitForSingleObject(h_, INFINITE)) {
      case WAIT_OBJECT_0:
      case WAIT_ABANDONED: return {};
      case WAIT_FAILED: return lastError();
      default: return std::make_error_code(std::errc::resource_unavailable_try_again);
    }
  }
  void unlock() noexcept override {
    if (type_ == Type::Semaphore) {
      ::ReleaseSemaphore(h_, 1, nullptr);
    } else {
      ::ReleaseMutex(h_);
    }
  }

 private:
  KernelObjectLock(Type type, HANDLE h) : type_(type), h_(h) {}
  const Type type_;
  const HANDLE h_;
};

}  // namespace

std::span<const LockKind> lockKinds() noexcept { return kKinds; }

LockPrimitiveResult makeLockPrimitive(std::string_view kind) {
  if (kind == kCriticalSection) return {std::make_unique<CriticalSectionLock>(false), {}};
  if (kind == kCriticalSectionSpin) return {std::make_unique<CriticalSectionLock>(true), {}};
  if (kind == kSrwLock) return {std::make_unique<SrwLock>(), {}};
  if (kind == kMutex) return KernelObjectLock::create(KernelObjectLock::Type::Mutex);
  if (kind == kNamedMutex) return KernelObjectLock::create(KernelObjectLock::Type::NamedMutex);
  if (kind == kSemaphore) return KernelObjectLock::create(KernelObjectLock::Type::Semaphore);
  return {nullptr, "unknown lock kind '" + std::string(kind) + "'"};
}

}  // namespace gamesrv::platform
