#include "durable_binding.hpp"

#include <string>
#include <utility>

#include "errors.hpp"

namespace gamesrv::addon {

std::shared_ptr<DurableAcks> DurableAcks::create(Napi::Env env) {
  auto acks = std::make_shared<DurableAcks>();
  acks->tsfn_ = Napi::ThreadSafeFunction::New(env, Napi::Function::New(env, [](const Napi::CallbackInfo&) {}),
                                              "gamesrv:journal-acks", 0, 1);
  acks->tsfn_.Unref(env);
  return acks;
}

Napi::Error durableError(Napi::Env env, Engine& engine, const DurableResult& r, std::size_t n) {
  if (r.status == EnqueueStatus::QueueFull) {
    Napi::Error err = engineError(env, "QUEUE_FULL",
                                  "queue full: batch of " + std::to_string(n) + " events, room for " +
                                      std::to_string(r.available) + "; nothing was accepted");
    err.Set("available", Napi::Number::New(env, static_cast<double>(r.available)));
    return err;
  }
  if (r.status == EnqueueStatus::Empty) return engineError(env, "INVALID_ARGUMENT", "empty batch");
  if (r.status == EnqueueStatus::NotAccepting || r.journal == JournalStatus::Closed) {
    return engineError(env, "ENGINE_NOT_RUNNING", std::string("engine is ") + toString(engine.state()));
  }
  std::string detail;
  switch (r.journal) {
    case JournalStatus::Full:
      detail = "the journal has too many bytes waiting for their commit; nothing was accepted, retry later";
      break;
    case JournalStatus::TooLarge: detail = "the batch is larger than the journal takes at once"; break;
    case JournalStatus::IoError:
      detail = "the journal could not write the batch (" + r.error.message() + "); nothing was accepted or applied";
      break;
    default: detail = "the journal refused the batch"; break;
  }
  Napi::Error err = engineError(env, journalStatusCode(r.journal), detail);
  err.Set("available", Napi::Number::New(env, static_cast<double>(r.available)));
  return err;
}

Napi::Value DurableAcks::submit(Napi::Env env, Engine& engine, std::vector<GameEvent>&& batch, Wake wake) {
  if (released_) throwEngineError(env, "ENGINE_CLOSED", "engine is closed");
  const std::size_t n = batch.size();
  const std::uint64_t id = nextId_++;
  std::weak_ptr<DurableAcks> self = weak_from_this();
  const DurableResult taken = engine.submitEvents(
      batch,
      [self, id](const DurableResult& r) {
        if (auto acks = self.lock()) acks->onCommit(id, r);
      },
      wake);
  if (!taken.ok()) throw durableError(env, engine, taken, n);
  auto deferred = Napi::Promise::Deferred::New(env);
  Napi::Promise p = deferred.Promise();
  // None mode ran the completion already (inside submitEvents): its result waits in done_
  // and settles with the next call, like every journal commit.
  if (pending_.empty()) tsfn_.Ref(env);
  pending_.emplace(id, std::move(deferred));
  return p;
}

void DurableAcks::onCommit(std::uint64_t id, const DurableResult& r) {
  bool post = false;
  {
    std::lock_guard lock(mu_);
    done_.push_back(Done{id, r});
    post = !posted_;
    posted_ = true;
  }
  if (!post) return;
  std::shared_ptr<DurableAcks> self = shared_from_this();
  const napi_status st = tsfn_.NonBlockingCall([self](Napi::Env env, Napi::Function) { self->settle(env); });
  if (st != napi_ok) {
    std::lock_guard lock(mu_);
    posted_ = false;  // closing: nobody will await these promises any more
  }
}

void DurableAcks::settle(Napi::Env env) {
  std::vector<Done> done;
  {
    std::lock_guard lock(mu_);
    done.swap(done_);
    posted_ = false;
  }
  Napi::HandleScope scope(env);
  for (Done& d : done) {
    auto it = pending_.find(d.id);
    if (it == pending_.end()) continue;
    Napi::Promise::Deferred deferred = std::move(it->second);
    pending_.erase(it);
    const DurableResult& r = d.result;
    if (r.ok()) {
      Napi::Object o = Napi::Object::New(env);
      o.Set("accepted", Napi::Number::New(env, static_cast<double>(r.accepted)));
      o.Set("firstSeq", Napi::Number::New(env, static_cast<double>(r.firstSeq)));
      o.Set("lastSeq", Napi::Number::New(env, static_cast<double>(r.lastSeq)));
      o.Set("available", Napi::Number::New(env, static_cast<double>(r.available)));
      deferred.Resolve(o);
    } else {
      // No engine here: a failed commit is never "not running" (that is refused at once).
      Napi::Error err = engineError(env, journalStatusCode(r.journal),
                                    "the journal could not write the batch (" + r.error.message() +
                                        "); nothing was accepted or applied");
      deferred.Reject(err.Value());
    }
  }
  if (pending_.empty() && !released_) tsfn_.Unref(env);
}

void DurableAcks::release() {
  if (released_) return;
  released_ = true;
  tsfn_.Release();
}

}  // namespace gamesrv::addon
