// TaskScheduler: game tasks as ThreadPool work items and timers, all in one CleanupGroup
// so the scheduler can never outlive an item that points at it.
//
// Lock order: Impl::mu_ -> the pool's locks (submit / schedule* are called under mu_ so
// that ids stay dense and a task's timer id is recorded before it can fire). cancelTimer
// runs onCancel callbacks that take mu_, so it is only called without mu_.
#include "gamesrv/task_scheduler.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <deque>
#include <iterator>
#include <map>
#include <unordered_map>

#include "gamesrv/clock.hpp"
#include "json_text.hpp"
#include "gamesrv/world.hpp"

namespace gamesrv {
namespace {

constexpr std::uint64_t kMaxDelayMs = 86'400'000;  // 24 h
constexpr std::size_t kMaxDataBytes = 4096;
constexpr std::size_t kMaxQueryBytes = 65536;
constexpr std::size_t kMaxQueryParams = 999;  // SQLite's default SQLITE_MAX_VARIABLE_NUMBER of old
constexpr double kMaxRateHz = 1000.0;

std::string playerJson(const Player& p, std::string_view data) {
  std::string out = "{\"playerId\":" + std::to_string(p.id) + ",\"name\":";
  appendJsonString(out, p.name);
  out += ",\"online\":";
  out += p.online ? "true" : "false";
  out += ",\"x\":";
  appendJsonNumber(out, p.x);
  out += ",\"y\":";
  appendJsonNumber(out, p.y);
  out += ",\"hp\":" + std::to_string(p.hp) + ",\"data\":";
  appendJsonString(out, data);
  out += '}';
  return out;
}

std::string ticksJson(std::uint64_t ticks) { return "{\"ticks\":" + std::to_string(ticks) + "}"; }

bool finished(TaskStatus s) noexcept {
  return s == TaskStatus::Done || s == TaskStatus::Failed || s == TaskStatus::Cancelled;
}

// Why `spec` cannot be accepted, or empty.
std::string invalidReason(const TaskSpec& spec) {
  if (spec.delayMs > kMaxDelayMs) return "delayMs must be at most 86400000";
  if (spec.intervalMs > kMaxDelayMs) return "intervalMs must be at most 86400000";
  switch (spec.kind) {
    case TaskKind::PlayerUpdate:
      if (spec.data.size() > kMaxDataBytes) return "data must be at most 4096 bytes";
      return {};
    case TaskKind::GameLogic:
      if (!std::isfinite(spec.rateHz) || spec.rateHz <= 0 || spec.rateHz > kMaxRateHz)
        return "rateHz must be in (0, 1000]";
      if (spec.intervalMs != 0) return "game-logic repeats at rateHz; intervalMs does not apply";
      return {};
    case TaskKind::Database:
      if (spec.query.size() > kMaxQueryBytes) return "query must be at most 65536 bytes";
      if (spec.params.size() > kMaxQueryParams) return "params must be at most 999 values";
      return {};
  }
  return "unknown task kind";
}

}  // namespace

const char* toString(TaskKind k) noexcept {
  switch (k) {
    case TaskKind::PlayerUpdate: return "player-update";
    case TaskKind::GameLogic: return "game-logic";
    case TaskKind::Database: return "database";
  }
  return "unknown";
}

const char* toString(TaskStatus s) noexcept {
  switch (s) {
    case TaskStatus::Queued: return "queued";
    case TaskStatus::Running: return "running";
    case TaskStatus::Done: return "done";
    case TaskStatus::Failed: return "failed";
    case TaskStatus::Cancelled: return "cancelled";
  }
  return "unknown";
}

std::optional<TaskKind> parseTaskKind(std::string_view s) noexcept {
  if (s == "player-update") return TaskKind::PlayerUpdate;
  if (s == "game-logic") return TaskKind::GameLogic;
  if (s == "database") return TaskKind::Database;
  return std::nullopt;
}

// ------------------------------------------------------------------ SimulatedDatabase
DatabaseResult SimulatedDatabase::execute(const std::string& query, const std::atomic<bool>& cancelled) {
  if (query.empty()) return {false, "", "empty query"};
  std::unique_lock lock(mu_);
  const std::uint64_t interruptsAtStart = interrupts_;
  const bool stopped = cv_.wait_for(lock, latency_, [&] {
    return cancelled.load(std::memory_order_acquire) || interrupts_ != interruptsAtStart;
  });
  if (stopped) return {false, "", "cancelled"};
  std::string rows = "{\"query\":";
  appendJsonString(rows, query);
  rows += ",\"rows\":[],\"latencyUs\":" + std::to_string(latency_.count()) + "}";
  return {true, std::move(rows), ""};
}

void SimulatedDatabase::interrupt() {
  std::lock_guard lock(mu_);
  ++interrupts_;
  cv_.notify_all();
}

void SimulatedDatabase::cancelRequested() {
  std::lock_guard lock(mu_);  // a waiter between its flag check and its wait sees this notify
  cv_.notify_all();
}

// ------------------------------------------------------------------ TaskScheduler
struct TaskScheduler::Impl {
  struct Task {
    TaskInfo info;  // guarded by Impl::mu_
    TaskSpec spec;  // immutable after submit
    TimerId timer = 0;                 // guarded by Impl::mu_
    std::size_t runsInFlight = 0;      // guarded by Impl::mu_
    std::atomic<bool> cancelled{false};  // handed to the database executor
  };
  using TaskPtr = std::shared_ptr<Task>;

