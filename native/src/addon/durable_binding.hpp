// DurableAcks: the journal mode's acknowledgements, carried to JS. An event batch offered
// in `durability: journal` gets a promise; the journal's committer thread reports each
// commit here (plain data, swapped under a lock) and one thread-safe function call per
// burst of commits settles their promises on the JS thread, in commit order.
//
// Lifetime: one per EngineWrap, created at its first durable batch; completions hold it by
// shared_ptr. The thread-safe function keeps the event loop alive only while a promise is
// pending (ref on 0 -> 1 pending, unref on 1 -> 0). release() (after the engine's close,
// when no commit can complete any more) ends it; the environment's teardown finalizes it
// otherwise, and a commit reported after that is dropped (its promise can never be awaited).
//
// Thread safety: submit()/release() on the JS thread; the completion on any thread.
#pragma once
#include <napi.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "gamesrv/engine.hpp"

namespace gamesrv::addon {

class DurableAcks : public std::enable_shared_from_this<DurableAcks> {
 public:
  static std::shared_ptr<DurableAcks> create(Napi::Env env);
  // Hands `batch` to the engine. Throws what an immediate refusal means (as the
  // synchronous enqueue does); returns a promise of {accepted, firstSeq, lastSeq, available}.
  Napi::Value submit(Napi::Env env, Engine& engine, std::vector<GameEvent>&& batch, Wake wake);
  void release();

 private:
  struct Done {
    std::uint64_t id;
    DurableResult result;
  };
  void onCommit(std::uint64_t id, const DurableResult& r);  // any thread
  void settle(Napi::Env env);                               // JS thread

  Napi::ThreadSafeFunction tsfn_;
  bool released_ = false;                                             // JS thread only
  std::unordered_map<std::uint64_t, Napi::Promise::Deferred> pending_;  // JS thread only
  std::uint64_t nextId_ = 1;                                          // JS thread only
  std::mutex mu_;
  std::vector<Done> done_;  // guarded by mu_
  bool posted_ = false;     // guarded by mu_: a settle call is on its way
};

// The error a refused or failed durable batch of `n` events becomes (stable codes:
// QUEUE_FULL, ENGINE_NOT_RUNNING, JOURNAL_FULL, JOURNAL_IO_ERROR, ...).
Napi::Error durableError(Napi::Env env, Engine& engine, const DurableResult& r, std::size_t n);

}  // namespace gamesrv::addon
