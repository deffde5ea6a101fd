#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include "gamesrv/clock.hpp"
#include "gamesrv/event.hpp"
#include "gamesrv/iocp_workers.hpp"
#include "gamesrv/platform/completion_port.hpp"
#include "gamesrv/platform/thread.hpp"
#include "gamesrv/thread_pool.hpp"
#include "harness.hpp"

using namespace gamesrv;
using namespace std::chrono_literals;

namespace {

CompletionPortConfig portConfig(std::size_t maxConcurrency, std::size_t capacity = 65536) {
  CompletionPortConfig c;
  c.maxConcurrency = maxConcurrency;
  c.queueCapacity = capacity;
  return c;
}

// Observes a state that has no event of its own (a thread blocked inside dequeue):
// a bounded loop with a short pause, never an open-ended sleep.
template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds limit = 10s) {
  const auto until = SteadyClock::now() + limit;
  while (SteadyClock::now() < until) {
    if (pred()) return true;
    std::this_thread::sleep_for(1ms);
  }
  return pred();
}

// A counter that can be waited on.
class Count {
 public:
  void add(int n = 1) {
    std::lock_guard lock(mu_);
    value_ += n;
    cv_.notify_all();
  }
  int get() const {
    std::lock_guard lock(mu_);
    return value_;
  }
  bool waitAtLeast(int n, std::chrono::nanoseconds timeout) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return value_ >= n; });
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  int value_ = 0;
};

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

void checkBalanced(const CompletionPortStats& s) {
  CHECK_MSG(s.posted + s.quitPosted + s.ioCompletions == s.dequeued + s.discarded + s.queueDepth,
            "posted " << s.posted << " + quit " << s.quitPosted << " + io " << s.ioCompletions << " != dequeued "
                      << s.dequeued << " + discarded " << s.discarded << " + depth " << s.queueDepth);
}

}  // namespace

// --- posting and dequeuing ---------------------------------------------------------

TEST(post_dequeue_roundtrip_is_fifo_and_carries_key_bytes_ptr) {
  CompletionPort port(portConfig(4));
  int anchors[3] = {};
  for (int i = 0; i < 3; ++i) CHECK(port.post(100 + i, 10 * (i + 1), &anchors[i]) == PortStatus::Ok);
  for (int i = 0; i < 3; ++i) {
    CompletionPacket p;
    CHECK(port.dequeue(p, 1s) == PortStatus::Ok);
    CHECK(p.kind == CompletionKind::Posted);
    CHECK_EQ(p.key, CompletionKey(100 + i));
    CHECK_EQ(p.bytes, std::uint64_t(10 * (i + 1)));
    CHECK(p.ptr == &anchors[i]);
  }
  const auto s = port.stats();
  CHECK_EQ(s.posted, 3u);
  CHECK_EQ(s.dequeued, 3u);
  CHECK_EQ(s.bytes, 60u);
  CHECK_EQ(s.queueDepth, 0u);
  CHECK_EQ(s.dequeueWaitNs.count, 3u);
  CHECK_EQ(s.activeThreads, 1u);  // this thread holds its packet until it comes back
  port.leave();
  CHECK_EQ(port.stats().activeThreads, 0u);
  checkBalanced(port.stats());
}

TEST(dequeue_wakes_a_thread_blocked_before_the_post) {
  CompletionPort port(portConfig(2));
  CompletionPacket got;
  PortStatus st = PortStatus::Timeout;
  std::thread t([&] { st = port.dequeue(got, 10s); });
  CHECK(eventually([&] { return port.stats().waitingThreads == 1; }));
  const auto t0 = SteadyClock::now();
  CHECK(port.post(7, 1) == PortStatus::Ok);
  t.join();
  CHECK(st == PortStatus::Ok);
  CHECK_EQ(got.key, 7u);
  CHECK(SteadyClock::now() - t0 < 5s);
}

