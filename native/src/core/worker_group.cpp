#include "gamesrv/worker_group.hpp"

#include <condition_variable>
#include <mutex>

#include "gamesrv/clock.hpp"
#include "gamesrv/platform/thread.hpp"

namespace gamesrv {

const char* toString(WorkerState s) noexcept {
  switch (s) {
    case WorkerState::Idle: return "idle";
    case WorkerState::Busy: return "busy";
    case WorkerState::Paused: return "paused";
    case WorkerState::Stopped: return "stopped";
  }
  return "unknown";
}

struct WorkerContext::Slot {
  std::string name;
  std::size_t index = 0;
  std::atomic<std::uint64_t> tid{0};
  // add() waits on these for the thread to publish tid. Not atomic::wait: libstdc++ 12's
  // implementation loses wake-ups on mingw-w64 (winpthreads), and this wait has no timeout.
  std::mutex tidMu;
  std::condition_variable tidCv;
  std::atomic<WorkerState> state{WorkerState::Idle};
  std::atomic<std::uint64_t> items{0};
  std::atomic<std::uint64_t> busyNs{0};
  std::atomic<std::uint64_t> finalCpuNs{0};
  bool exited = false;  // guarded by WorkerGroup::mu_
  std::jthread thread;  // started and joined under WorkerGroup::mu_
};

std::size_t WorkerContext::index() const noexcept { return slot_->index; }
const std::string& WorkerContext::name() const noexcept { return slot_->name; }

void WorkerContext::setState(WorkerState s) noexcept { slot_->state.store(s, std::memory_order_relaxed); }

void WorkerContext::beginWork() noexcept {
  workStartNs_ = nowNs();
  slot_->state.store(WorkerState::Busy, std::memory_order_relaxed);
}

void WorkerContext::endWork(std::uint64_t items) noexcept {
  slot_->busyNs.fetch_add(nowNs() - workStartNs_, std::memory_order_relaxed);
  slot_->items.fetch_add(items, std::memory_order_relaxed);
  slot_->state.store(WorkerState::Idle, std::memory_order_relaxed);
}

WorkerGroup::WorkerGroup(std::string namePrefix) : prefix_(std::move(namePrefix)) {}

WorkerGroup::~WorkerGroup() {
  requestStop();
  // Exiting threads take mu_ to mark themselves exited, so never join while holding it
  // on a thread that has not marked itself yet.
  while (!joinFor(std::chrono::hours(1))) {
  }
}

void WorkerGroup::start(std::size_t count, const Body& body) {
  for (std::size_t i = 0; i < count; ++i) add(body);
}

std::size_t WorkerGroup::add(Body body) {
  std::lock_guard lock(mu_);
  reapLocked();
  auto slot = std::make_unique<WorkerContext::Slot>();
  slot->index = nextIndex_++;
  slot->name = prefix_ + "-" + std::to_string(slot->index);
  WorkerContext::Slot* raw = slot.get();
  slots_.push_back(std::move(slot));
  // If the thread cannot be created, drop the slot again: a slot without a thread
  // would never report itself exited and joinFor() would wait forever.
  struct Undo {
    std::list<std::unique_ptr<WorkerContext::Slot>>& slots;
    bool armed = true;
    ~Undo() {
      if (armed) slots.pop_back();
    }
  } undo{slots_};
  raw->thread = std::jthread([this, raw, body = std::move(body)](std::stop_token token) {
    platform::setCurrentThreadName(raw->name);
    {
      std::lock_guard l(raw->tidMu);
      raw->tid.store(platform::currentThreadId(), std::memory_order_release);
    }
    raw->tidCv.notify_all();
    WorkerContext ctx(raw, std::move(token));
    body(ctx);
    raw->finalCpuNs.store(platform::currentThreadCpuNs(), std::memory_order_relaxed);
    raw->state.store(WorkerState::Stopped, std::memory_order_relaxed);
    std::lock_guard l(mu_);
    raw->exited = true;
    exitedCv_.notify_all();
  });
  undo.armed = false;
  // Stats must never show a thread without its OS id: wait for the thread to publish it
  // (it does so first thing, before running the body).
  {
    std::unique_lock l(raw->tidMu);
    raw->tidCv.wait(l, [raw] { return raw->tid.load(std::memory_order_acquire) != 0; });
  }
  return raw->index;
}

void WorkerGroup::reapLocked() {
  for (auto it = slots_.begin(); it != slots_.end();) {
    auto& s = *it;
    if (!s->exited) {
      ++it;
      continue;
    }
    // An exited thread only has to return from its function: the join is immediate.
    if (s->thread.joinable()) s->thread.join();
    retired_.threads += 1;
    retired_.items += s->items.load(std::memory_order_relaxed);
    retired_.busyNs += s->busyNs.load(std::memory_order_relaxed);
    retired_.cpuNs += s->finalCpuNs.load(std::memory_order_relaxed);
    it = slots_.erase(it);
  }
}

void WorkerGroup::requestStop() {
  std::lock_guard lock(mu_);
  for (auto& s : slots_) s->thread.request_stop();
}

bool WorkerGroup::joinFor(std::chrono::nanoseconds timeout) {
  std::unique_lock lock(mu_);
  const auto deadline = SteadyClock::now() + timeout;
  exitedCv_.wait_until(lock, deadline, [&] {
    for (auto& s : slots_) {
      if (!s->exited) return false;
    }
    return true;
  });
  reapLocked();
  return slots_.empty();
}

std::vector<WorkerStats> WorkerGroup::stats() const {
  std::lock_guard lock(mu_);
  std::vector<WorkerStats> out;
  out.reserve(slots_.size());
  for (auto& s : slots_) {
    WorkerStats w;
    w.name = s->name;
    w.tid = s->tid.load(std::memory_order_relaxed);
    w.state = s->state.load(std::memory_order_relaxed);
    w.items = s->items.load(std::memory_order_relaxed);
    w.busyNs = s->busyNs.load(std::memory_order_relaxed);
    // Joins happen only under mu_, which we hold: the handle is still valid here.
    std::optional<std::uint64_t> cpu;
    if (!s->exited) cpu = platform::threadCpuNs(const_cast<std::jthread&>(s->thread).native_handle());
    w.cpuNs = cpu ? *cpu : s->finalCpuNs.load(std::memory_order_relaxed);
    out.push_back(std::move(w));
  }
  return out;
}

RetiredTotals WorkerGroup::retired() const {
  std::lock_guard lock(mu_);
  return retired_;
}

std::size_t WorkerGroup::alive() const {
  std::lock_guard lock(mu_);
  std::size_t n = 0;
  for (auto& s : slots_) n += s->exited ? 0 : 1;
  return n;
}

}  // namespace gamesrv
