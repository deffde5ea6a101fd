// What SharedSegment does the same on every platform; the mapping itself is the
// backend's (native/src/platform/*/shared_memory_*.cpp).
#include <utility>

#include "gamesrv/platform/shared_memory.hpp"

namespace gamesrv::platform {

const char* toString(ShmError e) noexcept {
  switch (e) {
    case ShmError::None: return "none";
    case ShmError::InvalidName: return "invalid-name";
    case ShmError::NotFound: return "not-found";
    case ShmError::AlreadyOwned: return "already-owned";
    case ShmError::PermissionDenied: return "permission-denied";
    case ShmError::Empty: return "empty";
    case ShmError::System: return "system";
  }
  return "unknown";
}

const char* toString(LockResult r) noexcept {
  switch (r) {
    case LockResult::Ok: return "ok";
    case LockResult::Recovered: return "recovered";
    case LockResult::Failed: return "failed";
  }
  return "unknown";
}

SharedSegment::SharedSegment(SharedSegment&& other) noexcept { *this = std::move(other); }

SharedSegment& SharedSegment::operator=(SharedSegment&& other) noexcept {
  if (this != &other) {
    close();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    previousSize_ = std::exchange(other.previousSize_, 0);
    owner_ = std::exchange(other.owner_, false);
    handle_ = std::exchange(other.handle_, -1);
    name_ = std::move(other.name_);
  }
  return *this;
}

SharedSegment::~SharedSegment() { close(); }

void SharedSegment::forget() noexcept {
  data_ = nullptr;
  size_ = 0;
  handle_ = -1;
  owner_ = false;
}

}  // namespace gamesrv::platform
