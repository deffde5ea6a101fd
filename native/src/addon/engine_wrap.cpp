#include "engine_wrap.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <optional>

#include "addon.hpp"
#include "convert.hpp"
#include "errors.hpp"
#include "gamesrv/monitor.hpp"
#include "promise_worker.hpp"
#include "snapshot_layout.hpp"

namespace gamesrv::addon {

namespace {

// --- reading plain values out of JS objects, with clear errors -------------------

double numberField(Napi::Env env, const Napi::Object& o, const char* key, double fallback, double lo, double hi) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) return fallback;
  if (!v.IsNumber()) throwEngineError(env, "INVALID_ARGUMENT", std::string(key) + " must be a number");
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || d < lo || d > hi) {
    throwEngineError(env, "INVALID_ARGUMENT",
                     std::string(key) + " must be between " + std::to_string(static_cast<long long>(lo)) + " and " +
                         std::to_string(static_cast<long long>(hi)));
  }
  return d;
}

std::uint64_t intField(Napi::Env env, const Napi::Object& o, const char* key, std::uint64_t fallback, double lo,
                       double hi) {
  const double d = numberField(env, o, key, static_cast<double>(fallback), lo, hi);
  if (d != std::floor(d)) throwEngineError(env, "INVALID_ARGUMENT", std::string(key) + " must be an integer");
  return static_cast<std::uint64_t>(d);
}

std::string stringField(Napi::Env env, const Napi::Object& o, const char* key, std::size_t maxBytes) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) return {};
  if (!v.IsString()) throwEngineError(env, "INVALID_ARGUMENT", std::string(key) + " must be a string");
  std::string s = v.As<Napi::String>().Utf8Value();
  if (s.size() > maxBytes) {
    throwEngineError(env, "INVALID_ARGUMENT", std::string(key) + " is longer than " + std::to_string(maxBytes) + " bytes");
  }
  return s;
}

// --- configs the facade validated -------------------------------------------------
// Engine options, start configs, deadlines and time-outs reach the binding through the
// TypeScript facade (src/engine/arguments.ts), which checks them against the schema
// table (src/schemas/engine-config.ts) and fills every default. The binding trusts them:
// it reads each field as a plain value and only asserts that it is there, has its type
// and fits its C++ field. No range or default of a config field is written here
// (test/config-limits.test.ts).

[[noreturn]] void notValidated(Napi::Env env, const char* key, const char* what) {
  throwEngineError(env, "INVALID_ARGUMENT",
                   std::string(key) + " must be " + what + " (the Engine facade validates and completes configs)");
}

template <typename T>
T plainInt(Napi::Env env, const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  if (!v.IsNumber()) notValidated(env, key, "a number");
  const double d = v.As<Napi::Number>().DoubleValue();
  constexpr double kMax = std::min(9007199254740991.0, static_cast<double>(std::numeric_limits<T>::max()));
  if (!(d >= 0 && d <= kMax) || d != std::floor(d)) notValidated(env, key, "a non-negative integer that fits its field");
  return static_cast<T>(d);
}

std::chrono::milliseconds plainMs(Napi::Env env, const Napi::Object& o, const char* key) {
  return std::chrono::milliseconds(plainInt<std::uint32_t>(env, o, key));
}

bool plainBool(Napi::Env env, const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  if (!v.IsBoolean()) notValidated(env, key, "a boolean");
  return v.As<Napi::Boolean>().Value();
}

std::string plainString(Napi::Env env, const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  if (!v.IsString()) notValidated(env, key, "a string");
  return v.As<Napi::String>().Utf8Value();
}

Napi::Object plainObject(Napi::Env env, const Napi::Value& v, const char* what) {
  if (!v.IsObject()) notValidated(env, what, "an object");
  return v.As<Napi::Object>();
}

EngineOptions readEngineOptions(Napi::Env env, const Napi::Object& o) {
  EngineOptions opts;
  opts.events.queueCapacity = plainInt<std::size_t>(env, o, "queueCapacity");
  opts.events.idleTimeout = plainMs(env, o, "idleTimeoutMs");
  opts.world.maxPlayers = plainInt<std::uint32_t>(env, o, "maxPlayers");
  opts.world.chatLogCapacity = plainInt<std::size_t>(env, o, "chatLogCapacity");
  opts.world.worldSize = plainInt<std::uint32_t>(env, o, "worldSize");
  const std::string secret = plainString(env, o, "ticketSecret");
  opts.ticketSecret.assign(secret.begin(), secret.end());
  return opts;
}

