// The game port's operations on EngineWrap (gamesrv/game_server.hpp): list, kick,
// broadcast, drain. The facade (src/engine/engine.ts) validates arguments; here only
// their types are checked.
#include <string>

#include "convert.hpp"
#include "engine_wrap.hpp"
#include "errors.hpp"
#include "promise_worker.hpp"

namespace gamesrv::addon {

namespace {

double numberArg(const Napi::CallbackInfo& info, std::size_t i, const char* what) {
  if (info.Length() <= i || !info[i].IsNumber()) throwEngineError(info.Env(), "INVALID_ARGUMENT", std::string(what) + " must be a number");
  return info[i].As<Napi::Number>().DoubleValue();
}

std::string stringArg(const Napi::CallbackInfo& info, std::size_t i, const char* what) {
  if (info.Length() <= i || !info[i].IsString()) throwEngineError(info.Env(), "INVALID_ARGUMENT", std::string(what) + " must be a string");
  return info[i].As<Napi::String>().Utf8Value();
}

Napi::Object toJs(Napi::Env env, const GameSessionRow& r) {
  const GameSessionInfo& t = r.transport;
  Napi::Object o = Napi::Object::New(env);
  o.Set("id", Napi::Number::New(env, t.id));
  o.Set("playerId", r.playerId == 0 ? env.Null() : Napi::Number::New(env, r.playerId));
  o.Set("remote", t.remote);
  o.Set("connectedAtMs", Napi::Number::New(env, static_cast<double>(t.connectedAtUnixMs)));
  o.Set("state", toString(t.state));
  o.Set("bytesIn", Napi::Number::New(env, static_cast<double>(t.bytesIn)));
  o.Set("bytesOut", Napi::Number::New(env, static_cast<double>(t.bytesOut)));
  o.Set("framesIn", Napi::Number::New(env, static_cast<double>(t.framesIn)));
  o.Set("framesOut", Napi::Number::New(env, static_cast<double>(t.framesOut)));
  o.Set("sendQueueBytes", Napi::Number::New(env, static_cast<double>(t.sendQueueBytes)));
  o.Set("droppedStates", Napi::Number::New(env, static_cast<double>(t.droppedStates)));
  o.Set("rttUs", t.rttUs < 0 ? env.Null() : Napi::Number::New(env, static_cast<double>(t.rttUs)));
  return o;
}

}  // namespace

// sessions(offset, limit) -> rows, by session id.
Napi::Value EngineWrap::Sessions(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto engine = live(env);
  const auto offset = static_cast<std::size_t>(numberArg(info, 0, "offset"));
  const auto limit = static_cast<std::size_t>(numberArg(info, 1, "limit"));
  const std::vector<GameSessionRow> rows = engine->game().list(offset, limit);
  Napi::Array out = Napi::Array::New(env, rows.size());
  for (std::size_t i = 0; i < rows.size(); ++i) out.Set(static_cast<std::uint32_t>(i), toJs(env, rows[i]));
  return out;
}

// kickSession(id, text) -> whether such a session was open.
Napi::Value EngineWrap::KickSession(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto engine = live(env);
  const auto id = static_cast<std::uint32_t>(numberArg(info, 0, "id"));
  return Napi::Boolean::New(env, engine->game().kick(id, stringArg(info, 1, "text")));
}

// broadcast(text) -> the sessions the NOTICE was queued to.
Napi::Value EngineWrap::Broadcast(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto engine = live(env);
  return Napi::Number::New(env, static_cast<double>(engine->game().broadcast(stringArg(info, 0, "text"))));
}

Napi::Value EngineWrap::GamePort(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), live(info.Env())->game().stats().port);
}

// drain(deadlineMs, stopDeadlineMs, notice) -> Promise<{sessionsAtStart, kicked, waitedMs, stop}>.
Napi::Value EngineWrap::Drain(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto engine = live(env);
  const std::chrono::milliseconds deadline(static_cast<std::int64_t>(numberArg(info, 0, "deadlineMs")));
  const std::chrono::milliseconds stopDeadline(static_cast<std::int64_t>(numberArg(info, 1, "stopDeadlineMs")));
  std::string notice = stringArg(info, 2, "notice");
  return PromiseWorker<Engine::DrainReport>::Start(
      env, [engine, deadline, stopDeadline, notice = std::move(notice)] { return engine->drain(notice, deadline, stopDeadline); },
      [](Napi::Env env, Napi::Promise::Deferred& d, Engine::DrainReport& r) {
        if (r.stop.transition.error != TransitionError::None) {
          Napi::Error err = engineError(env, "INVALID_STATE", r.stop.transition.detail.empty() ? "the engine is not running" : r.stop.transition.detail);
          err.Set("state", Napi::String::New(env, toString(r.stop.transition.state)));
          d.Reject(err.Value());
          return;
        }
        Napi::Object o = Napi::Object::New(env);
        o.Set("sessionsAtStart", Napi::Number::New(env, static_cast<double>(r.sessionsAtStart)));
        o.Set("kicked", Napi::Number::New(env, static_cast<double>(r.kicked)));
        o.Set("waitedMs", Napi::Number::New(env, static_cast<double>(r.waitedMs)));
        o.Set("stop", toJs(env, r.stop));
        d.Resolve(o);
      });
}

}  // namespace gamesrv::addon