  Impl(ThreadPool& p, const World* w, std::shared_ptr<DatabaseExecutor> d, TaskSchedulerConfig c)
      : pool(p), world(w), db(std::move(d)), cfg(c), nextId_(c.firstId ? c.firstId : 1), group(p) {}

  ThreadPool& pool;
  const World* const world;
  const std::shared_ptr<DatabaseExecutor> db;
  const TaskSchedulerConfig cfg;

  mutable std::mutex mu_;
  std::condition_variable idleCv_;                  // runsInFlight_ reached 0
  mutable std::condition_variable changedCv_;       // a task ran or changed status (tests wait on it)
  // Both by id, so a page of recent() copies only its own tasks.
  std::map<std::uint64_t, TaskPtr> active_;   // guarded by mu_
  std::map<std::uint64_t, TaskInfo> history_;  // finished; the lowest ids leave first; guarded by mu_
  double firingRate_ = 0;                      // guarded by mu_: firingsPerSec of every task in active_
  std::uint64_t nextId_;                            // guarded by mu_; starts at cfg.firstId
  std::size_t runsInFlight_ = 0;                    // guarded by mu_
  bool closed_ = false;                             // guarded by mu_
  TaskSchedulerStats stats_;                        // guarded by mu_ (active/history filled on read)

  // Declared last, destroyed first: cancels queued items and waits for running ones
  // before anything they use goes away.
  CleanupGroup group;

  // Requires: mu_ held. Moves the task to the history with its final status.
  void finishLocked(Task& t, TaskStatus status, std::string error) {
    t.info.status = status;
    t.info.finishedAtMs = unixMs();
    if (!error.empty()) t.info.error = std::move(error);
    switch (status) {
      case TaskStatus::Done: ++stats_.done; break;
      case TaskStatus::Failed: ++stats_.failed; break;
      default: ++stats_.cancelled; break;
    }
    changedCv_.notify_all();
    if (cfg.historyCapacity > 0) {
      history_.insert_or_assign(t.info.id, t.info);
      while (history_.size() > cfg.historyCapacity) history_.erase(history_.begin());
    }
    firingRate_ -= firingsPerSec(t.spec);
    if (active_.size() == 1) firingRate_ = 0;  // no rounding drift once nothing runs
    active_.erase(t.info.id);
  }

