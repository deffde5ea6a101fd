// CompletionPort contract tests over Win32 handles: I/O packets are completions of
// overlapped reads on a named pipe (key, bytes transferred, the OVERLAPPED*), hangup,
// argument checks of associate/rearm/disassociate, waiters with a handle associated,
// and the seeded stress with posts and pipe I/O together.
#include <windows.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "completion_port_test_support.hpp"
#include "gamesrv/iocp_workers.hpp"
#include "harness.hpp"

using namespace gamesrv;
using namespace cptest;
using namespace std::chrono_literals;

namespace {

// A connected byte-mode pipe: the server end is overlapped (it goes on the port), the
// client end is synchronous (the tests write with it).
struct PipePair {
  HANDLE server = INVALID_HANDLE_VALUE;
  HANDLE client = INVALID_HANDLE_VALUE;

  PipePair() {
    static std::atomic<int> sequence{0};
    const std::wstring name = L"\\\\.\\pipe\\gamesrv-cptest-" + std::to_wstring(::GetCurrentProcessId()) + L"-" +
                              std::to_wstring(sequence.fetch_add(1));
    server = ::CreateNamedPipeW(name.c_str(), PIPE_ACCESS_DUPLEX | FILE_FLAG_OVERLAPPED | FILE_FLAG_FIRST_PIPE_INSTANCE,
                                PIPE_TYPE_BYTE | PIPE_READMODE_BYTE | PIPE_WAIT | PIPE_REJECT_REMOTE_CLIENTS, 1, 65536,
                                65536, 0, nullptr);
    if (server == INVALID_HANDLE_VALUE) return;
    client = ::CreateFileW(name.c_str(), GENERIC_READ | GENERIC_WRITE, 0, nullptr, OPEN_EXISTING, 0, nullptr);
    if (client == INVALID_HANDLE_VALUE) return;
    // The client is already there: an overlapped connect then fails with PIPE_CONNECTED.
    OVERLAPPED ov{};
    if (::ConnectNamedPipe(server, &ov) || ::GetLastError() != ERROR_PIPE_CONNECTED) closeClient();
  }
  ~PipePair() {
    closeClient();
    if (server != INVALID_HANDLE_VALUE) ::CloseHandle(server);
  }
  PipePair(const PipePair&) = delete;
  PipePair& operator=(const PipePair&) = delete;

  bool ok() const { return server != INVALID_HANDLE_VALUE && client != INVALID_HANDLE_VALUE; }
  NativeHandle serverHandle() const { return reinterpret_cast<NativeHandle>(server); }
  void closeClient() {
    if (client != INVALID_HANDLE_VALUE) ::CloseHandle(client);
    client = INVALID_HANDLE_VALUE;
  }
  bool write(const char* data, DWORD n) const {
    DWORD written = 0;
    return ::WriteFile(client, data, n, &written, nullptr) && written == n;
  }
  // Starts an overlapped read; its completion (even a synchronous one) is queued on the
  // port the server end is associated with.
  bool startRead(char* buf, DWORD n, OVERLAPPED& ov) const {
    ov = OVERLAPPED{};
    return ::ReadFile(server, buf, n, nullptr, &ov) || ::GetLastError() == ERROR_IO_PENDING;
  }
  // Cancels a read still in flight and waits until the kernel is done with `ov`.
  void cancelRead(OVERLAPPED& ov) const {
    ::CancelIoEx(server, &ov);
    DWORD n = 0;
    ::GetOverlappedResult(server, &ov, &n, TRUE);
  }
};

}  // namespace

// --- I/O completions ---------------------------------------------------------------

