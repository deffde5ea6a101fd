// Shared-memory monitor on Win32: a lock holder that dies (a thread that exits holding
// the named mutex: WAIT_ABANDONED; a process that dies holding it), torn reads across
// processes, dead and live writers in another process, and the owner-only DACL.
//
// Child processes are this executable again ("--child <mode> <server name>"), started
// with CreateProcessW; they talk to the parent over their stdin/stdout and die with
// TerminateProcess on themselves when a test wants a crash (no cleanup of any kind).
#include <windows.h>

#include <aclapi.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>

#include "monitor_test_support.hpp"

using namespace gamesrv;
using namespace montest;
using namespace std::chrono_literals;

namespace {

struct TornReport {
  std::uint64_t reads = 0, torn = 0, busy = 0, distinct = 0;
};

// --- the child side ------------------------------------------------------------------

bool childSend(const void* data, DWORD n) {
  DWORD written = 0;
  return ::WriteFile(::GetStdHandle(STD_OUTPUT_HANDLE), data, n, &written, nullptr) && written == n;
}

// Blocks for one byte from the parent; false once the parent closed our stdin.
bool childAwaitByte() {
  char c;
  DWORD got = 0;
  return ::ReadFile(::GetStdHandle(STD_INPUT_HANDLE), &c, 1, &got, nullptr) && got > 0;
}

// Blocks until the parent closes our stdin ("you may go").
void childAwaitRelease() {
  while (childAwaitByte()) {
  }
}

[[noreturn]] void childCrash() {
  ::TerminateProcess(::GetCurrentProcess(), 0);
  for (;;) ::Sleep(INFINITE);  // TerminateProcess on ourselves does not return
}

int childTornReader(const std::string& name) {
  MonitorOpenResult o = MonitorReader::open(name);
  if (o.error != MonitorError::None) return 2;
  const char ready = 'r';
  childSend(&ready, 1);
  TornReport rep;
  std::uint64_t lastHeartbeat = 0;
  const auto giveUp = std::chrono::steady_clock::now() + 20s;
  for (;;) {
    if (std::chrono::steady_clock::now() > giveUp) return 4;
    SharedStatus s;
    const MonitorError e = o.reader->readStatus(s);
    if (e == MonitorError::Busy) {
      ++rep.busy;
      continue;
    }
    if (e != MonitorError::None) return 3;
    ++rep.reads;
    if (!(s.flags & kStatusRunning)) break;  // the writer's final, stopping write
    if (s.heartbeat != lastHeartbeat) ++rep.distinct;
    if (s.heartbeat < lastHeartbeat) ++rep.torn;
    lastHeartbeat = s.heartbeat;
    if (s.heartbeat >= 2) {
      const bool consistent = s.playerCount == s.heartbeat % 1000 && s.maxPlayers == s.playerCount + 7 &&
                              s.cpuPercent == static_cast<double>(s.heartbeat) && s.residentBytes == s.heartbeat * 3 &&
                              s.name() == name;
      if (!consistent) ++rep.torn;
    }
  }
  childSend(&rep, sizeof rep);
  return rep.torn == 0 ? 0 : 1;
}

int runChild(const std::string& mode, const std::string& name) {
  if (mode == "torn-reader") return childTornReader(name);
  MonitorCreateResult c = MonitorWriter::create(name, 50);
  if (c.error != MonitorError::None) return 2;
  if (mode == "writer-dies") c.writer->setPlayerCount(9);
  const char ready = 'r';
  childSend(&ready, 1);
  if (mode == "writer-dies-holding-lock") {
    childAwaitByte();  // the parent maps the segment while it is still consistent
    c.writer->abandonLockForTesting(true);
    childSend(&ready, 1);
  }
  childAwaitRelease();
  if (mode == "writer-lives") {
    c.writer.reset();  // clean stop: running = 0, unlink
    return 0;
  }
  childCrash();
}

// --- the parent side -----------------------------------------------------------------

// A child process of this executable. Its stdout is an overlapped named pipe on our side
// (so receive() can time out); its stdin is an anonymous pipe we close to release it.
class ChildProcess {
 public:
  ChildProcess(const std::string& mode, const std::string& name) {
    static std::atomic<int> sequence{0};
    const std::wstring pipeName = L"\\\\.\\pipe\\gamesrv-montest-" + std::to_wstring(::GetCurrentProcessId()) + L"-" +
                                  std::to_wstring(sequence.fetch_add(1));
    fromChild_ = ::CreateNamedPipeW(pipeName.c_str(), PIPE_ACCESS_INBOUND | FILE_FLAG_OVERLAPPED | FILE_FLAG_FIRST_PIPE_INSTANCE,
                                    PIPE_TYPE_BYTE | PIPE_WAIT | PIPE_REJECT_REMOTE_CLIENTS, 1, 4096, 4096, 0, nullptr);
    SECURITY_ATTRIBUTES inherit{sizeof(SECURITY_ATTRIBUTES), nullptr, TRUE};
    HANDLE childOut = ::CreateFileW(pipeName.c_str(), GENERIC_WRITE, 0, &inherit, OPEN_EXISTING, 0, nullptr);
    HANDLE childIn = nullptr;
    ::CreatePipe(&childIn, &toChild_, &inherit, 0);
    ::SetHandleInformation(toChild_, HANDLE_FLAG_INHERIT, 0);
    OVERLAPPED ov{};
    ::ConnectNamedPipe(fromChild_, &ov);  // the client is already there: PIPE_CONNECTED

    wchar_t exe[MAX_PATH];
    ::GetModuleFileNameW(nullptr, exe, MAX_PATH);
    std::wstring cmd = L"\"" + std::wstring(exe) + L"\" --child " + std::wstring(mode.begin(), mode.end()) + L" " +
                       std::wstring(name.begin(), name.end());
    STARTUPINFOW si{};
    si.cb = sizeof si;
    si.dwFlags = STARTF_USESTDHANDLES;
    si.hStdInput = childIn;
    si.hStdOutput = childOut;
    si.hStdError = ::GetStdHandle(STD_ERROR_HANDLE);
    PROCESS_INFORMATION pi{};
    std::fflush(stdout);
    if (::CreateProcessW(exe, cmd.data(), nullptr, nullptr, TRUE, 0, nullptr, nullptr, &si, &pi)) {
      process_ = pi.hProcess;
      pid_ = pi.dwProcessId;
      ::CloseHandle(pi.hThread);
    }
    // Only the child holds its ends now: its exit is our end of file.
    ::CloseHandle(childOut);
    ::CloseHandle(childIn);
  }
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ~ChildProcess() {
    if (process_ != nullptr && !reaped_) finish(0ms);
    release();
    if (fromChild_ != INVALID_HANDLE_VALUE) ::CloseHandle(fromChild_);
    if (process_ != nullptr) ::CloseHandle(process_);
  }

