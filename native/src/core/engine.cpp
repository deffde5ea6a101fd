#include "gamesrv/engine.hpp"

#include <algorithm>
#include <utility>

#include "gamesrv/clock.hpp"
#include "gamesrv/game_protocol.hpp"
#include "gamesrv/platform/sysinfo.hpp"
#include "gamesrv/storage_database.hpp"

#include <cstdio>

namespace gamesrv {
namespace {

// How long a `database` task waits for the events accepted before it to be applied.
constexpr std::chrono::seconds kQueryWaitsForEvents{1};

PersistenceConfig persistenceConfigOf(const EngineConfig& cfg, std::function<void(std::uint64_t)> onCheckpoint) {
  PersistenceConfig p;
  // With a journal, each flush stores the journal position it holds (a start replays only
  // what follows it, and the journal drops the segments the store covers).
  p.checkpoint = cfg.durability == Durability::Journal;
  if (p.checkpoint) p.onCheckpoint = std::move(onCheckpoint);
  p.backend = cfg.database;
  p.dataDir = cfg.dataDir;
  p.url = cfg.databaseUrl;
  p.flushInterval = cfg.flushInterval;
  p.owner = cfg.io.serverName;
  p.leaseLength = cfg.leaseLength;
  p.maxConnections = cfg.pool.maxThreads;
  return p;
}

}  // namespace

Engine::Engine(EngineOptions options)
    : world_(options.world),
      persistence_(std::make_shared<PlayerPersistence>(world_)),
      ticketSecret_(options.ticketSecret),
      game_(GameServerHooks{[this](GameEvent&& e) { return admitSession(e); },
                            [this](std::uint32_t playerId, LoginAdmitted done) { return admitLogin(playerId, std::move(done)); }},
            options.world),
      io_(EngineIoHooks{[this](std::vector<GameEvent>&& b) { return admit(std::move(b), Wake::Now); },
                        [this] { return statusJson(); }, [this] { requestStop(); }, [this] { return durable(); },
                        [this](std::vector<GameEvent>&& b, EnqueueDone done) { admitLater(std::move(b), std::move(done)); }}),
      events_(
          options.events,
          [this](const GameEvent& e) {
            // A journaled event carries its accepted time: a replay rebuilds the same World.
            const InvalidReason why = world_.apply(e, e.atMs != 0 ? e.atMs : eventClock_.now());
            if (e.journalSeq != 0) durable_.noteApplied(e.journalSeq);
            onEventApplied(e, why);
            game_.onApplied(e, why, world_);
            return why;
          },
          [this] { periodic(); }),
      controller_(ControllerHooks{
          [this] { onStarting(); },
          [this] {
            events_.pause();
            if (auto rt = runtime(); rt.pool) rt.pool->pause();
          },
          [this] {
            if (auto rt = runtime(); rt.pool) rt.pool->resume();
            events_.resume();
          },
          [this] { onStopping(); },
          [this](std::uint64_t tick) { game_.onTick(tick); },
          [this](EngineState, EngineState) {
            std::lock_guard lock(stateMu_);
            stateCv_.notify_all();
          }}) {
  control_.add([this](WorkerContext& ctx) { controlLoop(ctx); });
}

void Engine::onEventApplied(const GameEvent& e, InvalidReason why) {
  if (why == InvalidReason::None && (e.type == EventType::PlayerLogin || e.type == EventType::PlayerLogout)) {
    io_.playersChanged(static_cast<std::uint32_t>(world_.onlineCount()));
  }
}

void Engine::periodic() {
  io_.tick(static_cast<std::uint32_t>(world_.onlineCount()), controller_.state() == EngineState::Paused);
  std::function<void()> hook;
  {
    std::lock_guard lock(hookMu_);
    hook = periodicHook_;
  }
  if (hook) hook();
}

bool Engine::waitState(EngineState state, std::chrono::nanoseconds timeout) const {
  std::unique_lock lock(stateMu_);
  return stateCv_.wait_for(lock, timeout, [&] { return controller_.state() == state; });
}

void Engine::requestStop() {
  {
    std::lock_guard lock(controlMu_);
    stopRequested_ = true;
  }
  controlCv_.notify_all();
}

void Engine::controlLoop(WorkerContext& ctx) {
  std::unique_lock lock(controlMu_);
  for (;;) {
    controlCv_.wait(lock, ctx.stopToken(), [&] { return stopRequested_; });
    if (ctx.stopRequested()) return;
    stopRequested_ = false;
    std::chrono::milliseconds deadline;
    {
      std::lock_guard rl(runtimeMu_);
      deadline = pending_.shutdownDeadline;
    }
    lock.unlock();
    ctx.beginWork();
    stop(deadline);  // InvalidState when already stopping or stopped: nothing to do
    ctx.endWork();
    lock.lock();
  }
}

void Engine::shutdown() {
  std::chrono::milliseconds deadline;
  {
    std::lock_guard lock(runtimeMu_);
    deadline = pending_.shutdownDeadline;
  }
  // Transitions are serialized: this waits for one in flight (e.g. a pipe SHUTDOWN).
  stop(deadline);
}

std::string Engine::statusJson() const {
  std::string name = io_.serverName();
  std::string escaped;
  for (char c : name) {
    if (c == '"' || c == '\\') escaped.push_back('\\');
    escaped.push_back(c);
  }
  std::string j = "{\"server\":\"" + escaped + "\"";
  j += ",\"state\":\"" + std::string(toString(controller_.state())) + "\"";
  j += ",\"playersOnline\":" + std::to_string(world_.onlineCount());
  j += ",\"playersKnown\":" + std::to_string(world_.knownCount());
  j += ",\"maxPlayers\":" + std::to_string(world_.config().maxPlayers);
  char cpu[32];
  std::snprintf(cpu, sizeof cpu, "%.2f", io_.cpuPercent());
  j += ",\"cpuPercent\":" + std::string(cpu);
  j += ",\"residentBytes\":" + std::to_string(io_.residentBytes());
  j += ",\"pid\":" + std::to_string(platform::currentProcessId());
  j += ",\"queueDepth\":" + std::to_string(events_.queueDepth());
  j += "}";
  return j;
}

Engine::~Engine() {
  const EngineState s = controller_.state();
  if (s == EngineState::Running || s == EngineState::Paused) stop(std::chrono::hours(1));
}

Engine::Runtime Engine::runtime() const {
  std::lock_guard lock(runtimeMu_);
  return runtime_;
}

void Engine::setPeriodicHook(std::function<void()> hook) {
  std::lock_guard lock(hookMu_);
  periodicHook_ = std::move(hook);
}

TransitionResult Engine::start(const EngineConfig& config) {
  {
    std::lock_guard lock(runtimeMu_);
    pending_ = config;
  }
  return controller_.start(config.controller);
}

// Runs inside the controller's starting transition.
void Engine::onStarting() {
  EngineConfig cfg;
  std::uint64_t firstId;
  {
    std::lock_guard lock(runtimeMu_);
    cfg = pending_;
    firstId = nextTaskId_;
  }
  cfg.tasks.firstId = firstId;
  cfg.io.maxPlayers = static_cast<std::uint32_t>(world_.config().maxPlayers);
  if (cfg.game.ticketSecret.empty()) cfg.game.ticketSecret = ticketSecret_;
  game_.configure(cfg.game, cfg.controller.tickRateHz, world_);  // throws std::invalid_argument
  cfg.io.game = cfg.game.enabled ? GameListenerConfig{cfg.game.host, cfg.game.port} : GameListenerConfig{};
  cfg.io.gameSessions = game_.sessions();
  const bool persistent = cfg.database != "simulated";
  const bool journaled = cfg.durability == Durability::Journal;
  if (persistent) {
    // Throws with a readable reason; loads the players.
    persistence_->open(persistenceConfigOf(cfg, [this](std::uint64_t seq) {
      std::error_code ec;
      // A segment that could not be removed is retried at the next checkpoint.
      if (durable_.checkpoint(seq, ec) > 0) worldHashes_.prune(durable_.stats().journal.firstSeq);
    }));
  }
  try {
    // Journal mode: replays the journal (after the store's checkpoint) into the World
    // before any source runs.
    openDurable(cfg, persistent ? persistence_->checkpointAtOpen() : 0);
    if (journaled) {
      worldHashes_.open(journalDirectory(cfg.dataDir));  // throws with a readable reason
      worldHashes_.record(world_.stateHash(), true);    // the World this run starts from
    }
  } catch (...) {
    closeDurable();
    persistence_->close();
    throw;
  }
  try {
    io_.start(cfg.io, static_cast<std::uint32_t>(world_.onlineCount()));  // throws with a readable reason; leaves nothing running
  } catch (...) {
    closeDurable();
    persistence_->close();
    throw;
  }
  game_.setBoundPort(io_.gamePort());
  std::shared_ptr<ThreadPool> pool;
  std::shared_ptr<DatabaseExecutor> db;
  std::shared_ptr<TaskScheduler> scheduler;
  try {
    pool = std::make_shared<ThreadPool>(cfg.pool);
    if (persistent) {
      // A query sees the events accepted before it ran (while running; paused, what is applied).
      db = std::make_shared<StorageDatabase>(persistence_, [this] {
        if (controller_.state() == EngineState::Running) flushEvents(kQueryWaitsForEvents);
      });
    } else {
      db = std::make_shared<SimulatedDatabase>(std::chrono::microseconds(cfg.dbLatencyUs));
    }
    scheduler = std::make_shared<TaskScheduler>(*pool, &world_, db, cfg.tasks);
  } catch (...) {
    io_.stop();
    closeDurable();
    persistence_->close();
    throw;
  }
  if (persistent) persistence_->startFlushing(*pool);
  std::shared_ptr<LoginLeases> loginLeases;
  if (persistent && cfg.game.enabled) loginLeases = std::make_shared<LoginLeases>(persistence_, *pool);
  std::unique_ptr<CleanupGroup> hashTimer;
  if (journaled) {
    // A World hash each flush period in which events were applied (WorldHashLog skips a
    // seq it recorded last).
    hashTimer = std::make_unique<CleanupGroup>(*pool);
    const auto every = cfg.flushInterval.count() > 0 ? cfg.flushInterval : std::chrono::milliseconds(1000);
    pool->schedulePeriodic(every, every, [this] { static_cast<void>(recordWorldHash()); }, hashTimer.get());
  }
  events_.start();
  Runtime previous;  // the last run's, released below with no lock held
  {
    std::lock_guard lock(runtimeMu_);
    previous = std::exchange(runtime_, Runtime{std::move(pool), std::move(scheduler)});
    db_ = std::move(db);
    hashTimer_ = std::move(hashTimer);
    loginLeases_ = std::move(loginLeases);
    database_ = cfg.database;
    startedNs_ = nowNs();
    ++starts_;
  }
  // Runtime's destructor ends the scheduler before the pool its cleanup group cancels
  // into. (Assigning over runtime_ replaced the pool first: the old scheduler's group then
  // called into a destroyed pool, which crashed the Windows Threadpool backend's restart.)
}

TransitionResult Engine::pause() { return controller_.pause(); }
TransitionResult Engine::resume() { return controller_.resume(); }

StopReport Engine::stop(std::chrono::milliseconds deadline) {
  const std::uint64_t t0 = nowNs();
  {
    std::lock_guard lock(runtimeMu_);
    stopDeadline_ = deadline;
    lastStop_ = StopReport{};
  }
  TransitionResult tr = controller_.stop();
  StopReport report;
  {
    std::lock_guard lock(runtimeMu_);
    if (tr.error == TransitionError::None) report = lastStop_;
  }
  report.transition = tr;
  report.durationMs = (nowNs() - t0) / 1000000;
  return report;
}

// Runs inside the controller's stopping transition, after the loop threads joined.
void Engine::onStopping() {
  std::chrono::milliseconds budget;
  {
    std::lock_guard lock(runtimeMu_);
    budget = stopDeadline_;
  }
  const auto deadline = SteadyClock::now() + budget;
  auto remaining = [&] {
    const auto left = deadline - SteadyClock::now();
    return left > Nanos::zero() ? std::chrono::duration_cast<Nanos>(left) : Nanos::zero();
  };
  StopReport r;
  cancelLogins();  // the sessions still waiting for a lease hear why before the port closes
  io_.stop();  // no new pipe requests or game sessions (their logouts are queued); the monitor marks the server stopped
  game_.shutdown();
  closeDurable();  // every batch the journal took is committed and queued before the drain
  const std::uint64_t processedBefore = events_.stats().processed;
  events_.stopAccepting();
  r.drained = events_.drainAndJoin(remaining());
  if (!r.drained) {
    // The deadline is for the caller's patience, not for correctness: every accepted
    // event is still processed (exactly once) before the event thread goes away.
    while (!events_.drainAndJoin(std::chrono::hours(1))) {
    }
  }
  r.eventsDrained = events_.stats().processed - processedBefore;
  persistence_->stopFlushing();  // before the pool goes; the final flush follows its shutdown
  std::unique_ptr<CleanupGroup> hashTimer;
  std::shared_ptr<LoginLeases> loginLeases;
  {
    std::lock_guard lock(runtimeMu_);
    hashTimer = std::move(hashTimer_);
    loginLeases = std::move(loginLeases_);
  }
  if (loginLeases) loginLeases->cancelAll();  // (a login admitted since the first cancel)
  loginLeases.reset();  // its cleanup group goes before the pool (io_.stop() ended the I/O threads, the other holders)
  if (hashTimer) hashTimer->cancelPending();  // waits for a hash in flight
  hashTimer.reset();
  recordWorldHash();      // the World every accepted event built
  worldHashes_.close();
  Runtime rt = runtime();
  if (rt.scheduler) r.tasksCancelled = rt.scheduler->cancelAll(remaining());
  if (rt.pool) {
    r.poolJoined = rt.pool->shutdown(remaining());
    if (!r.poolJoined) rt.pool->shutdown(std::chrono::hours(1));
  }
  // After the last event was applied and no task runs: a failure keeps the rows dirty in
  // the World (the next start's flushes write them) and shows in storage.flushFailures.
  persistence_->close();
  std::lock_guard lock(runtimeMu_);
  if (rt.scheduler) {
    // Ids continue after a restart, so a task id never names two tasks.
    nextTaskId_ = std::max(nextTaskId_, rt.scheduler->stats().submitted + nextTaskId_);
  }
  lastStop_ = r;
  startedNs_ = 0;
}

Engine::DrainReport Engine::drain(std::string_view notice, std::chrono::milliseconds deadline,
                                  std::chrono::milliseconds stopDeadline) {
  DrainReport r;
  const std::uint64_t t0 = nowNs();
  r.sessionsAtStart = game_.live();
  game_.beginDrain(notice);
  cancelLogins();  // a login waiting for another server's lease will not be admitted here
  if (!game_.waitNoSessions(deadline)) {
    r.kicked = game_.live();
    game_.kickAll(game::KickReason::Draining, "the drain deadline passed");
    // The kicked get their KICK flushed or their grace; the stop closes whatever is left.
    game_.waitNoSessions(std::chrono::milliseconds(2000));
  }
  r.waitedMs = (nowNs() - t0) / 1000000;
  r.stop = stop(stopDeadline);
  return r;
}

bool Engine::admitLogin(std::uint32_t playerId, LoginAdmitted done) {
  std::shared_ptr<LoginLeases> leases;
  {
    std::lock_guard lock(runtimeMu_);
    leases = loginLeases_;
  }
  if (!leases) return false;
  leases->admit(playerId, std::move(done));
  return true;
}

void Engine::cancelLogins() {
  std::shared_ptr<LoginLeases> leases;
  {
    std::lock_guard lock(runtimeMu_);
    leases = loginLeases_;
  }
  if (leases) leases->cancelAll();
}

EnqueueResult Engine::enqueue(std::vector<GameEvent>&& batch, Wake wake) { return admit(std::move(batch), wake); }

EnqueueResult Engine::enqueueOne(GameEvent&& event, Wake wake) { return admitOne(std::move(event), wake); }

void Engine::wakeEvents() { events_.wakeDeferred(); }

bool Engine::flushEvents(std::chrono::nanoseconds timeout) {
  const std::uint64_t last = events_.lastAcceptedSeq();
  events_.wakeDeferred();  // events enqueued with a deferred wake-up may still wait for theirs
  return events_.waitProcessed(last, timeout);
}

SubmitResult Engine::submitTask(const TaskSpec& spec) {
  const EngineState s = controller_.state();
  Runtime rt = runtime();
  if ((s != EngineState::Running && s != EngineState::Paused) || !rt.scheduler) {
    SubmitResult r;
    r.error = TaskError::ShuttingDown;
    r.detail = std::string("engine is ") + toString(s);
    return r;
  }
  return rt.scheduler->submit(spec);
}

bool Engine::cancelTask(std::uint64_t id) {
  Runtime rt = runtime();
  return rt.scheduler && rt.scheduler->cancel(id);
}

std::optional<TaskInfo> Engine::task(std::uint64_t id) const {
  Runtime rt = runtime();
  if (!rt.scheduler) return std::nullopt;
  return rt.scheduler->task(id);
}

std::optional<TaskInfo> Engine::waitTask(std::uint64_t id, std::chrono::nanoseconds timeout) const {
  Runtime rt = runtime();
  if (!rt.scheduler) return std::nullopt;
  return rt.scheduler->waitFinished(id, timeout);
}

std::vector<TaskInfo> Engine::recentTasks(std::size_t limit, std::uint64_t before) const {
  Runtime rt = runtime();
  if (!rt.scheduler) return {};
  return rt.scheduler->recent(limit, before);
}

EngineSnapshot Engine::snapshot() const {
  EngineSnapshot s;
  s.timestampMs = unixMs();
  s.state = controller_.state();
  s.controller = controller_.stats();
  s.events = events_.stats();
  Runtime rt;
  {
    std::lock_guard lock(runtimeMu_);
    rt = runtime_;
    s.starts = starts_;
    s.uptimeMs = startedNs_ ? (nowNs() - startedNs_) / 1000000 : 0;
  }
  if (rt.pool) s.pool = rt.pool->stats();
  if (rt.scheduler) s.tasks = rt.scheduler->stats();
  s.io = io_.stats();
  s.game = game_.stats();
  {
    std::lock_guard lock(runtimeMu_);
    s.database = database_;
  }
  s.storage = persistence_->stats();
  s.playersOnline = world_.onlineCount();
  s.playersKnown = world_.knownCount();
  s.durable = durable_.stats();
  s.durable.worldHashes = worldHashes_.recorded();
  s.durable.worldHashFailures = worldHashes_.failures();
  return s;
}

bool Engine::recordWorldHash() {
  if (!durable_.active()) return true;
  return worldHashes_.record(world_.stateHash());
}

}  // namespace gamesrv
