#include <atomic>
#include <chrono>
#include <cmath>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "gamesrv/clock.hpp"
#include "gamesrv/event.hpp"
#include "gamesrv/task_scheduler.hpp"
#include "gamesrv/world.hpp"
#include "harness.hpp"

using namespace gamesrv;
using namespace std::chrono_literals;

namespace {

ThreadPoolConfig poolCfg(std::size_t threads = 2) {
  ThreadPoolConfig c;
  c.minThreads = threads;
  c.maxThreads = threads;
  return c;
}

TaskSpec playerUpdate(std::uint32_t id, std::string data = {}) {
  TaskSpec s;
  s.kind = TaskKind::PlayerUpdate;
  s.playerId = id;
  s.data = std::move(data);
  return s;
}

TaskSpec database(std::string query) {
  TaskSpec s;
  s.kind = TaskKind::Database;
  s.query = std::move(query);
  return s;
}

TaskSpec gameLogic(double hz, std::uint64_t ticks) {
  TaskSpec s;
  s.kind = TaskKind::GameLogic;
  s.rateHz = hz;
  s.ticks = ticks;
  return s;
}

bool isFinished(const TaskInfo& i) {
  return i.status == TaskStatus::Done || i.status == TaskStatus::Failed || i.status == TaskStatus::Cancelled;
}

TaskInfo waitFinished(const TaskScheduler& s, std::uint64_t id) {
  if (!s.waitForTesting(id, isFinished, 20s)) gstest::fail(__FILE__, __LINE__, "task " + std::to_string(id) + " never finished");
  return *s.task(id);
}

bool waitRuns(const TaskScheduler& s, std::uint64_t id, std::uint64_t runs) {
  return s.waitForTesting(id, [runs](const TaskInfo& i) { return i.runs >= runs; }, 20s);
}

std::unique_ptr<World> worldWith(std::uint32_t id, const std::string& name) {
  auto w = std::make_unique<World>();
  CHECK(w->apply(GameEvent{EventType::PlayerLogin, id, name}, unixMs()) == InvalidReason::None);
  return w;
}

// An executor that holds each query until released, so tests can see a task running.
class GateDatabase final : public DatabaseExecutor {
 public:
  DatabaseResult execute(const std::string& query, const std::atomic<bool>& cancelled) override {
    entered.set();
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return open_ || cancelled.load(); });
    if (cancelled.load()) return {false, "", "cancelled"};
    return {true, "[{\"q\":\"" + query + "\"}]", ""};
  }
  void cancelRequested() override {
    std::lock_guard lock(mu_);
    cv_.notify_all();
  }
  void open() {
    std::lock_guard lock(mu_);
    open_ = true;
    cv_.notify_all();
  }
  Event entered;

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
};

}  // namespace

TEST(kinds_and_statuses_have_stable_names) {
  for (TaskKind k : {TaskKind::PlayerUpdate, TaskKind::GameLogic, TaskKind::Database}) {
    CHECK(parseTaskKind(toString(k)) == k);
  }
  CHECK(!parseTaskKind("player_update").has_value());
  CHECK_EQ(std::string(toString(TaskStatus::Queued)), "queued");
  CHECK_EQ(std::string(toString(TaskStatus::Running)), "running");
  CHECK_EQ(std::string(toString(TaskStatus::Done)), "done");
  CHECK_EQ(std::string(toString(TaskStatus::Failed)), "failed");
  CHECK_EQ(std::string(toString(TaskStatus::Cancelled)), "cancelled");
}

