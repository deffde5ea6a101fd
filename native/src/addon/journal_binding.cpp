#include "journal_binding.hpp"

#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "convert.hpp"
#include "errors.hpp"
#include "gamesrv/durable_events.hpp"
#include "gamesrv/world_hashes.hpp"
#include "promise_worker.hpp"

namespace gamesrv::addon {

namespace {

struct ReplayOutcome {
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

// Runs `read` (a journal read without an engine) off the JS thread: what it returns goes to
// `toJs`, an exception it throws rejects with JOURNAL_REPLAY_FAILED and its message.
template <typename T>
Napi::Value readOffThread(Napi::Env env, std::function<T()> read, std::function<Napi::Value(Napi::Env, T&)> toJs,
                          const char* resource) {
  struct Outcome {
    std::string error;  // empty: ok
    T value;
  };
  return PromiseWorker<Outcome>::Start(
      env,
      [read = std::move(read)] {
        Outcome out;
        try {
          out.value = read();
        } catch (const std::exception& e) {
          out.error = e.what();
        }
        return out;
      },
      [toJs = std::move(toJs)](Napi::Env env, Napi::Promise::Deferred& d, Outcome& r) {
        if (!r.error.empty()) {
          d.Reject(engineError(env, "JOURNAL_REPLAY_FAILED", r.error).Value());
          return;
        }
        d.Resolve(toJs(env, r.value));
      },
      resource);
}

std::string dataDirOf(Napi::Env env, const Napi::CallbackInfo& info, const char* fn) {
  if (info.Length() < 1 || !info[0].IsObject()) throwEngineError(env, "INVALID_ARGUMENT", std::string(fn) + "(options)");
  const Napi::Value dir = info[0].As<Napi::Object>().Get("dataDir");
  if (!dir.IsString() || dir.As<Napi::String>().Utf8Value().empty()) {
    throwEngineError(env, "INVALID_ARGUMENT", std::string(fn) + ": dataDir must be a non-empty string");
  }
  return dir.As<Napi::String>().Utf8Value();
}

WorldConfig worldOf(Napi::Env env, const Napi::Object& o) {
  WorldConfig world;
  world.maxPlayers = static_cast<std::size_t>(plainNumber(env, o, "maxPlayers"));
  world.worldSize = plainNumber(env, o, "worldSize");
  world.chatLogCapacity = static_cast<std::size_t>(plainNumber(env, o, "chatLogCapacity"));
  return world;
}

// A journaled event as POST /v1/events takes it (src/schemas/events.ts GameEvent), plus its
// seq, atMs and whether a game session sent it.
Napi::Object eventToJs(Napi::Env env, const GameEvent& e) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("seq", Napi::Number::New(env, static_cast<double>(e.journalSeq)));
  o.Set("atMs", Napi::Number::New(env, static_cast<double>(e.atMs)));
  o.Set("session", Napi::Boolean::New(env, e.session != 0));
  o.Set("type", toString(e.type));
  o.Set("playerId", Napi::Number::New(env, e.playerId));
  switch (e.type) {
    case EventType::PlayerLogin:
      if (!e.text.empty()) o.Set("data", e.text);
      break;
    case EventType::PlayerLogout: break;
    case EventType::PlayerMove:
      if (e.session != 0 || e.text.empty()) {
        Napi::Object xy = Napi::Object::New(env);
        xy.Set("x", Napi::Number::New(env, e.num1));
        xy.Set("y", Napi::Number::New(env, e.num2));
        o.Set("data", xy);
      } else {
        o.Set("data", e.text);
      }
      break;
    case EventType::PlayerAttack: {
      Napi::Object a = Napi::Object::New(env);
      a.Set("target", Napi::Number::New(env, e.num1));
      a.Set("damage", Napi::Number::New(env, e.num2));
      o.Set("data", a);
      break;
    }
    case EventType::PlayerChat: o.Set("data", e.text); break;
  }
  return o;
}

Napi::Value ReadJournal(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string dataDir = dataDirOf(env, info, "readJournal");
  const Napi::Object o = info[0].As<Napi::Object>();
  const auto afterSeq = static_cast<std::uint64_t>(plainNumber(env, o, "afterSeq"));
  const auto maxEvents = static_cast<std::size_t>(plainNumber(env, o, "maxEvents"));
  return readOffThread<JournalPage>(
      env, [dataDir, afterSeq, maxEvents] { return readJournalPage(dataDir, afterSeq, maxEvents); },
      [](Napi::Env env, JournalPage& page) -> Napi::Value {
        Napi::Object o = Napi::Object::New(env);
        o.Set("firstSeq", Napi::Number::New(env, static_cast<double>(page.firstSeq)));
        o.Set("lastSeq", Napi::Number::New(env, static_cast<double>(page.lastSeq)));
        Napi::Array events = Napi::Array::New(env, page.events.size());
        for (std::size_t i = 0; i < page.events.size(); ++i) {
          events.Set(static_cast<std::uint32_t>(i), eventToJs(env, page.events[i]));
        }
        o.Set("events", events);
        return o;
      },
      "gamesrv:readJournal");
}

// A 64-bit hash as 16 hex digits (a JS number holds 53 bits).
std::string hex64(std::uint64_t v) {
  static const char* digits = "0123456789abcdef";
  std::string s(16, '0');
  for (int i = 15; i >= 0; --i, v >>= 4) s[static_cast<std::size_t>(i)] = digits[v & 0xf];
  return s;
}

Napi::Value VerifyJournal(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string dataDir = dataDirOf(env, info, "verifyJournal");
  const WorldConfig world = worldOf(env, info[0].As<Napi::Object>());
  return readOffThread<VerifyReport>(
      env, [dataDir, world] { return verifyDataDir(dataDir, world); },
      [](Napi::Env env, VerifyReport& v) -> Napi::Value {
        Napi::Object o = Napi::Object::New(env);
        o.Set("events", Napi::Number::New(env, static_cast<double>(v.replay.events)));
        o.Set("lastSeq", Napi::Number::New(env, static_cast<double>(v.replay.lastSeq)));
        o.Set("durationUs", Napi::Number::New(env, static_cast<double>(v.replay.durationUs)));
        o.Set("cutBytes", Napi::Number::New(env, static_cast<double>(v.opened.cutBytes)));
        o.Set("recorded", Napi::Number::New(env, static_cast<double>(v.recorded)));
        o.Set("checked", Napi::Number::New(env, static_cast<double>(v.checked)));
        o.Set("hashCutBytes", Napi::Number::New(env, static_cast<double>(v.hashCutBytes)));
        if (!v.diverged) {
          o.Set("divergence", env.Null());
          return o;
        }
        Napi::Object dv = Napi::Object::New(env);
        dv.Set("seq", Napi::Number::New(env, static_cast<double>(v.divergedSeq)));
        dv.Set("recordedHash", hex64(v.expectedHash));
        dv.Set("replayedHash", hex64(v.actualHash));
        dv.Set("problem", v.problem);
        o.Set("divergence", dv);
        return o;
      },
      "gamesrv:verifyJournal");
}

Napi::Value ReplayJournal(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string dataDir = dataDirOf(env, info, "replayJournal");
  const WorldConfig world = worldOf(env, info[0].As<Napi::Object>());
  return readOffThread<ReplayOutcome>(
      env,
      [dataDir, world] {
        ReplayOutcome out;
        World w(world);
        out.report = replayDataDir(dataDir, w, out.opened);
        out.players = w.players();
        out.online = w.onlineCount();
        return out;
      },
      [](Napi::Env env, ReplayOutcome& r) -> Napi::Value {
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
        return o;
      },
      "gamesrv:replay");
}

}  // namespace

void registerJournal(Napi::Env env, Napi::Object exports) {
  exports.Set("replayJournal", Napi::Function::New<ReplayJournal>(env, "replayJournal"));
  exports.Set("verifyJournal", Napi::Function::New<VerifyJournal>(env, "verifyJournal"));
  exports.Set("readJournal", Napi::Function::New<ReadJournal>(env, "readJournal"));
}

}  // namespace gamesrv::addon