  // Requires: mu_ held. False if the task is already finished.
  bool beginRunLocked(Task& t) {
    if (finished(t.info.status)) return false;
    if (t.info.status == TaskStatus::Queued) {
      t.info.status = TaskStatus::Running;
      t.info.startedAtMs = unixMs();
      changedCv_.notify_all();
    }
    ++t.runsInFlight;
    ++runsInFlight_;
    return true;
  }

  void endRunLocked(Task& t) {  // Requires: mu_ held.
    --t.runsInFlight;
    if (--runsInFlight_ == 0) idleCv_.notify_all();
    changedCv_.notify_all();
  }

  // One run of a player-update or database task (once, after a delay, or per interval).
  void runOnce(const TaskPtr& t) {
    {
      std::lock_guard lock(mu_);
      if (!beginRunLocked(*t)) return;
    }
    bool ok = false;
    std::string out;
    if (t->spec.kind == TaskKind::PlayerUpdate) {
      if (world == nullptr) {
        out = "no world";
      } else if (auto p = world->player(t->spec.playerId)) {
        ok = true;
        out = playerJson(*p, t->spec.data);
      } else {
        out = "unknown player " + std::to_string(t->spec.playerId);
      }
    } else if (!db) {
      out = "no database";
    } else {
      DatabaseResult r = db->run(t->spec, t->cancelled);
      ok = r.ok;
      out = ok ? (r.rows.empty() ? std::string("null") : std::move(r.rows))
               : (r.error.empty() ? std::string("database error") : std::move(r.error));
    }
    // A failed interval task stops repeating: cancel its timer before the failure is
    // published, so whoever sees `failed` also sees no live timer. (t->timer was set
    // before the timer could first fire.)
    if (!ok && t->spec.intervalMs != 0 && t->timer != 0) pool.cancelTimer(t->timer);
    std::lock_guard lock(mu_);
    endRunLocked(*t);
    if (finished(t->info.status)) return;  // cancelled while it ran: the outcome is dropped
    ++t->info.runs;
    if (ok) {
      t->info.result = std::move(out);
      if (t->spec.intervalMs == 0) finishLocked(*t, TaskStatus::Done, {});
    } else {
      finishLocked(*t, TaskStatus::Failed, std::move(out));
    }
  }

  void tick(const TaskPtr& t) {
    TimerId stopTimer = 0;
    {
      std::lock_guard lock(mu_);
      if (!beginRunLocked(*t)) return;
      endRunLocked(*t);
      ++t->info.runs;
      ++stats_.gameLogicTicks;
      t->info.result = ticksJson(t->info.runs);
      if (t->spec.ticks != 0 && t->info.runs >= t->spec.ticks) {
        stopTimer = t->timer;
        finishLocked(*t, TaskStatus::Done, {});
      }
    }
    if (stopTimer != 0) pool.cancelTimer(stopTimer);
  }

  void poolCancelled(const TaskPtr& t) {
    std::lock_guard lock(mu_);
    if (!finished(t->info.status)) {
      t->cancelled.store(true, std::memory_order_release);
      finishLocked(*t, TaskStatus::Cancelled, "cancelled by the pool");
    }
  }

  // Requires: mu_ held. Arms the task on the pool; returns the pool's refusal, if any.
  TaskError scheduleLocked(const TaskPtr& t, std::string& detail) {
    const TaskSpec& spec = t->spec;
    const auto delay = std::chrono::milliseconds(spec.delayMs);
    if (spec.kind == TaskKind::GameLogic) {
      const auto period = std::chrono::nanoseconds(static_cast<std::int64_t>(std::llround(1e9 / spec.rateHz)));
      t->timer = pool.schedulePeriodic(delay, period, [this, t] { tick(t); }, &group);
    } else if (spec.intervalMs != 0) {
      t->timer = pool.schedulePeriodic(delay, std::chrono::milliseconds(spec.intervalMs), [this, t] { runOnce(t); },
                                       &group);
    } else if (spec.delayMs != 0) {
      t->timer = pool.scheduleAfter(delay, WorkItem{[this, t] { runOnce(t); }, [this, t] { poolCancelled(t); }},
                                    &group);
    } else {
      switch (pool.submit(group, WorkItem{[this, t] { runOnce(t); }, [this, t] { poolCancelled(t); }})) {
        case SubmitStatus::Ok: return TaskError::None;
        case SubmitStatus::QueueFull: detail = "the pool's queue is full"; return TaskError::TooMany;
        case SubmitStatus::ShuttingDown: detail = "the pool is shutting down"; return TaskError::ShuttingDown;
      }
    }
    if (t->timer != 0) return TaskError::None;
    detail = "the pool is shutting down";
    return TaskError::ShuttingDown;
  }

