// Engine: the whole native engine behind one object — the Controller's state
// machine driving the EventProcessor (which owns writes to the World), the
// ThreadPool and the TaskScheduler. The addon wraps exactly this class.
//
// start() builds a fresh pool and scheduler from the config and starts the event
// thread and the loop threads. pause() stops ticks, event processing, timers and
// task starts (events are still accepted). stop(deadline) refuses new events,
// drains every accepted event, cancels unfinished tasks, shuts the pool down and
// joins every thread; a stop from paused works. Counters are cumulative over the
// Engine's lifetime, so accepted == processed holds across restarts.
//
// Thread safety: every public member is safe from any thread. Transitions are
// serialized; readers (snapshot, task, players) never wait for a transition.
#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "gamesrv/controller.hpp"
#include "gamesrv/durable_events.hpp"
#include "gamesrv/engine_io.hpp"
#include "gamesrv/event_processor.hpp"
#include "gamesrv/game_server.hpp"
#include "gamesrv/login_leases.hpp"
#include "gamesrv/persistence.hpp"
#include "gamesrv/task_scheduler.hpp"
#include "gamesrv/thread_pool.hpp"
#include "gamesrv/tsc_clock.hpp"
#include "gamesrv/world.hpp"
#include "gamesrv/world_hashes.hpp"

namespace gamesrv {

struct EngineConfig {
  ControllerConfig controller;
  ThreadPoolConfig pool;
  TaskSchedulerConfig tasks;
  std::uint32_t dbLatencyUs = 2000;  // SimulatedDatabase latency
  std::string dataDir;               // the engine's files (database, journal); empty: none, all in memory
  // Where players persist and `database` tasks run (gamesrv/persistence.hpp): "simulated"
  // (nothing persists; SimulatedDatabase), "sqlite" (needs dataDir) or "postgres" (needs
  // databaseUrl). The store opens at start and closes at stop after a final flush.
  std::string database = "simulated";
  std::string databaseUrl;
  std::chrono::milliseconds flushInterval{1000};  // dirty players are written this often
  // A player row's owner lease (gamesrv/persistence.hpp) lasts this long past each grant or
  // renewal; the owner's name is io.serverName.
  std::chrono::milliseconds leaseLength{15000};
  Durability durability = Durability::None;  // Journal: <dataDir>/journal makes an acknowledgement durable
  EngineIoConfig io;                 // completion port, pipe server, shared-memory monitor
  GameServerConfig game;             // the TCP game port (off unless enabled)
  std::chrono::milliseconds shutdownDeadline{5000};  // stop deadline: pipe SHUTDOWN, close()
};

struct EngineOptions {
  EventProcessorConfig events;  // fixed for the Engine's lifetime
  WorldConfig world;
  std::vector<std::uint8_t> ticketSecret;  // the game port's ticket key (GameServerConfig)
};

struct StopReport {
  TransitionResult transition;
  bool drained = true;              // every accepted event processed before the deadline
  bool poolJoined = true;           // every pool thread joined before the deadline
  std::uint64_t eventsDrained = 0;  // events processed during the stop
  std::size_t tasksCancelled = 0;
  std::uint64_t durationMs = 0;
};

struct EngineSnapshot {
  EngineState state = EngineState::Stopped;
  std::uint64_t timestampMs = 0;
  std::uint64_t uptimeMs = 0;  // since the last start; 0 when stopped
  std::uint64_t starts = 0;
  ControllerStats controller;
  EventProcessorStats events;
  ThreadPoolStats pool;
  TaskSchedulerStats tasks;
  EngineIoStats io;
  GameServerStats game;
  std::string database = "simulated";  // the last start's `database`
  PersistenceStats storage;
  std::size_t playersOnline = 0;
  std::size_t playersKnown = 0;
  DurableStats durable;
};

class Engine {
 public:
  explicit Engine(EngineOptions options = {});
  ~Engine();  // stops (no deadline) if running
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  TransitionResult start(const EngineConfig& config);
  TransitionResult pause();
  TransitionResult resume();
  StopReport stop(std::chrono::milliseconds deadline);

