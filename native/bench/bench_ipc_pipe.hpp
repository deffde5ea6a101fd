// Pipe round trips: 8 client threads doing blocking request/response against a PipeServer
// whose I/O runs on a CompletionPort drained by gs-iocp threads, for ~2 s, median of 3.
// Baseline, measured in the same run with the same clients and frames: thread-per-client,
// a dedicated blocking server thread per connection over a SOCK_SEQPACKET socketpair (no
// port, no accept, no epoll) — the classic design the port replaces. Target: >= 50,000/s.
//
// Rows: pipe_roundtrips_per_sec (baseline: pipe_roundtrips_per_sec_thread_per_client),
//       pipe_roundtrips_per_sec_thread_per_client, pipe_roundtrip_p99_us,
//       pipe_roundtrip_cpu_ns (baseline: pipe_roundtrip_cpu_ns_thread_per_client), the
//       process CPU time per round trip, clients included: steadier than rates on a busy host.
#pragma once
#include <sys/socket.h>
#include <unistd.h>

#include <time.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <latch>
#include <string>
#include <thread>
#include <vector>

#include "bench_support.hpp"
#include "gamesrv/histogram.hpp"
#include "gamesrv/iocp_workers.hpp"
#include "gamesrv/pipe.hpp"

namespace gsbench {
namespace pipe_bench {

constexpr int kClients = 8;

inline std::uint64_t processCpuNs() {
  timespec ts{};
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<std::uint64_t>(ts.tv_nsec);
}

struct RunResult {
  double perSec = 0;
  double cpuNsPer = 0;  // process CPU time (clients and server) per round trip
  std::uint64_t p99Ns = 0;
  std::uint64_t failures = 0;
};

// Runs `body(clientIndex, stop, count, latency)` on kClients threads for `seconds`.
template <class Body>
RunResult timed(double seconds, Body body) {
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> done{0}, failures{0};
  gamesrv::Histogram latency;
  std::latch ready(kClients + 1);
  std::vector<std::thread> threads;
  for (int c = 0; c < kClients; ++c) {
    threads.emplace_back([&, c] {
      std::uint64_t n = 0, bad = 0;
      body(c, ready, stop, n, bad, latency);
      done.fetch_add(n);
      failures.fetch_add(bad);
    });
  }
  ready.arrive_and_wait();
  const std::uint64_t t0 = nowNs();
  const std::uint64_t cpu0 = processCpuNs();
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop.store(true, std::memory_order_relaxed);
  for (auto& t : threads) t.join();
  const double elapsed = static_cast<double>(nowNs() - t0) / 1e9;
  const double cpu = static_cast<double>(processCpuNs() - cpu0);
  const double n = static_cast<double>(std::max<std::uint64_t>(done.load(), 1));
  return RunResult{n / elapsed, cpu / n, latency.quantile(0.99), failures.load()};
}

inline RunResult runPort(const std::string& path, double seconds) {
  return timed(seconds, [&](int c, std::latch& ready, std::atomic<bool>& stop, std::uint64_t& n, std::uint64_t& bad,
                            gamesrv::Histogram& latency) {
    gamesrv::PipeClient client;
    const bool ok = client.connect(path, std::chrono::seconds(5)).ok();
    const std::string data = gamesrv::formatMovePayload(static_cast<std::uint32_t>(c), 1.5, -2.25);
    ready.arrive_and_wait();
    if (!ok) {
      ++bad;
      return;
    }
    while (!stop.load(std::memory_order_relaxed)) {
      const std::uint64_t t = nowNs();
      const gamesrv::PipeReplyResult r = client.request(gamesrv::PipeMessageType::PlayerMove, data);
      latency.record(nowNs() - t);
      if (!r.ok() || r.reply.type != gamesrv::PipeMessageType::Ack) {
        ++bad;
        return;
      }
      ++n;
    }
  });
}

// The baseline server: one blocking thread per connection, same decode / parse / encode.
inline void serveBlocking(int fd) {
  std::uint8_t in[gamesrv::kPipeFrameBytes + 1];
  gamesrv::PipeFrame out;
  for (;;) {
    const ssize_t n = ::recv(fd, in, sizeof in, 0);
    if (n <= 0) return;
    const gamesrv::PipeDecodeResult d = gamesrv::decodePipeFrame(in, static_cast<std::size_t>(n));
    const bool ok = d.ok() && gamesrv::parsePlayerPayload(d.message.type, d.message.data).ok();
    gamesrv::encodePipeFrameInto(ok ? gamesrv::PipeMessageType::Ack : gamesrv::PipeMessageType::Error, ok ? "ACK" : "bad",
                                 out);
    if (::send(fd, out.data(), out.size(), MSG_NOSIGNAL) < 0) return;
  }
}

inline RunResult runThreadPerClient(double seconds) {
  std::vector<std::thread> servers;
  std::vector<int> clientFds(kClients, -1);
  for (int c = 0; c < kClients; ++c) {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) continue;
    clientFds[c] = sv[0];
    servers.emplace_back([fd = sv[1]] {
      serveBlocking(fd);
      ::close(fd);
    });
  }
  RunResult r = timed(seconds, [&](int c, std::latch& ready, std::atomic<bool>& stop, std::uint64_t& n,
                                   std::uint64_t& bad, gamesrv::Histogram& latency) {
    const int fd = clientFds[c];
    const std::string data = gamesrv::formatMovePayload(static_cast<std::uint32_t>(c), 1.5, -2.25);
    ready.arrive_and_wait();
    if (fd < 0) {
      ++bad;
      return;
    }
    std::uint8_t in[gamesrv::kPipeFrameBytes + 1];
    gamesrv::PipeFrame frame;
    while (!stop.load(std::memory_order_relaxed)) {
      const std::uint64_t t = nowNs();
      gamesrv::encodePipeFrameInto(gamesrv::PipeMessageType::PlayerMove, data, frame);
      if (::send(fd, frame.data(), frame.size(), MSG_NOSIGNAL) < 0) {
        ++bad;
        return;
      }
      const ssize_t got = ::recv(fd, in, sizeof in, 0);
      const gamesrv::PipeDecodeResult d = gamesrv::decodePipeFrame(in, got < 0 ? 0 : static_cast<std::size_t>(got));
      latency.record(nowNs() - t);
      if (!d.ok() || d.message.type != gamesrv::PipeMessageType::Ack) {
        ++bad;
        return;
      }
      ++n;
    }
  });
  for (int fd : clientFds)
    if (fd >= 0) ::shutdown(fd, SHUT_RDWR);
  for (auto& t : servers) t.join();
  for (int fd : clientFds)
    if (fd >= 0) ::close(fd);
  return r;
}

}  // namespace pipe_bench

