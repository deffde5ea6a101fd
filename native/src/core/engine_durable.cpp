// The Engine's input path and the journal's part of start and stop (durability modes,
// gamesrv/durable_events.hpp). Kept apart from engine.cpp, which holds the transitions.
#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <utility>

#include "gamesrv/engine.hpp"

namespace gamesrv {

namespace {

// What a durable result means to a source that only knows EnqueueResult (the pipe, C++
// callers): the journal's refusals read as the queue's (Full: retry later; the rest: not
// accepting), a failed commit as not accepted.
EnqueueResult asEnqueueResult(const DurableResult& d) {
  EnqueueResult r;
  r.available = d.available;
  if (d.ok()) {
    r.firstSeq = d.firstSeq;
    r.lastSeq = d.lastSeq;
    r.accepted = d.accepted;
    return r;
  }
  if (d.status != EnqueueStatus::Ok) {
    r.status = d.status;
  } else {
    r.status = d.journal == JournalStatus::Full ? EnqueueStatus::QueueFull : EnqueueStatus::NotAccepting;
  }
  return r;
}

// One batch's commit, awaited by the thread that submitted it.
class CommitWait {
 public:
  DurableDone callback() {
    return [this](const DurableResult& r) {
      // Notified under the lock: the waiter may return and destroy this object as soon as
      // it sees the result, so nothing of it may be touched after the lock is released.
      std::lock_guard lock(mu_);
      result_ = r;
      cv_.notify_all();
    };
  }
  // The journal runs every accepted batch's completion exactly once (close() included), so
  // this wait always ends.
  DurableResult wait() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return result_.has_value(); });
    return *result_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::optional<DurableResult> result_;  // guarded by mu_
};

}  // namespace

DurableResult Engine::submitEvents(std::vector<GameEvent>& batch, DurableDone done, Wake wake) {
  if (durable_.active()) return durable_.submit(batch, std::move(done));
  DurableResult d;
  const EnqueueResult r = events_.enqueue(std::move(batch), wake);
  d.status = r.status;
  d.available = r.available;
  if (r.status == EnqueueStatus::Ok) {
    d.firstSeq = r.firstSeq;
    d.lastSeq = r.lastSeq;
    d.accepted = r.accepted;
    if (done) done(d);
  }
  return d;
}

EnqueueResult Engine::admit(std::vector<GameEvent>&& batch, Wake wake) {
  if (!durable_.active()) return events_.enqueue(std::move(batch), wake);
  CommitWait w;
  const DurableResult taken = durable_.submit(batch, w.callback());
  if (!taken.ok()) return asEnqueueResult(taken);
  return asEnqueueResult(w.wait());
}

void Engine::admitLater(std::vector<GameEvent>&& batch, std::function<void(const EnqueueResult&)> done) {
  if (!durable_.active()) return done(events_.enqueue(std::move(batch), Wake::Now));
  auto shared = std::make_shared<std::function<void(const EnqueueResult&)>>(std::move(done));
  const DurableResult taken =
      durable_.submit(batch, [shared](const DurableResult& r) { (*shared)(asEnqueueResult(r)); });
  if (!taken.ok()) (*shared)(asEnqueueResult(taken));  // refused at once: the completion never runs
}

EnqueueResult Engine::admitOne(GameEvent&& event, Wake wake) {
  if (!durable_.active()) return events_.enqueueOne(std::move(event), wake);
  std::vector<GameEvent> batch;
  batch.push_back(std::move(event));
  return admit(std::move(batch), wake);
}

EnqueueResult Engine::admitSession(GameEvent& e) {
  if (!durable_.active()) return events_.enqueueOne(std::move(e));
  std::vector<GameEvent> batch;
  batch.push_back(std::move(e));
  // The session learns its input was applied from the replication that follows it; the
  // acknowledgement of the commit itself is not needed.
  const DurableResult taken = durable_.submit(batch, {});
  if (!taken.ok()) e = std::move(batch.front());  // refused: the session holds it (back-pressure)
  return asEnqueueResult(taken);
}

void Engine::setCheckpointSource(std::function<std::uint64_t()> source) {
  std::lock_guard lock(hookMu_);
  checkpointSource_ = std::move(source);
}

std::size_t Engine::checkpointCommitted(std::uint64_t seq, std::error_code& ec) { return durable_.checkpoint(seq, ec); }

// Runs inside the starting transition, before any source or the event thread runs: the
// World gets every journaled event after the checkpoint, with the journal's timestamps.
void Engine::openDurable(const EngineConfig& config, std::uint64_t storedCheckpoint) {
  if (config.durability != Durability::Journal) {
    durable_.useNone();
    return;
  }
  durable_.open(config.dataDir);  // throws: no data directory, corrupt journal, I/O error
  std::function<std::uint64_t()> source;
  {
    std::lock_guard lock(hookMu_);
    source = checkpointSource_;
  }
  try {
    const std::uint64_t checkpoint = std::max(storedCheckpoint, source ? source() : std::uint64_t{0});
    durable_.replay(checkpoint, [this](const GameEvent& e) { world_.apply(e, e.atMs); });
  } catch (...) {
    durable_.close();
    durable_.useNone();
    throw;
  }
}

void Engine::closeDurable() { durable_.close(); }

}  // namespace gamesrv
