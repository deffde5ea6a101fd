#include "gamesrv/controller.hpp"

#include <algorithm>
#include <cmath>
#include <exception>
#include <stop_token>
#include <utility>

#include "gamesrv/clock.hpp"

namespace gamesrv {

const char* toString(EngineState s) noexcept {
  switch (s) {
    case EngineState::Stopped: return "stopped";
    case EngineState::Starting: return "starting";
    case EngineState::Running: return "running";
    case EngineState::Paused: return "paused";
    case EngineState::Stopping: return "stopping";
  }
  return "unknown";
}

namespace {

// Which controller's hook (or game loop) the calling thread is inside, so a re-entrant
// transition is refused instead of deadlocking on the transition mutex or a self-join.
thread_local const void* tlsInTransitionOf = nullptr;
thread_local const void* tlsLoopOf = nullptr;

constexpr std::size_t kMaxLoopThreads = 4096;
constexpr double kMaxTickRateHz = 100000.0;

// Synthetic CPU load: the point is to occupy a core, so this computes rather than waits.
// Gives up early on stop so a long tick cannot hold up stop().
void burnCpuUntil(TimePoint end, const std::stop_token& stop) {
  std::uint64_t x = 0x9e3779b97f4a7c15ull;
  do {
    for (int i = 0; i < 256; ++i) x = x * 6364136223846793005ull + 1442695040888963407ull;
    static_cast<void>(*static_cast<volatile std::uint64_t*>(&x));
  } while (SteadyClock::now() < end && !stop.stop_requested());
}

std::string describe(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    return ex.what();
  } catch (...) {
    return "unknown exception";
  }
}

// Runs a lifecycle hook; returns the failure text, or an empty string on success.
std::string runHook(const std::function<void()>& hook, const char* name) {
  if (!hook) return {};
  try {
    hook();
    return {};
  } catch (...) {
    return std::string(name) + " failed: " + describe(std::current_exception());
  }
}

}  // namespace

struct Controller::Impl {
  explicit Impl(ControllerHooks h) : hooks(std::move(h)) {}

  // Lock order: transitionMu -> loopMu | infoMu | WorkerGroup's. loopMu and infoMu never
  // nest; rateMu is a leaf. No lock but transitionMu is held while a hook runs.
  const ControllerHooks hooks;
  std::mutex transitionMu;  // serializes start/pause/resume/stop, held across their hooks

  // Written only with transitionMu and infoMu held; read lock-free by state().
  std::atomic<EngineState> state{EngineState::Stopped};

  // Loop coordination. Loop threads wait on loopCv for their next deadline or to be
  // released from a park; stop reaches them through their stop_token.
  std::mutex loopMu;
  std::condition_variable_any loopCv;
  std::condition_variable parkedCv;  // start()/pause() wait here for threads to park
  bool holding = true;               // guarded by loopMu: loop threads must park
  TimePoint holdAt;                  // guarded by loopMu: when the current hold or stop was asked for
  TimePoint epoch;                   // guarded by loopMu: tick k of a segment is due at epoch + k*period
  std::uint64_t epochGen = 0;        // guarded by loopMu: bumped when a segment begins (start, resume)
  std::size_t parked = 0;            // guarded by loopMu

  mutable std::mutex infoMu;
  bool configured = false;             // guarded by infoMu
  ControllerConfig config;             // guarded by infoMu
  std::shared_ptr<WorkerGroup> group;  // guarded by infoMu; replaced only under transitionMu
  std::uint64_t startedAtMs = 0;       // guarded by infoMu
  std::uint64_t runningAccumNs = 0;    // guarded by infoMu: closed `running` intervals of this run
  std::uint64_t runningSinceNs = 0;    // guarded by infoMu: valid while state == Running

