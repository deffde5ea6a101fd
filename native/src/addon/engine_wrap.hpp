// EngineWrap: the JS class over gamesrv::Engine. Conversions and lifetimes only.
//
// Lifetime: the Engine is shared by the wrapper, by in-flight async work and by
// the per-environment registry (Addon). close() stops it off the JS thread and
// drops it from the registry; the environment's cleanup hook stops whatever was
// never closed. The finalizer only drops a reference: it never joins a thread.
#pragma once
#include <napi.h>

#include <memory>

#include "durable_binding.hpp"
#include "gamesrv/engine.hpp"

namespace gamesrv::addon {

class Addon;

class EngineWrap : public Napi::ObjectWrap<EngineWrap> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit EngineWrap(const Napi::CallbackInfo& info);

 private:
  std::shared_ptr<Engine> live(Napi::Env env);  // throws ENGINE_CLOSED
  // Journal mode: the batch's promise (durable_binding.hpp).
  Napi::Value submitDurable(Napi::Env env, Engine& engine, std::vector<GameEvent>&& batch, Wake wake);

  Napi::Value Start(const Napi::CallbackInfo& info);
  Napi::Value Pause(const Napi::CallbackInfo& info);
  Napi::Value Resume(const Napi::CallbackInfo& info);
  Napi::Value Stop(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value EnqueueEvents(const Napi::CallbackInfo& info);
  Napi::Value EnqueueOne(const Napi::CallbackInfo& info);
  Napi::Value WakeEvents(const Napi::CallbackInfo& info);
  Napi::Value Flush(const Napi::CallbackInfo& info);
  Napi::Value CheckpointStorage(const Napi::CallbackInfo& info);
  Napi::Value FlushPlayerAsForTesting(const Napi::CallbackInfo& info);  // storage_binding.cpp
  Napi::Value SubmitTask(const Napi::CallbackInfo& info);
  Napi::Value CancelTask(const Napi::CallbackInfo& info);
  Napi::Value Task(const Napi::CallbackInfo& info);
  Napi::Value WaitTask(const Napi::CallbackInfo& info);
  Napi::Value Tasks(const Napi::CallbackInfo& info);
  Napi::Value Players(const Napi::CallbackInfo& info);
  Napi::Value PlayersAfter(const Napi::CallbackInfo& info);
  Napi::Value Player(const Napi::CallbackInfo& info);
  Napi::Value Snapshot(const Napi::CallbackInfo& info);
  Napi::Value State(const Napi::CallbackInfo& info);
  Napi::Value PipePath(const Napi::CallbackInfo& info);
  Napi::Value WaitState(const Napi::CallbackInfo& info);
  // The game port's operations (session_binding.cpp).
  Napi::Value Sessions(const Napi::CallbackInfo& info);
  Napi::Value KickSession(const Napi::CallbackInfo& info);
  Napi::Value Broadcast(const Napi::CallbackInfo& info);
  Napi::Value Drain(const Napi::CallbackInfo& info);
  Napi::Value GamePort(const Napi::CallbackInfo& info);

  std::shared_ptr<Engine> engine_;
  std::shared_ptr<DurableAcks> acks_;  // created at the first durable batch
  bool closed_ = false;
  Napi::Reference<Napi::Promise> closing_;
};

}  // namespace gamesrv::addon