TEST(io_completion_carries_key_bytes_and_the_overlapped) {
  CompletionPort port(portConfig(2));
  PipePair pp;
  CHECK(pp.ok());
  CHECK(port.associate(pp.serverHandle(), 42, IoEvents::Readable) == PortStatus::Ok);
  CHECK_EQ(port.stats().associated, 1u);
  char buf[16] = {};
  OVERLAPPED ov;
  CHECK(pp.startRead(buf, sizeof buf, ov));
  CompletionPacket p;
  CHECK(port.dequeue(p, 30ms) == PortStatus::Timeout);  // nothing written yet
  CHECK(pp.write("abc", 3));
  CHECK(port.dequeue(p, 5s) == PortStatus::Ok);
  CHECK(p.kind == CompletionKind::Io);
  CHECK_EQ(p.key, 42u);
  CHECK_EQ(p.bytes, 3u);
  CHECK(p.ptr == &ov);
  CHECK(p.events == IoEvents::None);  // success: no readiness bits on Win32
  CHECK(std::memcmp(buf, "abc", 3) == 0);
  const auto s = port.stats();
  CHECK_EQ(s.ioCompletions, 1u);
  CHECK_EQ(s.ioHangup + s.ioError, 0u);
  CHECK_EQ(s.bytes, 3u);
  checkBalanced(s);
  CHECK(port.disassociate(pp.serverHandle()) == PortStatus::Ok);
}

TEST(a_completion_goes_to_exactly_one_of_several_waiters) {
  CompletionPort port(portConfig(8));
  PipePair pp;
  CHECK(pp.ok());
  CHECK(port.associate(pp.serverHandle(), 7, IoEvents::Readable) == PortStatus::Ok);
  Count got;
  std::mutex mu;
  std::vector<CompletionPacket> packets;  // guarded by mu
  std::vector<std::thread> ts;
  for (int i = 0; i < 4; ++i) ts.emplace_back([&] {
    for (;;) {
      CompletionPacket p;
      if (port.dequeue(p, CompletionPort::kInfinite) != PortStatus::Ok) return;
      {
        std::lock_guard lock(mu);
        packets.push_back(p);
      }
      got.add();
    }
  });
  CHECK(eventually([&] { return port.stats().waitingThreads == 4; }));
  char buf[8];
  OVERLAPPED ov;
  CHECK(pp.startRead(buf, sizeof buf, ov));
  CHECK(pp.write("hello", 5));
  CHECK(got.waitAtLeast(1, 5s));
  CHECK(!got.waitAtLeast(2, 50ms));  // one operation, one packet
  CHECK(pp.startRead(buf, sizeof buf, ov));
  CHECK(pp.write("x", 1));
  CHECK(got.waitAtLeast(2, 5s));
  port.close();
  for (auto& t : ts) t.join();
  std::lock_guard lock(mu);
  CHECK_EQ(packets.size(), 2u);
  CHECK_EQ(packets[0].bytes, 5u);
  CHECK_EQ(packets[1].bytes, 1u);
  CHECK(packets[0].kind == CompletionKind::Io && packets[0].key == 7);
}

TEST(peer_hangup_completes_a_pending_read_as_hangup) {
  CompletionPort port(portConfig(2));
  PipePair pp;
  CHECK(pp.ok());
  CHECK(port.associate(pp.serverHandle(), 5, IoEvents::Readable) == PortStatus::Ok);
  char buf[8];
  OVERLAPPED ov;
  CHECK(pp.startRead(buf, sizeof buf, ov));
  pp.closeClient();
  CompletionPacket p;
  CHECK(port.dequeue(p, 5s) == PortStatus::Ok);
  CHECK(p.kind == CompletionKind::Io && p.key == 5 && p.ptr == &ov);
  CHECK(any(p.events & IoEvents::Hangup));
  CHECK(!any(p.events & IoEvents::Error));
  DWORD n = 0;
  CHECK(!::GetOverlappedResult(pp.server, &ov, &n, FALSE));
  CHECK_EQ(::GetLastError(), DWORD{ERROR_BROKEN_PIPE});
  CHECK_EQ(port.stats().ioHangup, 1u);
  checkBalanced(port.stats());
}