  bool started() const { return process_ != nullptr; }
  DWORD pid() const { return pid_; }

  // Waits up to `timeout` for exactly n bytes; false on timeout or if the child is gone.
  bool receive(void* data, std::size_t n, std::chrono::milliseconds timeout = 20s) {
    auto* p = static_cast<char*>(data);
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (n > 0) {
      OVERLAPPED ov{};
      ov.hEvent = ::CreateEventW(nullptr, TRUE, FALSE, nullptr);
      DWORD got = 0;
      bool ok = ::ReadFile(fromChild_, p, static_cast<DWORD>(n), nullptr, &ov) || ::GetLastError() == ERROR_IO_PENDING;
      if (ok) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (::WaitForSingleObject(ov.hEvent, static_cast<DWORD>(std::max<long long>(left.count(), 0))) != WAIT_OBJECT_0)
          ::CancelIoEx(fromChild_, &ov);
        ok = ::GetOverlappedResult(fromChild_, &ov, &got, TRUE) && got > 0;
      }
      ::CloseHandle(ov.hEvent);
      if (!ok) return false;
      p += got;
      n -= got;
    }
    return true;
  }

  bool send(char c) {
    DWORD written = 0;
    return ::WriteFile(toChild_, &c, 1, &written, nullptr) && written == 1;
  }

  void release() {
    if (toChild_ != nullptr) ::CloseHandle(toChild_);
    toChild_ = nullptr;
  }

  // Releases the child and waits for it to exit; -1 if it had to be terminated.
  int finish(std::chrono::milliseconds timeout = 20s) {
    release();
    reaped_ = true;
    if (::WaitForSingleObject(process_, static_cast<DWORD>(timeout.count())) != WAIT_OBJECT_0) {
      ::TerminateProcess(process_, 255);  // a test child stuck past its deadline
      ::WaitForSingleObject(process_, INFINITE);
      return -1;
    }
    DWORD code = 0;
    ::GetExitCodeProcess(process_, &code);
    return static_cast<int>(code);
  }

 private:
  HANDLE fromChild_ = INVALID_HANDLE_VALUE;
  HANDLE toChild_ = nullptr;
  HANDLE process_ = nullptr;
  DWORD pid_ = 0;
  bool reaped_ = false;
};

}  // namespace

// --- a lock holder that dies -----------------------------------------------------------