TEST(batch_dequeue_takes_up_to_the_span_and_a_quit_ends_the_batch) {
  CompletionPort port(portConfig(1));
  for (int i = 0; i < 10; ++i) CHECK(port.post(i, 1) == PortStatus::Ok);
  CompletionPacket buf[4];
  std::size_t n = 0;
  CHECK(port.dequeueBatch(buf, n, 1s) == PortStatus::Ok);
  CHECK_EQ(n, 4u);
  for (std::size_t i = 0; i < n; ++i) CHECK_EQ(buf[i].key, CompletionKey(i));
  CHECK(port.dequeueBatch(buf, n, 1s) == PortStatus::Ok);
  CHECK_EQ(n, 4u);
  CHECK_EQ(buf[0].key, 4u);
  CHECK(port.postQuit() == PortStatus::Ok);
  CHECK(port.post(99) == PortStatus::Ok);
  CHECK(port.dequeueBatch(buf, n, 1s) == PortStatus::Ok);
  CHECK_EQ(n, 3u);  // keys 8, 9, then the quit; key 99 stays for the next call
  CHECK_EQ(buf[1].key, 9u);
  CHECK(buf[2].kind == CompletionKind::Quit);
  CHECK(port.dequeueBatch(buf, n, 1s) == PortStatus::Ok);
  CHECK_EQ(n, 1u);
  CHECK_EQ(buf[0].key, 99u);
  // One running thread per batch, even with a limit of 1.
  CHECK_EQ(port.stats().peakActive, 1u);
  std::span<CompletionPacket> empty;
  CHECK(port.dequeueBatch(empty, n, 0ms) == PortStatus::InvalidArgument);
  checkBalanced(port.stats());
}

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

TEST(full_queue_refuses_posts_at_once_but_not_quits) {
  CompletionPort port(portConfig(1, 4));
  for (int i = 0; i < 4; ++i) CHECK(port.post(i) == PortStatus::Ok);
  const auto t0 = SteadyClock::now();
  CHECK(port.post(4) == PortStatus::QueueFull);
  CHECK(SteadyClock::now() - t0 < 1s);
  CHECK(port.postQuit() == PortStatus::Ok);
  auto s = port.stats();
  CHECK_EQ(s.postRejected, 1u);
  CHECK_EQ(s.queueDepth, 5u);
  CompletionPacket p;
  CHECK(port.dequeue(p, 1s) == PortStatus::Ok);
  CHECK(port.post(5) == PortStatus::Ok);  // room again
  checkBalanced(port.stats());
}

