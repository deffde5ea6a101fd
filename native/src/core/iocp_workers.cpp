#include "gamesrv/iocp_workers.hpp"

#include <algorithm>
#include <atomic>

#include "gamesrv/clock.hpp"
#include "gamesrv/thread_pool.hpp"

namespace gamesrv {

// What the I/O threads and the items queued in the pool share; items hold it by
// shared_ptr so they stay valid after the IocpWorkers object is gone.
struct IocpWorkers::Shared {
  explicit Shared(CompletionHandler h) : handler(std::move(h)) {}

  void runHandler(const CompletionPacket& packet) {
    const std::uint64_t t0 = nowNs();
    try {
      handler(packet);
      handled.fetch_add(1, std::memory_order_relaxed);
    } catch (...) {
      failed.fetch_add(1, std::memory_order_relaxed);
    }
    handlerNs.record(nowNs() - t0);
  }

  const CompletionHandler handler;
  std::atomic<std::uint64_t> batches{0};
  std::atomic<std::uint64_t> dispatched{0};
  std::atomic<std::uint64_t> handled{0};
  std::atomic<std::uint64_t> failed{0};
  std::atomic<std::uint64_t> handedToPool{0};
  std::atomic<std::uint64_t> ranInline{0};
  std::atomic<std::uint64_t> poolCancelled{0};
  std::atomic<std::uint64_t> quits{0};
  Histogram handlerNs;
};

IocpWorkers::IocpWorkers(CompletionPort& port, CompletionHandler handler, IocpWorkersConfig config)
    : port_(port),
      pool_(nullptr),
      config_(std::move(config)),
      shared_(std::make_shared<Shared>(std::move(handler))),
      group_(config_.namePrefix) {}

IocpWorkers::IocpWorkers(CompletionPort& port, ThreadPool& pool, CompletionHandler handler, IocpWorkersConfig config)
    : IocpWorkers(port, std::move(handler), std::move(config)) {
  pool_ = &pool;
}

IocpWorkers::~IocpWorkers() { stop(std::chrono::hours(24 * 365)); }

void IocpWorkers::start() {
  group_.start(config_.threads, [this](WorkerContext& ctx) { run(ctx); });
}

bool IocpWorkers::stop(std::chrono::nanoseconds deadline) {
  // One Quit per live thread, posted once. (A per-thread stop callback cannot do this:
  // a thread that takes another's Quit exits and unregisters its own callback first.)
  if (!stopping_.exchange(true)) {
    group_.requestStop();
    for (std::size_t n = group_.alive(); n > 0; --n) port_.postQuit();
  }
  return group_.joinFor(deadline);
}

void IocpWorkers::run(WorkerContext& ctx) {
  CompletionPort& port = port_;
  Shared& sh = *shared_;
  std::vector<CompletionPacket> batch(std::max<std::size_t>(1, config_.batchSize));
  bool quit = false;
  while (!quit) {
    std::size_t n = 0;
    const PortStatus status = port.dequeueBatch(batch, n, CompletionPort::kInfinite);
    if (status == PortStatus::Closed) break;
    if (status != PortStatus::Ok) continue;
    sh.batches.fetch_add(1, std::memory_order_relaxed);
    ctx.beginWork();
    std::uint64_t items = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const CompletionPacket& packet = batch[i];
      if (packet.kind == CompletionKind::Quit) {
        sh.quits.fetch_add(1, std::memory_order_relaxed);
        quit = true;
        continue;
      }
      ++items;
      sh.dispatched.fetch_add(1, std::memory_order_relaxed);
      if (pool_ == nullptr) {
        sh.runHandler(packet);
        continue;
      }
      std::shared_ptr<Shared> keep = shared_;
      WorkItem item{[keep, packet] { keep->runHandler(packet); },
                    [keep] { keep->poolCancelled.fetch_add(1, std::memory_order_relaxed); }};
      if (pool_->submit(std::move(item)) == SubmitStatus::Ok) {
        sh.handedToPool.fetch_add(1, std::memory_order_relaxed);
      } else {
        sh.ranInline.fetch_add(1, std::memory_order_relaxed);
        sh.runHandler(packet);
      }
    }
    ctx.endWork(items);
  }
  port.leave();
}

IocpWorkersStats IocpWorkers::stats() const {
  IocpWorkersStats s;
  const Shared& sh = *shared_;
  s.threads = group_.alive();
  s.batches = sh.batches.load(std::memory_order_relaxed);
  s.dispatched = sh.dispatched.load(std::memory_order_relaxed);
  s.handled = sh.handled.load(std::memory_order_relaxed);
  s.failed = sh.failed.load(std::memory_order_relaxed);
  s.handedToPool = sh.handedToPool.load(std::memory_order_relaxed);
  s.ranInline = sh.ranInline.load(std::memory_order_relaxed);
  s.poolCancelled = sh.poolCancelled.load(std::memory_order_relaxed);
  s.quits = sh.quits.load(std::memory_order_relaxed);
  s.handlerNs = sh.handlerNs.summary();
  s.workers = group_.stats();
  s.port = port_.stats();
  return s;
}

}  // namespace gamesrv
