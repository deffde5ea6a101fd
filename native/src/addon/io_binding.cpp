// Module-level functions that need no Engine: reading another server's shared status,
// sending one pipe message, the lock benchmark, and the protocol constants.
#include "io_binding.hpp"

#include <atomic>
#include <memory>
#include <mutex>
#include <stop_token>

#include "addon.hpp"
#include "errors.hpp"
#include "gamesrv/lock_benchmark.hpp"
#include "gamesrv/monitor.hpp"
#include "gamesrv/pipe.hpp"
#include "gamesrv/world.hpp"
#include "gamesrv/pipe_protocol.hpp"
#include "gamesrv/platform/sysinfo.hpp"
#include "promise_worker.hpp"

namespace gamesrv::addon {

namespace {

std::string requireString(const Napi::CallbackInfo& info, std::size_t i, const char* what) {
  if (info.Length() <= i || !info[i].IsString()) throwEngineError(info.Env(), "INVALID_ARGUMENT", std::string(what) + " must be a string");
  return info[i].As<Napi::String>().Utf8Value();
}

const char* monitorCode(MonitorError e) {
  switch (e) {
    case MonitorError::NotFound: return "NOT_FOUND";
    case MonitorError::InvalidName: return "INVALID_ARGUMENT";
    case MonitorError::PermissionDenied: return "PERMISSION_DENIED";
    case MonitorError::LayoutMismatch: return "LAYOUT_MISMATCH";
    case MonitorError::Busy: return "BUSY";
    default: return "MONITOR_ERROR";
  }
}

// readMonitor(serverName) -> the shared status as another process sees it.
Napi::Value ReadMonitor(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string name = requireString(info, 0, "serverName");
  MonitorOpenResult opened = MonitorReader::open(name);
  if (opened.error != MonitorError::None) throwEngineError(env, monitorCode(opened.error), opened.detail);
  const MonitorReadResult r = opened.reader->read(ReadMode::CheckWriter);
  if (r.error != MonitorError::None) {
    throwEngineError(env, monitorCode(r.error), "could not read the status of '" + name + "'");
  }
  const MonitorSnapshot& s = r.snapshot;
  Napi::Object o = Napi::Object::New(env);
  o.Set("serverName", std::string(s.status.name()));
  o.Set("segment", opened.reader->segmentName());
  o.Set("playerCount", s.status.playerCount);
  o.Set("maxPlayers", s.status.maxPlayers);
  o.Set("cpuPercent", s.status.cpuPercent);
  o.Set("residentBytes", static_cast<double>(s.status.residentBytes));
  o.Set("pid", s.status.pid);
  o.Set("cpuCount", s.status.cpuCount);
  o.Set("running", s.running());
  o.Set("paused", s.paused());
  o.Set("lastUpdateMs", static_cast<double>(s.status.lastUpdateUnixMs));
  o.Set("startedAtMs", static_cast<double>(s.status.startedAtUnixMs));
  o.Set("heartbeat", static_cast<double>(s.status.heartbeat));
  o.Set("ageMs", static_cast<double>(s.ageMs));
  o.Set("sequence", static_cast<double>(s.sequence));
  o.Set("writer", s.writer == Liveness::Alive ? "alive" : s.writer == Liveness::Dead ? "dead" : "unknown");
  o.Set("stale", s.stale);
  return o;
}

struct PipeOutcome {
  PipeError error = PipeError::None;
  std::string detail;
  PipeMessage reply;
};

// pipeSend(path, type, data, timeoutMs) -> Promise<{type, typeCode, data}>
Napi::Value PipeSend(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string path = requireString(info, 0, "path");
  const std::string typeName = requireString(info, 1, "type");
  const auto type = parsePipeMessageType(typeName);
  if (!type || !isPipeRequest(*type)) {
    throwEngineError(env, "INVALID_ARGUMENT",
                     "unknown pipe request type '" + typeName +
                         "' (PLAYER_LOGIN, PLAYER_LOGOUT, PLAYER_MOVE, SERVER_STATUS, SHUTDOWN)");
  }
  std::string data = info.Length() > 2 && info[2].IsString() ? info[2].As<Napi::String>().Utf8Value() : std::string();
  if (data.size() > kPipeDataCapacity) {
    throwEngineError(env, "INVALID_ARGUMENT",
                     "data is " + std::to_string(data.size()) + " bytes; a frame carries at most " + std::to_string(kPipeDataCapacity));
  }
  double ms = info.Length() > 3 && info[3].IsNumber() ? info[3].As<Napi::Number>().DoubleValue() : 5000;
  if (!(ms >= 1 && ms <= 600000)) ms = 5000;
  const std::chrono::milliseconds timeout(static_cast<long long>(ms));
  return PromiseWorker<PipeOutcome>::Start(
      env,
      [path, type = *type, data = std::move(data), timeout] {
        PipeOutcome out;
        PipeClient client;
        if (PipeResult c = client.connect(path, timeout); !c.ok()) {
          out.error = c.error;
          out.detail = std::move(c.detail);
          return out;
        }
        PipeReplyResult r = client.request(type, data, timeout);
        out.error = r.error;
        out.detail = std::move(r.detail);
        out.reply = std::move(r.reply);
        return out;
      },
      [](Napi::Env env, Napi::Promise::Deferred& deferred, PipeOutcome& out) {
        if (out.error != PipeError::None) {
          Napi::Error err = engineError(env, "PIPE_ERROR", out.detail.empty() ? toString(out.error) : out.detail);
          err.Set("reason", Napi::String::New(env, toString(out.error)));
          deferred.Reject(err.Value());
          return;
        }
        Napi::Object o = Napi::Object::New(env);
        o.Set("type", toString(out.reply.type));
        o.Set("typeCode", static_cast<double>(static_cast<std::uint32_t>(out.reply.type)));
        o.Set("data", out.reply.data);
        deferred.Resolve(o);
      },
      "gamesrv:pipe");
}

Napi::Value DefaultPipePath(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), defaultPipePath(requireString(info, 0, "serverName")));
}

