// POSIX shared memory: shm_open + ftruncate + mmap.
//
// Ownership of a name is an open-file-description (OFD) write lock on the segment:
// the kernel drops it when the owner's last descriptor closes, including when the
// process dies, and closing some *other* descriptor of the same file (a reader in the
// same process) does not drop it, unlike classic per-process fcntl locks. Readers ask
// whether it is held with F_OFD_GETLK, an exact liveness test that needs no pid.
// Where OFD locks do not exist, flock() provides the claim and liveness is unknown.
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <utility>

#include "gamesrv/platform/shared_memory.hpp"

namespace gamesrv::platform {

static_assert(sizeof(pthread_mutex_t) <= kProcessMutexStorageSize, "ProcessMutex storage too small");
static_assert(alignof(pthread_mutex_t) <= kProcessMutexStorageAlign, "ProcessMutex storage under-aligned");

namespace {

constexpr std::size_t kMaxNameLength = 200;  // well under NAME_MAX (255) with the "/"
constexpr int kClaimAttempts = 8;

bool validName(std::string_view name) {
  if (name.empty() || name.size() > kMaxNameLength) return false;
  for (char c : name)
    if (c == '/' || c == '\\' || c == '\0') return false;
  return true;
}

std::string osName(std::string_view name) { return "/" + std::string(name); }

ShmResult fail(ShmError e, int err, std::string detail) {
  if (err != 0) {
    detail += ": ";
    detail += std::strerror(err);
  }
  return ShmResult{e, err, std::move(detail)};
}

ShmResult failFromErrno(int err, const std::string& what, const std::string& os) {
  ShmError e = ShmError::System;
  if (err == ENOENT) e = ShmError::NotFound;
  if (err == EACCES || err == EPERM) e = ShmError::PermissionDenied;
  return fail(e, err, what + " " + os);
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

// Nonblocking claim of the whole file. Returns 0 or an errno (EAGAIN: held elsewhere).
int claim(int fd) {
#ifdef F_OFD_SETLK
  struct flock fl {};
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  fl.l_start = 0;
  fl.l_len = 0;
  if (::fcntl(fd, F_OFD_SETLK, &fl) == 0) return 0;
  return (errno == EACCES) ? EAGAIN : errno;
#else
  if (::flock(fd, LOCK_EX | LOCK_NB) == 0) return 0;
  return (errno == EWOULDBLOCK) ? EAGAIN : errno;
#endif
}

// Does `name` still refer to the file open on `fd`? (A racing owner may have unlinked
// it and created a new one between our open and our claim.)
bool nameRefersTo(int fd, const std::string& os) {
  Fd probe(::shm_open(os.c_str(), O_RDONLY | O_CLOEXEC, 0));
  if (probe.get() < 0) return false;
  struct stat a {}, b {};
  if (::fstat(fd, &a) != 0 || ::fstat(probe.get(), &b) != 0) return false;
  return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

}  // namespace

void SharedSegment::close() noexcept {
  if (data_ != nullptr) ::munmap(data_, size_);
  if (handle_ >= 0) ::close(static_cast<int>(handle_));
  forget();
}

ShmResult SharedSegment::acquireOwner(std::string_view name, std::size_t size, SharedSegment& out) {
  if (!validName(name)) return fail(ShmError::InvalidName, 0, "invalid segment name '" + std::string(name) + "'");
  if (size == 0) return fail(ShmError::System, EINVAL, "segment size 0 for " + std::string(name));
  const std::string os = osName(name);
  for (int attempt = 0; attempt < kClaimAttempts; ++attempt) {
    int raw = ::shm_open(os.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (raw < 0 && errno == EEXIST) {
      raw = ::shm_open(os.c_str(), O_RDWR | O_CLOEXEC, 0);
      if (raw < 0 && errno == ENOENT) continue;  // removed under us: create again
    }
    if (raw < 0) return failFromErrno(errno, "cannot open", os);
    Fd fd(raw);
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) return failFromErrno(errno, "cannot stat", os);
    if (st.st_uid != ::geteuid())
      return fail(ShmError::PermissionDenied, 0,
                  os + " belongs to uid " + std::to_string(st.st_uid) + ", not to this user");
    if (const int err = claim(fd.get()); err != 0) {
      if (err == EAGAIN) return fail(ShmError::AlreadyOwned, 0, os + " is owned by a live process");
      return failFromErrno(err, "cannot lock", os);
    }
    if (!nameRefersTo(fd.get(), os)) continue;
    // We own the name now; nobody else can resize or remove it.
    if (::fstat(fd.get(), &st) != 0) return failFromErrno(errno, "cannot stat", os);
    const auto previous = static_cast<std::size_t>(st.st_size);
    if (previous != 0 && previous != size) {
      // Abandoned, different layout. Shrinking in place could fault a reader that still
      // maps it, so replace the name and let the next round create a fresh segment.
      ::shm_unlink(os.c_str());
      continue;
    }
    if (previous == 0 && ::ftruncate(fd.get(), static_cast<off_t>(size)) != 0)
      return failFromErrno(errno, "cannot size", os);
    if ((st.st_mode & 0777) != 0600) ::fchmod(fd.get(), 0600);
    void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
    if (p == MAP_FAILED) return failFromErrno(errno, "cannot map", os);
    out.close();
    out.data_ = p;
    out.size_ = size;
    out.previousSize_ = previous;
    out.owner_ = true;
    out.handle_ = fd.release();
    out.name_ = std::string(name);
    return {};
  }
  return fail(ShmError::AlreadyOwned, 0, os + " keeps being replaced by another process");
}

ShmResult SharedSegment::open(std::string_view name, ShmAccess access, SharedSegment& out) {
  if (!validName(name)) return fail(ShmError::InvalidName, 0, "invalid segment name '" + std::string(name) + "'");
  const std::string os = osName(name);
  const bool rw = access == ShmAccess::ReadWrite;
  Fd fd(::shm_open(os.c_str(), (rw ? O_RDWR : O_RDONLY) | O_CLOEXEC, 0));
  if (fd.get() < 0) return failFromErrno(errno, "cannot open", os);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return failFromErrno(errno, "cannot stat", os);
  const auto size = static_cast<std::size_t>(st.st_size);
  if (size == 0) return fail(ShmError::Empty, 0, os + " exists but is still empty");
  void* p = ::mmap(nullptr, size, rw ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED, fd.get(), 0);
  if (p == MAP_FAILED) return failFromErrno(errno, "cannot map", os);
  out.close();
  out.data_ = p;
  out.size_ = size;
  out.previousSize_ = size;
  out.owner_ = false;
  out.handle_ = fd.release();
  out.name_ = std::string(name);
  return {};
}

std::optional<bool> SharedSegment::ownerAlive() const {
  if (handle_ < 0) return std::nullopt;
  if (owner_) return true;
#ifdef F_OFD_GETLK
  struct flock fl {};
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  fl.l_start = 0;
  fl.l_len = 0;
  if (::fcntl(static_cast<int>(handle_), F_OFD_GETLK, &fl) != 0) return std::nullopt;
  return fl.l_type != F_UNLCK;
#else
  return std::nullopt;
#endif
}

bool SharedSegment::unlink() {
  if (!owner_ || handle_ < 0) return false;
  const std::string os = osName(name_);
  if (!nameRefersTo(static_cast<int>(handle_), os)) return false;
  return ::shm_unlink(os.c_str()) == 0;
}

// --- ProcessMutex ------------------------------------------------------------------

namespace {
ShmResult checkStorage(void* storage, const SharedSegment& segment) {
  auto* base = static_cast<unsigned char*>(segment.data());
  auto* p = static_cast<unsigned char*>(storage);
  if (base == nullptr || p < base || p + kProcessMutexStorageSize > base + segment.size() ||
      reinterpret_cast<std::uintptr_t>(p) % kProcessMutexStorageAlign != 0)
    return fail(ShmError::System, EINVAL, "mutex storage outside segment " + segment.name());
  return {};
}
}  // namespace

ProcessMutex::ProcessMutex(ProcessMutex&& other) noexcept { *this = std::move(other); }

ProcessMutex& ProcessMutex::operator=(ProcessMutex&& other) noexcept {
  storage_ = std::exchange(other.storage_, nullptr);
  handle_ = std::exchange(other.handle_, -1);
  return *this;
}

// Never pthread_mutex_destroy: the mutex belongs to the segment, and other processes
// may hold or wait on it after this handle is gone.
ProcessMutex::~ProcessMutex() = default;

ShmResult ProcessMutex::initialize(void* storage, const SharedSegment& segment) {
  if (ShmResult r = checkStorage(storage, segment); r.error != ShmError::None) return r;
  std::memset(storage, 0, kProcessMutexStorageSize);
  pthread_mutexattr_t attr;
  int rc = pthread_mutexattr_init(&attr);
  if (rc == 0) rc = pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
  if (rc == 0) rc = pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
  if (rc == 0) rc = pthread_mutex_init(static_cast<pthread_mutex_t*>(storage), &attr);
  pthread_mutexattr_destroy(&attr);
  if (rc != 0) return fail(ShmError::System, rc, "cannot initialize the mutex of " + segment.name());
  storage_ = storage;
  return {};
}

ShmResult ProcessMutex::attach(void* storage, const SharedSegment& segment) {
  if (ShmResult r = checkStorage(storage, segment); r.error != ShmError::None) return r;
  storage_ = storage;
  return {};
}

LockResult ProcessMutex::lock() noexcept {
  if (storage_ == nullptr) return LockResult::Failed;
  auto* m = static_cast<pthread_mutex_t*>(storage_);
  const int rc = pthread_mutex_lock(m);
  if (rc == 0) return LockResult::Ok;
  if (rc == EOWNERDEAD) {
    if (pthread_mutex_consistent(m) == 0) return LockResult::Recovered;
    pthread_mutex_unlock(m);  // leaves it not-recoverable, which is all we can do
  }
  return LockResult::Failed;  // ENOTRECOVERABLE, EINVAL
}

void ProcessMutex::unlock() noexcept {
  if (storage_ != nullptr) pthread_mutex_unlock(static_cast<pthread_mutex_t*>(storage_));
}

}  // namespace gamesrv::platform
