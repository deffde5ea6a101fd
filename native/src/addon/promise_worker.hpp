// The binding's one way to run blocking work off the JS thread: `run` on a libuv worker
// thread, then `settle` on the JS thread resolves or rejects the promise. `run` sees
// only plain C++ data (the batons it captured), never a Napi value.
#pragma once
#include <napi.h>

#include <functional>
#include <utility>

#include "errors.hpp"

namespace gamesrv::addon {

template <typename Result>
class PromiseWorker final : public Napi::AsyncWorker {
 public:
  using Run = std::function<Result()>;
  using Settle = std::function<void(Napi::Env, Napi::Promise::Deferred&, Result&)>;

  // `resource`: the async resource's name, as async_hooks and diagnostics show it.
  static Napi::Promise Start(Napi::Env env, Run run, Settle settle, const char* resource = "gamesrv:engine") {
    auto* w = new PromiseWorker(env, resource, std::move(run), std::move(settle));
    Napi::Promise p = w->deferred_.Promise();
    w->Queue();
    return p;
  }

 private:
  PromiseWorker(Napi::Env env, const char* resource, Run run, Settle settle)
      : Napi::AsyncWorker(env, resource),
        deferred_(Napi::Promise::Deferred::New(env)),
        run_(std::move(run)),
        settle_(std::move(settle)) {}
  void Execute() override { result_ = run_(); }
  void OnOK() override { settle_(Env(), deferred_, result_); }
  void OnError(const Napi::Error& e) override {
    deferred_.Reject(engineError(Env(), "INTERNAL", e.Message()).Value());
  }

  Napi::Promise::Deferred deferred_;
  Run run_;
  Settle settle_;
  Result result_{};
};

}  // namespace gamesrv::addon
