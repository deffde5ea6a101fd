// runBots(options, onProgress?, handle?) -> Promise<summary>; cancelBots(id) -> boolean.
// The bots (gamesrv/bots.hpp) run on a libuv worker thread (their own driver threads do
// the I/O); their once-a-second summary reaches onProgress on the JS thread. A run is
// tracked like a lock benchmark (Addon::trackBenchmark), so the environment's cleanup
// stops it; `handle.id` is for cancelBots(id).
#include "bots_binding.hpp"

#include <cmath>
#include <limits>
#include <string>

#include "addon.hpp"
#include "errors.hpp"
#include "gamesrv/bots.hpp"

namespace gamesrv::addon {
namespace {

Napi::Object histogramJs(Napi::Env env, const HistogramSummary& h) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("count", static_cast<double>(h.count));
  o.Set("mean", h.mean);
  o.Set("min", static_cast<double>(h.min));
  o.Set("p50", static_cast<double>(h.p50));
  o.Set("p90", static_cast<double>(h.p90));
  o.Set("p99", static_cast<double>(h.p99));
  o.Set("max", static_cast<double>(h.max));
  return o;
}

Napi::Object summaryJs(Napi::Env env, const BotsSummary& s) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("elapsedS", s.elapsedS);
  o.Set("bots", static_cast<double>(s.bots));
  o.Set("connected", static_cast<double>(s.connected));
  o.Set("live", static_cast<double>(s.live));
  o.Set("failed", static_cast<double>(s.failed));
  o.Set("dropped", static_cast<double>(s.dropped));
  o.Set("movesSent", static_cast<double>(s.movesSent));
  o.Set("movesDeferred", static_cast<double>(s.movesDeferred));
  o.Set("chatsSent", static_cast<double>(s.chatsSent));
  o.Set("pingsSent", static_cast<double>(s.pingsSent));
  o.Set("framesReceived", static_cast<double>(s.framesReceived));
  o.Set("bytesReceived", static_cast<double>(s.bytesReceived));
  o.Set("statesReceived", static_cast<double>(s.statesReceived));
  o.Set("errorsReceived", static_cast<double>(s.errorsReceived));
  o.Set("kicksReceived", static_cast<double>(s.kicksReceived));
  o.Set("lastProblem", s.lastProblem.empty() ? env.Null() : Napi::String::New(env, s.lastProblem));
  o.Set("rttUs", histogramJs(env, s.rttUs));
  o.Set("moveObservedUs", histogramJs(env, s.moveObservedUs));
  return o;
}

class BotsWorker final : public Napi::AsyncProgressQueueWorker<BotsSummary> {
 public:
  BotsWorker(Napi::Env env, BotsConfig config, Napi::Function onProgress)
      : Napi::AsyncProgressQueueWorker<BotsSummary>(env, "gamesrv:bots"),
        deferred_(Napi::Promise::Deferred::New(env)),
        config_(std::move(config)),
        trackId_(Addon::of(env).trackBenchmark(stop_)) {
    if (!onProgress.IsEmpty()) progress_ = Napi::Persistent(onProgress);
  }

  Napi::Promise Promise() { return deferred_.Promise(); }
  std::uint64_t trackId() const noexcept { return trackId_; }

  void Execute(const ExecutionProgress& progress) override {
    result_ = runBots(config_, [&progress](const BotsSummary& s) { progress.Send(&s, 1); }, stop_.get_token());
  }
  void OnProgress(const BotsSummary* data, std::size_t count) override {
    if (progress_.IsEmpty() || count == 0) return;
    Napi::HandleScope scope(Env());
    progress_.Call({summaryJs(Env(), data[count - 1])});
  }
  void OnOK() override {
    Napi::Env env = Env();
    Addon::of(env).untrackBenchmark(trackId_);
    if (!result_.ok) {  // RunBots validated the options: the driver could not start
      deferred_.Reject(engineError(env, "START_FAILED", result_.error).Value());
      return;
    }
    deferred_.Resolve(summaryJs(env, result_.summary));
  }
  void OnError(const Napi::Error& e) override {
    Addon::of(Env()).untrackBenchmark(trackId_);
    deferred_.Reject(engineError(Env(), "INTERNAL", e.Message()).Value());
  }

 private:
  Napi::Promise::Deferred deferred_;
  BotsConfig config_;
  std::stop_source stop_;
  std::uint64_t trackId_;
  Napi::FunctionReference progress_;
  BotsResult result_;
};