EngineConfig readEngineConfig(Napi::Env env, const Napi::Object& o) {
  EngineConfig c;
  c.controller.loopThreads = plainInt<std::size_t>(env, o, "loopThreads");
  c.controller.tickRateHz = plainInt<std::uint32_t>(env, o, "tickRateHz");
  c.controller.tickWorkUs = plainInt<std::uint32_t>(env, o, "tickWorkUs");
  c.pool.minThreads = plainInt<std::size_t>(env, o, "poolMinThreads");
  c.pool.maxThreads = plainInt<std::size_t>(env, o, "poolMaxThreads");
  c.pool.idleTimeout = plainMs(env, o, "poolIdleTimeoutMs");
  c.pool.queueCapacity = plainInt<std::size_t>(env, o, "poolQueueCapacity");
  const std::string backend = plainString(env, o, "poolBackend");
  bool known = false;
  for (ThreadPoolBackend b : availableThreadPoolBackends()) {
    if (backend == toString(b)) {
      c.pool.backend = b;
      known = true;
    }
  }
  if (!known) notValidated(env, "poolBackend", "a backend this platform has (threadPoolBackends)");
  c.tasks.historyCapacity = plainInt<std::size_t>(env, o, "taskHistory");
  c.tasks.maxActive = plainInt<std::size_t>(env, o, "maxActiveTasks");
  c.tasks.maxFiringsPerSec = plainInt<std::uint32_t>(env, o, "maxTaskFiringsPerSec");
  c.dbLatencyUs = plainInt<std::uint32_t>(env, o, "dbLatencyUs");
  c.dataDir = plainString(env, o, "dataDir");
  c.database = plainString(env, o, "database");
  if (c.database != "simulated" && c.database != "sqlite" && c.database != "postgres") {
    notValidated(env, "database", "\"simulated\", \"sqlite\" or \"postgres\"");
  }
  c.databaseUrl = plainString(env, o, "databaseUrl");
  c.flushInterval = plainMs(env, o, "flushMs");
  c.leaseLength = plainMs(env, o, "leaseMs");
  const auto durability = parseDurability(plainString(env, o, "durability"));
  if (!durability) notValidated(env, "durability", "\"none\" or \"journal\"");
  c.durability = *durability;
  c.shutdownDeadline = plainMs(env, o, "shutdownDeadlineMs");
  c.io.serverName = plainString(env, o, "serverName");
  if (!isValidServerName(c.io.serverName)) notValidated(env, "serverName", "a valid server name");
  c.io.iocp = plainBool(env, o, "iocp");
  c.io.iocpThreads = plainInt<std::size_t>(env, o, "iocpThreads");
  c.io.pipe = plainBool(env, o, "pipe");
  c.io.pipePath = plainString(env, o, "pipePath");
  c.io.monitor = plainBool(env, o, "monitor");
  const Napi::Value sessionPort = o.Get("sessionPort");  // -1: no game port
  c.game.enabled = !(sessionPort.IsNumber() && sessionPort.As<Napi::Number>().DoubleValue() < 0);
  if (c.game.enabled) c.game.port = plainInt<std::uint16_t>(env, o, "sessionPort");
  c.game.host = plainString(env, o, "gameHost");
  c.game.auth = plainString(env, o, "gameAuth") == "none" ? GameAuth::None : GameAuth::Ticket;
  c.game.aoiRadius = plainInt<std::uint32_t>(env, o, "aoiRadius");
  c.game.replicationHz = plainInt<std::uint32_t>(env, o, "replicationHz");
  c.game.sessions.maxSessions = plainInt<std::size_t>(env, o, "maxSessions");
  c.game.sessions.messageRate = plainInt<std::uint32_t>(env, o, "sessionMessageRate");
  c.game.sessions.messageBurst = 2 * c.game.sessions.messageRate;
  return c;
}

// Length in UTF-16 code units, without copying the string.
std::size_t utf16Length(Napi::Env env, napi_value s) {
  std::size_t units = 0;
  NAPI_THROW_IF_FAILED(env, napi_get_value_string_utf16(env, s, nullptr, 0, &units), 0);
  return units;
}

// The UTF-8 form of a string of `units` UTF-16 code units (at most 3 bytes each), in
// one call: no separate length pass.
std::string utf8Value(Napi::Env env, napi_value s, std::size_t units) {
  std::string out(3 * units + 1, '\0');
  std::size_t bytes = 0;
  NAPI_THROW_IF_FAILED(env, napi_get_value_string_utf8(env, s, out.data(), out.size(), &bytes), std::string());
  out.resize(bytes);
  return out;
}