  // Telemetry (relaxed atomics). ticks/overruns/skipped and the histograms span all runs.
  std::atomic<std::uint64_t> ticks{0};
  std::atomic<std::uint64_t> overruns{0};
  std::atomic<std::uint64_t> skipped{0};
  // This run's achieved rate: gaps between consecutive tick starts of one thread inside one
  // running segment, summed over threads. Pauses and the moment stats() samples cannot bias
  // it. A pair read together, hence a (leaf) lock rather than two atomics.
  mutable std::mutex rateMu;
  std::uint64_t runIntervals = 0;  // guarded by rateMu
  std::uint64_t runSpanNs = 0;     // guarded by rateMu
  Histogram tickDurationNs;
  Histogram tickJitterNs;

  // Holds transitionMu for one transition and marks the thread as inside this
  // controller's hooks.
  class TransitionScope {
   public:
    explicit TransitionScope(Impl& impl) : lock_(impl.transitionMu), prev_(tlsInTransitionOf) {
      tlsInTransitionOf = &impl;
    }
    ~TransitionScope() { tlsInTransitionOf = prev_; }
    TransitionScope(const TransitionScope&) = delete;
    TransitionScope& operator=(const TransitionScope&) = delete;

   private:
    std::lock_guard<std::mutex> lock_;
    const void* prev_;
  };

  static TransitionResult result(EngineState s, TransitionError e = TransitionError::None, std::string detail = {}) {
    return TransitionResult{e, s, std::move(detail)};
  }
  static TransitionResult invalid(const char* verb, EngineState s, const std::string& why = {}) {
    return result(s, TransitionError::InvalidState,
                  std::string("cannot ") + verb + ": " + (why.empty() ? std::string("engine is ") + toString(s) : why));
  }

  // A transition asked for from inside one of our hooks or from a loop thread would wait on
  // itself (the transition mutex, a park, or a join): refuse it with the reason.
  bool reentrant(const char* verb, TransitionResult& out) const {
    const EngineState s = state.load(std::memory_order_acquire);
    if (tlsInTransitionOf == this) {
      out = invalid(verb, s, std::string("called from inside a controller hook (engine is ") + toString(s) + ")");
      return true;
    }
    if (tlsLoopOf == this) {
      out = invalid(verb, s, std::string("called from a game-loop thread (engine is ") + toString(s) + ")");
      return true;
    }
    return false;
  }

  // Requires: transitionMu held. Publishes the new state and accounts running time; the
  // caller reports the edge with notifyChange() once it has released its other locks.
  EngineState commit(EngineState to) {
    std::lock_guard l(infoMu);
    const EngineState from = state.load(std::memory_order_relaxed);
    const std::uint64_t now = nowNs();
    if (from == EngineState::Running) runningAccumNs += now - runningSinceNs;
    if (to == EngineState::Running) runningSinceNs = now;
    state.store(to, std::memory_order_release);
    return from;
  }

  // Requires: transitionMu held (so observers see edges in order), no other lock.
  // An observer that throws must not wreck the state machine: its exception is dropped.
  void notifyChange(EngineState from, EngineState to) const {
    if (!hooks.onStateChange) return;
    try {
      hooks.onStateChange(from, to);
    } catch (...) {
    }
  }

  void moveTo(EngineState to) { notifyChange(commit(to), to); }

  // Requires: transitionMu held. Starts a new schedule segment: every loop thread
  // re-bases tick 0 of its schedule to now, so nothing missed while held is replayed.
  void release() {
    {
      std::lock_guard l(loopMu);
      epoch = SteadyClock::now();
      ++epochGen;
      holding = false;
    }
    loopCv.notify_all();
  }

  // Requires: transitionMu held. Returns once `count` loop threads are parked.
  void holdAndWait(std::size_t count) {
    std::unique_lock l(loopMu);
    holding = true;
    holdAt = SteadyClock::now();
    loopCv.notify_all();
    parkedCv.wait(l, [&] { return parked >= count; });
  }