TEST(player_update_reports_the_player_as_json) {
  auto world = worldWith(7, "Ann \"the\\ hero\"");
  ThreadPool pool(poolCfg());
  TaskScheduler tasks(pool, world.get(), nullptr);
  const auto r = tasks.submit(playerUpdate(7, "hp=10\n\ttab\x01"));
  CHECK(r.error == TaskError::None);
  CHECK_EQ(r.id, 1u);
  const TaskInfo info = waitFinished(tasks, r.id);
  CHECK(info.status == TaskStatus::Done);
  CHECK(info.kind == TaskKind::PlayerUpdate);
  CHECK_EQ(info.runs, 1u);
  CHECK_EQ(info.result,
           std::string(R"({"playerId":7,"name":"Ann \"the\\ hero\"","online":true,"x":0,"y":0,"hp":100,)"
                       R"("data":"hp=10\n\ttab\u0001"})"));
  CHECK(info.error.empty());
  CHECK(info.createdAtMs > 0 && info.startedAtMs >= info.createdAtMs && info.finishedAtMs >= info.startedAtMs);
  const auto s = tasks.stats();
  CHECK_EQ(s.submitted, 1u);
  CHECK_EQ(s.done, 1u);
  CHECK_EQ(s.byKind[0], 1u);
}

TEST(player_update_fails_for_an_unknown_player_or_no_world) {
  auto world = worldWith(1, "a");
  ThreadPool pool(poolCfg());
  TaskScheduler tasks(pool, world.get(), nullptr);
  const TaskInfo info = waitFinished(tasks, tasks.submit(playerUpdate(99)).id);
  CHECK(info.status == TaskStatus::Failed);
  CHECK_EQ(info.error, std::string("unknown player 99"));
  CHECK(info.result.empty());
  TaskScheduler noWorld(pool, nullptr, nullptr);
  const TaskInfo info2 = waitFinished(noWorld, noWorld.submit(playerUpdate(1)).id);
  CHECK(info2.status == TaskStatus::Failed);
  CHECK_EQ(info2.error, std::string("no world"));
  CHECK_EQ(tasks.stats().failed, 1u);
}

TEST(database_task_returns_the_executors_rows) {
  ThreadPool pool(poolCfg());
  TaskScheduler tasks(pool, nullptr, std::make_shared<SimulatedDatabase>(1ms));
  const TaskInfo info = waitFinished(tasks, tasks.submit(database("SELECT \"x\" FROM t")).id);
  CHECK(info.status == TaskStatus::Done);
  CHECK_EQ(info.result, std::string(R"({"query":"SELECT \"x\" FROM t","rows":[],"latencyUs":1000})"));
  CHECK(info.finishedAtMs >= info.startedAtMs);
  CHECK_EQ(tasks.stats().byKind[2], 1u);
}

TEST(database_empty_query_is_accepted_and_fails) {
  ThreadPool pool(poolCfg());
  TaskScheduler tasks(pool, nullptr, std::make_shared<SimulatedDatabase>(1ms));
  const auto r = tasks.submit(database(""));
  CHECK(r.error == TaskError::None);
  const TaskInfo info = waitFinished(tasks, r.id);
  CHECK(info.status == TaskStatus::Failed);
  CHECK_EQ(info.error, std::string("empty query"));
}

TEST(cancel_ends_a_running_database_query_early) {
  ThreadPool pool(poolCfg());
  TaskScheduler tasks(pool, nullptr, std::make_shared<SimulatedDatabase>(std::chrono::seconds(30)));
  const auto id = tasks.submit(database("SELECT pg_sleep(30)")).id;
  CHECK(tasks.waitForTesting(id, [](const TaskInfo& i) { return i.status == TaskStatus::Running; }, 10s));
  const auto t0 = SteadyClock::now();
  CHECK(tasks.cancel(id));
  CHECK(!tasks.cancel(id));
  CHECK_EQ(tasks.cancelAll(10s), 0u);  // nothing left to cancel; waits for the run to return
  CHECK(SteadyClock::now() - t0 < 5s);
  const TaskInfo info = *tasks.task(id);
  CHECK(info.status == TaskStatus::Cancelled);
  CHECK_EQ(info.error, std::string("cancelled"));
  CHECK_EQ(info.runs, 0u);  // the query's outcome was dropped
  CHECK_EQ(tasks.stats().cancelled, 1u);
}