// `out` of enqueueEvents / enqueueOne: a Float64Array of at least 4.
void checkEnqueueOut(Napi::Env env, Napi::Value out) {
  if (out.As<Napi::TypedArray>().TypedArrayType() != napi_float64_array || out.As<Napi::TypedArray>().ElementLength() < 4) {
    throwEngineError(env, "INVALID_ARGUMENT", "enqueueEvents: out must be a Float64Array of 4");
  }
}

// Throws what a refused enqueue of `n` events means, or writes the accepted one's result
// to `out` as [accepted, firstSeq, lastSeq, available].
void answerEnqueue(Napi::Env env, Engine& engine, const EnqueueResult& r, std::size_t n, Napi::Value outValue) {
  switch (r.status) {
    case EnqueueStatus::Ok: break;
    case EnqueueStatus::Empty: throwEngineError(env, "INVALID_ARGUMENT", "empty batch");
    case EnqueueStatus::NotAccepting:
      throwEngineError(env, "ENGINE_NOT_RUNNING", std::string("engine is ") + toString(engine.state()));
    case EnqueueStatus::QueueFull: {
      Napi::Error err = engineError(env, "QUEUE_FULL",
                                    "queue full: batch of " + std::to_string(n) + " events, room for " +
                                        std::to_string(r.available) + "; nothing was accepted");
      err.Set("available", Napi::Number::New(env, static_cast<double>(r.available)));
      throw err;
    }
  }
  auto out = outValue.As<Napi::Float64Array>();
  out[0] = static_cast<double>(r.accepted);
  out[1] = static_cast<double>(r.firstSeq);
  out[2] = static_cast<double>(r.lastSeq);
  out[3] = static_cast<double>(r.available);
}

Napi::Error transitionError(Napi::Env env, const TransitionResult& r) {
  const char* code = r.error == TransitionError::InvalidState ? "INVALID_STATE" : "START_FAILED";
  Napi::Error err = engineError(env, code, r.detail);
  err.Set("state", Napi::String::New(env, toString(r.state)));
  return err;
}

Napi::Promise transition(Napi::Env env, std::shared_ptr<Engine> engine, std::function<TransitionResult(Engine&)> op) {
  return PromiseWorker<TransitionResult>::Start(
      env, [engine, op = std::move(op)] { return op(*engine); },
      [](Napi::Env env, Napi::Promise::Deferred& d, TransitionResult& r) {
        if (r.error != TransitionError::None) {
          d.Reject(transitionError(env, r).Value());
          return;
        }
        Napi::Object o = Napi::Object::New(env);
        o.Set("state", toString(r.state));
        d.Resolve(o);
      });
}

}  // namespace

Napi::Function EngineWrap::Define(Napi::Env env) {
  return DefineClass(env, "Engine",
                     {
                         InstanceMethod<&EngineWrap::Start>("start"),
                         InstanceMethod<&EngineWrap::Pause>("pause"),
                         InstanceMethod<&EngineWrap::Resume>("resume"),
                         InstanceMethod<&EngineWrap::Stop>("stop"),
                         InstanceMethod<&EngineWrap::Close>("close"),
                         InstanceMethod<&EngineWrap::EnqueueEvents>("enqueueEvents"),
                         InstanceMethod<&EngineWrap::EnqueueOne>("enqueueOne"),
                         InstanceMethod<&EngineWrap::WakeEvents>("wakeEvents"),
                         InstanceMethod<&EngineWrap::Flush>("flush"),
                         InstanceMethod<&EngineWrap::CheckpointStorage>("checkpointStorage"),
                         InstanceMethod<&EngineWrap::FlushPlayerAsForTesting>("flushPlayerAsForTesting"),
                         InstanceMethod<&EngineWrap::SubmitTask>("submitTask"),
                         InstanceMethod<&EngineWrap::CancelTask>("cancelTask"),
                         InstanceMethod<&EngineWrap::Task>("task"),
                         InstanceMethod<&EngineWrap::WaitTask>("waitTask"),
                         InstanceMethod<&EngineWrap::Tasks>("tasks"),
                         InstanceMethod<&EngineWrap::Players>("players"),
                         InstanceMethod<&EngineWrap::PlayersAfter>("playersAfter"),
                         InstanceMethod<&EngineWrap::Player>("player"),
                         InstanceMethod<&EngineWrap::Snapshot>("snapshotInto"),
                         InstanceMethod<&EngineWrap::State>("state"),
                         InstanceMethod<&EngineWrap::PipePath>("pipePath"),
                         InstanceMethod<&EngineWrap::WaitState>("waitState"),
                         InstanceMethod<&EngineWrap::Sessions>("sessions"),
                         InstanceMethod<&EngineWrap::KickSession>("kickSession"),
                         InstanceMethod<&EngineWrap::Broadcast>("broadcast"),
                         InstanceMethod<&EngineWrap::Drain>("drain"),
                         InstanceMethod<&EngineWrap::GamePort>("gamePort"),
                     });
}

