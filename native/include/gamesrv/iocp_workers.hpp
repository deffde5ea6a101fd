// IocpWorkers: the `gs-iocp-N` threads that drain a CompletionPort (seed 4.2.2's IOCP
// worker loop) and dispatch every completion to a handler, either on the I/O thread
// itself or handed to a ThreadPool.
//
// Semantics
// - Each thread loops on port.dequeueBatch(); a Quit packet ends the thread that takes
//   it, a Closed port ends every thread. Quit packets never reach the handler.
// - stop() posts one Quit packet per live thread, once (quits bypass the port's
//   capacity, so this never fails on a full queue): the threads first finish the
//   packets queued before the quits. stop() then waits up to
//   the deadline; false means a thread is still inside a handler (never killed; the
//   destructor waits for it). The port is not closed: its owner decides.
// - Only this group should dequeue from its port while stopping: another consumer could
//   take a Quit meant for one of these threads.
// - Pool mode: the handler runs on a pool thread, so the port's concurrency limit
//   bounds the dispatching threads, not the handlers. A pool that refuses the item
//   (queue full, shutting down) makes the I/O thread run it inline (counted in
//   ranInline), so a refusal never drops a completion; items the pool later cancels at
//   its own shutdown are counted in poolCancelled. Handlers queued in the pool may run
//   after stop(); they keep what they need alive (the handler and counters are shared).
// - A handler that throws counts as failed; the thread keeps going.
//
// Thread safety: every public member is safe from any thread, except that stop() and
// the destructor must not run on one of the group's own threads (or from a handler).
#pragma once
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "gamesrv/histogram.hpp"
#include "gamesrv/platform/completion_port.hpp"
#include "gamesrv/worker_group.hpp"

namespace gamesrv {

class ThreadPool;

using CompletionHandler = std::function<void(const CompletionPacket&)>;

struct IocpWorkersConfig {
  std::size_t threads = 4;
  std::size_t batchSize = 16;  // packets taken per dequeue (GetQueuedCompletionStatusEx)
  std::string namePrefix = "gs-iocp";
};

struct IocpWorkersStats {
  std::size_t threads = 0;       // alive now
  std::uint64_t batches = 0;     // successful dequeue calls
  std::uint64_t dispatched = 0;  // completions given to the handler (inline or pool)
  std::uint64_t handled = 0;     // handler returned normally
  std::uint64_t failed = 0;      // handler threw
  std::uint64_t handedToPool = 0;
  std::uint64_t ranInline = 0;   // pool refused, ran on the I/O thread
  std::uint64_t poolCancelled = 0;  // handed to the pool, cancelled there before running
  std::uint64_t quits = 0;       // Quit packets taken
  HistogramSummary handlerNs;    // handler run time
  std::vector<WorkerStats> workers;
  CompletionPortStats port;
};

class IocpWorkers {
 public:
  // Handler runs on the gs-iocp threads.
  IocpWorkers(CompletionPort& port, CompletionHandler handler, IocpWorkersConfig config = {});
  // Handler runs on `pool`, which must outlive this object's threads and its queued items.
  IocpWorkers(CompletionPort& port, ThreadPool& pool, CompletionHandler handler, IocpWorkersConfig config = {});
  ~IocpWorkers();  // stop(unbounded)
  IocpWorkers(const IocpWorkers&) = delete;
  IocpWorkers& operator=(const IocpWorkers&) = delete;

  void start();  // once
  // True when every thread has exited within `deadline`.
  bool stop(std::chrono::nanoseconds deadline);

  IocpWorkersStats stats() const;

 private:
  struct Shared;
  void run(WorkerContext& ctx);

  CompletionPort& port_;
  ThreadPool* pool_;
  IocpWorkersConfig config_;
  std::shared_ptr<Shared> shared_;  // handler + counters, shared with items queued in the pool
  std::atomic<bool> stopping_{false};
  WorkerGroup group_;
};

}  // namespace gamesrv