TEST(a_quit_packet_releases_exactly_one_waiting_thread) {
  CompletionPort port(portConfig(8));
  Count quits, closed;
  std::vector<std::thread> ts;
  for (int i = 0; i < 3; ++i) ts.emplace_back([&] {
    CompletionPacket p;
    const PortStatus st = port.dequeue(p, CompletionPort::kInfinite);
    if (st == PortStatus::Ok && p.kind == CompletionKind::Quit) quits.add();
    if (st == PortStatus::Closed) closed.add();
  });
  CHECK(eventually([&] { return port.stats().waitingThreads == 3; }));
  CHECK(port.postQuit() == PortStatus::Ok);
  CHECK(quits.waitAtLeast(1, 5s));
  CHECK(!quits.waitAtLeast(2, 30ms));
  port.close();
  for (auto& t : ts) t.join();
  CHECK_EQ(quits.get(), 1);
  CHECK_EQ(closed.get(), 2);
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

// --- the concurrency limit ---------------------------------------------------------

static void concurrencyLimitHolds(std::size_t limit) {
  CompletionPort port(portConfig(limit));
  const std::size_t threads = limit * 2 + 1;
  const int packets = static_cast<int>(limit) * 6;
  std::atomic<int> running{0};
  std::atomic<int> maxRunning{0};
  Count entered, done;
  Event gate(Event::Reset::Manual);
  std::vector<std::thread> ts;
  for (std::size_t i = 0; i < threads; ++i) ts.emplace_back([&] {
    for (;;) {
      CompletionPacket p;
      if (port.dequeue(p, CompletionPort::kInfinite) != PortStatus::Ok) return;
      const int now = running.fetch_add(1) + 1;
      int prev = maxRunning.load();
      while (now > prev && !maxRunning.compare_exchange_weak(prev, now)) {
      }
      entered.add();
      gate.wait();  // hold the slot: overlap is forced
      running.fetch_sub(1);
      done.add();
    }
  });
  CHECK(eventually([&] { return port.stats().waitingThreads == threads; }));
  for (int i = 0; i < packets; ++i) CHECK(port.post(i) == PortStatus::Ok);
  CHECK(entered.waitAtLeast(static_cast<int>(limit), 5s));
  // Packets are queued and threads are idle, yet none may start beyond the limit.
  CHECK(!entered.waitAtLeast(static_cast<int>(limit) + 1, 50ms));
  CHECK_EQ(port.stats().activeThreads, limit);
  CHECK_EQ(port.stats().queueDepth, static_cast<std::size_t>(packets) - limit);
  gate.set();
  CHECK(done.waitAtLeast(packets, 10s));
  port.close();
  for (auto& t : ts) t.join();
  const auto s = port.stats();
  CHECK_MSG(maxRunning.load() == static_cast<int>(limit), "max running " << maxRunning.load() << " limit " << limit);
  CHECK(s.peakActive <= limit);
  CHECK_EQ(s.dequeued, static_cast<std::uint64_t>(packets));
}

TEST(concurrency_limit_2_is_never_exceeded) { concurrencyLimitHolds(2); }
TEST(concurrency_limit_4_is_never_exceeded) { concurrencyLimitHolds(4); }
TEST(concurrency_limit_8_is_never_exceeded) { concurrencyLimitHolds(8); }

TEST(exiting_or_leaving_thread_gives_its_slot_back) {
  CompletionPort port(portConfig(1));
  CHECK(port.post(1) == PortStatus::Ok);
  CHECK(port.post(2) == PortStatus::Ok);
  CHECK(port.post(3) == PortStatus::Ok);
  PortStatus st = PortStatus::Closed;
  std::thread first([&] {  // takes a packet and exits without coming back
    CompletionPacket p;
    st = port.dequeue(p, 1s);
  });
  first.join();
  CHECK(st == PortStatus::Ok);
  CHECK_EQ(port.stats().activeThreads, 0u);
  CompletionPacket p;
  CHECK(port.dequeue(p, 1s) == PortStatus::Ok);  // the slot is free again
  CHECK_EQ(p.key, 2u);
  // Running: another thread waits behind the limit until this one leaves.
  Count got;
  std::thread second([&] {
    CompletionPacket q;
    if (port.dequeue(q, 10s) == PortStatus::Ok && q.key == 3) got.add();
  });
  CHECK(!got.waitAtLeast(1, 30ms));
  port.leave();
  CHECK(got.waitAtLeast(1, 5s));
  second.join();
}

TEST(running_on_one_port_ends_when_dequeuing_from_another) {
  CompletionPort a(portConfig(1)), b(portConfig(1));
  CHECK(a.post(1) == PortStatus::Ok);
  CompletionPacket p;
  CHECK(a.dequeue(p, 1s) == PortStatus::Ok);
  CHECK_EQ(a.stats().activeThreads, 1u);
  CHECK(b.dequeue(p, 0ms) == PortStatus::Timeout);
  CHECK_EQ(a.stats().activeThreads, 0u);
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

TEST(close_discards_queued_packets_and_counts_them) {
  CompletionPort port(portConfig(2));
  for (int i = 0; i < 5; ++i) CHECK(port.post(i) == PortStatus::Ok);
  port.close();
  const auto s = port.stats();
  CHECK_EQ(s.discarded, 5u);
  CHECK_EQ(s.queueDepth, 0u);
  checkBalanced(s);
}

TEST(shutdown_drains_queued_packets_then_reports_closed) {
  CompletionPort port(portConfig(2));
  for (int i = 0; i < 5; ++i) CHECK(port.post(i) == PortStatus::Ok);
  port.shutdown();
  CHECK(port.post(9) == PortStatus::Closed);
  CompletionPacket p;
  for (int i = 0; i < 5; ++i) {
    CHECK(port.dequeue(p, 1s) == PortStatus::Ok);
    CHECK_EQ(p.key, CompletionKey(i));
  }
  CHECK(port.dequeue(p, 10s) == PortStatus::Closed);
  // Waiters blocked at shutdown time are released too.
  CompletionPort idle(portConfig(2));
  PortStatus st = PortStatus::Ok;
  std::thread t([&] {
    CompletionPacket q;
    st = idle.dequeue(q, CompletionPort::kInfinite);
  });
  CHECK(eventually([&] { return idle.stats().waitingThreads == 1; }));
  idle.shutdown();
  t.join();
  CHECK(st == PortStatus::Closed);
}

TEST(destructor_waits_for_callers_it_releases) {
  auto port = std::make_unique<CompletionPort>(portConfig(2));
  CompletionPort* raw = port.get();
  Count returned;
  std::thread t([raw, &returned] {
    CompletionPacket p;
    if (raw->dequeue(p, CompletionPort::kInfinite) == PortStatus::Closed) returned.add();
  });
  CHECK(eventually([&] { return port->stats().waitingThreads == 1; }));
  const auto t0 = SteadyClock::now();
  port.reset();  // closes, and returns only once the blocked caller has left
  const auto took = SteadyClock::now() - t0;
  t.join();
  CHECK_EQ(returned.get(), 1);
  CHECK(took < 2s);
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

TEST(iocp_workers_dispatch_to_a_handler_on_named_threads) {
  CompletionPort port(portConfig(4));
  constexpr int kPackets = 5000;
  std::mutex mu;
  std::set<CompletionKey> keys;  // guarded by mu
  Count handled;
  IocpWorkersConfig cfg;
  cfg.threads = 4;
  cfg.batchSize = 8;
  IocpWorkers workers(
      port,
      [&](const CompletionPacket& p) {
        {
          std::lock_guard lock(mu);
          keys.insert(p.key);
        }
        handled.add();
      },
      cfg);
  workers.start();
  for (int i = 0; i < kPackets; ++i) CHECK(port.post(i, 3) == PortStatus::Ok);
  CHECK(handled.waitAtLeast(kPackets, 10s));
  auto s = workers.stats();
  CHECK_EQ(s.workers.size(), 4u);
  for (const auto& w : s.workers) CHECK(w.name.rfind("gs-iocp-", 0) == 0);
  CHECK(workers.stop(5s));
  s = workers.stats();
  CHECK_EQ(s.threads, 0u);
  CHECK_EQ(s.dispatched, static_cast<std::uint64_t>(kPackets));
  CHECK_EQ(s.handled, static_cast<std::uint64_t>(kPackets));
  CHECK_EQ(s.quits, 4u);
  CHECK_EQ(s.handlerNs.count, static_cast<std::uint64_t>(kPackets));
  CHECK_EQ(s.port.bytes, 3u * kPackets);
  CHECK_EQ(s.port.activeThreads, 0u);  // exiting threads gave their slots back
  std::lock_guard lock(mu);
  CHECK_EQ(keys.size(), static_cast<std::size_t>(kPackets));
}

TEST(iocp_workers_hand_completions_to_a_thread_pool) {
  CompletionPort port(portConfig(2));
  ThreadPoolConfig pc;
  pc.minThreads = 2;
  pc.maxThreads = 4;
  ThreadPool pool(pc);
  constexpr int kPackets = 2000;
  std::mutex mu;
  std::set<std::uint64_t> handlerTids;  // guarded by mu
  Count handled;
  IocpWorkersConfig cfg;
  cfg.threads = 2;
  IocpWorkers workers(
      port, pool,
      [&](const CompletionPacket&) {
        {
          std::lock_guard lock(mu);
          handlerTids.insert(platform::currentThreadId());
        }
        handled.add();
      },
      cfg);
  workers.start();
  for (int i = 0; i < kPackets; ++i) CHECK(port.post(i) == PortStatus::Ok);
  CHECK(handled.waitAtLeast(kPackets, 10s));
  const auto before = workers.stats();
  CHECK(workers.stop(5s));
  const auto s = workers.stats();
  CHECK_EQ(s.dispatched, static_cast<std::uint64_t>(kPackets));
  CHECK_EQ(s.handedToPool + s.ranInline, static_cast<std::uint64_t>(kPackets));
  CHECK_EQ(s.ranInline, 0u);
  // Pool items count themselves after the handler returns; stop() does not wait for them.
  CHECK(eventually([&] { return workers.stats().handled == static_cast<std::uint64_t>(kPackets); }));
  std::lock_guard lock(mu);
  for (const auto& w : before.workers) CHECK_MSG(handlerTids.count(w.tid) == 0, "handler ran on " << w.name);
}

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

TEST(iocp_workers_stop_even_when_the_port_queue_is_full) {
  CompletionPort port(portConfig(2, 8));
  Event release(Event::Reset::Manual);
  Count entered;
  IocpWorkersConfig cfg;
  cfg.threads = 2;
  cfg.batchSize = 1;
  IocpWorkers workers(
      port,
      [&](const CompletionPacket&) {
        entered.add();
        release.wait();
      },
      cfg);
  workers.start();
  CHECK(port.post(0) == PortStatus::Ok);
  CHECK(port.post(1) == PortStatus::Ok);
  CHECK(entered.waitAtLeast(2, 5s));
  for (int i = 0; i < 8; ++i) CHECK(port.post(100 + i) == PortStatus::Ok);
  CHECK(port.post(200) == PortStatus::QueueFull);
  CHECK(!workers.stop(20ms));  // both threads are inside the handler: not killed, just reported
  release.set();
  CHECK(workers.stop(5s));
  const auto s = workers.stats();
  CHECK_EQ(s.handled, 10u);  // the queued packets ran before the quits
  CHECK_EQ(s.quits, 2u);
}

GS_TEST_MAIN()