// new Engine({ queueCapacity, idleTimeoutMs, maxPlayers, chatLogCapacity }), complete.
EngineWrap::EngineWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<EngineWrap>(info) {
  Napi::Env env = info.Env();
  engine_ = std::make_shared<Engine>(readEngineOptions(env, plainObject(env, info[0], "options")));
  Addon::of(env).adopt(engine_);
}

std::shared_ptr<Engine> EngineWrap::live(Napi::Env env) {
  if (closed_) throwEngineError(env, "ENGINE_CLOSED", "engine is closed");
  return engine_;
}

Napi::Value EngineWrap::Start(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto engine = live(env);
  const EngineConfig cfg = readEngineConfig(env, plainObject(env, info[0], "config"));
  return transition(env, engine, [cfg](Engine& e) { return e.start(cfg); });
}

Napi::Value EngineWrap::Pause(const Napi::CallbackInfo& info) {
  return transition(info.Env(), live(info.Env()), [](Engine& e) { return e.pause(); });
}

Napi::Value EngineWrap::Resume(const Napi::CallbackInfo& info) {
  return transition(info.Env(), live(info.Env()), [](Engine& e) { return e.resume(); });
}

Napi::Value EngineWrap::Stop(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto engine = live(env);
  const auto deadline = plainMs(env, plainObject(env, info[0], "options"), "deadlineMs");
  return PromiseWorker<StopReport>::Start(
      env, [engine, deadline] { return engine->stop(deadline); },
      [](Napi::Env env, Napi::Promise::Deferred& d, StopReport& r) {
        if (r.transition.error != TransitionError::None) {
          d.Reject(transitionError(env, r.transition).Value());
        } else {
          d.Resolve(toJs(env, r));
        }
      });
}

// Idempotent: the first call stops the engine off the JS thread; every later call
// returns the same promise.
Napi::Value EngineWrap::Close(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (closed_) return closing_.Value();
  closed_ = true;
  std::shared_ptr<Engine> engine = engine_;
  Addon::of(env).release(engine);
  std::shared_ptr<DurableAcks> acks = acks_;
  Napi::Promise p = PromiseWorker<bool>::Start(
      env,
      [engine] {
        engine->shutdown();
        return true;
      },
      [acks](Napi::Env env, Napi::Promise::Deferred& d, bool&) {
        if (acks) acks->release();  // stopped: every commit has been reported
        d.Resolve(env.Undefined());
      });
  closing_ = Napi::Persistent(p);
  return p;
}

// enqueueEvents(types: Uint8Array, playerIds: Uint32Array, nums: Float64Array (2 per event),
//               text: string, textLengths: Uint32Array, deferWake: boolean,
//               out: Float64Array(4)) -> undefined
// Columns, not objects: one crossing per batch and no per-event property lookups. The
// result goes to `out` as [accepted, firstSeq, lastSeq, available]: the caller builds
// the object (built here, property by property, it cost ~2 us a call in map
// transitions and name lookups). With
// deferWake the event thread is not woken: the caller calls wakeEvents() later (when,
// src/engine/engine.ts decides), so a run of requests costs one wake-up, not one each.
Napi::Value EngineWrap::WakeEvents(const Napi::CallbackInfo& info) {
  live(info.Env())->wakeEvents();
  return info.Env().Undefined();
}