  // In journal mode these block until the batch's commit completed (the result then carries
  // journal sequence numbers); a thread that must not block uses submitEvents().
  EnqueueResult enqueue(std::vector<GameEvent>&& batch, Wake wake = Wake::Now);
  EnqueueResult enqueueOne(GameEvent&& event, Wake wake = Wake::Now);
  // The acknowledging way in (engine_durable.cpp). Journal mode: takes the batch or refuses it
  // at once (then `batch` is left as it was and `done` never runs); `done` runs on the
  // journal's thread once the batch is durable and queued (or its commit failed). None mode:
  // enqueues at once, then runs `done` on the calling thread. Either way the immediate
  // result says whether the batch was taken.
  DurableResult submitEvents(std::vector<GameEvent>& batch, DurableDone done, Wake wake = Wake::Now);
  bool durable() const noexcept { return durable_.active(); }
  // Storage hooks (player persistence): the checkpoint to replay after at start (a function
  // returning the sequence number of the last event a storage checkpoint holds; none: 0,
  // replay the whole journal), and a checkpoint that committed: the journal's segments at or
  // below `seq` are deleted. The processed watermark to checkpoint is journalAppliedSeq().
  void setCheckpointSource(std::function<std::uint64_t()> source);
  std::size_t checkpointCommitted(std::uint64_t seq, std::error_code& ec);
  std::uint64_t journalAppliedSeq() const noexcept { return durable_.appliedSeq(); }
  // The journal's options at the next start (limits, injected I/O faults), for tests.
  void setJournalOptionsForTesting(JournalOptions options) { durable_.setOptionsForTesting(std::move(options)); }
  // After enqueue(..., Wake::Deferred): wakes the event thread if it waits (EventProcessor).
  void wakeEvents();
  // Waits until every event accepted before the call has been processed. False on timeout.
  bool flushEvents(std::chrono::nanoseconds timeout);
  // Answers TaskError::ShuttingDown when the engine is not running or paused.
  SubmitResult submitTask(const TaskSpec& spec);
  bool cancelTask(std::uint64_t id);
  std::optional<TaskInfo> task(std::uint64_t id) const;
  std::vector<TaskInfo> recentTasks(std::size_t limit, std::uint64_t before = UINT64_MAX) const;
  // The task once finished; nullopt on timeout or unknown id.
  std::optional<TaskInfo> waitTask(std::uint64_t id, std::chrono::nanoseconds timeout) const;

  EngineState state() const noexcept { return controller_.state(); }
  // Waits until the engine is in `state` (any transition may get it there). False on timeout.
  bool waitState(EngineState state, std::chrono::nanoseconds timeout) const;
  const World& world() const noexcept { return world_; }
  // The players' store (open while a run with a real `database` is). The journal's
  // checkpoint hook: PersistenceConfig::checkpoint and World::appliedSeq().
  PlayerPersistence& persistence() noexcept { return *persistence_; }
  EngineSnapshot snapshot() const;
  // Journal mode: records the World's hash beside the journal (gamesrv/world_hashes.hpp),
  // as each flush period, the start and the stop do. False when the write failed; true (and
  // nothing recorded) without a journal.
  bool recordWorldHash();
  std::uint64_t worldHashesRecorded() const { return worldHashes_.recorded(); }

  // Runs on the event thread about once per idle timeout (after the monitor refresh).
  void setPeriodicHook(std::function<void()> hook);

  // Asks for a graceful stop from any thread, including engine threads (pipe SHUTDOWN):
  // the gs-control thread performs it. Returns at once.
  void requestStop();
  // Stop (if running or paused) within the running configuration's shutdownDeadline,
  // waiting for any transition in flight; for close() and the environment's clean-up.
  void shutdown();
  std::string pipePath() const { return io_.pipePath(); }

  // The game port's sessions (list, kick, broadcast) while a run has it open.
  GameServer& game() noexcept { return game_; }
  const GameServer& game() const noexcept { return game_; }
  // Drain: stop admitting players, NOTICE every session, wait until none is left or the
  // deadline passes (then kick the rest), then stop within `stopDeadline`. Returns the
  // sessions kicked at the deadline and the stop's report. Blocks: call off the JS thread.
  struct DrainReport {
    std::size_t sessionsAtStart = 0;
    std::size_t kicked = 0;  // still connected at the deadline
    std::uint64_t waitedMs = 0;
    StopReport stop;
  };
  DrainReport drain(std::string_view notice, std::chrono::milliseconds deadline, std::chrono::milliseconds stopDeadline);

