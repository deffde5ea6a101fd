// CompletionPort contract tests over file descriptors: readiness (one-shot, re-armed),
// hangup, polling threads, and the seeded stress with a pipe.
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "completion_port_test_support.hpp"
#include "gamesrv/iocp_workers.hpp"
#include "harness.hpp"

using namespace gamesrv;
using namespace cptest;
using namespace std::chrono_literals;

namespace {

struct SocketPair {
  int fd[2] = {-1, -1};
  SocketPair() {
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fd) != 0) fd[0] = fd[1] = -1;
  }
  ~SocketPair() {
    closeEnd(0);
    closeEnd(1);
  }
  void closeEnd(int i) {
    if (fd[i] >= 0) ::close(fd[i]);
    fd[i] = -1;
  }
};

}  // namespace

// --- timeouts with a descriptor associated -------------------------------------------

TEST(dequeue_times_out_with_and_without_associated_handles) {
  CompletionPort port(portConfig(2));
  CompletionPacket p;
  auto t0 = SteadyClock::now();
  CHECK(port.dequeue(p, 0ms) == PortStatus::Timeout);
  CHECK(port.dequeue(p, 30ms) == PortStatus::Timeout);
  CHECK(SteadyClock::now() - t0 >= 30ms);
  // With a handle associated the waiting thread polls the kernel: same contract.
  SocketPair sp;
  CHECK(sp.fd[0] >= 0);
  CHECK(port.associate(sp.fd[0], 1, IoEvents::Readable) == PortStatus::Ok);
  t0 = SteadyClock::now();
  CHECK(port.dequeue(p, 0ms) == PortStatus::Timeout);
  CHECK(port.dequeue(p, 30ms) == PortStatus::Timeout);
  CHECK(SteadyClock::now() - t0 >= 30ms);
  CHECK(SteadyClock::now() - t0 < 5s);
  CHECK_EQ(port.stats().timeouts, 4u);
  CHECK(port.disassociate(sp.fd[0]) == PortStatus::Ok);
}

// --- I/O readiness -----------------------------------------------------------------

TEST(fd_readiness_becomes_one_packet_for_exactly_one_of_several_waiters) {
  CompletionPort port(portConfig(8));
  SocketPair sp;
  CHECK(sp.fd[0] >= 0);
  CHECK(port.associate(sp.fd[0], 42, IoEvents::Readable) == PortStatus::Ok);
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
  CHECK(::write(sp.fd[1], "abc", 3) == 3);
  CHECK(got.waitAtLeast(1, 5s));
  // The data stays unread: level-triggered readiness would fire again, one-shot must not.
  CHECK(!got.waitAtLeast(2, 50ms));
  {
    std::lock_guard lock(mu);
    CHECK_EQ(packets.size(), 1u);
    CHECK_EQ(packets[0].key, 42u);
    CHECK(packets[0].kind == CompletionKind::Io);
    CHECK(any(packets[0].events & IoEvents::Readable));
  }
  // Re-arming while still readable delivers the next packet at once.
  CHECK(port.rearm(sp.fd[0], 43, IoEvents::Readable) == PortStatus::Ok);
  CHECK(got.waitAtLeast(2, 5s));
  CHECK(!got.waitAtLeast(3, 30ms));
  port.close();
  for (auto& t : ts) t.join();
  std::lock_guard lock(mu);
  CHECK_EQ(packets.size(), 2u);
  CHECK_EQ(packets[1].key, 43u);
  const auto s = port.stats();
  CHECK_EQ(s.ioCompletions, 2u);
  CHECK_EQ(s.ioReadable, 2u);
}