Napi::Value EngineWrap::EnqueueEvents(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto engine = live(env);
  if (info.Length() < 7 || !info[0].IsTypedArray() || !info[1].IsTypedArray() || !info[2].IsTypedArray() ||
      !info[3].IsString() || !info[4].IsTypedArray() || !info[5].IsBoolean() || !info[6].IsTypedArray()) {
    throwEngineError(env, "INVALID_ARGUMENT", "enqueueEvents(types, playerIds, nums, text, textLengths, deferWake, out)");
  }
  checkEnqueueOut(env, info[6]);
  auto types = info[0].As<Napi::Uint8Array>();
  auto players = info[1].As<Napi::Uint32Array>();
  auto nums = info[2].As<Napi::Float64Array>();
  auto lens = info[4].As<Napi::Uint32Array>();
  if (types.TypedArrayType() != napi_uint8_array || players.TypedArrayType() != napi_uint32_array ||
      nums.TypedArrayType() != napi_float64_array || lens.TypedArrayType() != napi_uint32_array) {
    throwEngineError(env, "INVALID_ARGUMENT", "enqueueEvents: wrong typed array kinds");
  }
  const std::size_t n = types.ElementLength();
  if (players.ElementLength() != n || nums.ElementLength() != 2 * n || lens.ElementLength() != n) {
    throwEngineError(env, "INVALID_ARGUMENT", "enqueueEvents: column lengths differ");
  }
  // textLengths count UTF-16 code units. When the UTF-8 form is as long as the UTF-16
  // form every unit is ASCII, so the same offsets slice the bytes (the usual case: one
  // pass in V8, then a short copy per event). Otherwise each event's units are encoded
  // on their own, lone surrogates included, as the general path always did.
  const std::size_t textUnits = utf16Length(env, info[3]);
  const std::string utf8 = textUnits ? utf8Value(env, info[3], textUnits) : std::string();
  const bool ascii = utf8.size() == textUnits;
  const std::u16string utf16 = ascii ? std::u16string() : info[3].As<Napi::String>().Utf16Value();
  std::vector<GameEvent> batch;
  batch.reserve(n);
  std::size_t offset = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (types[i] >= kEventTypeCount) {
      throwEngineError(env, "INVALID_ARGUMENT", "event " + std::to_string(i) + ": unknown type");
    }
    const std::size_t len = lens[i];
    if (len > textUnits - offset) throwEngineError(env, "INVALID_ARGUMENT", "enqueueEvents: text lengths overflow");
    GameEvent& e = batch.emplace_back();
    e.type = static_cast<EventType>(types[i]);
    e.playerId = players[i];
    e.num1 = nums[2 * i];
    e.num2 = nums[2 * i + 1];
    if (len) {
      if (ascii) {
        e.text.assign(utf8, offset, len);
      } else {
        appendUtf8(e.text, std::u16string_view(utf16).substr(offset, len));
      }
    }
    offset += len;
  }
  if (offset != textUnits) throwEngineError(env, "INVALID_ARGUMENT", "enqueueEvents: text lengths do not add up");

  const bool deferWake = info[5].As<Napi::Boolean>().Value();
  if (engine->durable()) return submitDurable(env, *engine, std::move(batch), deferWake ? Wake::Deferred : Wake::Now);
  answerEnqueue(env, *engine, engine->enqueue(std::move(batch), deferWake ? Wake::Deferred : Wake::Now), n, info[6]);
  return env.Undefined();
}

// enqueueOne(type, playerId, num1, num2, text, deferWake, out): enqueueEvents for a batch
// of one (the usual HTTP request), from scalars: no typed arrays to read, no vector.
Napi::Value EngineWrap::EnqueueOne(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto engine = live(env);
  if (info.Length() < 7 || !info[0].IsNumber() || !info[1].IsNumber() || !info[2].IsNumber() || !info[3].IsNumber() ||
      !info[4].IsString() || !info[5].IsBoolean() || !info[6].IsTypedArray()) {
    throwEngineError(env, "INVALID_ARGUMENT", "enqueueOne(type, playerId, num1, num2, text, deferWake, out)");
  }
  checkEnqueueOut(env, info[6]);
  const std::uint32_t type = info[0].As<Napi::Number>().Uint32Value();
  if (type >= kEventTypeCount) throwEngineError(env, "INVALID_ARGUMENT", "event 0: unknown type");
  GameEvent e;
  e.type = static_cast<EventType>(type);
  e.playerId = info[1].As<Napi::Number>().Uint32Value();
  e.num1 = info[2].As<Napi::Number>().DoubleValue();
  e.num2 = info[3].As<Napi::Number>().DoubleValue();
  // As enqueueEvents converts each event's text: ASCII as is, else unit by unit.
  if (const std::size_t units = utf16Length(env, info[4])) {
    std::string utf8 = utf8Value(env, info[4], units);
    if (utf8.size() == units) {
      e.text = std::move(utf8);
    } else {
      appendUtf8(e.text, info[4].As<Napi::String>().Utf16Value());
    }
  }
  const bool deferWake = info[5].As<Napi::Boolean>().Value();
  if (engine->durable()) {
    std::vector<GameEvent> batch;
    batch.push_back(std::move(e));
    return submitDurable(env, *engine, std::move(batch), deferWake ? Wake::Deferred : Wake::Now);
  }
  answerEnqueue(env, *engine, engine->enqueueOne(std::move(e), deferWake ? Wake::Deferred : Wake::Now), 1, info[6]);
  return env.Undefined();
}

