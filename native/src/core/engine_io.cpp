#include "gamesrv/engine_io.hpp"

#include <stdexcept>

namespace gamesrv {

EngineIo::EngineIo(EngineIoHooks hooks) : hooks_(std::move(hooks)) {}

EngineIo::~EngineIo() { stop(); }

void EngineIo::start(const EngineIoConfig& config, std::uint32_t playersOnline) {
  if (config.pipe && !config.iocp) throw std::runtime_error("the pipe server runs on the completion port: enable iocp");
  if (config.gameSessions && !config.iocp) throw std::runtime_error("the game port runs on the completion port: enable iocp");
  std::unique_ptr<MonitorWriter> monitor;
  if (config.monitor) {
    MonitorCreateResult r = MonitorWriter::create(config.serverName, config.maxPlayers);
    if (r.error != MonitorError::None) throw std::runtime_error("shared-memory monitor: " + r.detail);
    monitor = std::move(r.writer);
  }
  std::unique_ptr<CompletionPort> port;
  std::unique_ptr<PipeServer> pipe;
  std::unique_ptr<GameListener> game;
  std::unique_ptr<IocpWorkers> workers;
  if (config.iocp) {
    CompletionPortConfig pc;
    pc.maxConcurrency = config.iocpThreads;
    port = std::make_unique<CompletionPort>(pc);
    CompletionHandler handler;
    if (config.pipe) {
      PipeServerConfig sc;
      sc.path = config.pipePath.empty() ? defaultPipePath(config.serverName) : config.pipePath;
      sc.port = port.get();
      pipe = std::make_unique<PipeServer>(sc, [this](const PipeRequest& r) { return handle(r); });
      PipeResult started = pipe->start();
      if (!started.ok()) throw std::runtime_error("pipe server: " + started.detail);
      handler = [dispatch = pipe->dispatcher()](const CompletionPacket& p) { dispatch(p); };
    } else {
      handler = [](const CompletionPacket&) {};
    }
    if (config.gameSessions) {
      GameListenerConfig gc = config.game;
      gc.completionPort = port.get();
      game = GameListener::create(*config.gameSessions, gc);
      const GameListenResult listening = game->start();
      if (!listening.ok) {
        if (pipe) pipe->stop();
        throw std::runtime_error("game port " + gc.host + ":" + std::to_string(gc.port) + ": " + listening.error);
      }
      handler = [listener = game.get(), rest = std::move(handler)](const CompletionPacket& p) {
        if (!listener->dispatch(p)) rest(p);
      };
    }
    IocpWorkersConfig wc;
    wc.threads = config.iocpThreads;
    workers = std::make_unique<IocpWorkers>(*port, std::move(handler), wc);
    workers->start();
  }
  residentBytes_.store(platform::residentBytes().value_or(0), std::memory_order_relaxed);
  if (monitor) {  // publish at once: readers should not wait a second for the first status
    MonitorUpdate u;
    u.playerCount = playersOnline;
    u.maxPlayers = config.maxPlayers;
    u.residentBytes = residentBytes_.load(std::memory_order_relaxed);
    const MonitorWriteResult r = monitor->update(u);
    (r.error == MonitorError::None ? monitorUpdates_ : monitorFailures_).fetch_add(1, std::memory_order_relaxed);
  }
  std::lock_guard lock(mu_);
  config_ = config;
  monitor_ = std::move(monitor);
  port_ = std::move(port);
  pipe_ = std::move(pipe);
  game_ = std::move(game);
  workers_ = std::move(workers);
}

void EngineIo::stop() {
  std::unique_ptr<CompletionPort> port;
  std::unique_ptr<PipeServer> pipe;
  std::unique_ptr<GameListener> game;
  std::unique_ptr<IocpWorkers> workers;
  std::unique_ptr<MonitorWriter> monitor;
  {
    std::lock_guard lock(mu_);
    port = std::move(port_);
    pipe = std::move(pipe_);
    game = std::move(game_);
    workers = std::move(workers_);
    monitor = std::move(monitor_);
  }
  // Order: no new requests, then the threads that serve them, then the port.
  if (game) game->stop();  // every session closed: their players' logouts are queued
  if (pipe) pipe->stop();
  if (workers) workers->stop(std::chrono::seconds(10));
  workers.reset();
  game.reset();
  pipe.reset();
  if (port) port->close();
  port.reset();
  if (monitor) monitor->stop();  // marks the status stopped and unlinks the segment
}

void EngineIo::tick(std::uint32_t playersOnline, bool paused) {
  const auto sample = cpu_.sample();
  cpuPercent_.store(sample.percent, std::memory_order_relaxed);
  residentBytes_.store(platform::residentBytes().value_or(0), std::memory_order_relaxed);
  std::lock_guard lock(mu_);
  if (!monitor_) return;
  MonitorUpdate u;
  u.playerCount = playersOnline;
  u.maxPlayers = config_.maxPlayers;
  u.cpuPercent = sample.percent;
  u.residentBytes = residentBytes_.load(std::memory_order_relaxed);
  u.paused = paused;
  const MonitorWriteResult r = monitor_->update(u);
  (r.error == MonitorError::None ? monitorUpdates_ : monitorFailures_).fetch_add(1, std::memory_order_relaxed);
}

void EngineIo::playersChanged(std::uint32_t playersOnline) {
  std::lock_guard lock(mu_);
  if (!monitor_) return;
  const MonitorWriteResult r = monitor_->setPlayerCount(playersOnline);
  (r.error == MonitorError::None ? monitorUpdates_ : monitorFailures_).fetch_add(1, std::memory_order_relaxed);
}

PipeReply EngineIo::replyTo(const EnqueueResult& r) {
  switch (r.status) {
    case EnqueueStatus::Ok: return PipeReply::ack("seq=" + std::to_string(r.firstSeq));
    case EnqueueStatus::QueueFull: return PipeReply::error("queue full: event not accepted, retry later");
    default: return PipeReply::error("engine is not accepting events");
  }
}

PipeReply EngineIo::handle(const PipeRequest& request) {
  switch (request.type) {
    case PipeMessageType::PlayerLogin:
    case PipeMessageType::PlayerLogout:
    case PipeMessageType::PlayerMove: {
      const PlayerPayload& p = *request.player;  // validated by the server
      GameEvent e;
      e.playerId = p.playerId;
      if (request.type == PipeMessageType::PlayerLogin) {
        e.type = EventType::PlayerLogin;
        e.text = p.name;
      } else if (request.type == PipeMessageType::PlayerLogout) {
        e.type = EventType::PlayerLogout;
      } else {
        e.type = EventType::PlayerMove;
        e.text = p.position;
      }
      std::vector<GameEvent> batch;
      batch.push_back(std::move(e));
      if (hooks_.journaled && hooks_.journaled()) {
        // PipeLaterReply is move-only and EnqueueDone a (copyable) std::function: shared.
        auto later = std::make_shared<PipeLaterReply>(request.deferReply());
        hooks_.admitLater(std::move(batch), [later](const EnqueueResult& r) { later->send(replyTo(r)); });
        return PipeReply::later();
      }
      return replyTo(hooks_.enqueue(std::move(batch)));
    }
    case PipeMessageType::ServerStatus: return PipeReply::status(hooks_.statusJson());
    case PipeMessageType::Shutdown:
      hooks_.requestStop();
      return PipeReply::ack("stopping");
    default: return PipeReply::error("not a request type");
  }
}

EngineIoStats EngineIo::stats() const {
  EngineIoStats s;
  std::lock_guard lock(mu_);
  s.iocpEnabled = workers_ != nullptr;
  if (workers_) s.iocp = workers_->stats();
  s.pipeEnabled = pipe_ != nullptr;
  if (pipe_) s.pipe = pipe_->stats();
  s.monitor.enabled = monitor_ != nullptr;
  s.monitor.serverName = config_.serverName;
  if (monitor_) {
    s.monitor.segment = monitor_->segmentName();
    s.monitor.recoveries = monitor_->recoveries();
  }
  s.monitor.updates = monitorUpdates_.load(std::memory_order_relaxed);
  s.monitor.failures = monitorFailures_.load(std::memory_order_relaxed);
  s.monitor.cpuPercent = cpuPercent_.load(std::memory_order_relaxed);
  s.monitor.residentBytes = residentBytes_.load(std::memory_order_relaxed);
  return s;
}

std::uint16_t EngineIo::gamePort() const {
  std::lock_guard lock(mu_);
  return game_ ? game_->boundPort() : 0;
}

std::string EngineIo::pipePath() const {
  std::lock_guard lock(mu_);
  return pipe_ ? pipe_->path() : std::string();
}

std::string EngineIo::serverName() const {
  std::lock_guard lock(mu_);
  return config_.serverName;
}

}  // namespace gamesrv
