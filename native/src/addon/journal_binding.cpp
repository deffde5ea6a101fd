#include "journal_binding.hpp"

#include <stdexcept>
#include <string>
#include <vector>

#include "convert.hpp"
#include "errors.hpp"
#include "gamesrv/durable_events.hpp"
#include "promise_worker.hpp"

namespace gamesrv::addon {

namespace {

struct ReplayOutcome {
  std::string error;  // empty: ok
  ReplayReport report;
  JournalOpenReport opened;
  std::vector<Player> players;
  std::size_t online = 0;
};

double plainNumber(Napi::Env env, const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  if (!v.IsNumber()) throwEngineError(env, "INVALID_ARGUMENT", std::string(key) + " must be a number (the facade completes it)");
  return v.As<Napi::Number>().DoubleValue();
}

Napi::Value ReplayJournal(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) throwEngineError(env, "INVALID_ARGUMENT", "replayJournal(options)");
  const Napi::Object o = info[0].As<Napi::Object>();
  const Napi::Value dir = o.Get("dataDir");
  if (!dir.IsString() || dir.As<Napi::String>().Utf8Value().empty()) {
    throwEngineError(env, "INVALID_ARGUMENT", "replayJournal: dataDir must be a non-empty string");
  }
  const std::string dataDir = dir.As<Napi::String>().Utf8Value();
  WorldConfig world;
  world.maxPlayers = static_cast<std::size_t>(plainNumber(env, o, "maxPlayers"));
  world.worldSize = plainNumber(env, o, "worldSize");
  world.chatLogCapacity = static_cast<std::size_t>(plainNumber(env, o, "chatLogCapacity"));
  return PromiseWorker<ReplayOutcome>::Start(
      env,
      [dataDir, world] {
        ReplayOutcome out;
        try {
          World w(world);
          out.report = replayDataDir(dataDir, w, out.opened);
          out.players = w.players();
          out.online = w.onlineCount();
        } catch (const std::exception& e) {
          out.error = e.what();
        }
        return out;
      },
      [](Napi::Env env, Napi::Promise::Deferred& d, ReplayOutcome& r) {
        if (!r.error.empty()) {
          d.Reject(engineError(env, "JOURNAL_REPLAY_FAILED", r.error).Value());
          return;
        }
        Napi::Object o = Napi::Object::New(env);
        o.Set("events", Napi::Number::New(env, static_cast<double>(r.report.events)));
        o.Set("records", Napi::Number::New(env, static_cast<double>(r.report.records)));
        o.Set("lastSeq", Napi::Number::New(env, static_cast<double>(r.report.lastSeq)));
        o.Set("durationUs", Napi::Number::New(env, static_cast<double>(r.report.durationUs)));
        o.Set("segments", Napi::Number::New(env, static_cast<double>(r.opened.segments)));
        o.Set("cutBytes", Napi::Number::New(env, static_cast<double>(r.opened.cutBytes)));
        o.Set("cutReason", r.opened.cutReason);
        o.Set("online", Napi::Number::New(env, static_cast<double>(r.online)));
        Napi::Array players = Napi::Array::New(env, r.players.size());
        for (std::size_t i = 0; i < r.players.size(); ++i) players.Set(static_cast<std::uint32_t>(i), toJs(env, r.players[i]));
        o.Set("players", players);
        d.Resolve(o);
      },
      "gamesrv:replay");
}

}  // namespace

void registerJournal(Napi::Env env, Napi::Object exports) {
  exports.Set("replayJournal", Napi::Function::New<ReplayJournal>(env, "replayJournal"));
}

}  // namespace gamesrv::addon
