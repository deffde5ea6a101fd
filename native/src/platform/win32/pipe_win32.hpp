// What the Win32 pipe server and client share: pipe names and the errors that mean the
// peer left. The pipe's portable half: gamesrv/pipe_session.hpp.
#pragma once
#include <windows.h>

#include <string>
#include <string_view>

#include "gamesrv/clock.hpp"
#include "gamesrv/pipe.hpp"

namespace gamesrv::win32_pipe {

inline constexpr DWORD kReadBufferBytes = kPipeFrameBytes + 1;  // one more, to see oversized messages
inline constexpr std::string_view kPipePrefix = "\\\\.\\pipe\\";

// The peer went away (clean end of the connection), as opposed to an I/O failure.
inline bool peerGone(DWORD err) {
  return err == ERROR_BROKEN_PIPE || err == ERROR_PIPE_NOT_CONNECTED || err == ERROR_NO_DATA;
}

// "\\.\pipe\<name>": the prefix (any case), a non-empty name without '\', 256 characters
// in all; UTF-8 that does not convert is refused too.
bool pipeName(const std::string& path, std::wstring& out, PipeResult& error);

// Milliseconds left until `deadline`, rounded up (so a wait never ends before it).
DWORD msLeft(TimePoint deadline);

}  // namespace gamesrv::win32_pipe
