// The `ipc` suite: pipe round trips, shared-memory status reads, completion-port packet
// throughput, and the lock table — each against a baseline measured in the same run.
//
//   bench_ipc [--quick]
#include <atomic>
#include <cmath>
#include <pthread.h>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

#include "bench_ipc_pipe.hpp"
#include "bench_support.hpp"
#include "gamesrv/lock_benchmark.hpp"
#include "gamesrv/monitor.hpp"
#include "gamesrv/platform/completion_port.hpp"

using namespace gsbench;

namespace {

// --- shared-memory reads: the seqlock reader vs a read under the writers' mutex ------

struct ShmFigures {
  double idle = std::nan("");         // seqlock reader, no writer running
  double idleLocked = std::nan("");   // the same copy under a process-shared mutex
  double busy = std::nan("");         // seqlock reader while a writer updates flat out
  double busyLocked = std::nan("");   // mutex reader while that writer takes the same mutex
};

ShmFigures shmRead(bool quick) {
  ShmFigures f;
  const std::string name = "bench-ipc-" + std::to_string(::getpid());
  gamesrv::MonitorCreateResult created = gamesrv::MonitorWriter::create(name, 1000);
  if (created.error != gamesrv::MonitorError::None) {
    log("shm: %s", created.detail.c_str());
    return f;
  }
  gamesrv::MonitorWriter& writer = *created.writer;
  writer.update({42, 1000, 12.5, 1 << 20, false});
  gamesrv::MonitorOpenResult opened = gamesrv::MonitorReader::open(name);
  if (opened.error != gamesrv::MonitorError::None) return f;
  const gamesrv::MonitorReader& reader = *opened.reader;
  const int reads = quick ? 200000 : 2000000;
  // The baseline takes a process-shared mutex around the same copy: the seed's reader,
  // which locked the writers' named mutex to read.
  pthread_mutexattr_t attr;
  pthread_mutexattr_init(&attr);
  pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
  pthread_mutex_t mu;
  pthread_mutex_init(&mu, &attr);
  auto seqlockReads = [&] {
    gamesrv::SharedStatus copy{};
    std::uint64_t sink = 0;
    const std::uint64_t t0 = nowNs();
    for (int i = 0; i < reads; ++i) {
      reader.readStatus(copy);
      sink += copy.playerCount;
    }
    if (sink == 1) log("-");
    return static_cast<double>(nowNs() - t0) / reads;
  };
  auto lockedReads = [&] {
    gamesrv::SharedStatus copy{};
    std::uint64_t sink = 0;
    const std::uint64_t t0 = nowNs();
    for (int i = 0; i < reads; ++i) {
      pthread_mutex_lock(&mu);
      reader.readStatus(copy);
      sink += copy.playerCount;
      pthread_mutex_unlock(&mu);
    }
    if (sink == 1) log("-");
    return static_cast<double>(nowNs() - t0) / reads;
  };
  std::vector<double> idle, idleLocked, busy, busyLocked;
  for (int rep = 0; rep < 5; ++rep) {
    idle.push_back(seqlockReads());
    idleLocked.push_back(lockedReads());
  }
  for (int rep = 0; rep < 3; ++rep) {
    for (int locked = 0; locked < 2; ++locked) {
      std::atomic<bool> run{true};
      std::thread w([&] {
        std::uint32_t n = 0;
        while (run.load(std::memory_order_relaxed)) {
          if (locked) pthread_mutex_lock(&mu);
          writer.setPlayerCount(++n % 1000);
          if (locked) pthread_mutex_unlock(&mu);
        }
      });
      (locked ? busyLocked : busy).push_back(locked ? lockedReads() : seqlockReads());
      run = false;
      w.join();
    }
  }
  pthread_mutex_destroy(&mu);
  pthread_mutexattr_destroy(&attr);
  writer.stop();
  log("shm read ns, idle: seqlock %s | mutex %s", listOf(idle).c_str(), listOf(idleLocked).c_str());
  log("shm read ns, writer flat out: seqlock %s | mutex %s", listOf(busy).c_str(), listOf(busyLocked).c_str());
  f.idle = median(idle);
  f.idleLocked = median(idleLocked);
  f.busy = median(busy);
  f.busyLocked = median(busyLocked);
  return f;
}

// --- completion port: post + dequeue through 2 threads vs a mutex/condvar queue ------

struct NaivePort {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::uint64_t> q;
  void post(std::uint64_t k) {
    {
      std::lock_guard l(mu);
      q.push_back(k);
    }
    cv.notify_one();
  }
  std::uint64_t take() {
    std::unique_lock l(mu);
    cv.wait(l, [&] { return !q.empty(); });
    const std::uint64_t k = q.front();
    q.pop_front();
    return k;
  }
};

constexpr std::uint64_t kQuitKey = ~0ull - 1;

double iocpPacketsPerSec(std::uint64_t n, int consumers) {
  gamesrv::CompletionPortConfig cfg;
  cfg.queueCapacity = 1 << 16;
  cfg.maxConcurrency = static_cast<std::size_t>(consumers);
  gamesrv::CompletionPort port(cfg);
  std::atomic<std::uint64_t> got{0};
  std::vector<std::thread> ts;
  for (int c = 0; c < consumers; ++c) {
    ts.emplace_back([&] {
      gamesrv::CompletionPacket batch[32];
      for (;;) {
        std::size_t count = 0;
        if (port.dequeueBatch(batch, count, gamesrv::CompletionPort::kInfinite) != gamesrv::PortStatus::Ok) return;
        std::size_t packets = 0;
        bool quit = false;
        for (std::size_t i = 0; i < count; ++i) {
          if (batch[i].kind == gamesrv::CompletionKind::Quit) {
            quit = true;
          } else {
            ++packets;
          }
        }
        got.fetch_add(packets, std::memory_order_relaxed);
        if (quit) return;
      }
    });
  }
  const std::uint64_t t0 = nowNs();
  for (std::uint64_t i = 0; i < n; ++i) {
    while (port.post(i, 1) == gamesrv::PortStatus::QueueFull) std::this_thread::yield();
  }
  for (int c = 0; c < consumers; ++c) port.postQuit();
  for (auto& t : ts) t.join();
  const double rate = static_cast<double>(n) * 1e9 / static_cast<double>(nowNs() - t0);
  if (got.load() != n) log("iocp: got %llu of %llu", static_cast<unsigned long long>(got.load()), static_cast<unsigned long long>(n));
  return rate;
}

double naivePacketsPerSec(std::uint64_t n, int consumers) {
  NaivePort port;
  std::vector<std::thread> ts;
  for (int c = 0; c < consumers; ++c) {
    ts.emplace_back([&] {
      while (port.take() != kQuitKey) {
      }
    });
  }
  const std::uint64_t t0 = nowNs();
  for (std::uint64_t i = 0; i < n; ++i) port.post(i);
  for (int c = 0; c < consumers; ++c) port.post(kQuitKey);
  for (auto& t : ts) t.join();
  return static_cast<double>(n) * 1e9 / static_cast<double>(nowNs() - t0);
}

}  // namespace