double number(Napi::Env env, Napi::Object o, const char* key, double fallback) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) return fallback;
  if (!v.IsNumber()) throwEngineError(env, "INVALID_ARGUMENT", std::string(key) + " must be a number");
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d)) throwEngineError(env, "INVALID_ARGUMENT", std::string(key) + " must be finite");
  return d;
}

std::uint32_t integer(Napi::Env env, Napi::Object o, const char* key, double fallback) {
  const double d = number(env, o, key, fallback);
  if (d < 0 || d > 4294967295.0 || std::floor(d) != d) throwEngineError(env, "INVALID_ARGUMENT", std::string(key) + " must be a u32 integer");
  return static_cast<std::uint32_t>(d);
}

// runBots({host, port, count, rateHz, flood, durationS, threads, firstPlayerId, tickets, chatEveryS, seed}, onProgress?, handle?)
Napi::Value RunBots(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) throwEngineError(env, "INVALID_ARGUMENT", "runBots(options, onProgress?)");
  Napi::Object o = info[0].As<Napi::Object>();
  BotsConfig c;
  if (Napi::Value h = o.Get("host"); h.IsString()) c.host = h.As<Napi::String>().Utf8Value();
  const std::uint32_t port = integer(env, o, "port", c.port);
  if (port > std::numeric_limits<std::uint16_t>::max()) throwEngineError(env, "INVALID_ARGUMENT", "port must be a TCP port number");
  c.port = static_cast<std::uint16_t>(port);
  c.count = integer(env, o, "count", 0);
  c.rateHz = number(env, o, "rateHz", c.rateHz);
  if (Napi::Value f = o.Get("flood"); !f.IsUndefined()) {
    if (!f.IsBoolean()) throwEngineError(env, "INVALID_ARGUMENT", "flood must be a boolean");
    c.flood = f.As<Napi::Boolean>().Value();
  }
  c.durationS = number(env, o, "durationS", c.durationS);
  c.threads = integer(env, o, "threads", c.threads);
  c.firstPlayerId = integer(env, o, "firstPlayerId", c.firstPlayerId);
  c.chatEveryS = number(env, o, "chatEveryS", c.chatEveryS);
  c.seed = integer(env, o, "seed", static_cast<double>(c.seed));
  Napi::Value tickets = o.Get("tickets");
  if (!tickets.IsArray()) throwEngineError(env, "INVALID_ARGUMENT", "tickets must be an array of strings");
  Napi::Array a = tickets.As<Napi::Array>();
  c.tickets.reserve(a.Length());
  for (std::uint32_t i = 0; i < a.Length(); ++i) {
    Napi::Value t = a.Get(i);
    if (!t.IsString()) throwEngineError(env, "INVALID_ARGUMENT", "tickets must be an array of strings");
    c.tickets.push_back(t.As<Napi::String>().Utf8Value());
  }
  if (std::string err = validate(c); !err.empty()) throwEngineError(env, "INVALID_ARGUMENT", err);
  Napi::Function onProgress = info.Length() > 1 && info[1].IsFunction() ? info[1].As<Napi::Function>() : Napi::Function();
  auto* w = new BotsWorker(env, std::move(c), onProgress);
  Napi::Promise p = w->Promise();
  if (info.Length() > 2 && info[2].IsObject()) info[2].As<Napi::Object>().Set("id", static_cast<double>(w->trackId()));
  w->Queue();
  return p;
}

Napi::Value CancelBots(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) throwEngineError(env, "INVALID_ARGUMENT", "cancelBots(id)");
  return Napi::Boolean::New(env, Addon::of(env).cancelBenchmark(static_cast<std::uint64_t>(info[0].As<Napi::Number>().DoubleValue())));
}

}  // namespace

void registerBots(Napi::Env env, Napi::Object exports) {
  exports.Set("runBots", Napi::Function::New<RunBots>(env, "runBots"));
  exports.Set("cancelBots", Napi::Function::New<CancelBots>(env, "cancelBots"));
  Napi::Object limits = Napi::Object::New(env);
  limits.Set("maxBots", static_cast<double>(kMaxBots));
  limits.Set("maxThreads", static_cast<double>(kMaxBotThreads));
  limits.Set("maxRateHz", kMaxBotRateHz);
  exports.Set("botLimits", limits);
}

}  // namespace gamesrv::addon