  // Requires: transitionMu held. Stops and joins the current loop threads, if any.
  void joinLoopThreads() {
    std::shared_ptr<WorkerGroup> g;
    {
      std::lock_guard l(infoMu);
      g = group;
    }
    if (!g) return;
    {
      std::lock_guard l(loopMu);
      holding = true;
      holdAt = SteadyClock::now();
    }
    g->requestStop();
    while (!g->joinFor(std::chrono::hours(1))) {
    }
    std::lock_guard l(infoMu);
    group.reset();
  }

  void loop(WorkerContext& ctx, double periodNs, std::uint32_t workUs);

  TransitionResult start(const ControllerConfig& cfg);
  TransitionResult pause();
  TransitionResult resume();
  TransitionResult stop();
};

void Controller::Impl::loop(WorkerContext& ctx, double periodNs, std::uint32_t workUs) {
  tlsLoopOf = this;
  const std::stop_token stop = ctx.stopToken();
  TimePoint segEpoch;          // tick k of this thread's current segment is due at dueAt(k)
  const auto dueAt = [&](std::uint64_t k) { return segEpoch + Nanos(std::llround(static_cast<double>(k) * periodNs)); };
  // Index of the latest deadline at or before t (t >= segEpoch).
  const auto latestDue = [&](TimePoint t) {
    const auto since = std::chrono::duration_cast<Nanos>(t - segEpoch).count();
    auto i = static_cast<std::uint64_t>(static_cast<double>(since) / periodNs);
    while (i > 0 && dueAt(i) > t) --i;
    while (dueAt(i + 1) <= t) ++i;
    return i;
  };
  std::uint64_t seenGen = 0;   // 0: not released yet (still in start())
  bool inSegment = false;
  std::uint64_t k = 0;         // next schedule index to serve
  std::uint64_t frame = 0;     // ticks run by this thread in this run, handed to onTick
  TimePoint prevStart;
  bool havePrev = false;

  // Requires: loopMu held. Deadlines that came due before the hold (pause or stop) was
  // asked for and were never served are missed ones: count them, so that ticks + skipped
  // always equals the schedule position, however late this thread got the CPU back.
  const auto closeSegment = [&] {
    if (!inSegment) return;
    inSegment = false;
    const TimePoint cut = std::min(SteadyClock::now(), holdAt);
    if (cut >= dueAt(k)) skipped.fetch_add(latestDue(cut) - k + 1, std::memory_order_relaxed);
  };

  std::unique_lock lk(loopMu);
  while (!stop.stop_requested()) {
    if (holding) {
      closeSegment();
      ctx.setState(seenGen == 0 ? WorkerState::Idle : WorkerState::Paused);
      ++parked;
      parkedCv.notify_all();
      loopCv.wait(lk, stop, [&] { return !holding; });
      --parked;
      ctx.setState(WorkerState::Idle);
      continue;
    }
    if (seenGen != epochGen) {
      seenGen = epochGen;
      segEpoch = epoch;
      inSegment = true;
      k = 0;
      havePrev = false;
    }
    const std::uint64_t gen = seenGen;
    if (loopCv.wait_until(lk, stop, dueAt(k), [&] { return holding || epochGen != gen; })) continue;
    if (stop.stop_requested()) break;
    lk.unlock();

    const TimePoint start = SteadyClock::now();
    // Woken after later deadlines passed too (an overrun, or preemption): serve only the
    // latest one, late, and skip the others rather than running them in a burst.
    if (start >= dueAt(k + 1)) {
      const std::uint64_t latest = latestDue(start);
      skipped.fetch_add(latest - k, std::memory_order_relaxed);
      k = latest;
    }
    const TimePoint due = dueAt(k);
    tickJitterNs.record(start > due ? static_cast<std::uint64_t>(std::chrono::duration_cast<Nanos>(start - due).count()) : 0);

    ctx.beginWork();
    if (workUs > 0) burnCpuUntil(start + std::chrono::microseconds(workUs), stop);
    if (hooks.onTick) {
      try {
        hooks.onTick(frame);
      } catch (...) {
        // One bad tick must not take the loop thread (and the process) down.
      }
    }
    ctx.endWork();
    const TimePoint end = SteadyClock::now();

    ++frame;
    tickDurationNs.record(static_cast<std::uint64_t>(std::chrono::duration_cast<Nanos>(end - start).count()));
    ticks.fetch_add(1, std::memory_order_relaxed);
    if (havePrev) {
      std::lock_guard l(rateMu);
      runIntervals += 1;
      runSpanNs += static_cast<std::uint64_t>(std::chrono::duration_cast<Nanos>(start - prevStart).count());
    }
    prevStart = start;
    havePrev = true;
    ++k;
    if (end > dueAt(k)) overruns.fetch_add(1, std::memory_order_relaxed);

    lk.lock();
  }
  closeSegment();
  tlsLoopOf = nullptr;
}

