// The pipe on Win32 only: \\.\pipe\ names, the owner-only DACL, messages no POSIX peer
// can send (zero-length, far over the frame size), a raw overlapped peer that writes
// without reading, and the client's mapping of what other pipe owners do (busy,
// access denied). The cases every backend shares are in test_pipe.cpp.
#include <windows.h>
#include <aclapi.h>
#include <sddl.h>

#include <atomic>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "pipe_test_support.hpp"

using namespace gamesrv;
using namespace pipetest;
using namespace std::chrono_literals;

namespace {

std::wstring wide(const std::string& s) { return std::wstring(s.begin(), s.end()); }  // test paths are ASCII

// A raw client handle on `path` (overlapped, message read mode), as any Win32 program would open it.
HANDLE rawClient(const std::string& path, DWORD access = GENERIC_READ | GENERIC_WRITE) {
  HANDLE h = ::CreateFileW(wide(path).c_str(), access, 0, nullptr, OPEN_EXISTING, FILE_FLAG_OVERLAPPED, nullptr);
  if (h == INVALID_HANDLE_VALUE) return h;
  DWORD mode = PIPE_READMODE_MESSAGE;
  if ((access & GENERIC_WRITE) != 0) ::SetNamedPipeHandleState(h, &mode, nullptr, nullptr);
  return h;
}

// One overlapped transfer on `h`, waited for. Returns the error (ERROR_SUCCESS) and the byte count.
DWORD transfer(HANDLE h, bool writing, void* buf, DWORD size, DWORD& done) {
  OVERLAPPED ov{};
  ov.hEvent = ::CreateEventW(nullptr, TRUE, FALSE, nullptr);
  BOOL ok = writing ? ::WriteFile(h, buf, size, nullptr, &ov) : ::ReadFile(h, buf, size, nullptr, &ov);
  DWORD err = ok ? ERROR_SUCCESS : ::GetLastError();
  if (ok || err == ERROR_IO_PENDING || err == ERROR_MORE_DATA)
    err = ::GetOverlappedResult(h, &ov, &done, TRUE) ? ERROR_SUCCESS : ::GetLastError();
  ::CloseHandle(ov.hEvent);
  return err;
}

std::string currentUserSid() {
  HANDLE token = nullptr;
  CHECK(::OpenProcessToken(::GetCurrentProcess(), TOKEN_QUERY, &token));
  std::vector<std::uint8_t> buf(512);
  DWORD need = 0;
  const bool got = ::GetTokenInformation(token, TokenUser, buf.data(), static_cast<DWORD>(buf.size()), &need);
  ::CloseHandle(token);
  CHECK(got);
  LPSTR text = nullptr;
  CHECK(::ConvertSidToStringSidA(reinterpret_cast<TOKEN_USER*>(buf.data())->User.Sid, &text));
  std::string sid(text);
  ::LocalFree(text);
  return sid;
}

}  // namespace

TEST(default_pipe_path_is_in_the_pipe_namespace) {
  CHECK_EQ(defaultPipePath("zone1"), "\\\\.\\pipe\\gamesrv-zone1");
  CHECK_EQ(defaultPipePath("main"), "\\\\.\\pipe\\gamesrv-main");
}

TEST(pipe_dacl_admits_the_current_user_only) {
  Rig rig(echoHandler, 2);
  CHECK_MSG(rig.startResult.ok(), rig.startResult.detail);
  HANDLE h = rawClient(rig.server.path(), GENERIC_READ | READ_CONTROL);
  CHECK_MSG(h != INVALID_HANDLE_VALUE, "CreateFileW: error " << ::GetLastError());
  PACL dacl = nullptr;
  PSECURITY_DESCRIPTOR sd = nullptr;
  const DWORD rc = ::GetSecurityInfo(h, SE_KERNEL_OBJECT, DACL_SECURITY_INFORMATION, nullptr, nullptr, &dacl, nullptr, &sd);
  CHECK_EQ(rc, DWORD{ERROR_SUCCESS});
  CHECK(dacl != nullptr);  // a NULL DACL would admit everyone
  CHECK_EQ(int{dacl->AceCount}, 1);
  void* ace = nullptr;
  CHECK(::GetAce(dacl, 0, &ace));
  CHECK_EQ(int{static_cast<ACE_HEADER*>(ace)->AceType}, int{ACCESS_ALLOWED_ACE_TYPE});
  LPSTR sid = nullptr;
  CHECK(::ConvertSidToStringSidA(&static_cast<ACCESS_ALLOWED_ACE*>(ace)->SidStart, &sid));
  CHECK_EQ(std::string(sid), currentUserSid());
  ::LocalFree(sid);
  ::LocalFree(sd);
  ::CloseHandle(h);
}