 private:
  struct Runtime {  // what one start() builds
    // Declared in this order so that destruction ends the scheduler (whose cleanup group
    // cancels into the pool) first. Never assign over a live Runtime member by member.
    std::shared_ptr<ThreadPool> pool;
    std::shared_ptr<TaskScheduler> scheduler;
  };
  Runtime runtime() const;
  void onStarting();
  void onStopping();
  void onEventApplied(const GameEvent& e, InvalidReason why);
  // engine_durable.cpp: every source's way in, and the journal's part of start and stop.
  EnqueueResult admit(std::vector<GameEvent>&& batch, Wake wake);
  EnqueueResult admitOne(GameEvent&& event, Wake wake);
  // admit() without the wait: `done` runs once, on the journal's thread after the commit, or
  // on the caller's at once (refused, or none mode). The pipe's way in (EngineIoHooks).
  void admitLater(std::vector<GameEvent>&& batch, std::function<void(const EnqueueResult&)> done);
  // A game session's input: never blocks (an I/O thread); a refused event is left in `e`.
  EnqueueResult admitSession(GameEvent& e);
  // A game login's lease (GameServerHooks::admit): false when this run has no database.
  bool admitLogin(std::uint32_t playerId, LoginAdmitted done);
  // Answers every login still waiting for a lease (drain, stop).
  void cancelLogins();
  // Throws with a readable reason. Replays after max(storedCheckpoint, the checkpoint source's).
  void openDurable(const EngineConfig& config, std::uint64_t storedCheckpoint);
  void closeDurable();
  void periodic();
  std::string statusJson() const;
  void controlLoop(WorkerContext& ctx);

  World world_;
  CoarseUnixMs eventClock_;  // the event thread's: World::apply's timestamps
  // Opened by a start with a real `database`, closed (final flush) by the stop.
  const std::shared_ptr<PlayerPersistence> persistence_;
  const std::vector<std::uint8_t> ticketSecret_;
  GameServer game_;  // outlives io_, whose listener serves its sessions
  EngineIo io_;
  EventProcessor events_;
  DurableEvents durable_{events_};  // the journal's path into events_ (durability: journal)
  WorldHashLog worldHashes_;        // open while a journal-mode run is
  Controller controller_;

  mutable std::mutex runtimeMu_;
  Runtime runtime_;                         // guarded by runtimeMu_
  std::shared_ptr<DatabaseExecutor> db_;    // guarded by runtimeMu_
  std::string database_ = "simulated";      // guarded by runtimeMu_: the last start's `database`
  EngineConfig pending_;                    // guarded by runtimeMu_: config of the start in progress
  std::uint64_t nextTaskId_ = 1;            // guarded by runtimeMu_
  std::uint64_t startedNs_ = 0;             // guarded by runtimeMu_
  std::uint64_t starts_ = 0;                // guarded by runtimeMu_
  std::chrono::milliseconds stopDeadline_{0};  // guarded by runtimeMu_
  StopReport lastStop_;                     // guarded by runtimeMu_
  std::unique_ptr<CleanupGroup> hashTimer_;  // guarded by runtimeMu_: the periodic World hash
  // With a database: game logins wait for their player's lease here (gamesrv/login_leases.hpp).
  std::shared_ptr<LoginLeases> loginLeases_;  // guarded by runtimeMu_

  mutable std::mutex hookMu_;
  std::function<void()> periodicHook_;  // guarded by hookMu_
  std::function<std::uint64_t()> checkpointSource_;  // guarded by hookMu_

  mutable std::mutex stateMu_;
  mutable std::condition_variable stateCv_;  // notified on every state change

  std::mutex controlMu_;
  std::condition_variable_any controlCv_;
  bool stopRequested_ = false;  // guarded by controlMu_
  // Declared last, joined first: performs requestStop() off the caller's thread.
  WorkerGroup control_{"gs-control"};
};

}  // namespace gamesrv