TEST(associate_rearm_and_disassociate_check_their_arguments) {
  CompletionPort port(portConfig(2));
  PipePair pp, other;
  CHECK(pp.ok() && other.ok());
  const NativeHandle h = pp.serverHandle();
  CHECK(port.associate(-1, 1, IoEvents::Readable) == PortStatus::InvalidArgument);
  CHECK(port.associate(0, 1, IoEvents::Readable) == PortStatus::InvalidArgument);
  CHECK(port.associate(h, CompletionPort::kReservedKey, IoEvents::Readable) == PortStatus::InvalidArgument);
  CHECK(port.rearm(h, 1, IoEvents::Readable) == PortStatus::InvalidArgument);  // not associated
  CHECK(port.associate(h, 1, IoEvents::Readable) == PortStatus::Ok);
  CHECK(port.associate(h, 1, IoEvents::Readable) == PortStatus::InvalidArgument);  // already
  CHECK(port.rearm(h, 1, IoEvents::Writable) == PortStatus::Ok);  // interest means nothing to an IOCP
  CHECK(port.rearm(h, 2, IoEvents::Readable) == PortStatus::InvalidArgument);  // an IOCP key is fixed
  CHECK(port.disassociate(h) == PortStatus::Ok);
  CHECK(port.disassociate(h) == PortStatus::InvalidArgument);
  CHECK(port.rearm(h, 1, IoEvents::Readable) == PortStatus::InvalidArgument);
  CHECK_EQ(port.stats().associated, 0u);
  // A handle stays bound to its port until it is closed.
  CompletionPort second(portConfig(2));
  CHECK(second.associate(h, 1, IoEvents::Readable) == PortStatus::InvalidArgument);
  CHECK_EQ(::GetLastError(), DWORD{ERROR_INVALID_PARAMETER});
  port.shutdown();
  CHECK(port.associate(other.serverHandle(), 3, IoEvents::Readable) == PortStatus::Closed);
  CHECK(port.rearm(h, 1, IoEvents::Readable) == PortStatus::Closed);
}

// --- waiting with a handle associated ------------------------------------------------

TEST(dequeue_times_out_with_and_without_associated_handles) {
  CompletionPort port(portConfig(2));
  CompletionPacket p;
  auto t0 = SteadyClock::now();
  CHECK(port.dequeue(p, 0ms) == PortStatus::Timeout);
  CHECK(port.dequeue(p, 30ms) == PortStatus::Timeout);
  CHECK(SteadyClock::now() - t0 >= 30ms);
  PipePair pp;
  CHECK(pp.ok());
  CHECK(port.associate(pp.serverHandle(), 1, IoEvents::Readable) == PortStatus::Ok);
  char buf[4];
  OVERLAPPED ov;
  CHECK(pp.startRead(buf, sizeof buf, ov));  // an operation in flight changes nothing
  t0 = SteadyClock::now();
  CHECK(port.dequeue(p, 0ms) == PortStatus::Timeout);
  CHECK(port.dequeue(p, 30ms) == PortStatus::Timeout);
  CHECK(SteadyClock::now() - t0 >= 30ms);
  CHECK(SteadyClock::now() - t0 < 5s);
  CHECK_EQ(port.stats().timeouts, 4u);
  pp.cancelRead(ov);
}

TEST(close_wakes_every_waiter_promptly) {
  CompletionPort port(portConfig(16));
  PipePair pp;
  CHECK(pp.ok());
  CHECK(port.associate(pp.serverHandle(), 1, IoEvents::Readable) == PortStatus::Ok);
  char buf[4];
  OVERLAPPED ov;
  CHECK(pp.startRead(buf, sizeof buf, ov));
  constexpr int kThreads = 8;
  Count closed, got;
  std::vector<std::thread> ts;
  for (int i = 0; i < kThreads; ++i) ts.emplace_back([&] {
    for (;;) {
      CompletionPacket p;
      const PortStatus st = port.dequeue(p, CompletionPort::kInfinite);
      if (st == PortStatus::Closed) closed.add();
      if (st != PortStatus::Ok) return;
      got.add();
    }
  });
  CHECK(eventually([&] { return port.stats().waitingThreads == kThreads; }));
  CHECK(port.post(1) == PortStatus::Ok);
  CHECK(port.post(2) == PortStatus::Ok);
  CHECK(got.waitAtLeast(2, 5s));
  CHECK(eventually([&] { return port.stats().waitingThreads == kThreads; }));
  const auto t0 = SteadyClock::now();
  port.close();
  CHECK(closed.waitAtLeast(kThreads, 2s));
  CHECK(SteadyClock::now() - t0 < 2s);
  for (auto& t : ts) t.join();
  CompletionPacket p;
  CHECK(port.dequeue(p, 10s) == PortStatus::Closed);  // at once, not after 10 s
  CHECK(port.post(3) == PortStatus::Closed);
  CHECK(port.postQuit() == PortStatus::Closed);
  CHECK(port.rearm(pp.serverHandle(), 1, IoEvents::Readable) == PortStatus::Closed);
  port.close();  // idempotent
  const auto s = port.stats();
  CHECK(s.closed);
  CHECK_EQ(s.waitingThreads, 0u);
  CHECK_EQ(s.activeThreads, 0u);
  checkBalanced(s);
  pp.cancelRead(ov);  // its completion lands in a closed port and is dropped uncounted
}