TEST(simulated_database_waits_its_latency_and_interrupt_ends_it) {
  SimulatedDatabase db(20ms);
  std::atomic<bool> no{false};
  const auto t0 = SteadyClock::now();
  const auto ok = db.execute("SELECT 1", no);
  CHECK(ok.ok);
  CHECK(SteadyClock::now() - t0 >= 20ms);

  SimulatedDatabase slow(std::chrono::seconds(60));
  Event done;
  DatabaseResult r;
  std::thread t([&] {
    r = slow.execute("SELECT 1", no);
    done.set();
  });
  // interrupt() ends executions already waiting: repeat until ours was one of them.
  while (!done.waitFor(10ms)) slow.interrupt();
  t.join();
  CHECK(!r.ok);
  CHECK_EQ(r.error, std::string("cancelled"));

  std::atomic<bool> cancelled{true};
  const auto c = slow.execute("SELECT 1", cancelled);  // already cancelled: returns at once
  CHECK(!c.ok);
  CHECK_EQ(c.error, std::string("cancelled"));
}

TEST(game_logic_ticks_at_its_rate) {
  ThreadPool pool(poolCfg());
  TaskScheduler tasks(pool, nullptr, nullptr);
  const auto t0 = SteadyClock::now();
  const auto r = tasks.submit(gameLogic(200, 20));
  CHECK(r.error == TaskError::None);
  const TaskInfo info = waitFinished(tasks, r.id);
  const auto elapsed = SteadyClock::now() - t0;
  CHECK(info.status == TaskStatus::Done);
  CHECK_EQ(info.result, std::string(R"({"ticks":20})"));
  CHECK_EQ(info.runs, 20u);
  CHECK(elapsed >= 95ms);  // 20 ticks: the first at once, then one every 5 ms
  CHECK(elapsed < 5s);
  CHECK_EQ(tasks.stats().gameLogicTicks, 20u);
}

TEST(game_logic_without_a_tick_count_runs_until_cancelled) {
  ThreadPool pool(poolCfg());
  TaskScheduler tasks(pool, nullptr, nullptr);
  const auto id = tasks.submit(gameLogic(500, 0)).id;
  CHECK(waitRuns(tasks, id, 5));
  CHECK(tasks.task(id)->status == TaskStatus::Running);
  CHECK(tasks.cancel(id));
  const TaskInfo info = *tasks.task(id);
  CHECK(info.status == TaskStatus::Cancelled);
  CHECK_EQ(info.result, "{\"ticks\":" + std::to_string(info.runs) + "}");
  // A sentinel timer well past a few periods: no tick ran after the cancel.
  Event sentinel;
  pool.scheduleAfter(30ms, WorkItem{[&] { sentinel.set(); }, nullptr});
  CHECK(sentinel.waitFor(10s));
  const std::uint64_t runsLater = tasks.task(id)->runs;
  CHECK_EQ(runsLater, info.runs);
  CHECK_EQ(tasks.stats().gameLogicTicks, info.runs);
}

TEST(delayed_task_starts_after_its_delay) {
  auto world = worldWith(3, "c");
  ThreadPool pool(poolCfg());
  TaskScheduler tasks(pool, world.get(), nullptr);
  TaskSpec spec = playerUpdate(3);
  spec.delayMs = 100;
  const auto t0 = SteadyClock::now();
  const auto id = tasks.submit(spec).id;
  CHECK(tasks.task(id)->status == TaskStatus::Queued);
  const TaskInfo info = waitFinished(tasks, id);
  CHECK(SteadyClock::now() - t0 >= 100ms);
  CHECK(info.status == TaskStatus::Done);
  CHECK(info.startedAtMs >= info.createdAtMs + 99);  // wall clock, to the millisecond
}

TEST(interval_task_repeats_until_cancelled) {
  auto world = worldWith(4, "d");
  ThreadPool pool(poolCfg());
  TaskScheduler tasks(pool, world.get(), nullptr);
  TaskSpec spec = playerUpdate(4, "tick");
  spec.intervalMs = 10;
  const auto id = tasks.submit(spec).id;
  CHECK(waitRuns(tasks, id, 3));
  TaskInfo info = *tasks.task(id);
  CHECK(info.status == TaskStatus::Running);
  CHECK(info.result.find("\"playerId\":4") != std::string::npos);
  CHECK_EQ(info.finishedAtMs, 0u);
  CHECK(tasks.cancel(id));
  info = *tasks.task(id);
  CHECK(info.status == TaskStatus::Cancelled);
  CHECK(info.finishedAtMs > 0);
  CHECK_EQ(tasks.stats().active, 0u);
}