TransitionResult Controller::Impl::start(const ControllerConfig& cfg) {
  TransitionResult refused;
  if (reentrant("start", refused)) return refused;
  TransitionScope scope(*this);
  const EngineState s = state.load(std::memory_order_relaxed);
  if (s != EngineState::Stopped) return invalid("start", s);
  if (!std::isfinite(cfg.tickRateHz) || cfg.tickRateHz <= 0 || cfg.tickRateHz > kMaxTickRateHz) {
    return invalid("start", s, "tickRateHz must be in (0, 100000]");
  }
  if (cfg.loopThreads > kMaxLoopThreads) return invalid("start", s, "loopThreads must be at most 4096");

  {
    std::lock_guard l(infoMu);
    configured = true;
    config = cfg;
    startedAtMs = unixMs();
    runningAccumNs = 0;
  }
  {
    std::lock_guard l(rateMu);
    runIntervals = 0;
    runSpanNs = 0;
  }
  moveTo(EngineState::Starting);

  if (std::string failure = runHook(hooks.onStarting, "onStarting"); !failure.empty()) {
    moveTo(EngineState::Stopped);
    return result(EngineState::Stopped, TransitionError::HookFailed, std::move(failure));
  }

  {
    std::lock_guard l(loopMu);
    holding = true;
  }
  auto g = std::make_shared<WorkerGroup>("gs-loop");
  {
    std::lock_guard l(infoMu);
    group = g;
  }
  const double periodNs = 1e9 / cfg.tickRateHz;
  const std::uint32_t workUs = cfg.tickWorkUs;
  try {
    g->start(cfg.loopThreads, [this, periodNs, workUs](WorkerContext& ctx) { loop(ctx, periodNs, workUs); });
  } catch (...) {
    // Out of threads: undo what onStarting set up and leave nothing running.
    std::string detail = "cannot start: spawning loop threads failed: " + describe(std::current_exception());
    joinLoopThreads();
    if (std::string failure = runHook(hooks.onStopping, "onStopping"); !failure.empty()) detail += "; " + failure;
    moveTo(EngineState::Stopped);
    return result(EngineState::Stopped, TransitionError::HookFailed, std::move(detail));
  }
  // Thread start-up latency must not count as missed deadlines: tick 0 is due only once
  // every loop thread is ready.
  holdAndWait(cfg.loopThreads);
  const EngineState from = commit(EngineState::Running);
  release();
  notifyChange(from, EngineState::Running);
  return result(EngineState::Running);
}

TransitionResult Controller::Impl::pause() {
  TransitionResult refused;
  if (reentrant("pause", refused)) return refused;
  TransitionScope scope(*this);
  const EngineState s = state.load(std::memory_order_relaxed);
  if (s != EngineState::Running) return invalid("pause", s);
  std::size_t threads;
  {
    std::lock_guard l(infoMu);
    threads = config.loopThreads;
  }
  // Synchronous: once pause() returns no tick is running or will run until resume().
  holdAndWait(threads);
  if (std::string failure = runHook(hooks.onPause, "onPause"); !failure.empty()) {
    release();
    return result(EngineState::Running, TransitionError::HookFailed, std::move(failure));
  }
  moveTo(EngineState::Paused);
  return result(EngineState::Paused);
}