// In journal mode enqueueEvents / enqueueOne return this promise instead of writing `out`.
Napi::Value EngineWrap::submitDurable(Napi::Env env, Engine& engine, std::vector<GameEvent>&& batch, Wake wake) {
  if (!acks_) acks_ = DurableAcks::create(env);
  return acks_->submit(env, engine, std::move(batch), wake);
}

// flush({ timeoutMs }) -> Promise<void>: every event accepted before the call is processed.
Napi::Value EngineWrap::Flush(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto engine = live(env);
  const auto timeout = plainMs(env, plainObject(env, info[0], "options"), "timeoutMs");
  return PromiseWorker<bool>::Start(
      env, [engine, timeout] { return engine->flushEvents(timeout); },
      [timeout](Napi::Env env, Napi::Promise::Deferred& d, bool& ok) {
        if (ok) {
          d.Resolve(env.Undefined());
        } else {
          d.Reject(engineError(env, "TIMEOUT", "events not processed within " + std::to_string(timeout.count()) +
                                                   " ms (is the engine paused?)")
                       .Value());
        }
      });
}

// Writes the dirty players (and, with a journal, the checkpoint) now, on a worker thread.
Napi::Value EngineWrap::CheckpointStorage(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto engine = live(env);
  struct Outcome {
    StorageStatus status;
    std::size_t rows = 0;
    std::uint64_t checkpointSeq = 0;
  };
  return PromiseWorker<Outcome>::Start(
      env,
      [engine] {
        Outcome o;
        o.status = engine->persistence().checkpointNow(o.rows);
        o.checkpointSeq = engine->persistence().stats().checkpointSeq;
        if (o.status.ok()) static_cast<void>(engine->recordWorldHash());  // a failure shows in the next hash
        return o;
      },
      [](Napi::Env env, Napi::Promise::Deferred& d, Outcome& o) {
        if (o.status.code == StorageErrc::Closed) {
          d.Reject(engineError(env, "NO_DATABASE", "no database is open: the engine is stopped or its database is \"simulated\"").Value());
        } else if (!o.status.ok()) {
          d.Reject(engineError(env, "STORAGE_ERROR", std::string(toString(o.status.code)) + ": " + o.status.message).Value());
        } else {
          Napi::Object r = Napi::Object::New(env);
          r.Set("rows", Napi::Number::New(env, static_cast<double>(o.rows)));
          r.Set("checkpointSeq", Napi::Number::New(env, static_cast<double>(o.checkpointSeq)));
          d.Resolve(r);
        }
      });
}

namespace {
// A database task's params: an array of null, numbers (integers stay integers) and strings.
std::vector<DbValue> paramsField(Napi::Env env, const Napi::Object& o) {
  std::vector<DbValue> out;
  Napi::Value v = o.Get("params");
  if (v.IsUndefined() || v.IsNull()) return out;
  if (!v.IsArray()) throwEngineError(env, "INVALID_ARGUMENT", "params must be an array");
  Napi::Array a = v.As<Napi::Array>();
  out.reserve(a.Length());
  for (std::uint32_t i = 0; i < a.Length(); ++i) {
    Napi::Value e = a.Get(i);
    if (e.IsNull()) {
      out.emplace_back(std::monostate{});
    } else if (e.IsNumber()) {
      const double d = e.As<Napi::Number>().DoubleValue();
      if (!std::isfinite(d)) throwEngineError(env, "INVALID_ARGUMENT", "params must hold finite numbers");
      if (d == std::floor(d) && std::fabs(d) <= 9007199254740991.0) {
        out.emplace_back(static_cast<std::int64_t>(d));
      } else {
        out.emplace_back(d);
      }
    } else if (e.IsString()) {
      out.emplace_back(e.As<Napi::String>().Utf8Value());
    } else {
      throwEngineError(env, "INVALID_ARGUMENT", "params[" + std::to_string(i) + "] must be null, a number or a string");
    }
  }
  return out;
}
}  // namespace