TEST(interval_task_stops_at_its_first_failure) {
  ThreadPool pool(poolCfg());
  TaskScheduler tasks(pool, nullptr, std::make_shared<SimulatedDatabase>(0ms));
  TaskSpec spec = database("");
  spec.intervalMs = 5;
  const auto id = tasks.submit(spec).id;
  const TaskInfo info = waitFinished(tasks, id);
  CHECK(info.status == TaskStatus::Failed);
  CHECK_EQ(info.runs, 1u);
  CHECK_EQ(pool.stats().timersActive, 0u);  // the interval timer was cancelled
}

TEST(cancel_works_for_queued_and_delayed_tasks) {
  ThreadPool pool(poolCfg(1));
  TaskScheduler tasks(pool, nullptr, std::make_shared<SimulatedDatabase>(0ms));
  pool.pause();
  const auto queued = tasks.submit(database("a")).id;
  TaskSpec later = database("b");
  later.delayMs = 50;
  const auto delayed = tasks.submit(later).id;
  CHECK(tasks.task(queued)->status == TaskStatus::Queued);
  CHECK(tasks.cancel(queued));
  CHECK(tasks.cancel(delayed));
  CHECK(!tasks.cancel(queued));
  CHECK(!tasks.cancel(12345));
  CHECK_EQ(pool.stats().timersActive, 0u);
  pool.resume();
  const auto after = tasks.submit(database("c")).id;  // runs after the cancelled item's no-op
  CHECK(waitFinished(tasks, after).status == TaskStatus::Done);
  CHECK(tasks.task(queued)->status == TaskStatus::Cancelled);
  const std::uint64_t queuedRuns = tasks.task(queued)->runs;
  CHECK_EQ(queuedRuns, 0u);
  CHECK(tasks.task(delayed)->status == TaskStatus::Cancelled);
  const auto s = tasks.stats();
  CHECK_EQ(s.cancelled, 2u);
  CHECK_EQ(s.done, 1u);
}

TEST(history_keeps_the_newest_finished_tasks) {
  ThreadPool pool(poolCfg());
  TaskScheduler tasks(pool, nullptr, std::make_shared<SimulatedDatabase>(0ms), {.historyCapacity = 5, .maxActive = 100});
  std::uint64_t last = 0;
  for (int i = 0; i < 20; ++i) {
    last = tasks.submit(database("q" + std::to_string(i))).id;
    waitFinished(tasks, last);
  }
  CHECK_EQ(last, 20u);
  const auto s = tasks.stats();
  CHECK_EQ(s.history, 5u);
  CHECK_EQ(s.done, 20u);
  CHECK(!tasks.task(1).has_value());
  CHECK(!tasks.task(15).has_value());
  CHECK(tasks.task(16).has_value());
  CHECK(tasks.task(20).has_value());
  const auto recent = tasks.recent(3);
  CHECK_EQ(recent.size(), 3u);
  CHECK_EQ(recent[0].id, 20u);
  CHECK_EQ(recent[1].id, 19u);
  CHECK_EQ(recent[2].id, 18u);
  CHECK_EQ(tasks.recent(100).size(), 5u);
}

TEST(max_active_bounds_unfinished_tasks) {
  ThreadPool pool(poolCfg(1));
  TaskScheduler tasks(pool, nullptr, std::make_shared<SimulatedDatabase>(0ms), {.historyCapacity = 16, .maxActive = 3});
  pool.pause();
  std::vector<std::uint64_t> ids;
  for (int i = 0; i < 3; ++i) ids.push_back(tasks.submit(database("x")).id);
  const auto refused = tasks.submit(database("x"));
  CHECK(refused.error == TaskError::TooMany);
  CHECK_EQ(refused.id, 0u);
  CHECK(!refused.detail.empty());
  CHECK(tasks.cancel(ids[0]));
  const auto ok = tasks.submit(database("x"));
  CHECK(ok.error == TaskError::None);
  CHECK_EQ(ok.id, 4u);  // the refused submit used no id
  CHECK_EQ(tasks.stats().active, 3u);
  CHECK_EQ(tasks.stats().submitted, 4u);
  pool.resume();
  CHECK(waitFinished(tasks, ok.id).status == TaskStatus::Done);
}