// runLockBenchmark({threads, iterations, kinds}, onProgress?) -> Promise<{status, rows}>
// Runs on a libuv worker; progress reaches onProgress on the JS thread.
struct LockProgress {
  std::size_t rowsDone = 0;
  std::size_t rowsTotal = 0;
  double percent = 0;
};

class LockBenchWorker final : public Napi::AsyncProgressQueueWorker<LockProgress> {
 public:
  LockBenchWorker(Napi::Env env, LockBenchmarkOptions options, Napi::Function onProgress)
      : Napi::AsyncProgressQueueWorker<LockProgress>(env, "gamesrv:locks"),
        deferred_(Napi::Promise::Deferred::New(env)),
        options_(std::move(options)),
        trackId_(Addon::of(env).trackBenchmark(stop_)) {
    if (!onProgress.IsEmpty()) progress_ = Napi::Persistent(onProgress);
  }

  Napi::Promise Promise() { return deferred_.Promise(); }
  std::uint64_t trackId() const noexcept { return trackId_; }

  void Execute(const ExecutionProgress& progress) override {
    report_ = runLockBenchmark(
        options_,
        [&progress](std::size_t done, std::size_t total, double pct) {
          const LockProgress p{done, total, pct};
          progress.Send(&p, 1);
        },
        stop_.get_token());
  }
  void OnProgress(const LockProgress* data, std::size_t count) override {
    if (progress_.IsEmpty() || count == 0) return;
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    const LockProgress& p = data[count - 1];
    Napi::Object o = Napi::Object::New(env);
    o.Set("rowsDone", static_cast<double>(p.rowsDone));
    o.Set("rowsTotal", static_cast<double>(p.rowsTotal));
    o.Set("percent", p.percent);
    progress_.Call({o});
  }
  void OnOK() override {
    Napi::Env env = Env();
    Addon::of(env).untrackBenchmark(trackId_);
    if (report_.status == LockBenchmarkStatus::InvalidOptions) {
      deferred_.Reject(engineError(env, "INVALID_ARGUMENT", report_.error).Value());
      return;
    }
    Napi::Object o = Napi::Object::New(env);
    o.Set("status", toString(report_.status));
    Napi::Array rows = Napi::Array::New(env, report_.rows.size());
    for (std::size_t i = 0; i < report_.rows.size(); ++i) {
      const LockBenchmarkRow& r = report_.rows[i];
      Napi::Object row = Napi::Object::New(env);
      row.Set("kind", r.kind);
      row.Set("description", r.description);
      row.Set("threads", r.threads);
      row.Set("iterations", static_cast<double>(r.iterations));
      row.Set("elapsedMs", static_cast<double>(r.elapsedNs) / 1e6);
      row.Set("opsPerSec", r.opsPerSec);
      row.Set("ratioToFastest", r.ratioToFastest);
      row.Set("expectedCount", static_cast<double>(r.expectedCount));
      row.Set("finalCount", static_cast<double>(r.finalCount));
      row.Set("exact", r.exact);
      row.Set("error", r.error.empty() ? env.Null() : Napi::String::New(env, r.error));
      rows.Set(static_cast<uint32_t>(i), row);
    }
    o.Set("rows", rows);
    deferred_.Resolve(o);
  }
  void OnError(const Napi::Error& e) override {
    Addon::of(Env()).untrackBenchmark(trackId_);
    deferred_.Reject(engineError(Env(), "INTERNAL", e.Message()).Value());
  }

