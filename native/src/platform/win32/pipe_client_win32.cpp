// PipeClient's transport over a Win32 named pipe in message mode: connect, send, receive,
// close. The request logic is portable (native/src/core/pipe_session.cpp). One overlapped
// operation at a time, waited for on the client's event until the deadline.
#include <windows.h>

#include <algorithm>

#include "gamesrv/pipe_session.hpp"
#include "pipe_win32.hpp"
#include "win32_support.hpp"

namespace gamesrv {
namespace {

using platform::win32::describeError;
using win32_pipe::kReadBufferBytes;
using win32_pipe::msLeft;
using win32_pipe::peerGone;
using win32_pipe::pipeName;

struct Win32PipeClient final : PipeClient::Impl {
  HANDLE pipe = INVALID_HANDLE_VALUE;
  HANDLE event = nullptr;  // manual-reset, for the one overlapped operation at a time
  OVERLAPPED ov{};

  ~Win32PipeClient() override {
    close();
    if (event != nullptr) ::CloseHandle(event);
  }
  PipeResult connect(const std::string& path, std::chrono::milliseconds timeout) override;
  bool open() const noexcept override { return pipe != INVALID_HANDLE_VALUE; }
  void close() noexcept override {
    if (open()) ::CloseHandle(pipe);
    pipe = INVALID_HANDLE_VALUE;
  }
  PipeResult send(const std::uint8_t* bytes, std::size_t size, TimePoint deadline) override;
  // blockFor is not needed here: one overlapped read waits for the reply until the deadline.
  PipeReplyResult receive(TimePoint deadline, std::chrono::milliseconds blockFor) override;
  // One ReadFile / WriteFile, waited for until the deadline. ERROR_SUCCESS, ERROR_MORE_DATA,
  // WAIT_TIMEOUT (cancelled; the operation is over) or the error.
  DWORD transfer(bool writing, void* buf, DWORD size, DWORD& done, TimePoint deadline);
  PipeResult closedByServer();
};

}  // namespace

std::unique_ptr<PipeClient::Impl> PipeClient::Impl::create() { return std::make_unique<Win32PipeClient>(); }

DWORD Win32PipeClient::transfer(bool writing, void* buf, DWORD size, DWORD& done, TimePoint deadline) {
  done = 0;
  ov = OVERLAPPED{};
  ov.hEvent = event;
  const BOOL ok = writing ? ::WriteFile(pipe, buf, size, nullptr, &ov) : ::ReadFile(pipe, buf, size, nullptr, &ov);
  if (!ok) {
    const DWORD err = ::GetLastError();
    if (err == ERROR_IO_PENDING) {
      if (::WaitForSingleObject(event, msLeft(deadline)) != WAIT_OBJECT_0 && !HasOverlappedIoCompleted(&ov)) {
        ::CancelIoEx(pipe, &ov);
        if (!::GetOverlappedResult(pipe, &ov, &done, TRUE) && ::GetLastError() == ERROR_OPERATION_ABORTED)
          return WAIT_TIMEOUT;
        // It completed as it was being cancelled: take the result.
      }
    } else if (err != ERROR_MORE_DATA) {
      return err;
    }
  }
  return ::GetOverlappedResult(pipe, &ov, &done, FALSE) ? ERROR_SUCCESS : ::GetLastError();
}

// The server hung up; an ERROR frame it sent before (e.g. "server busy") says why.
PipeResult Win32PipeClient::closedByServer() {
  std::uint8_t buf[kReadBufferBytes];
  DWORD avail = 0, n = 0;
  bool gotFrame = false;
  if (::PeekNamedPipe(pipe, nullptr, 0, nullptr, &avail, nullptr) && avail > 0)
    gotFrame = transfer(false, buf, sizeof buf, n, SteadyClock::now() + std::chrono::milliseconds(100)) == ERROR_SUCCESS;
  close();
  return pipeClosedByServer(buf, gotFrame ? n : 0);
}

PipeResult Win32PipeClient::send(const std::uint8_t* bytes, std::size_t size, TimePoint deadline) {
  if (!open()) return pipeFailure(PipeError::NotConnected, "not connected");
  if (size > MAXDWORD) return pipeFailure(PipeError::TooLarge, std::to_string(size) + " bytes do not fit in one WriteFile");
  DWORD done = 0;
  const DWORD err = transfer(true, const_cast<std::uint8_t*>(bytes), static_cast<DWORD>(size), done, deadline);
  if (err == ERROR_SUCCESS) return {};
  if (peerGone(err)) return closedByServer();
  close();
  if (err == WAIT_TIMEOUT) return pipeFailure(PipeError::Timeout, "the server did not take the request in time; connection closed");
  return pipeFailure(PipeError::System, describeError("WriteFile", err));
}

PipeReplyResult Win32PipeClient::receive(TimePoint deadline, std::chrono::milliseconds) {
  if (!open()) return pipeReplyFailure(PipeError::NotConnected, "not connected");
  std::uint8_t buf[kReadBufferBytes];
  DWORD n = 0;
  DWORD err = transfer(false, buf, sizeof buf, n, deadline);
  std::uint64_t length = n;
  std::uint8_t rest[4096];
  while (err == ERROR_MORE_DATA) {  // an oversized reply: read it all, so the next starts clean
    err = transfer(false, rest, sizeof rest, n, deadline);
    length += n;
  }
  if (err == ERROR_SUCCESS) return pipeReplyOf(buf, static_cast<std::size_t>(length));
  close();
  if (peerGone(err)) return pipeReplyFailure(PipeError::Closed, "the server closed the connection");
  if (err == WAIT_TIMEOUT) return pipeReplyFailure(PipeError::Timeout, "no reply in time; connection closed");
  return pipeReplyFailure(PipeError::System, describeError("ReadFile", err));
}

PipeResult Win32PipeClient::connect(const std::string& path, std::chrono::milliseconds timeout) {
  std::wstring name;
  PipeResult res;
  if (!pipeName(path, name, res)) return res;
  if (event == nullptr) {
    event = ::CreateEventW(nullptr, TRUE, FALSE, nullptr);
    if (event == nullptr) return pipeFailure(PipeError::System, describeError("CreateEventW", ::GetLastError()));
  }
  const TimePoint deadline = SteadyClock::now() + timeout;
  for (;;) {
    // SECURITY_IDENTIFICATION: the server may learn who we are, never act as us.
    HANDLE h = ::CreateFileW(name.c_str(), GENERIC_READ | GENERIC_WRITE, 0, nullptr, OPEN_EXISTING,
                                FILE_FLAG_OVERLAPPED | SECURITY_SQOS_PRESENT | SECURITY_IDENTIFICATION, nullptr);
    if (h != INVALID_HANDLE_VALUE) {
      DWORD mode = PIPE_READMODE_MESSAGE;
      if (!::SetNamedPipeHandleState(h, &mode, nullptr, nullptr)) {
        const DWORD err = ::GetLastError();
        ::CloseHandle(h);
        return pipeFailure(PipeError::System, describeError(("SetNamedPipeHandleState " + path).c_str(), err));
      }
      pipe = h;
      return {};
    }
    DWORD err = ::GetLastError();
    if (err == ERROR_PIPE_BUSY) {  // every instance taken: the server makes the next one soon
      const DWORD ms = msLeft(deadline);
      if (ms > 0 && ::WaitNamedPipeW(name.c_str(), ms)) continue;
      err = ms > 0 ? ::GetLastError() : ERROR_SEM_TIMEOUT;
      if (err == ERROR_SEM_TIMEOUT || err == ERROR_PIPE_BUSY)
        return pipeFailure(PipeError::Timeout, "the server on " + path + " did not accept in time (every instance busy)");
      if (err == ERROR_FILE_NOT_FOUND) continue;  // the server went away meanwhile: CreateFileW says so
    }
    switch (err) {
      case ERROR_FILE_NOT_FOUND:
      case ERROR_PATH_NOT_FOUND:
        return pipeFailure(PipeError::NoServer, "no server listens on " + path + " (" + describeError("CreateFileW", err) + ")");
      case ERROR_ACCESS_DENIED: return pipeFailure(PipeError::PermissionDenied, describeError(("CreateFileW " + path).c_str(), err));
      case ERROR_INVALID_NAME:
      case ERROR_BAD_PATHNAME: return pipeFailure(PipeError::InvalidPath, describeError(("CreateFileW " + path).c_str(), err));
      default: return pipeFailure(PipeError::System, describeError(("CreateFileW " + path).c_str(), err));
    }
  }
}

}  // namespace gamesrv