TEST(periodic_tasks_share_a_budget_of_timer_firings) {
  ThreadPool pool(poolCfg(1));
  TaskScheduler tasks(pool, nullptr, std::make_shared<SimulatedDatabase>(0ms),
                      {.historyCapacity = 16, .maxActive = 100, .maxFiringsPerSec = 100});
  pool.pause();
  const auto a = tasks.submit(gameLogic(60, 0));  // 60 a second, until cancelled
  CHECK(a.error == TaskError::None);
  TaskSpec every25ms = database("x");
  every25ms.intervalMs = 25;  // 40 a second
  const auto b = tasks.submit(every25ms);
  CHECK(b.error == TaskError::None);
  const auto refused = tasks.submit(gameLogic(1, 0));  // 101 > 100
  CHECK(refused.error == TaskError::TooMany);
  CHECK_MSG(refused.detail.find("maxFiringsPerSec") != std::string::npos, refused.detail);
  CHECK(tasks.submit(database("one-shot tasks do not count")).error == TaskError::None);
  CHECK(tasks.cancel(a.id));  // frees its 60
  CHECK(tasks.submit(gameLogic(60, 0)).error == TaskError::None);
  CHECK_EQ(firingsPerSec(gameLogic(30, 5)), 30.0);
  CHECK_EQ(firingsPerSec(database("x")), 0.0);
  pool.resume();
  tasks.cancelAll(5s);
}

TEST(invalid_specs_are_refused) {
  ThreadPool pool(poolCfg());
  TaskScheduler tasks(pool, nullptr, std::make_shared<SimulatedDatabase>(0ms));
  for (double hz : {0.0, -1.0, 1000.5, std::nan(""), std::numeric_limits<double>::infinity()}) {
    const auto r = tasks.submit(gameLogic(hz, 1));
    CHECK_MSG(r.error == TaskError::InvalidSpec, "rateHz " << hz);
    CHECK(!r.detail.empty());
  }
  CHECK(tasks.submit(gameLogic(1000, 1)).error == TaskError::None);
  TaskSpec withInterval = gameLogic(60, 1);
  withInterval.intervalMs = 10;
  CHECK(tasks.submit(withInterval).error == TaskError::InvalidSpec);
  TaskSpec late = database("x");
  late.delayMs = 86'400'001;
  CHECK(tasks.submit(late).error == TaskError::InvalidSpec);
  TaskSpec often = database("x");
  often.intervalMs = 86'400'001;
  CHECK(tasks.submit(often).error == TaskError::InvalidSpec);
  CHECK(tasks.submit(playerUpdate(1, std::string(4097, 'x'))).error == TaskError::InvalidSpec);
  CHECK(tasks.submit(database(std::string(65537, 'x'))).error == TaskError::InvalidSpec);
  TaskSpec bogus;
  bogus.kind = static_cast<TaskKind>(9);
  CHECK(tasks.submit(bogus).error == TaskError::InvalidSpec);
  CHECK_EQ(tasks.stats().submitted, 1u);
}

TEST(submit_after_pool_shutdown_is_refused) {
  ThreadPool pool(poolCfg());
  TaskScheduler tasks(pool, nullptr, std::make_shared<SimulatedDatabase>(0ms));
  CHECK(pool.shutdown(5s));
  CHECK(tasks.submit(database("x")).error == TaskError::ShuttingDown);
  TaskSpec later = database("x");
  later.delayMs = 5;
  CHECK(tasks.submit(later).error == TaskError::ShuttingDown);
  CHECK(tasks.submit(gameLogic(60, 0)).error == TaskError::ShuttingDown);
  CHECK_EQ(tasks.stats().submitted, 0u);
}