TEST(lock_abandoned_by_an_exiting_thread_is_recovered) {
  const std::string name = uniqueName("abandoned");
  SegmentCleanup cleanup{monitorSegmentName(name)};
  auto writer = mustCreate(name, 8);
  MonitorReader reader = mustOpen(name);
  std::thread holder([&] { writer->abandonLockForTesting(false); });  // exits holding the mutex
  holder.join();
  MonitorWriteResult r = writer->update({3, 8, 0, 0, false});  // WAIT_ABANDONED
  CHECK(r.error == MonitorError::None);
  CHECK(r.recovered);
  CHECK_EQ(writer->recoveries(), 1u);
  CHECK_EQ(mustRead(reader).status.playerCount, 3u);
  r = writer->setPlayerCount(4);
  CHECK(r.error == MonitorError::None);
  CHECK(!r.recovered);
  CHECK_EQ(mustRead(reader).status.playerCount, 4u);
}

TEST(thread_dead_mid_write_does_not_wedge_readers) {
  const std::string name = uniqueName("midwrite");
  SegmentCleanup cleanup{monitorSegmentName(name)};
  auto writer = mustCreate(name, 8);
  CHECK(writer->setPlayerCount(2).error == MonitorError::None);
  MonitorReader reader = mustOpen(name);
  std::thread holder([&] { writer->abandonLockForTesting(true); });  // seq left odd
  holder.join();
  CHECK(reader.read().error == MonitorError::Busy);
  MonitorWriteResult r = writer->setPlayerCount(7);
  CHECK(r.recovered);
  MonitorSnapshot s = mustRead(reader);
  CHECK_EQ(s.status.playerCount, 7u);
  CHECK_EQ(s.status.maxPlayers, 8u);
  CHECK_EQ(s.sequence % 2, 0u);
}

// --- other processes -------------------------------------------------------------------

TEST(reader_in_another_process_sees_no_torn_reads) {
  const std::string name = uniqueName("torn");
  SegmentCleanup cleanup{monitorSegmentName(name)};
  auto writer = mustCreate(name, 7);
  ChildProcess child("torn-reader", name);
  CHECK(child.started());
  char ready = 0;
  CHECK(child.receive(&ready, 1));
  std::uint64_t heartbeat = 1;
  const auto end = std::chrono::steady_clock::now() + 1s;
  while (std::chrono::steady_clock::now() < end) {
    for (int i = 0; i < 256; ++i) {
      const std::uint64_t hb = heartbeat + 1;
      const auto players = static_cast<std::uint32_t>(hb % 1000);
      const MonitorWriteResult r = writer->update({players, players + 7, static_cast<double>(hb), hb * 3, false});
      CHECK(r.error == MonitorError::None);
      CHECK_EQ(r.heartbeat, hb);
      heartbeat = hb;
    }
  }
  CHECK(writer->stop().error == MonitorError::None);
  TornReport rep;
  CHECK(child.receive(&rep, sizeof rep));
  const int code = child.finish();
  std::printf("  writes=%llu reads=%llu distinct=%llu busy=%llu torn=%llu\n", static_cast<unsigned long long>(heartbeat),
              static_cast<unsigned long long>(rep.reads), static_cast<unsigned long long>(rep.distinct),
              static_cast<unsigned long long>(rep.busy), static_cast<unsigned long long>(rep.torn));
  CHECK_EQ(code, 0);
  CHECK_EQ(rep.torn, 0u);
  CHECK(rep.reads > 1000);
  CHECK(rep.distinct >= 20);
}

TEST(dead_writer_is_detected_and_taken_over) {
  const std::string name = uniqueName("dead");
  SegmentCleanup cleanup{monitorSegmentName(name)};
  ChildProcess child("writer-dies", name);
  CHECK(child.started());
  char ready = 0;
  CHECK(child.receive(&ready, 1));
  // Mapped before the writer dies: on Win32 the segment lives only while mapped.
  MonitorReader reader = mustOpen(name);
  const DWORD childPid = child.pid();
  CHECK_EQ(child.finish(), 0);

  MonitorSnapshot s = mustRead(reader, ReadMode::CheckWriter);
  CHECK_EQ(s.status.pid, static_cast<std::uint32_t>(childPid));
  CHECK_EQ(s.status.playerCount, 9u);
  CHECK(s.running());  // it never said goodbye...
  CHECK(s.writer == Liveness::Dead);  // ...but it is gone
  CHECK(s.stale);
  CHECK(!plat::processAlive(childPid));

  MonitorCreateResult c = MonitorWriter::create(name, 60);
  CHECK_MSG(c.error == MonitorError::None, c.detail);
  CHECK(c.tookOver);
  CHECK(!c.recovered);
  s = mustRead(reader, ReadMode::CheckWriter);  // same segment, new owner
  CHECK_EQ(s.status.pid, plat::currentProcessId());
  CHECK_EQ(s.status.maxPlayers, 60u);
  CHECK_EQ(s.status.playerCount, 0u);
  CHECK(s.writer == Liveness::Alive);
  CHECK(!s.stale);
}