inline void runPipeBench(Report& report, bool quick = false) {
  using namespace gamesrv;
  const double seconds = quick ? 0.5 : 2.0;
  constexpr int kReps = 3;
  const std::size_t ioThreads = std::clamp<std::size_t>(std::thread::hardware_concurrency(), 2, 4);

  CompletionPort port;
  const std::string path = "/tmp/gamesrv-bench-" + std::to_string(::getpid()) + ".sock";
  PipeServer server(PipeServerConfig{path, 64, &port}, [](const PipeRequest& r) {
    return r.player ? PipeReply::ack() : PipeReply::error("no player");
  });
  if (PipeResult started = server.start(); !started.ok()) {
    log("pipe: cannot start the server: %s", started.detail.c_str());
    report.add("pipe_roundtrips_per_sec", std::nan(""), "ops/s", "pipe_roundtrips_per_sec_thread_per_client");
    return;
  }
  IocpWorkers workers(port, [d = server.dispatcher()](const CompletionPacket& p) { d(p); },
                      IocpWorkersConfig{ioThreads, 16, "gs-iocp"});
  workers.start();

  std::vector<double> ours, baseline, p99us, oursCpu, baselineCpu;
  std::uint64_t failures = 0;
  for (int rep = 0; rep < kReps; ++rep) {  // interleaved: a noisy neighbour hurts both alike
    const pipe_bench::RunResult a = pipe_bench::runPort(path, seconds);
    const pipe_bench::RunResult b = pipe_bench::runThreadPerClient(seconds);
    ours.push_back(a.perSec);
    baseline.push_back(b.perSec);
    p99us.push_back(static_cast<double>(a.p99Ns) / 1000.0);
    oursCpu.push_back(a.cpuNsPer);
    baselineCpu.push_back(b.cpuNsPer);
    failures += a.failures + b.failures;
  }
  workers.stop(std::chrono::seconds(5));
  server.stop();
  const PipeServerStats s = server.stats();
  log("pipe: %d clients, %zu gs-iocp threads, %.1f s x %d: port %s /s, thread-per-client %s /s, p99 %s us; "
      "CPU ns per round trip: port %s, thread-per-client %s; server frames %llu, errors %llu, failures %llu",
      pipe_bench::kClients, ioThreads, seconds, kReps, listOf(ours, "%.0f").c_str(), listOf(baseline, "%.0f").c_str(),
      listOf(p99us, "%.1f").c_str(), listOf(oursCpu, "%.0f").c_str(), listOf(baselineCpu, "%.0f").c_str(),
      static_cast<unsigned long long>(s.framesIn),
      static_cast<unsigned long long>(s.errors.badPayload + s.errors.io + s.errors.handlerFailed),
      static_cast<unsigned long long>(failures));
  report.add("pipe_roundtrips_per_sec", failures ? std::nan("") : median(ours), "ops/s",
             "pipe_roundtrips_per_sec_thread_per_client");
  report.add("pipe_roundtrips_per_sec_thread_per_client", median(baseline), "ops/s");
  report.add("pipe_roundtrip_p99_us", median(p99us), "us");
  // CPU per round trip (clients + server, whole process) holds still on a busy machine
  // where the rate does not.
  report.add("pipe_roundtrip_cpu_ns_thread_per_client", median(baselineCpu), "ns");
  report.add("pipe_roundtrip_cpu_ns", median(oursCpu), "ns", "pipe_roundtrip_cpu_ns_thread_per_client");
}

}  // namespace gsbench
