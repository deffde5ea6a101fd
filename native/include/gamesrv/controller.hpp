// Controller: the engine state machine and the fixed-rate game loop (seed 4.4.2).
//
//   stopped -> starting -> running <-> paused -> stopping -> stopped
//   (stop() is valid from running and from paused: seed defect 2 fixed)
//
// N game-loop threads ("gs-loop-<n>") tick at `tickRateHz` on absolute deadlines
// (tick k is due at t0 + k * period: no drift, seed defect 4). Each tick runs the
// configured synthetic work (busy work for `tickWorkUs`, to simulate load) and an
// optional tick hook. A tick that ends after the next deadline is an overrun; the
// missed deadlines are skipped, not run in a burst. While paused, loop threads
// wait (state `paused`) on a condition that stop and resume both signal.
//
// Lifecycle hooks let the Engine start and stop its subsystems inside the
// transitions; a hook that throws aborts a start (back to stopped).
//
// Thread safety: every public member is safe from any thread; transitions are
// serialized. Hooks run on the thread that asked for the transition.
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "gamesrv/histogram.hpp"
#include "gamesrv/worker_group.hpp"

namespace gamesrv {

enum class EngineState : std::uint8_t { Stopped, Starting, Running, Paused, Stopping };
const char* toString(EngineState s) noexcept;

struct ControllerConfig {
  std::size_t loopThreads = 1;
  double tickRateHz = 60.0;
  std::uint32_t tickWorkUs = 0;
};

struct ControllerHooks {
  std::function<void()> onStarting;  // before loop threads start (start subsystems)
  std::function<void()> onPause;
  std::function<void()> onResume;
  std::function<void()> onStopping;  // after loop threads stopped (drain subsystems)
  // On a loop thread, every tick; `tick` is that thread's frame number in this run.
  std::function<void(std::uint64_t tick)> onTick;
  std::function<void(EngineState from, EngineState to)> onStateChange;
};

enum class TransitionError { None, InvalidState, HookFailed };

struct TransitionResult {
  TransitionError error = TransitionError::None;
  EngineState state = EngineState::Stopped;  // state after the call
  std::string detail;
};

struct ControllerStats {
  EngineState state = EngineState::Stopped;
  double tickRateHz = 0;          // configured
  double achievedRateHz = 0;      // ticks / running time, over the current run (per loop
                                  // thread, timed between actual tick starts)
  std::uint64_t ticks = 0;        // all loop threads, all runs
  std::uint64_t overruns = 0;
  std::uint64_t skippedTicks = 0;  // missed deadlines; ticks + skipped = schedule position
  std::uint64_t runningMs = 0;    // time spent in `running` in the current run
  std::uint64_t startedAtMs = 0;  // Unix ms of the last start, 0 if never
  std::uint32_t tickWorkUs = 0;
  std::size_t loopThreads = 0;
  HistogramSummary tickDurationNs;
  HistogramSummary tickJitterNs;  // actual start - scheduled start
  std::vector<WorkerStats> workers;
};

class Controller {
 public:
  explicit Controller(ControllerHooks hooks = {});
  ~Controller();  // stops the loop threads if still running

  TransitionResult start(const ControllerConfig& config);
  TransitionResult pause();
  TransitionResult resume();
  TransitionResult stop();

  EngineState state() const noexcept;
  ControllerStats stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace gamesrv