TEST(rearm_is_needed_for_the_next_packet_and_kinds_are_reported) {
  CompletionPort port(portConfig(2));
  SocketPair sp;
  CHECK(sp.fd[0] >= 0);
  CompletionPacket p;
  // An idle socket is writable at once.
  CHECK(port.associate(sp.fd[0], 5, IoEvents::Writable) == PortStatus::Ok);
  CHECK(port.dequeue(p, 5s) == PortStatus::Ok);
  CHECK(p.kind == CompletionKind::Io && p.key == 5);
  CHECK(any(p.events & IoEvents::Writable));
  CHECK(!any(p.events & IoEvents::Readable));
  CHECK(port.dequeue(p, 20ms) == PortStatus::Timeout);  // still writable, but not re-armed
  CHECK(port.rearm(sp.fd[0], 6, IoEvents::Readable) == PortStatus::Ok);
  CHECK(port.dequeue(p, 20ms) == PortStatus::Timeout);  // nothing to read yet
  sp.closeEnd(1);                                       // peer hangs up
  CHECK(port.dequeue(p, 5s) == PortStatus::Ok);
  CHECK_EQ(p.key, 6u);
  CHECK(any(p.events & IoEvents::Hangup));
  const auto s = port.stats();
  CHECK_EQ(s.ioWritable, 1u);
  CHECK_EQ(s.ioHangup, 1u);
  CHECK_EQ(s.associated, 1u);
  CHECK(port.disassociate(sp.fd[0]) == PortStatus::Ok);
  CHECK(port.disassociate(sp.fd[0]) == PortStatus::InvalidArgument);
  CHECK(port.rearm(sp.fd[0], 6, IoEvents::Readable) == PortStatus::InvalidArgument);
  CHECK(port.associate(-1, 1, IoEvents::Readable) == PortStatus::InvalidArgument);
  CHECK(port.associate(sp.fd[0], CompletionPort::kReservedKey, IoEvents::Readable) == PortStatus::InvalidArgument);
  CHECK_EQ(port.stats().associated, 0u);
  checkBalanced(port.stats());
}

TEST(io_packets_and_posts_are_both_served_while_a_thread_polls) {
  CompletionPort port(portConfig(4));
  SocketPair sp;
  CHECK(sp.fd[0] >= 0);
  CHECK(port.associate(sp.fd[0], 1, IoEvents::Readable) == PortStatus::Ok);
  // One thread waits: it must be the poller and still see a post.
  CompletionPacket p;
  PortStatus st = PortStatus::Closed;
  std::thread t([&] { st = port.dequeue(p, 10s); });
  CHECK(eventually([&] { return port.stats().waitingThreads == 1; }));
  CHECK(port.post(77) == PortStatus::Ok);
  t.join();
  CHECK(st == PortStatus::Ok);
  CHECK_EQ(p.key, 77u);
  CHECK(p.kind == CompletionKind::Posted);
  // A handle associated while the only waiter sleeps: associate() must hand out poller duty.
  CHECK(port.disassociate(sp.fd[0]) == PortStatus::Ok);
  SocketPair sp2;
  CHECK(sp2.fd[0] >= 0);
  CompletionPacket q;
  std::thread t2([&] { st = port.dequeue(q, 10s); });
  CHECK(eventually([&] { return port.stats().waitingThreads == 1; }));
  CHECK(port.associate(sp2.fd[0], 2, IoEvents::Writable) == PortStatus::Ok);
  t2.join();
  CHECK(st == PortStatus::Ok);
  CHECK_EQ(q.key, 2u);
  CHECK(q.kind == CompletionKind::Io);
}

// --- close and shutdown ------------------------------------------------------------

TEST(close_wakes_every_waiter_promptly) {
  CompletionPort port(portConfig(16));
  SocketPair sp;
  CHECK(port.associate(sp.fd[0], 1, IoEvents::Readable) == PortStatus::Ok);  // one waiter polls epoll
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
  CHECK(port.associate(sp.fd[1], 2, IoEvents::Readable) == PortStatus::Closed);
  CHECK(port.rearm(sp.fd[0], 1, IoEvents::Readable) == PortStatus::Closed);
  port.close();  // idempotent
  const auto s = port.stats();
  CHECK(s.closed);
  CHECK_EQ(s.waitingThreads, 0u);
  CHECK_EQ(s.activeThreads, 0u);
  checkBalanced(s);
}

// --- seeded stress -----------------------------------------------------------------

