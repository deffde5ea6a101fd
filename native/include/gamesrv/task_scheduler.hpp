// TaskScheduler: game tasks on the ThreadPool (seed 4.2.1's GameTaskScheduler),
// each with an id, a status, a result and timestamps, and a bounded history.
//
// Kinds
// - player-update {playerId, data}: reads the player from the World and reports it;
//   fails when the player is unknown.
// - game-logic: fixed-rate (default 60 Hz) ticks on a periodic timer; runs `ticks`
//   times (0 = until cancelled or the engine stops). The result counts ticks run.
// - database {query, params?, maxRows?, timeoutMs?}: runs through a DatabaseExecutor
//   (SimulatedDatabase, or StorageDatabase: real read-only SQL, gamesrv/storage_database.hpp);
//   an error from it fails the task.
// Optional delayMs (start later) and intervalMs (repeat; each run counted, status
// stays `running` between runs until cancelled).
//
// Choices this implementation makes (callers may rely on them)
// - Ids count up from 1 over accepted tasks only: a refused submit uses no id.
// - InvalidSpec: game-logic with a rateHz that is not finite or not in (0, 1000], or
//   with intervalMs (its rate is rateHz); delayMs or intervalMs above 86,400,000
//   (24 h); player-update data above 4096 bytes; a database query above 65536 bytes or
//   with more than 999 params.
//   An empty database query is accepted and fails when it runs (SimulatedDatabase).
// - TooMany: maxActive tasks are unfinished, or the pool's queue is full.
//   ShuttingDown: the pool is shutting down, or the scheduler is being destroyed.
// - Results are JSON text. player-update: {"playerId":1,"name":"...","online":true,
//   "x":1.5,"y":2,"hp":100,"data":"..."}; database: the executor's rows (null when it
//   returns none); game-logic: {"ticks":N}, also kept when it is cancelled.
// - A run that fails ends the task (an interval task stops repeating). Each run of an
//   interval task replaces the result; a run still going when the next is due is
//   skipped (the pool's periodic-timer rule).
// - A game-logic tick counts; it does no other work.
// - cancel() and cancelAll() finish the task at once (status cancelled, error
//   "cancelled"); a run already executing is not interrupted, except a database query,
//   whose `cancelled` flag turns true (and DatabaseExecutor::cancelRequested() runs).
//   Its outcome is then dropped. An item the pool itself cancels (shutdown, a full
//   stop) also ends its task as cancelled.
// - recent(limit, before): unfinished and finished tasks still known, newest (highest id)
//   first, from below `before` (a page cursor).
// - Engine stop calls cancelAll() before shutting the pool down: a periodic timer the
//   pool drops on its own does not tell the scheduler.
//
// Thread safety: every public member is safe from any thread.
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string_view>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "gamesrv/storage.hpp"
#include "gamesrv/thread_pool.hpp"