 private:
  Napi::Promise::Deferred deferred_;
  LockBenchmarkOptions options_;
  std::stop_source stop_;
  std::uint64_t trackId_;
  Napi::FunctionReference progress_;
  LockBenchmarkReport report_;
};

// cancelLockBenchmarks() -> number of running benchmarks asked to stop; each resolves
// soon after with status "cancelled" and the rows finished so far.
Napi::Value CancelLockBenchmarks(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(Addon::of(info.Env()).cancelBenchmarks()));
}

Napi::Value RunLockBenchmark(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  LockBenchmarkOptions opts;
  if (info.Length() > 0 && info[0].IsObject()) {
    Napi::Object o = info[0].As<Napi::Object>();
    auto num = [&](const char* key, double lo, double hi, double fallback) {
      Napi::Value v = o.Get(key);
      if (v.IsUndefined() || v.IsNull()) return fallback;
      if (!v.IsNumber()) throwEngineError(env, "INVALID_ARGUMENT", std::string(key) + " must be a number");
      const double d = v.As<Napi::Number>().DoubleValue();
      if (!(d >= lo && d <= hi) || d != static_cast<double>(static_cast<std::uint64_t>(d))) {
        throwEngineError(env, "INVALID_ARGUMENT", std::string(key) + " must be an integer in [" + std::to_string(static_cast<std::uint64_t>(lo)) +
                                                      ", " + std::to_string(static_cast<std::uint64_t>(hi)) + "]");
      }
      return d;
    };
    opts.threads = static_cast<unsigned>(num("threads", 1, LockBenchmarkOptions::kMaxThreads, opts.threads));
    opts.iterations = static_cast<std::uint64_t>(num("iterations", 1, 1e9, static_cast<double>(opts.iterations)));
    Napi::Value kinds = o.Get("kinds");
    if (kinds.IsArray()) {
      Napi::Array a = kinds.As<Napi::Array>();
      for (uint32_t i = 0; i < a.Length(); ++i) {
        Napi::Value k = a.Get(i);
        if (!k.IsString()) throwEngineError(env, "INVALID_ARGUMENT", "kinds must be strings");
        opts.kinds.push_back(k.As<Napi::String>().Utf8Value());
      }
    }
  }
  Napi::Function onProgress = info.Length() > 1 && info[1].IsFunction() ? info[1].As<Napi::Function>() : Napi::Function();
  auto* w = new LockBenchWorker(env, std::move(opts), onProgress);
  Napi::Promise p = w->Promise();
  // An optional handle object receives the run's id, for cancelLockBenchmark(id).
  if (info.Length() > 2 && info[2].IsObject()) info[2].As<Napi::Object>().Set("id", static_cast<double>(w->trackId()));
  w->Queue();
  return p;
}

// cancelLockBenchmark(id) -> whether a running benchmark with that id was asked to stop.
Napi::Value CancelLockBenchmark(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) throwEngineError(env, "INVALID_ARGUMENT", "cancelLockBenchmark(id)");
  const auto id = static_cast<std::uint64_t>(info[0].As<Napi::Number>().DoubleValue());
  return Napi::Boolean::New(env, Addon::of(env).cancelBenchmark(id));
}