int main(int argc, char** argv) {
  bool quick = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) {
      quick = true;
    } else {
      std::fprintf(stderr, "usage: bench_ipc [--quick]\n");
      return 2;
    }
  }
  Report report("ipc");
  log("== ipc suite (%u hardware threads)%s", std::thread::hardware_concurrency(), quick ? " [quick]" : "");

  runPipeBench(report, quick);

  const ShmFigures shm = shmRead(quick);
  report.add("shm_read_mutex_ns", shm.idleLocked, "ns");
  report.add("shm_read_ns", shm.idle, "ns", "shm_read_mutex_ns");
  report.add("shm_read_mutex_busy_writer_ns", shm.busyLocked, "ns");
  report.add("shm_read_busy_writer_ns", shm.busy, "ns", "shm_read_mutex_busy_writer_ns");

  const std::uint64_t packets = quick ? 200000 : 2000000;
  std::vector<double> ours, naive;
  for (int rep = 0; rep < 5; ++rep) {
    ours.push_back(iocpPacketsPerSec(packets, 2));
    naive.push_back(naivePacketsPerSec(packets, 2));
  }
  log("iocp_packets_per_sec: ours %s | mutex+condvar queue %s", listOf(ours).c_str(), listOf(naive).c_str());
  report.add("iocp_naive_queue_packets_per_sec", median(naive), "packets/s");
  report.add("iocp_packets_per_sec", median(ours), "packets/s", "iocp_naive_queue_packets_per_sec");

  gamesrv::LockBenchmarkOptions lo;
  if (quick) lo.iterations = 100000;
  const gamesrv::LockBenchmarkReport locks = gamesrv::runLockBenchmark(lo);
  const std::string base = gamesrv::lockBenchmarkKinds().front();
  for (const auto& row : locks.rows) {
    if (!row.measured()) continue;
    log("lock %-22s %10.2f Mops/s  x%.2f of fastest  %s", row.kind.c_str(), row.opsPerSec / 1e6, row.ratioToFastest,
        row.exact ? "exact" : "LOST INCREMENTS");
    report.add("lock_" + row.kind + "_ops_per_sec", row.opsPerSec, "ops/s",
               row.kind == base ? std::nullopt : std::optional<std::string>("lock_" + base + "_ops_per_sec"));
  }
  std::printf("%s\n", report.json().c_str());
  return 0;
}
