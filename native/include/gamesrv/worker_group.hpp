// WorkerGroup: a set of named engine threads with start / request-stop /
// join-with-deadline and per-thread statistics. Every engine thread is one.
//
// Threads are never killed: requestStop() asks (through each thread's
// std::stop_token, which wakes std::condition_variable_any waits), and
// joinFor() waits up to a deadline, reporting whether every thread exited.
// Threads may also leave on their own (an elastic pool's idle timeout); their
// counters are folded into retired() so totals stay true.
//
// Thread safety: all public members are safe from any thread, except that a
// body must not call joinFor() on its own group.
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

namespace gamesrv {

enum class WorkerState : std::uint8_t { Idle, Busy, Paused, Stopped };
const char* toString(WorkerState s) noexcept;

struct WorkerStats {
  std::string name;
  std::uint64_t tid = 0;
  WorkerState state = WorkerState::Idle;
  std::uint64_t items = 0;
  std::uint64_t busyNs = 0;
  std::uint64_t cpuNs = 0;
};

struct RetiredTotals {
  std::uint64_t threads = 0;
  std::uint64_t items = 0;
  std::uint64_t busyNs = 0;
  std::uint64_t cpuNs = 0;
};

class WorkerGroup;

// Handed to each thread's body. Only the owning thread calls its mutators.
class WorkerContext {
 public:
  std::stop_token stopToken() const noexcept { return token_; }
  bool stopRequested() const noexcept { return token_.stop_requested(); }
  std::size_t index() const noexcept;
  const std::string& name() const noexcept;

  void setState(WorkerState s) noexcept;
  // Brackets one unit of work: state busy, then items += n and busy time added.
  void beginWork() noexcept;
  void endWork(std::uint64_t items = 1) noexcept;

 private:
  friend class WorkerGroup;
  struct Slot;
  WorkerContext(Slot* slot, std::stop_token token) : slot_(slot), token_(std::move(token)) {}
  Slot* slot_;
  std::stop_token token_;
  std::uint64_t workStartNs_ = 0;
};

class WorkerGroup {
 public:
  using Body = std::function<void(WorkerContext&)>;

  explicit WorkerGroup(std::string namePrefix);
  ~WorkerGroup();  // requestStop() + unbounded join: bodies must honour their stop token
  WorkerGroup(const WorkerGroup&) = delete;
  WorkerGroup& operator=(const WorkerGroup&) = delete;

  // Spawns `count` threads named "<prefix>-<n>" running `body`.
  void start(std::size_t count, const Body& body);
  // Spawns one more thread; returns its index. Also reaps threads that have exited.
  std::size_t add(Body body);

  void requestStop();
  // Waits until every thread has exited or the timeout passes; joins those that exited.
  // Returns true when no thread is left.
  bool joinFor(std::chrono::nanoseconds timeout);

  std::vector<WorkerStats> stats() const;
  RetiredTotals retired() const;
  std::size_t alive() const;  // threads that have not exited yet
  const std::string& prefix() const noexcept { return prefix_; }

 private:
  void reapLocked();  // Requires: mu_ held.

  const std::string prefix_;
  mutable std::mutex mu_;
  std::condition_variable exitedCv_;
  std::list<std::unique_ptr<WorkerContext::Slot>> slots_;  // guarded by mu_
  std::size_t nextIndex_ = 0;                              // guarded by mu_
  RetiredTotals retired_;                                  // guarded by mu_
};

}  // namespace gamesrv
