// CompletionPort contract tests that hold on every platform (posted packets, quits,
// batches, the concurrency limit, close/shutdown) and IocpWorkers over them. Handle-based
// cases need OS handles: test_completion_port_posix.cpp (fds) and
// test_completion_port_win32.cpp (overlapped I/O).
#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "completion_port_test_support.hpp"
#include "gamesrv/event.hpp"
#include "gamesrv/iocp_workers.hpp"
#include "gamesrv/platform/thread.hpp"
#include "gamesrv/thread_pool.hpp"
#include "harness.hpp"

using namespace gamesrv;
using namespace cptest;
using namespace std::chrono_literals;

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