TransitionResult Controller::Impl::resume() {
  TransitionResult refused;
  if (reentrant("resume", refused)) return refused;
  TransitionScope scope(*this);
  const EngineState s = state.load(std::memory_order_relaxed);
  if (s != EngineState::Paused) return invalid("resume", s);
  // Subsystems come back before the ticks that may depend on them.
  if (std::string failure = runHook(hooks.onResume, "onResume"); !failure.empty()) {
    return result(EngineState::Paused, TransitionError::HookFailed, std::move(failure));
  }
  const EngineState from = commit(EngineState::Running);
  release();
  notifyChange(from, EngineState::Running);
  return result(EngineState::Running);
}

TransitionResult Controller::Impl::stop() {
  TransitionResult refused;
  if (reentrant("stop", refused)) return refused;
  TransitionScope scope(*this);
  const EngineState s = state.load(std::memory_order_relaxed);
  if (s != EngineState::Running && s != EngineState::Paused) return invalid("stop", s);
  moveTo(EngineState::Stopping);
  // Parked or waiting for a deadline, every loop thread waits with its stop token, so this
  // returns promptly from paused too (seed defect 2).
  joinLoopThreads();
  // Stopping cannot be refused: a failing onStopping is reported, the engine still stops.
  std::string failure = runHook(hooks.onStopping, "onStopping");
  moveTo(EngineState::Stopped);
  if (!failure.empty()) return result(EngineState::Stopped, TransitionError::HookFailed, std::move(failure));
  return result(EngineState::Stopped);
}

Controller::Controller(ControllerHooks hooks) : impl_(std::make_unique<Impl>(std::move(hooks))) {}

Controller::~Controller() {
  // Loop threads must be gone before the state they use is freed. Hooks are not run: what
  // they refer to may already be destroyed; an owner that wants them calls stop() first.
  Impl::TransitionScope scope(*impl_);
  impl_->joinLoopThreads();
}

TransitionResult Controller::start(const ControllerConfig& config) { return impl_->start(config); }
TransitionResult Controller::pause() { return impl_->pause(); }
TransitionResult Controller::resume() { return impl_->resume(); }
TransitionResult Controller::stop() { return impl_->stop(); }

EngineState Controller::state() const noexcept { return impl_->state.load(std::memory_order_acquire); }

ControllerStats Controller::stats() const {
  const Impl& m = *impl_;
  ControllerStats out;
  std::shared_ptr<WorkerGroup> g;
  {
    std::lock_guard l(m.infoMu);
    out.state = m.state.load(std::memory_order_relaxed);
    if (m.configured) {
      out.tickRateHz = m.config.tickRateHz;
      out.tickWorkUs = m.config.tickWorkUs;
      out.loopThreads = m.config.loopThreads;
    }
    std::uint64_t runningNs = m.runningAccumNs;
    if (out.state == EngineState::Running) runningNs += nowNs() - m.runningSinceNs;
    out.runningMs = runningNs / 1000000;
    out.startedAtMs = m.startedAtMs;
    g = m.group;
  }
  out.ticks = m.ticks.load(std::memory_order_relaxed);
  out.overruns = m.overruns.load(std::memory_order_relaxed);
  out.skippedTicks = m.skipped.load(std::memory_order_relaxed);
  std::uint64_t intervals, spanNs;
  {
    std::lock_guard l(m.rateMu);
    intervals = m.runIntervals;
    spanNs = m.runSpanNs;
  }
  out.achievedRateHz = spanNs > 0 ? static_cast<double>(intervals) * 1e9 / static_cast<double>(spanNs) : 0.0;
  out.tickDurationNs = m.tickDurationNs.summary();
  out.tickJitterNs = m.tickJitterNs.summary();
  if (g) out.workers = g->stats();
  return out;
}

}  // namespace gamesrv