  SubmitResult submit(const TaskSpec& spec) {
    SubmitResult r;
    std::string why = invalidReason(spec);
    if (!why.empty()) {
      r.error = TaskError::InvalidSpec;
      r.detail = std::move(why);
      return r;
    }
    auto t = std::make_shared<Task>();
    t->spec = spec;
    std::lock_guard lock(mu_);
    if (closed_) {
      r.error = TaskError::ShuttingDown;
      r.detail = "the scheduler is closing";
      return r;
    }
    if (active_.size() >= cfg.maxActive) {
      r.error = TaskError::TooMany;
      r.detail = "maxActive (" + std::to_string(cfg.maxActive) + ") tasks are unfinished";
      return r;
    }
    const double rate = firingsPerSec(spec);
    if (rate > 0 && firingRate_ + rate > cfg.maxFiringsPerSec) {
      r.error = TaskError::TooMany;
      char text[160];
      std::snprintf(text, sizeof text, "%.0f timer firings a second are budgeted (maxFiringsPerSec %.0f); this task adds %.4g",
                    firingRate_, cfg.maxFiringsPerSec, rate);
      r.detail = text;
      return r;
    }
    t->info.id = nextId_;
    t->info.kind = spec.kind;
    t->info.createdAtMs = unixMs();
    // In active_ before it can run: a run looks nothing up, but cancel() and task() must
    // find it from the moment its id is known.
    r.error = scheduleLocked(t, r.detail);
    if (r.error != TaskError::None) return r;
    ++nextId_;
    active_.emplace(t->info.id, t);
    firingRate_ += rate;
    ++stats_.submitted;
    ++stats_.byKind[static_cast<std::size_t>(spec.kind)];
    r.id = t->info.id;
    return r;
  }

  // Finishes `ids` (or every unfinished task) as cancelled. Returns how many.
  std::size_t cancelTasks(const std::uint64_t* onlyId) {
    std::vector<TimerId> timers;
    bool anyDatabase = false;
    std::size_t n = 0;
    {
      std::lock_guard lock(mu_);
      std::vector<TaskPtr> victims;
      if (onlyId != nullptr) {
        auto it = active_.find(*onlyId);
        if (it != active_.end()) victims.push_back(it->second);
      } else {
        for (auto& [id, t] : active_) victims.push_back(t);
      }
      for (const TaskPtr& t : victims) {
        t->cancelled.store(true, std::memory_order_release);
        anyDatabase |= t->spec.kind == TaskKind::Database && t->runsInFlight > 0;
        if (t->timer != 0) timers.push_back(t->timer);
        finishLocked(*t, TaskStatus::Cancelled, "cancelled");
        ++n;
      }
    }
    for (TimerId id : timers) pool.cancelTimer(id);  // a delayed task's onCancel finds it finished
    if (anyDatabase && db) db->cancelRequested();
    return n;
  }