// --- seeded stress -----------------------------------------------------------------

TEST(stress_every_post_and_completion_dequeued_exactly_once) {
  const std::uint64_t seed = gstest::seed("completion_port_win32_stress");
  std::mt19937_64 rng(seed);
  for (int round = 0; round < 4; ++round) {
    const int posters = 1 + static_cast<int>(rng() % 4);
    const int dequeuers = 2 + static_cast<int>(rng() % 7);
    const std::size_t limit = 1 + rng() % static_cast<std::uint64_t>(dequeuers);
    const std::size_t capacity = 16 + rng() % 1024;
    const int perPoster = 2000 + static_cast<int>(rng() % 2000);
    const std::size_t maxBatch = 1 + rng() % 16;
    const int ioBytes = 2000;
    CompletionPort port(portConfig(limit, capacity));
    PipePair pp;
    CHECK(pp.ok());
    constexpr CompletionKey kPipeKey = CompletionKey{1} << 62;
    CHECK(port.associate(pp.serverHandle(), kPipeKey, IoEvents::Readable) == PortStatus::Ok);
    // One read in flight at a time: whoever gets its completion starts the next.
    char readBuf[256];
    OVERLAPPED readOv;
    CHECK(pp.startRead(readBuf, sizeof readBuf, readOv));

    std::vector<std::vector<std::uint64_t>> seen(static_cast<std::size_t>(dequeuers));
    std::atomic<int> bytesRead{0};
    std::atomic<int> concurrent{0}, maxConcurrent{0};
    std::atomic<bool> orderOk{true}, readsOk{true};
    std::vector<std::thread> ts;
    for (int d = 0; d < dequeuers; ++d) {
      const std::uint64_t dseed = rng();
      ts.emplace_back([&, d, dseed] {
        std::mt19937_64 r(dseed);
        std::vector<CompletionPacket> buf(maxBatch);
        std::vector<std::uint64_t> lastSeqOfPoster(8, 0);
        for (;;) {
          std::size_t n = 0;
          const std::size_t want = 1 + r() % maxBatch;
          const auto wait = std::chrono::milliseconds(2 * static_cast<int>(r() % 4));
          const PortStatus st = port.dequeueBatch(std::span(buf.data(), want), n, wait);
          if (st == PortStatus::Closed) return;
          if (st != PortStatus::Ok) continue;
          const int now = concurrent.fetch_add(1) + 1;
          int prev = maxConcurrent.load();
          while (now > prev && !maxConcurrent.compare_exchange_weak(prev, now)) {
          }
          for (std::size_t i = 0; i < n; ++i) {
            const CompletionPacket& p = buf[i];
            if (p.kind == CompletionKind::Io) {
              if (p.ptr != &readOv || any(p.events)) readsOk.store(false);
              const int total = bytesRead.fetch_add(static_cast<int>(p.bytes)) + static_cast<int>(p.bytes);
              if (total < ioBytes && !pp.startRead(readBuf, sizeof readBuf, readOv)) readsOk.store(false);
              continue;
            }
            seen[static_cast<std::size_t>(d)].push_back(p.key);
            const std::uint64_t poster = p.key >> 32, seq = (p.key & 0xffffffffu) + 1;
            if (seq <= lastSeqOfPoster[poster]) orderOk.store(false);
            lastSeqOfPoster[poster] = seq;
            if (p.bytes != (p.key & 0xff)) orderOk.store(false);
          }
          concurrent.fetch_sub(1);
        }
      });
    }
    std::vector<std::thread> ps;
    std::atomic<std::uint64_t> fullAnswers{0};
    for (int pi = 0; pi < posters; ++pi) ps.emplace_back([&, pi] {
      for (int i = 0; i < perPoster; ++i) {
        const CompletionKey key = (static_cast<std::uint64_t>(pi) << 32) | static_cast<std::uint64_t>(i);
        while (port.post(key, key & 0xff) == PortStatus::QueueFull) {
          fullAnswers.fetch_add(1);
          std::this_thread::yield();
        }
      }
    });
    std::thread writer([&] {
      for (int written = 0; written < ioBytes; written += 10) {
        if (!pp.write("0123456789", 10)) return;
        if (written % 200 == 0) std::this_thread::yield();
      }
    });
    for (auto& t : ps) t.join();
    writer.join();
    CHECK(eventually([&] { return bytesRead.load() == ioBytes; }));
    port.shutdown();  // dequeuers drain, then see Closed
    for (auto& t : ts) t.join();

    std::vector<std::uint64_t> all;
    for (auto& v : seen) all.insert(all.end(), v.begin(), v.end());
    std::sort(all.begin(), all.end());
    CHECK_MSG(all.size() == static_cast<std::size_t>(posters * perPoster),
              "round " << round << ": dequeued " << all.size() << " of " << posters * perPoster);
    CHECK(std::adjacent_find(all.begin(), all.end()) == all.end());
    CHECK_MSG(orderOk.load(), "round " << round << ": a packet came out of order or with the wrong bytes");
    CHECK(readsOk.load());
    CHECK_EQ(bytesRead.load(), ioBytes);
    CHECK_MSG(maxConcurrent.load() <= static_cast<int>(limit), "max " << maxConcurrent.load() << " limit " << limit);
    const auto s = port.stats();
    CHECK_EQ(s.posted, static_cast<std::uint64_t>(posters * perPoster));
    CHECK_EQ(s.postRejected, fullAnswers.load());
    CHECK(s.peakActive <= limit);
    checkBalanced(s);
    CHECK(port.disassociate(pp.serverHandle()) == PortStatus::Ok);
  }
}