TEST(paths_outside_the_pipe_namespace_are_invalid) {
  const std::string bad[] = {
      "C:\\temp\\gamesrv.sock", "\\\\.\\pipe\\", "\\\\.\\pipe\\a\\b", "\\\\server\\pipe\\x",
      "\\\\.\\pipe\\" + std::string(250, 'n'), std::string("\\\\.\\pipe\\a\0b", 12), "\\\\.\\pipe\\\xff\xfe",
  };
  for (const std::string& path : bad) {
    CompletionPort port;
    PipeServer server(PipeServerConfig{path, 16, &port}, echoHandler);
    const PipeResult r = server.start();
    CHECK_MSG(r.error == PipeError::InvalidPath, path << ": " << toString(r.error) << " " << r.detail);
    PipeClient c;
    CHECK_MSG(c.connect(path, 100ms).error == PipeError::InvalidPath, path);
  }
  // Any case of the prefix is the same namespace.
  Rig rig(echoHandler, 2, 16, "\\\\.\\PIPE\\" + testPath("case").substr(9));
  CHECK_MSG(rig.startResult.ok(), rig.startResult.detail);
  PipeClient c = connected(rig.server.path());
  CHECK(c.request(PipeMessageType::ServerStatus, "x").ok());
}

TEST(zero_length_and_huge_messages_get_bad_length_and_the_connection_survives) {
  Rig rig(echoHandler, 2);
  CHECK_MSG(rig.startResult.ok(), rig.startResult.detail);
  PipeClient c = connected(rig.server.path());
  struct Case {
    std::size_t size;
    std::string reply;
  };
  const Case cases[] = {
      {0, "bad_length: frame is 0 bytes, expected 1032"},  // a message, not end-of-stream, on Win32
      {1033, "bad_length: frame is 1033 bytes, expected 1032"},
      {70000, "bad_length: frame is 70000 bytes, expected 1032"},  // drained over several reads
      {200000, "bad_length: frame is 200000 bytes, expected 1032"},  // more than the pipe's buffer
  };
  for (const Case& k : cases) {
    std::vector<std::uint8_t> bytes(k.size, 0x5A);
    if (k.size >= 4) putLe32(bytes.data(), 1);
    const PipeResult sent = c.sendRaw(bytes, 10s);
    CHECK_MSG(sent.ok(), k.size << ": " << sent.detail);
    const PipeReplyResult r = c.receive(10s);
    CHECK_MSG(r.ok(), toString(r.error) << " " << r.detail);
    CHECK(r.reply.type == PipeMessageType::Error);
    CHECK_EQ(r.reply.data, k.reply);
    const PipeReplyResult ok = c.request(PipeMessageType::PlayerLogout, "7");
    CHECK(ok.ok());
    CHECK_EQ(ok.reply.data, "PLAYER_LOGOUT 7");
  }
  const PipeServerStats s = rig.server.stats();
  CHECK_EQ(s.errors.badLength, 4u);
  CHECK_EQ(s.framesIn, 8u);
  CHECK_EQ(s.bytesIn, 0u + 1033 + 70000 + 200000 + 4 * 1032);
  CHECK_EQ(s.active, std::size_t{1});
  CHECK_EQ(s.errors.io, 0u);
}

TEST(pipelined_requests_with_a_slow_reader_are_answered_in_order) {
  Rig rig(echoHandler, 2);
  CHECK_MSG(rig.startResult.ok(), rig.startResult.detail);
  // A raw peer: one thread writes 3,000 requests without reading, then the replies are read.
  HANDLE h = rawClient(rig.server.path());
  CHECK_MSG(h != INVALID_HANDLE_VALUE, "CreateFileW: error " << ::GetLastError());
  constexpr int kFrames = 3000;
  std::atomic<int> sendFailures{0};
  std::thread writer([&] {
    for (int i = 0; i < kFrames; ++i) {
      PipeFrame f = frameOf(PipeMessageType::ServerStatus, std::to_string(i));
      DWORD done = 0;
      if (transfer(h, true, f.data(), static_cast<DWORD>(f.size()), done) != ERROR_SUCCESS || done != f.size())
        sendFailures.fetch_add(1);
    }
  });
  // The server must find the client's buffer full and hold the reply back before we read.
  CHECK(eventually([&] { return rig.server.stats().deferredWrites > 0; }, 5s));
  std::uint8_t buf[2048];
  for (int i = 0; i < kFrames; ++i) {
    DWORD n = 0;
    const DWORD err = transfer(h, false, buf, sizeof buf, n);
    CHECK_MSG(err == ERROR_SUCCESS, "reply " << i << ": error " << err);
    const PipeDecodeResult d = decodePipeFrame(buf, n);
    CHECK_MSG(d.ok(), "reply " << i << ": " << d.detail);
    CHECK_EQ(d.message.data, "{\"echo\":\"" + std::to_string(i) + "\"}");
  }
  writer.join();
  ::CloseHandle(h);
  CHECK_EQ(sendFailures.load(), 0);
  CHECK_EQ(rig.server.stats().framesOut, std::uint64_t{kFrames});
}