TEST(stress_every_packet_dequeued_exactly_once) {
  const std::uint64_t seed = gstest::seed("completion_port_stress");
  std::mt19937_64 rng(seed);
  for (int round = 0; round < 4; ++round) {
    const int posters = 1 + static_cast<int>(rng() % 4);
    const int dequeuers = 2 + static_cast<int>(rng() % 7);
    const std::size_t limit = 1 + rng() % static_cast<std::uint64_t>(dequeuers);
    const std::size_t capacity = 16 + rng() % 1024;
    const int perPoster = 4000 + static_cast<int>(rng() % 4000);
    const std::size_t maxBatch = 1 + rng() % 16;
    const int ioBytes = 2000;
    CompletionPort port(portConfig(limit, capacity));
    int pipeFd[2];
    CHECK(::pipe2(pipeFd, O_NONBLOCK | O_CLOEXEC) == 0);
    constexpr CompletionKey kPipeKey = CompletionKey{1} << 62;
    CHECK(port.associate(pipeFd[0], kPipeKey, IoEvents::Readable) == PortStatus::Ok);

    std::vector<std::vector<std::uint64_t>> seen(static_cast<std::size_t>(dequeuers));
    std::atomic<int> bytesRead{0};
    std::atomic<int> concurrent{0}, maxConcurrent{0};
    std::atomic<bool> orderOk{true};
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
              char tmp[256];
              for (;;) {
                const ssize_t k = ::read(pipeFd[0], tmp, sizeof tmp);
                if (k <= 0) break;
                bytesRead.fetch_add(static_cast<int>(k));
              }
              port.rearm(pipeFd[0], kPipeKey, IoEvents::Readable);
              continue;
            }
            seen[static_cast<std::size_t>(d)].push_back(p.key);
            // FIFO: one thread sees each poster's packets in posting order.
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
      for (int written = 0; written < ioBytes;) {
        const ssize_t k = ::write(pipeFd[1], "0123456789", 10);
        if (k > 0) written += static_cast<int>(k);
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
    CHECK(std::adjacent_find(all.begin(), all.end()) == all.end());  // no duplicates
    CHECK_MSG(orderOk.load(), "round " << round << ": a packet came out of order or with the wrong bytes");
    CHECK_EQ(bytesRead.load(), ioBytes);
    CHECK_MSG(maxConcurrent.load() <= static_cast<int>(limit), "max " << maxConcurrent.load() << " limit " << limit);
    const auto s = port.stats();
    CHECK_EQ(s.posted, static_cast<std::uint64_t>(posters * perPoster));
    CHECK_EQ(s.postRejected, fullAnswers.load());
    CHECK(s.peakActive <= limit);
    checkBalanced(s);
    CHECK(port.disassociate(pipeFd[0]) == PortStatus::Ok);
    ::close(pipeFd[0]);
    ::close(pipeFd[1]);
  }
}

// --- IocpWorkers -------------------------------------------------------------------

TEST(iocp_workers_drive_socket_io_and_count_failures) {
  CompletionPort port(portConfig(2));
  SocketPair sp;
  CHECK(sp.fd[0] >= 0);
  std::atomic<int> bytes{0};
  Count reads;
  IocpWorkersConfig cfg;
  cfg.threads = 3;
  IocpWorkers workers(
      port,
      [&](const CompletionPacket& p) {
        if (p.kind == CompletionKind::Posted) throw std::runtime_error("handler failure is counted");
        char buf[64];
        ssize_t k;
        while ((k = ::read(sp.fd[0], buf, sizeof buf)) > 0) bytes.fetch_add(static_cast<int>(k));
        if (!any(p.events & IoEvents::Hangup)) port.rearm(sp.fd[0], 9, IoEvents::Readable);
        reads.add();
      },
      cfg);
  workers.start();
  CHECK(port.associate(sp.fd[0], 9, IoEvents::Readable) == PortStatus::Ok);
  for (int i = 0; i < 100; ++i) CHECK(::write(sp.fd[1], "0123456789", 10) == 10);
  CHECK(eventually([&] { return bytes.load() == 1000; }));
  CHECK(port.post(1) == PortStatus::Ok);
  CHECK(eventually([&] { return workers.stats().failed == 1; }));
  CHECK(workers.stop(5s));
  const auto s = workers.stats();
  CHECK_EQ(s.failed, 1u);
  CHECK(s.handled >= 1u);
  CHECK_EQ(s.port.ioReadable, s.handled);
  CHECK(port.disassociate(sp.fd[0]) == PortStatus::Ok);
}

GS_TEST_MAIN()