// submitTask({ kind, playerId, data, query, params, maxRows, timeoutMs, rateHz, ticks, delayMs, intervalMs }) -> { id }
Napi::Value EngineWrap::SubmitTask(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto engine = live(env);
  if (!info[0].IsObject()) throwEngineError(env, "INVALID_ARGUMENT", "submitTask(spec): spec must be an object");
  Napi::Object o = info[0].As<Napi::Object>();
  TaskSpec spec;
  const std::string kind = stringField(env, o, "kind", 64);
  const auto k = parseTaskKind(kind);
  if (!k) throwEngineError(env, "INVALID_ARGUMENT", "unknown task kind '" + kind + "'");
  spec.kind = *k;
  spec.playerId = static_cast<std::uint32_t>(intField(env, o, "playerId", 0, 0, 4294967295.0));
  spec.data = stringField(env, o, "data", 4096);
  spec.query = stringField(env, o, "query", 4096);
  spec.params = paramsField(env, o);
  // Their ranges are the TaskSpec schema's (src/schemas/tasks.ts); here: what the field holds.
  constexpr double kU32 = std::numeric_limits<std::uint32_t>::max();
  spec.maxRows = static_cast<std::uint32_t>(intField(env, o, "maxRows", 0, 1, kU32));
  spec.timeoutMs = static_cast<std::uint32_t>(intField(env, o, "timeoutMs", 0, 1, kU32));
  spec.rateHz = numberField(env, o, "rateHz", spec.rateHz, 0.001, 1000);
  spec.ticks = intField(env, o, "ticks", 0, 0, 1e12);
  spec.delayMs = intField(env, o, "delayMs", 0, 0, 86400000);
  spec.intervalMs = intField(env, o, "intervalMs", 0, 0, 86400000);
  const SubmitResult r = engine->submitTask(spec);
  switch (r.error) {
    case TaskError::None: break;
    case TaskError::TooMany: throwEngineError(env, "TOO_MANY_TASKS", r.detail.empty() ? "too many active tasks" : r.detail);
    case TaskError::ShuttingDown: throwEngineError(env, "ENGINE_NOT_RUNNING", r.detail.empty() ? "engine is not running" : r.detail);
    case TaskError::InvalidSpec: throwEngineError(env, "INVALID_ARGUMENT", r.detail);
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("id", Napi::Number::New(env, static_cast<double>(r.id)));
  return out;
}

namespace {
std::uint64_t idArg(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsNumber()) throwEngineError(env, "INVALID_ARGUMENT", "id must be a number");
  const double d = info[0].As<Napi::Number>().DoubleValue();
  if (!(d >= 0) || d > 9007199254740991.0 || d != std::floor(d)) {
    throwEngineError(env, "INVALID_ARGUMENT", "id must be a non-negative integer");
  }
  return static_cast<std::uint64_t>(d);
}
}  // namespace

Napi::Value EngineWrap::CancelTask(const Napi::CallbackInfo& info) {
  auto engine = live(info.Env());
  return Napi::Boolean::New(info.Env(), engine->cancelTask(idArg(info)));
}

Napi::Value EngineWrap::Task(const Napi::CallbackInfo& info) {
  auto engine = live(info.Env());
  auto t = engine->task(idArg(info));
  if (!t) return info.Env().Null();
  return toJs(info.Env(), *t);
}

// waitTask(id, { timeoutMs }) -> Promise<TaskInfo>: resolves when the task has finished.
Napi::Value EngineWrap::WaitTask(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto engine = live(env);
  const std::uint64_t id = idArg(info);
  const auto timeout = plainMs(env, plainObject(env, info[1], "options"), "timeoutMs");
  if (!engine->task(id)) throwEngineError(env, "NOT_FOUND", "no task " + std::to_string(id));
  return PromiseWorker<std::optional<TaskInfo>>::Start(
      env, [engine, id, timeout] { return engine->waitTask(id, timeout); },
      [id, timeout](Napi::Env env, Napi::Promise::Deferred& d, std::optional<TaskInfo>& t) {
        if (t) {
          d.Resolve(toJs(env, *t));
        } else {
          d.Reject(engineError(env, "TIMEOUT", "task " + std::to_string(id) + " not finished within " +
                                                   std::to_string(timeout.count()) + " ms")
                       .Value());
        }
      });
}

Napi::Value EngineWrap::Tasks(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto engine = live(env);
  const std::size_t limit = info[0].IsNumber() ? static_cast<std::size_t>(std::max(0.0, info[0].As<Napi::Number>().DoubleValue())) : 100;
  // An optional cursor: tasks with an id below it.
  const double before = info.Length() > 1 && info[1].IsNumber() ? info[1].As<Napi::Number>().DoubleValue() : 0;
  const auto tasks = engine->recentTasks(limit, before >= 1 && before < 18446744073709551615.0 ? static_cast<std::uint64_t>(before) : UINT64_MAX);
  Napi::Array a = Napi::Array::New(env, tasks.size());
  for (std::size_t i = 0; i < tasks.size(); ++i) a.Set(static_cast<uint32_t>(i), toJs(env, tasks[i]));
  return a;
}

Napi::Value EngineWrap::Players(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto engine = live(env);
  const auto players = engine->world().players();
  Napi::Array a = Napi::Array::New(env, players.size());
  for (std::size_t i = 0; i < players.size(); ++i) a.Set(static_cast<uint32_t>(i), toJs(env, players[i]));
  return a;
}

