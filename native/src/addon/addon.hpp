// Per-environment state of the binding (worker_threads safe): the engines that
// are not closed yet, stopped by the environment's cleanup hook.
#pragma once
#include <napi.h>

#include <memory>
#include <mutex>
#include <unordered_set>

#include "gamesrv/engine.hpp"

namespace gamesrv::addon {

class Addon {
 public:
  explicit Addon(Napi::Env env);
  static Addon& of(Napi::Env env) { return *env.GetInstanceData<Addon>(); }

  void adopt(const std::shared_ptr<Engine>& engine);
  void release(const std::shared_ptr<Engine>& engine);

  Napi::FunctionReference engineConstructor;

 private:
  static void cleanup(Addon* self);
  std::unordered_set<std::shared_ptr<Engine>> engines_;  // JS thread only
};

}  // namespace gamesrv::addon
