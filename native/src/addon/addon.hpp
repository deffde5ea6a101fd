// Per-environment state of the binding (worker_threads safe): the engines that
// are not closed yet, stopped by the environment's cleanup hook.
#pragma once
#include <napi.h>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <stop_token>
#include <unordered_set>

#include "gamesrv/engine.hpp"

namespace gamesrv::addon {

class Addon {
 public:
  explicit Addon(Napi::Env env);
  static Addon& of(Napi::Env env) { return *env.GetInstanceData<Addon>(); }

  void adopt(const std::shared_ptr<Engine>& engine);
  void release(const std::shared_ptr<Engine>& engine);

  // Running lock benchmarks (JS thread only): cancelLockBenchmarks() and the cleanup hook
  // ask them to stop, so neither a close nor a process exit waits for a long run.
  std::uint64_t trackBenchmark(std::stop_source source);
  void untrackBenchmark(std::uint64_t id);
  std::size_t cancelBenchmarks();
  bool cancelBenchmark(std::uint64_t id);

 private:
  static void cleanup(Addon* self);
  std::unordered_set<std::shared_ptr<Engine>> engines_;  // JS thread only
  std::map<std::uint64_t, std::stop_source> benchmarks_;  // JS thread only
  std::uint64_t nextBenchmark_ = 1;
};

}  // namespace gamesrv::addon
