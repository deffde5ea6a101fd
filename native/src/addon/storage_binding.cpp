// The store's test hook on EngineWrap: one player row written through the open store's
// owner-checked flush (Storage::flushOwned) under any server's name, as a late flush from
// a server that lost the player would be (test/handoff.test.ts). Not part of the API.
#include <string>

#include "convert.hpp"
#include "engine_wrap.hpp"
#include "errors.hpp"
#include "promise_worker.hpp"

namespace gamesrv::addon {

namespace {

double numberField(Napi::Env env, const Napi::Object& o, const char* key) {
  const Napi::Value v = o.Get(key);
  if (!v.IsNumber()) throwEngineError(env, "INVALID_ARGUMENT", std::string("row.") + key + " must be a number");
  return v.As<Napi::Number>().DoubleValue();
}

}  // namespace

// flushPlayerAsForTesting(owner, {id, name, x, y, hp, kills, online, version}) -> {written, refused[]}
Napi::Value EngineWrap::FlushPlayerAsForTesting(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto engine = live(env);
  if (info.Length() < 2 || !info[0].IsString() || !info[1].IsObject()) {
    throwEngineError(env, "INVALID_ARGUMENT", "flushPlayerAsForTesting(owner, row)");
  }
  const std::string owner = info[0].As<Napi::String>().Utf8Value();
  const Napi::Object o = info[1].As<Napi::Object>();
  PlayerRow row;
  row.id = static_cast<std::int64_t>(numberField(env, o, "id"));
  row.name = o.Get("name").IsString() ? o.Get("name").As<Napi::String>().Utf8Value() : std::string();
  row.x = numberField(env, o, "x");
  row.y = numberField(env, o, "y");
  row.hp = static_cast<std::int64_t>(numberField(env, o, "hp"));
  row.kills = static_cast<std::int64_t>(numberField(env, o, "kills"));
  row.online = o.Get("online").ToBoolean().Value();
  row.version = static_cast<std::int64_t>(numberField(env, o, "version"));
  struct Outcome {
    StorageStatus status;
    FlushOutcome flushed;
  };
  return PromiseWorker<Outcome>::Start(
      env,
      [engine, owner, row] {
        Outcome out;
        out.status = engine->persistence().flushAsForTesting(std::span<const PlayerRow>(&row, 1), owner, out.flushed);
        return out;
      },
      [](Napi::Env env, Napi::Promise::Deferred& d, Outcome& out) {
        if (!out.status.ok()) {
          d.Reject(engineError(env, "STORAGE_ERROR", std::string(toString(out.status.code)) + ": " + out.status.message).Value());
          return;
        }
        Napi::Object r = Napi::Object::New(env);
        r.Set("written", Napi::Number::New(env, static_cast<double>(out.flushed.written)));
        Napi::Array refused = Napi::Array::New(env, out.flushed.refused.size());
        for (std::size_t i = 0; i < out.flushed.refused.size(); ++i) {
          refused.Set(static_cast<std::uint32_t>(i), Napi::Number::New(env, static_cast<double>(out.flushed.refused[i])));
        }
        r.Set("refused", refused);
        d.Resolve(r);
      });
}

}  // namespace gamesrv::addon
