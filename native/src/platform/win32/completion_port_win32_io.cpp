// The Win32 CompletionPort: handle association and what an I/O completion becomes (the
// public face is portable: native/src/core/completion_port_core.cpp). How the contract
// is kept over an IOCP: completion_port_win32.hpp.
#include "completion_port_win32.hpp"

namespace gamesrv {

namespace {

bool invalidHandle(NativeHandle h) { return h == 0 || h == -1; }

// NTSTATUS values of a finished operation that mean "the other end is gone" (an EOF on
// a file counts too): the Hangup of a readiness port. Any other error status is Error.
bool isHangup(std::uint32_t status) noexcept {
  switch (status) {
    case 0xC0000011u:  // STATUS_END_OF_FILE
    case 0xC000014Bu:  // STATUS_PIPE_BROKEN
    case 0xC00000B0u:  // STATUS_PIPE_DISCONNECTED
    case 0xC00000B1u:  // STATUS_PIPE_CLOSING
    case 0xC000013Bu:  // STATUS_LOCAL_DISCONNECT
    case 0xC000013Cu:  // STATUS_REMOTE_DISCONNECT
    case 0xC000020Du:  // STATUS_CONNECTION_RESET
    case 0xC0000241u:  // STATUS_CONNECTION_ABORTED
      return true;
    default: return false;
  }
}

}  // namespace

// The operation's final NTSTATUS is in OVERLAPPED::Internal once it has completed (what
// HasOverlappedIoCompleted() and GetOverlappedResult() read). Warnings such as
// STATUS_BUFFER_OVERFLOW (a message longer than the buffer: ERROR_MORE_DATA) are not
// errors; the caller's GetOverlappedResult() tells them apart.
CompletionPacket win32port::ioPacket(const OVERLAPPED_ENTRY& entry) noexcept {
  CompletionPacket p;
  p.key = static_cast<CompletionKey>(entry.lpCompletionKey);
  p.bytes = entry.dwNumberOfBytesTransferred;
  p.ptr = entry.lpOverlapped;
  p.kind = CompletionKind::Io;
  if (entry.lpOverlapped != nullptr) {
    const auto status = static_cast<std::uint32_t>(entry.lpOverlapped->Internal);
    if (isHangup(status)) {
      p.events = IoEvents::Hangup;
    } else if ((status >> 30) == 3u) {  // severity "error"
      p.events = IoEvents::Error;
    }
  }
  return p;
}

PortStatus IocpPort::associate(NativeHandle handle, CompletionKey key, IoEvents) {
  if (invalidHandle(handle) || key == kReservedKey) return PortStatus::InvalidArgument;
  Lock lock(mu_);
  if (closed_ || draining_) return PortStatus::Closed;
  if (associated_.count(handle) != 0) return PortStatus::InvalidArgument;
  if (::CreateIoCompletionPort(reinterpret_cast<HANDLE>(handle), port_, static_cast<ULONG_PTR>(key), 0) == nullptr) {
    const DWORD err = ::GetLastError();
    lock.unlock();
    ::SetLastError(err);
    return err == ERROR_INVALID_HANDLE || err == ERROR_INVALID_PARAMETER ? PortStatus::InvalidArgument
                                                                        : PortStatus::SystemError;
  }
  associated_.emplace(handle, key);
  return PortStatus::Ok;
}

PortStatus IocpPort::rearm(NativeHandle handle, CompletionKey key, IoEvents) {
  if (invalidHandle(handle) || key == kReservedKey) return PortStatus::InvalidArgument;
  std::lock_guard lock(mu_);
  if (closed_ || draining_) return PortStatus::Closed;
  const auto it = associated_.find(handle);
  // An IOCP cannot change a handle's key: that is refused rather than ignored.
  if (it == associated_.end() || it->second != key) return PortStatus::InvalidArgument;
  return PortStatus::Ok;
}

PortStatus IocpPort::disassociate(NativeHandle handle) {
  if (invalidHandle(handle)) return PortStatus::InvalidArgument;
  std::lock_guard lock(mu_);
  return associated_.erase(handle) != 0 ? PortStatus::Ok : PortStatus::InvalidArgument;
}

}  // namespace gamesrv
