// EngineIo: the engine's inter-process side, started and stopped with the engine —
// the completion port and its gs-iocp threads, the pipe server and the game port's
// listener (gamesrv/game_server.hpp) on them, and the
// shared-memory status monitor (seed 4.2.2, 4.3.1, 4.3.2).
//
// Pipe requests become World events through the same queue as every other event
// (counted, processed exactly once). In journal mode a PLAYER_* request's reply is
// deferred (pipe.hpp, "Deferred replies"): the batch is submitted at once and ACK seq=N
// (or the ERROR) is sent by the journal's thread when its commit completes, so no
// completion-port thread waits for a commit. SERVER_STATUS answers with measured figures;
// SHUTDOWN asks the engine for a graceful stop (through EngineIoHooks::requestStop,
// never by stopping from an I/O thread). The monitor is refreshed once a second by
// the event thread and whenever the online player count changes.
//
// Thread safety: start()/stop() are called by the engine's transitions only;
// tick(), playersChanged() by the event thread; stats() and cpuPercent() from any thread.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "gamesrv/event_processor.hpp"
#include "gamesrv/iocp_workers.hpp"
#include "gamesrv/monitor.hpp"
#include "gamesrv/pipe.hpp"
#include "gamesrv/platform/completion_port.hpp"
#include "gamesrv/platform/game_listener.hpp"
#include "gamesrv/platform/sysinfo.hpp"

namespace gamesrv {

struct EngineIoConfig {
  std::string serverName = "gamesrv";  // names the pipe and the shared-memory segment
  bool iocp = true;
  std::size_t iocpThreads = 2;
  bool pipe = true;          // needs iocp
  std::string pipePath;      // empty: defaultPipePath(serverName)
  bool monitor = true;
  std::uint32_t maxPlayers = 100000;
  // The TCP game port, served on the completion port's threads: on when gameSessions is
  // set (needs iocp). game.completionPort is filled in by start().
  GameSessions* gameSessions = nullptr;
  GameListenerConfig game;
};

using EnqueueDone = std::function<void(const EnqueueResult&)>;

struct EngineIoHooks {
  std::function<EnqueueResult(std::vector<GameEvent>&&)> enqueue;
  std::function<std::string()> statusJson;  // SERVER_STATUS reply
  std::function<void()> requestStop;        // SHUTDOWN
  // Journal mode: PLAYER_* go through admitLater(), whose `done` runs exactly once, when
  // the commit completed (any thread) or at once when the batch was refused. Unset or
  // false: enqueue() answers before the reply is sent.
  std::function<bool()> journaled;
  std::function<void(std::vector<GameEvent>&&, EnqueueDone)> admitLater;
};

struct MonitorStats {
  bool enabled = false;
  std::string serverName;
  std::string segment;
  std::uint64_t updates = 0;
  std::uint64_t failures = 0;
  std::uint64_t recoveries = 0;  // writes that recovered a lock whose owner died
  double cpuPercent = 0;         // last measured, 100 = one core
  std::uint64_t residentBytes = 0;
};

struct EngineIoStats {
  bool iocpEnabled = false;
  IocpWorkersStats iocp;
  bool pipeEnabled = false;
  PipeServerStats pipe;
  MonitorStats monitor;
};

class EngineIo {
 public:
  explicit EngineIo(EngineIoHooks hooks);
  ~EngineIo();

  // Throws std::runtime_error with a readable reason; on failure nothing is left running.
  void start(const EngineIoConfig& config, std::uint32_t playersOnline);
  void stop();

  void tick(std::uint32_t playersOnline, bool paused);  // about once a second
  void playersChanged(std::uint32_t playersOnline);

  EngineIoStats stats() const;
  double cpuPercent() const noexcept { return cpuPercent_.load(std::memory_order_relaxed); }
  std::uint64_t residentBytes() const noexcept { return residentBytes_.load(std::memory_order_relaxed); }
  std::string pipePath() const;
  std::uint16_t gamePort() const;  // the game port's bound port; 0 when closed
  std::string serverName() const;

 private:
  PipeReply handle(const PipeRequest& request);
  static PipeReply replyTo(const EnqueueResult& r);  // ACK seq=N, or the ERROR saying why not

  const EngineIoHooks hooks_;
  mutable std::mutex mu_;  // guards the pointers below against stats() readers
  EngineIoConfig config_;
  std::unique_ptr<CompletionPort> port_;
  std::unique_ptr<PipeServer> pipe_;
  std::unique_ptr<GameListener> game_;
  std::unique_ptr<IocpWorkers> workers_;
  std::unique_ptr<MonitorWriter> monitor_;

  platform::CpuSampler cpu_;  // event thread only
  std::atomic<double> cpuPercent_{0};
  std::atomic<std::uint64_t> residentBytes_{0};
  std::atomic<std::uint64_t> monitorUpdates_{0};
  std::atomic<std::uint64_t> monitorFailures_{0};
};

}  // namespace gamesrv