// playersAfter(after: number, limit: number) -> { players, more, online, known }
Napi::Value EngineWrap::PlayersAfter(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto engine = live(env);
  if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsNumber()) {
    throwEngineError(env, "INVALID_ARGUMENT", "playersAfter(after, limit)");
  }
  const double after = info[0].As<Napi::Number>().DoubleValue();
  const double limit = info[1].As<Napi::Number>().DoubleValue();
  if (!(after >= 0 && after <= 4294967295.0) || !(limit >= 1 && limit <= 1e6)) {
    throwEngineError(env, "INVALID_ARGUMENT", "playersAfter: after in [0, 2^32), limit in [1, 1e6]");
  }
  bool more = false;
  const auto players =
      engine->world().playersAfter(static_cast<std::uint32_t>(after), static_cast<std::size_t>(limit), more);
  Napi::Array a = Napi::Array::New(env, players.size());
  for (std::size_t i = 0; i < players.size(); ++i) a.Set(static_cast<uint32_t>(i), toJs(env, players[i]));
  Napi::Object o = Napi::Object::New(env);
  o.Set("players", a);
  o.Set("more", Napi::Boolean::New(env, more));
  o.Set("online", static_cast<double>(engine->world().onlineCount()));
  o.Set("known", static_cast<double>(engine->world().knownCount()));
  return o;
}

Napi::Value EngineWrap::Player(const Napi::CallbackInfo& info) {
  auto engine = live(info.Env());
  const std::uint64_t id = idArg(info);
  if (id > 0xFFFFFFFFull) return info.Env().Null();
  auto p = engine->world().player(static_cast<std::uint32_t>(id));
  if (!p) return info.Env().Null();
  return toJs(info.Env(), *p);
}

// snapshotInto(values: Float64Array, withBuckets?: boolean) -> string. Fills `values` as
// writeSnapshot() does (snapshot_layout.hpp): values[0] is the count needed, and when it
// exceeds values.length the caller grows the array and calls again. Returns the text
// fields joined by '\0'. withBuckets appends each histogram's non-empty buckets.
// The facade rebuilds the nested object from these with binding.snapshotLayout
// (src/engine/snapshot.ts); building it here would cost a property set, and a key
// string, per field.
Napi::Value EngineWrap::Snapshot(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto engine = live(env);
  if (info.Length() < 1 || !info[0].IsTypedArray() ||
      info[0].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array) {
    throwEngineError(env, "INVALID_ARGUMENT", "snapshotInto(values: Float64Array, withBuckets?: boolean)");
  }
  if (info.Length() > 1 && !info[1].IsUndefined() && !info[1].IsBoolean()) {
    throwEngineError(env, "INVALID_ARGUMENT", "withBuckets must be a boolean");
  }
  const bool withBuckets = info.Length() > 1 && info[1].IsBoolean() && info[1].As<Napi::Boolean>().Value();
  auto values = info[0].As<Napi::Float64Array>();
  std::string strings;
  writeSnapshot(engine->snapshot(), withBuckets, values.Data(), values.ElementLength(), strings);
  return Napi::String::New(env, strings);
}

Napi::Value EngineWrap::PipePath(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), live(info.Env())->pipePath());
}

// waitState(state, { timeoutMs }) -> Promise<void>: resolves once the engine is in `state`.
Napi::Value EngineWrap::WaitState(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto engine = live(env);
  if (!info[0].IsString()) throwEngineError(env, "INVALID_ARGUMENT", "state must be a string");
  const std::string name = info[0].As<Napi::String>().Utf8Value();
  std::optional<EngineState> target;
  for (EngineState s : {EngineState::Stopped, EngineState::Starting, EngineState::Running, EngineState::Paused,
                        EngineState::Stopping}) {
    if (name == toString(s)) target = s;
  }
  if (!target) throwEngineError(env, "INVALID_ARGUMENT", "unknown state '" + name + "'");
  const auto timeout = plainMs(env, plainObject(env, info[1], "options"), "timeoutMs");
  const EngineState want = *target;
  return PromiseWorker<bool>::Start(
      env, [engine, want, timeout] { return engine->waitState(want, timeout); },
      [name, timeout](Napi::Env env, Napi::Promise::Deferred& d, bool& ok) {
        if (ok) {
          d.Resolve(env.Undefined());
        } else {
          d.Reject(engineError(env, "TIMEOUT", "engine not " + name + " within " + std::to_string(timeout.count()) + " ms").Value());
        }
      });
}

Napi::Value EngineWrap::State(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), toString(engine_->state()));
}


}  // namespace gamesrv::addon
