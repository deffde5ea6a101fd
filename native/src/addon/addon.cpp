#include "addon.hpp"

#include "bots_binding.hpp"
#include "engine_wrap.hpp"
#include "journal_binding.hpp"
#include "game_protocol_binding.hpp"
#include "io_binding.hpp"
#include "snapshot_layout.hpp"
#include "ticket_binding.hpp"

namespace gamesrv::addon {

Addon::Addon(Napi::Env env) { env.AddCleanupHook(&Addon::cleanup, this); }

void Addon::adopt(const std::shared_ptr<Engine>& engine) { engines_.insert(engine); }
void Addon::release(const std::shared_ptr<Engine>& engine) { engines_.erase(engine); }

std::uint64_t Addon::trackBenchmark(std::stop_source source) {
  const std::uint64_t id = nextBenchmark_++;
  benchmarks_.emplace(id, std::move(source));
  return id;
}

void Addon::untrackBenchmark(std::uint64_t id) { benchmarks_.erase(id); }

bool Addon::cancelBenchmark(std::uint64_t id) {
  auto it = benchmarks_.find(id);
  return it != benchmarks_.end() && it->second.request_stop();
}

std::size_t Addon::cancelBenchmarks() {
  std::size_t n = 0;
  for (auto& [id, source] : benchmarks_) n += source.request_stop() ? 1 : 0;
  return n;
}

// The environment is going away (process exit, worker termination): stop every
// engine nobody closed, so no engine thread outlives the code it runs.
void Addon::cleanup(Addon* self) {
  self->cancelBenchmarks();
  for (const auto& engine : self->engines_) {
    const EngineState s = engine->state();
    if (s != EngineState::Stopped) engine->shutdown();
  }
  self->engines_.clear();
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  auto* addon = new Addon(env);
  env.SetInstanceData<Addon>(addon);
  Napi::Function ctor = EngineWrap::Define(env);
  exports.Set("Engine", ctor);
  registerIo(env, exports);
  registerTickets(env, exports);
  registerBots(env, exports);
  registerJournal(env, exports);
  exports.Set("napiVersion", Napi::Number::New(env, NAPI_VERSION));
  exports.Set("snapshotLayout", snapshotLayout(env));
  exports.Set("gameProtocol", gameProtocolConstants(env));
  const auto backends = availableThreadPoolBackends();
  Napi::Array names = Napi::Array::New(env, backends.size());
  for (std::size_t i = 0; i < backends.size(); ++i) names.Set(static_cast<std::uint32_t>(i), toString(backends[i]));
  exports.Set("threadPoolBackends", names);
  return exports;
}

}  // namespace gamesrv::addon

static Napi::Object InitGamesrv(Napi::Env env, Napi::Object exports) { return gamesrv::addon::Init(env, exports); }
NODE_API_MODULE(gamesrv, InitGamesrv)