namespace gamesrv {

class World;

enum class TaskKind : std::uint8_t { PlayerUpdate, GameLogic, Database };
enum class TaskStatus : std::uint8_t { Queued, Running, Done, Failed, Cancelled };
const char* toString(TaskKind k) noexcept;
const char* toString(TaskStatus s) noexcept;
std::optional<TaskKind> parseTaskKind(std::string_view s) noexcept;

struct TaskSpec;
// Timer firings a second of a task while it runs: 0 for a one-shot task.
double firingsPerSec(const TaskSpec& spec) noexcept;

struct TaskSpec {
  TaskKind kind = TaskKind::PlayerUpdate;
  std::uint32_t playerId = 0;   // player-update
  std::string data;             // player-update payload
  std::string query;            // database
  std::vector<DbValue> params;  // database: bound to the query's ?-placeholders in order
  std::uint32_t maxRows = 0;    // database: rows kept (0: QueryOptions' default, 1000)
  std::uint32_t timeoutMs = 0;  // database: the query's time limit (0: QueryOptions' default)
  double rateHz = 60.0;         // game-logic
  std::uint64_t ticks = 0;      // game-logic: 0 = until cancelled
  std::uint64_t delayMs = 0;    // start after
  std::uint64_t intervalMs = 0; // repeat every (0 = once)
};

struct TaskInfo {
  std::uint64_t id = 0;
  TaskKind kind = TaskKind::PlayerUpdate;
  TaskStatus status = TaskStatus::Queued;
  std::string result;  // JSON text on success
  std::string error;   // reason on failure / cancellation
  std::uint64_t runs = 0;
  std::uint64_t createdAtMs = 0;  // Unix ms
  std::uint64_t startedAtMs = 0;  // 0 = not yet
  std::uint64_t finishedAtMs = 0; // 0 = not yet
};

struct DatabaseResult {
  bool ok = true;
  std::string rows;  // JSON text
  std::string error;
};

// The seam a real database backend plugs into. execute() runs on a pool thread and
// must return promptly once `cancelled` turns true (engine stop).
class DatabaseExecutor {
 public:
  virtual ~DatabaseExecutor() = default;
  virtual DatabaseResult execute(const std::string& query, const std::atomic<bool>& cancelled) = 0;
  // What the scheduler calls: the whole spec (params, maxRows, timeoutMs). Default: execute(query).
  virtual DatabaseResult run(const TaskSpec& spec, const std::atomic<bool>& cancelled) {
    return execute(spec.query, cancelled);
  }
  // Called after some execution's `cancelled` flag turned true, on the cancelling thread,
  // so an execution blocked in a wait can look at its flag again. Default: nothing.
  virtual void cancelRequested() {}
};

// The seed's behaviour: a simulated query with a configurable latency; an empty query fails.
// The latency is waited out on a condition variable: a cancelled execution, or every
// execution waiting when interrupt() is called, returns at once with ok=false and
// error "cancelled". Rows: {"query":"...","rows":[],"latencyUs":N}.
class SimulatedDatabase final : public DatabaseExecutor {
 public:
  explicit SimulatedDatabase(std::chrono::microseconds latency) : latency_(latency) {}
  DatabaseResult execute(const std::string& query, const std::atomic<bool>& cancelled) override;
  // Wakes executions waiting out their simulated latency (used on stop).
  void interrupt();
  void cancelRequested() override;

 private:
  std::chrono::microseconds latency_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::uint64_t interrupts_ = 0;  // guarded by mu_: an execution ends when it changes
};

struct TaskSchedulerConfig {
  std::size_t historyCapacity = 1024;  // finished tasks kept for task(id); past it the lowest ids go first
  std::size_t maxActive = 65536;       // queued + running tasks; more is TaskError::TooMany
  // Timer firings per second of every unfinished periodic task together (a game-logic
  // task fires rateHz times a second, one with intervalMs 1000/intervalMs times); a task
  // that would go past it is TaskError::TooMany. One-shot tasks do not count.
  double maxFiringsPerSec = 10000;
  std::uint64_t firstId = 1;           // ids continue across engine restarts
};

enum class TaskError { None, TooMany, ShuttingDown, InvalidSpec };

struct SubmitResult {
  TaskError error = TaskError::None;
  std::uint64_t id = 0;
  std::string detail;
};

struct TaskSchedulerStats {
  std::uint64_t submitted = 0;
  std::uint64_t done = 0;
  std::uint64_t failed = 0;
  std::uint64_t cancelled = 0;
  std::size_t active = 0;
  std::size_t history = 0;
  std::uint64_t gameLogicTicks = 0;
  std::uint64_t byKind[3] = {0, 0, 0};
};

class TaskScheduler {
 public:
  // `world` may be null (player-update then fails with "no world").
  TaskScheduler(ThreadPool& pool, const World* world, std::shared_ptr<DatabaseExecutor> db,
                TaskSchedulerConfig config = {});
  ~TaskScheduler();

  SubmitResult submit(const TaskSpec& spec);
  // True if the task was queued/running and is now cancelled.
  bool cancel(std::uint64_t id);
  std::optional<TaskInfo> task(std::uint64_t id) const;
  // Up to `limit` tasks with an id below `before`, newest (highest id) first.
  std::vector<TaskInfo> recent(std::size_t limit, std::uint64_t before = UINT64_MAX) const;
  // Cancels every unfinished task and waits for running ones up to the deadline.
  // Returns the number of tasks cancelled.
  std::size_t cancelAll(std::chrono::nanoseconds deadline);
  TaskSchedulerStats stats() const;

  // Waits until task `id` has finished (done, failed or cancelled) and returns it;
  // nullopt on timeout or if the id is unknown.
  std::optional<TaskInfo> waitFinished(std::uint64_t id, std::chrono::nanoseconds timeout) const;

  // Waits until task `id` satisfies `pred` (checked after every run and status change).
  // False on timeout or if the id is unknown.
  bool waitForTesting(std::uint64_t id, const std::function<bool(const TaskInfo&)>& pred,
                      std::chrono::nanoseconds timeout) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace gamesrv