Napi::Object Protocol(Napi::Env env) {
  Napi::Object p = Napi::Object::New(env);
  Napi::Object pipe = Napi::Object::New(env);
  pipe.Set("frameBytes", static_cast<double>(kPipeFrameBytes));
  pipe.Set("headerBytes", static_cast<double>(kPipeHeaderBytes));
  pipe.Set("dataCapacity", static_cast<double>(kPipeDataCapacity));
  Napi::Object types = Napi::Object::New(env);
  for (PipeMessageType t : {PipeMessageType::PlayerLogin, PipeMessageType::PlayerLogout, PipeMessageType::PlayerMove,
                            PipeMessageType::ServerStatus, PipeMessageType::Shutdown, PipeMessageType::Ack,
                            PipeMessageType::StatusReply, PipeMessageType::Error}) {
    types.Set(toString(t), static_cast<double>(static_cast<std::uint32_t>(t)));
  }
  pipe.Set("types", types);
  p.Set("pipe", pipe);
  Napi::Object shm = Napi::Object::New(env);
  shm.Set("magic", static_cast<double>(kMonitorMagic));
  shm.Set("layoutVersion", static_cast<double>(kMonitorLayoutVersion));
  shm.Set("segmentBytes", static_cast<double>(kMonitorSegmentSize));
  shm.Set("statusOffset", static_cast<double>(kMonitorStatusOffset));
  shm.Set("lockOffset", static_cast<double>(kMonitorLockOffset));
  shm.Set("lockBytes", static_cast<double>(kMonitorLockSize));
  Napi::Object header = Napi::Object::New(env);
  header.Set("magic", static_cast<double>(offsetof(MonitorHeader, magic)));
  header.Set("layoutVersion", static_cast<double>(offsetof(MonitorHeader, layoutVersion)));
  header.Set("headerSize", static_cast<double>(offsetof(MonitorHeader, headerSize)));
  header.Set("statusSize", static_cast<double>(offsetof(MonitorHeader, statusSize)));
  header.Set("ownerPid", static_cast<double>(offsetof(MonitorHeader, ownerPid)));
  header.Set("seq", static_cast<double>(offsetof(MonitorHeader, seq)));
  header.Set("statusOffset", static_cast<double>(offsetof(MonitorHeader, statusOffset)));
  header.Set("lockOffset", static_cast<double>(offsetof(MonitorHeader, lockOffset)));
  header.Set("lockSize", static_cast<double>(offsetof(MonitorHeader, lockSize)));
  header.Set("segmentSize", static_cast<double>(offsetof(MonitorHeader, segmentSize)));
  shm.Set("header", header);
  Napi::Object status = Napi::Object::New(env);
  const std::size_t base = kMonitorStatusOffset;
  status.Set("playerCount", static_cast<double>(base + offsetof(SharedStatus, playerCount)));
  status.Set("maxPlayers", static_cast<double>(base + offsetof(SharedStatus, maxPlayers)));
  status.Set("cpuPercent", static_cast<double>(base + offsetof(SharedStatus, cpuPercent)));
  status.Set("residentBytes", static_cast<double>(base + offsetof(SharedStatus, residentBytes)));
  status.Set("pid", static_cast<double>(base + offsetof(SharedStatus, pid)));
  status.Set("flags", static_cast<double>(base + offsetof(SharedStatus, flags)));
  status.Set("lastUpdateUnixMs", static_cast<double>(base + offsetof(SharedStatus, lastUpdateUnixMs)));
  status.Set("heartbeat", static_cast<double>(base + offsetof(SharedStatus, heartbeat)));
  status.Set("serverName", static_cast<double>(base + offsetof(SharedStatus, serverName)));
  status.Set("startedAtUnixMs", static_cast<double>(base + offsetof(SharedStatus, startedAtUnixMs)));
  status.Set("cpuCount", static_cast<double>(base + offsetof(SharedStatus, cpuCount)));
  shm.Set("status", status);
  p.Set("shm", shm);
  Napi::Object world = Napi::Object::New(env);
  world.Set("maxChatBytes", static_cast<double>(WorldConfig{}.maxChatBytes));
  world.Set("maxHp", static_cast<double>(WorldConfig{}.maxHp));
  p.Set("world", world);
  return p;
}

}  // namespace

// socketUnackedBytes(fd: number) -> number: the kernel's unacknowledged bytes of a
// stream socket (platform::socketUnackedBytes), -1 where the platform will not say.
static Napi::Value SocketUnackedBytes(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) throwEngineError(env, "INVALID_ARGUMENT", "socketUnackedBytes(fd)");
  const auto n = platform::socketUnackedBytes(static_cast<std::intptr_t>(info[0].As<Napi::Number>().Int64Value()));
  return Napi::Number::New(env, n ? static_cast<double>(*n) : -1.0);
}

void registerIo(Napi::Env env, Napi::Object exports) {
  exports.Set("socketUnackedBytes", Napi::Function::New<SocketUnackedBytes>(env, "socketUnackedBytes"));
  exports.Set("readMonitor", Napi::Function::New<ReadMonitor>(env, "readMonitor"));
  exports.Set("pipeSend", Napi::Function::New<PipeSend>(env, "pipeSend"));
  exports.Set("defaultPipePath", Napi::Function::New<DefaultPipePath>(env, "defaultPipePath"));
  exports.Set("runLockBenchmark", Napi::Function::New<RunLockBenchmark>(env, "runLockBenchmark"));
  exports.Set("cancelLockBenchmarks", Napi::Function::New<CancelLockBenchmarks>(env, "cancelLockBenchmarks"));
  exports.Set("cancelLockBenchmark", Napi::Function::New<CancelLockBenchmark>(env, "cancelLockBenchmark"));
  Napi::Object lockDefaults = Napi::Object::New(env);
  lockDefaults.Set("threads", static_cast<double>(LockBenchmarkOptions{}.threads));
  lockDefaults.Set("iterations", static_cast<double>(LockBenchmarkOptions{}.iterations));
  exports.Set("lockBenchmarkDefaults", lockDefaults);
  Napi::Array kinds = Napi::Array::New(env);
  uint32_t i = 0;
  for (const std::string& k : lockBenchmarkKinds()) kinds.Set(i++, k);
  exports.Set("lockKinds", kinds);
  exports.Set("protocol", Protocol(env));
}

}  // namespace gamesrv::addon