TEST(writer_dead_holding_the_lock_is_taken_over) {
  const std::string name = uniqueName("deadlocked");
  SegmentCleanup cleanup{monitorSegmentName(name)};
  ChildProcess child("writer-dies-holding-lock", name);
  CHECK(child.started());
  char ready = 0;
  CHECK(child.receive(&ready, 1));
  MonitorReader reader = mustOpen(name);
  CHECK(child.send('g'));
  CHECK(child.receive(&ready, 1));  // it now holds the lock, mid-write
  CHECK_EQ(child.finish(), 0);
  CHECK(reader.read().error == MonitorError::Busy);
  // Its mutex died with it (nobody else had it open): the holder left in the segment
  // is what tells the next owner.
  MonitorCreateResult c = MonitorWriter::create(name, 70);
  CHECK_MSG(c.error == MonitorError::None, c.detail);
  CHECK(c.tookOver);
  CHECK(c.recovered);
  CHECK_EQ(c.writer->recoveries(), 1u);
  CHECK_EQ(mustRead(reader).status.maxPlayers, 70u);
}

TEST(segment_nobody_maps_dies_with_its_writer) {
  const std::string name = uniqueName("gone");
  SegmentCleanup cleanup{monitorSegmentName(name)};
  ChildProcess child("writer-dies", name);
  CHECK(child.started());
  char ready = 0;
  CHECK(child.receive(&ready, 1));
  CHECK_EQ(child.finish(), 0);
  CHECK(MonitorReader::open(name).error == MonitorError::NotFound);
  MonitorCreateResult c = MonitorWriter::create(name, 10);
  CHECK_MSG(c.error == MonitorError::None, c.detail);
  CHECK(!c.tookOver);  // a fresh segment: nothing was left to take over
}

TEST(live_writer_in_another_process_refuses_a_second) {
  const std::string name = uniqueName("live");
  SegmentCleanup cleanup{monitorSegmentName(name)};
  ChildProcess child("writer-lives", name);
  CHECK(child.started());
  char ready = 0;
  CHECK(child.receive(&ready, 1));
  MonitorCreateResult c = MonitorWriter::create(name, 8);
  CHECK(c.error == MonitorError::AlreadyRunning);
  CHECK_MSG(contains(c.detail, "pid " + std::to_string(child.pid())), c.detail);
  MonitorReader reader = mustOpen(name);
  CHECK(mustRead(reader, ReadMode::CheckWriter).writer == Liveness::Alive);
  CHECK_EQ(child.finish(), 0);
  MonitorSnapshot s = mustRead(reader, ReadMode::CheckWriter);
  CHECK(!s.running());
  CHECK(s.writer == Liveness::Dead);
  CHECK(MonitorReader::open(name).error == MonitorError::NotFound);
}

// --- access --------------------------------------------------------------------------

TEST(segment_objects_admit_only_the_current_user) {
  const std::string name = uniqueName("dacl");
  SegmentCleanup cleanup{monitorSegmentName(name)};
  auto writer = mustCreate(name, 8);
  const std::string segment = monitorSegmentName(name);
  const std::wstring os = L"Local\\" + std::wstring(segment.begin(), segment.end());
  HANDLE mapping = ::OpenFileMappingW(READ_CONTROL, FALSE, os.c_str());
  CHECK(mapping != nullptr);
  PACL dacl = nullptr;
  PSECURITY_DESCRIPTOR sd = nullptr;
  CHECK_EQ(::GetSecurityInfo(mapping, SE_KERNEL_OBJECT, DACL_SECURITY_INFORMATION, nullptr, nullptr, &dacl, nullptr, &sd),
           DWORD{ERROR_SUCCESS});
  CHECK(dacl != nullptr);
  CHECK_EQ(dacl->AceCount, 1u);
  void* ace = nullptr;
  CHECK(::GetAce(dacl, 0, &ace));
  HANDLE token = nullptr;
  CHECK(::OpenProcessToken(::GetCurrentProcess(), TOKEN_QUERY, &token));
  alignas(8) unsigned char user[256];
  DWORD len = 0;
  CHECK(::GetTokenInformation(token, TokenUser, user, sizeof user, &len));
  auto* allowed = static_cast<ACCESS_ALLOWED_ACE*>(ace);
  CHECK(allowed->Header.AceType == ACCESS_ALLOWED_ACE_TYPE);
  CHECK(::EqualSid(&allowed->SidStart, reinterpret_cast<TOKEN_USER*>(user)->User.Sid));
  ::CloseHandle(token);
  ::LocalFree(sd);
  ::CloseHandle(mapping);
}

int main(int argc, char** argv) {
  if (argc >= 4 && std::string(argv[1]) == "--child") return runChild(argv[2], argv[3]);
  return gstest::runAll();
}