TEST(cancel_all_cancels_every_unfinished_task_and_waits_for_running_ones) {
  auto gate = std::make_shared<GateDatabase>();
  auto world = worldWith(1, "a");
  ThreadPool pool(poolCfg(2));
  TaskScheduler tasks(pool, world.get(), gate);
  const auto running = tasks.submit(database("slow")).id;
  CHECK(gate->entered.waitFor(10s));
  TaskSpec later = playerUpdate(1);
  later.delayMs = 60'000;
  tasks.submit(later);
  tasks.submit(gameLogic(100, 0));
  TaskSpec every = playerUpdate(1);
  every.intervalMs = 1000;
  every.delayMs = 60'000;
  tasks.submit(every);
  CHECK_EQ(tasks.stats().active, 4u);
  CHECK_EQ(tasks.cancelAll(10s), 4u);
  const auto s = tasks.stats();
  CHECK_EQ(s.active, 0u);
  CHECK_EQ(s.cancelled, 4u);
  CHECK(tasks.task(running)->status == TaskStatus::Cancelled);
  CHECK_EQ(pool.stats().timersActive, 0u);
  for (const auto& info : tasks.recent(10)) CHECK(info.status == TaskStatus::Cancelled);
}

TEST(pool_shutdown_cancels_queued_tasks) {
  ThreadPool pool(poolCfg(1));
  TaskScheduler tasks(pool, nullptr, std::make_shared<SimulatedDatabase>(0ms));
  pool.pause();
  TaskSpec later = database("x");
  later.delayMs = 60'000;
  const auto delayed = tasks.submit(later).id;
  CHECK(pool.shutdown(5s));
  CHECK(tasks.task(delayed)->status == TaskStatus::Cancelled);
  CHECK_EQ(tasks.stats().active, 0u);
}

TEST(random_submits_and_cancels_finish_every_task_once) {
  const auto seed = gstest::seed("random_submits_and_cancels_finish_every_task_once");
  auto world = worldWith(1, "a");
  ThreadPool pool(poolCfg(3));
  TaskScheduler tasks(pool, world.get(), std::make_shared<SimulatedDatabase>(50us),
                      {.historyCapacity = 100000, .maxActive = 64});
  constexpr int kThreads = 3;
  std::atomic<int> accepted{0}, tooMany{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937_64 rng(seed * 31 + static_cast<std::uint64_t>(t));
      for (int i = 0; i < 1500; ++i) {
        const int r = static_cast<int>(rng() % 100);
        TaskSpec spec;
        if (r < 35) {
          spec = playerUpdate(rng() % 3);  // 0 and 2 are unknown: failures
        } else if (r < 65) {
          spec = database(rng() % 10 ? "SELECT 1" : "");
        } else if (r < 75) {
          spec = gameLogic(500, rng() % 4);
        } else if (r < 85) {
          spec = playerUpdate(1);
          spec.delayMs = rng() % 5;
          spec.intervalMs = rng() % 2 ? 1 + rng() % 3 : 0;
        } else {
          const auto stats = tasks.stats();
          if (stats.submitted > 0) tasks.cancel(1 + rng() % stats.submitted);
          continue;
        }
        const auto res = tasks.submit(spec);
        if (res.error == TaskError::None) accepted++;
        if (res.error == TaskError::TooMany) tooMany++;
        CHECK(res.error == TaskError::None || res.error == TaskError::TooMany);
      }
    });
  }
  for (auto& th : threads) th.join();
  tasks.cancelAll(10s);  // interval and endless game-logic tasks end here
  const auto s = tasks.stats();
  CHECK_EQ(s.submitted, static_cast<std::uint64_t>(accepted.load()));
  CHECK_EQ(s.done + s.failed + s.cancelled, s.submitted);
  CHECK_EQ(s.active, 0u);
  CHECK_EQ(s.history, static_cast<std::size_t>(s.submitted));
  for (std::uint64_t id = 1; id <= s.submitted; ++id) {
    const auto info = tasks.task(id);
    CHECK_MSG(info.has_value() && isFinished(*info), "task " << id);
  }
  CHECK(!tasks.task(s.submitted + 1).has_value());
}

GS_TEST_MAIN()