// --- IocpWorkers -------------------------------------------------------------------

TEST(iocp_workers_drive_pipe_io_and_count_failures) {
  CompletionPort port(portConfig(2));
  PipePair pp;
  CHECK(pp.ok());
  std::atomic<int> bytes{0};
  char buf[64];
  OVERLAPPED ov;
  IocpWorkersConfig cfg;
  cfg.threads = 3;
  IocpWorkers workers(
      port,
      [&](const CompletionPacket& p) {
        if (p.kind == CompletionKind::Posted) throw std::runtime_error("handler failure is counted");
        if (bytes.fetch_add(static_cast<int>(p.bytes)) + static_cast<int>(p.bytes) < 1000) pp.startRead(buf, sizeof buf, ov);
      },
      cfg);
  workers.start();
  CHECK(port.associate(pp.serverHandle(), 9, IoEvents::Readable) == PortStatus::Ok);
  CHECK(pp.startRead(buf, sizeof buf, ov));
  for (int i = 0; i < 100; ++i) CHECK(pp.write("0123456789", 10));
  CHECK(eventually([&] { return bytes.load() == 1000; }));
  CHECK(port.post(1) == PortStatus::Ok);
  CHECK(eventually([&] { return workers.stats().failed == 1; }));
  CHECK(workers.stop(5s));
  const auto s = workers.stats();
  CHECK_EQ(s.failed, 1u);
  CHECK(s.handled >= 1u);
  CHECK_EQ(s.port.ioCompletions, s.handled);
  CHECK(port.disassociate(pp.serverHandle()) == PortStatus::Ok);
}

GS_TEST_MAIN()