  // Requires: mu_ held. The task's info, wherever it is now.
  const TaskInfo* findLocked(std::uint64_t id) const {
    if (auto it = active_.find(id); it != active_.end()) return &it->second->info;
    if (auto it = history_.find(id); it != history_.end()) return &it->second;
    return nullptr;
  }
};

double firingsPerSec(const TaskSpec& spec) noexcept {
  if (spec.kind == TaskKind::GameLogic) return spec.rateHz;
  return spec.intervalMs > 0 ? 1000.0 / static_cast<double>(spec.intervalMs) : 0.0;
}

TaskScheduler::TaskScheduler(ThreadPool& pool, const World* world, std::shared_ptr<DatabaseExecutor> db,
                             TaskSchedulerConfig config)
    : impl_(std::make_unique<Impl>(pool, world, std::move(db), config)) {}

TaskScheduler::~TaskScheduler() {
  {
    std::lock_guard lock(impl_->mu_);
    impl_->closed_ = true;
  }
  cancelAll(std::chrono::hours(24));
  // impl_'s CleanupGroup then cancels the items still queued and waits for running ones.
}

SubmitResult TaskScheduler::submit(const TaskSpec& spec) { return impl_->submit(spec); }

bool TaskScheduler::cancel(std::uint64_t id) { return impl_->cancelTasks(&id) == 1; }

std::optional<TaskInfo> TaskScheduler::task(std::uint64_t id) const {
  std::lock_guard lock(impl_->mu_);
  if (const TaskInfo* info = impl_->findLocked(id)) return *info;
  return std::nullopt;
}

bool TaskScheduler::waitForTesting(std::uint64_t id, const std::function<bool(const TaskInfo&)>& pred,
                                   std::chrono::nanoseconds timeout) const {
  std::unique_lock lock(impl_->mu_);
  return impl_->changedCv_.wait_for(lock, timeout, [&] {
    const TaskInfo* info = impl_->findLocked(id);
    return info != nullptr && pred(*info);
  });
}

std::optional<TaskInfo> TaskScheduler::waitFinished(std::uint64_t id, std::chrono::nanoseconds timeout) const {
  std::unique_lock lock(impl_->mu_);
  const TaskInfo* found = nullptr;
  impl_->changedCv_.wait_for(lock, timeout, [&] {
    const TaskInfo* info = impl_->findLocked(id);
    if (info == nullptr) return true;  // unknown: nothing to wait for
    const bool finished = info->status == TaskStatus::Done || info->status == TaskStatus::Failed ||
                          info->status == TaskStatus::Cancelled;
    if (finished) found = info;
    return finished;
  });
  if (found == nullptr) return std::nullopt;
  return *found;
}

std::vector<TaskInfo> TaskScheduler::recent(std::size_t limit, std::uint64_t before) const {
  std::vector<TaskInfo> out;
  out.reserve(std::min<std::size_t>(limit, 1024));
  std::lock_guard lock(impl_->mu_);
  // Two id-ordered maps walked downwards from `before`, merged: O(limit log n), and
  // only the page is copied.
  auto a = std::make_reverse_iterator(impl_->active_.lower_bound(before));
  auto h = std::make_reverse_iterator(impl_->history_.lower_bound(before));
  const auto aEnd = impl_->active_.rend();
  const auto hEnd = impl_->history_.rend();
  while (out.size() < limit && (a != aEnd || h != hEnd)) {
    if (h == hEnd || (a != aEnd && a->first > h->first)) {
      out.push_back(a->second->info);
      ++a;
    } else {
      out.push_back(h->second);
      ++h;
    }
  }
  return out;
}

std::size_t TaskScheduler::cancelAll(std::chrono::nanoseconds deadline) {
  const std::size_t n = impl_->cancelTasks(nullptr);
  std::unique_lock lock(impl_->mu_);
  impl_->idleCv_.wait_for(lock, std::max(deadline, std::chrono::nanoseconds(0)),
                          [&] { return impl_->runsInFlight_ == 0; });
  return n;
}

TaskSchedulerStats TaskScheduler::stats() const {
  std::lock_guard lock(impl_->mu_);
  TaskSchedulerStats s = impl_->stats_;
  s.active = impl_->active_.size();
  s.history = impl_->history_.size();
  return s;
}

}  // namespace gamesrv