TEST(client_maps_other_pipe_owners_busy_and_denied) {
  // A pipe of someone else's with its one instance taken: connect waits, then times out.
  const std::string busyPath = testPath("busy");
  HANDLE busy = ::CreateNamedPipeW(wide(busyPath).c_str(), PIPE_ACCESS_DUPLEX, PIPE_TYPE_MESSAGE | PIPE_READMODE_MESSAGE, 1,
                                   4096, 4096, 0, nullptr);
  CHECK(busy != INVALID_HANDLE_VALUE);
  HANDLE taker = rawClient(busyPath);
  CHECK(taker != INVALID_HANDLE_VALUE);
  PipeClient c;
  const auto t0 = std::chrono::steady_clock::now();
  const PipeResult r = c.connect(busyPath, 200ms);
  const auto took = std::chrono::steady_clock::now() - t0;
  CHECK_MSG(r.error == PipeError::Timeout, toString(r.error) << " " << r.detail);
  CHECK_MSG(took >= 150ms && took < 3s, std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms");
  // Our server refuses a name that is taken, whoever holds it.
  {
    CompletionPort port;
    PipeServer server(PipeServerConfig{busyPath, 16, &port}, echoHandler);
    CHECK(server.start().error == PipeError::AddressInUse);
  }
  ::CloseHandle(taker);
  ::CloseHandle(busy);

  // A pipe that only reads (PIPE_ACCESS_INBOUND) refuses a client that wants to read
  // its replies: access denied. (A DACL that admits nobody would say the same on
  // Windows, but wine does not check DACLs on pipes; the DACL test reads ours instead.)
  const std::string deniedPath = testPath("denied");
  HANDLE inbound = ::CreateNamedPipeW(wide(deniedPath).c_str(), PIPE_ACCESS_INBOUND, PIPE_TYPE_MESSAGE | PIPE_READMODE_MESSAGE,
                                      PIPE_UNLIMITED_INSTANCES, 4096, 4096, 0, nullptr);
  CHECK(inbound != INVALID_HANDLE_VALUE);
  const PipeResult d = c.connect(deniedPath, 200ms);
  CHECK_MSG(d.error == PipeError::PermissionDenied, toString(d.error) << " " << d.detail);
  CHECK(!c.connected());
  ::CloseHandle(inbound);
}

TEST(stop_cancels_every_pending_operation_promptly) {
  // Connections in every state: listening, reading (idle clients), writing (a client that
  // never reads, with the server's reply pending on its full buffer), in the handler.
  Rig rig(echoHandler, 2);
  CHECK_MSG(rig.startResult.ok(), rig.startResult.detail);
  std::vector<PipeClient> idle;
  for (int i = 0; i < 8; ++i) {
    idle.push_back(connected(rig.server.path()));
    CHECK(idle.back().request(PipeMessageType::ServerStatus, "x").ok());
  }
  HANDLE flooder = rawClient(rig.server.path());
  CHECK(flooder != INVALID_HANDLE_VALUE);
  std::atomic<bool> stopWriting{false};
  std::thread writer([&] {
    PipeFrame f = frameOf(PipeMessageType::ServerStatus, "flood");
    while (!stopWriting.load()) {
      DWORD done = 0;
      if (transfer(flooder, true, f.data(), static_cast<DWORD>(f.size()), done) != ERROR_SUCCESS) break;
    }
  });
  CHECK(eventually([&] { return rig.server.stats().deferredWrites > 0; }, 5s));
  const auto t0 = std::chrono::steady_clock::now();
  rig.server.stop();
  const auto took = std::chrono::steady_clock::now() - t0;
  CHECK_MSG(took < 1s, std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms");
  stopWriting.store(true);
  writer.join();  // its write failed (pipe disconnected) or the loop saw the flag
  ::CloseHandle(flooder);
  for (PipeClient& c : idle) CHECK(c.receive(2s).error == PipeError::Closed);
  const PipeServerStats s = rig.server.stats();
  CHECK_EQ(s.active, std::size_t{0});
  CHECK_EQ(s.closed, 9u);
  CHECK_EQ(s.errors.io, 0u);  // nothing was left in flight
  CHECK(rig.workers.stop(5s));
}

GS_TEST_MAIN()
