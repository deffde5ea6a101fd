// ThreadPool timers: one timer thread over a deadline-ordered set under timerMu_. Due
// firings enter the locked lane (they can be cancelled with their group).
#include "gamesrv/thread_pool_backend.hpp"
#include "thread_pool_impl.hpp"

namespace gamesrv {

using namespace detail;

void ThreadPool::Impl::dropTimer(Timer& t) {
  if (t.periodNs == 0 && t.item.onCancel) {
    try {
      t.item.onCancel();
    } catch (...) {
    }
  }
  if (t.group) t.group->memberDone();
}

TimerId ThreadPool::scheduleAfter(std::chrono::nanoseconds delay, WorkItem item, CleanupGroup* group) {
  if (backend_) return backend_->scheduleAfter(delay, std::move(item), group);
  Timer t;
  t.dueNs = deadlineAfter(nowNs(), delay);
  t.item = std::move(item);
  t.group = group;
  return impl_->addTimer(std::move(t));
}

TimerId ThreadPool::schedulePeriodic(std::chrono::nanoseconds firstDelay, std::chrono::nanoseconds period,
                                     std::function<void()> fn, CleanupGroup* group) {
  if (period.count() <= 0) return 0;
  if (backend_) return backend_->schedulePeriodic(firstDelay, period, std::move(fn), group);
  Timer t;
  t.dueNs = deadlineAfter(nowNs(), firstDelay);
  t.periodNs = static_cast<std::uint64_t>(period.count());
  t.periodic = std::make_shared<PeriodicState>();
  t.periodic->fn = std::move(fn);
  t.group = group;
  return impl_->addTimer(std::move(t));
}

bool ThreadPool::cancelTimer(TimerId id) { return backend_ ? backend_->cancelTimer(id) : impl_->cancelTimer(id); }

TimerId ThreadPool::Impl::addTimer(Timer t) {
  if (t.group) t.group->addMembers(1);
  {
    std::lock_guard lock(timerMu_);
    if (!timersClosed_) {
      const TimerId id = nextTimerId_++;
      const bool earliest = dueOrder_.empty() || t.dueNs < dueOrder_.begin()->first;
      dueOrder_.emplace(t.dueNs, id);
      timers_.emplace(id, std::move(t));
      if (earliest) timerCv_.notify_one();
      return id;
    }
  }
  if (t.group) t.group->memberDone();
  return 0;
}

bool ThreadPool::Impl::cancelTimer(TimerId id) {
  Timer t;
  {
    std::lock_guard lock(timerMu_);
    auto it = timers_.find(id);
    if (it == timers_.end()) return false;
    t = std::move(it->second);
    dueOrder_.erase({t.dueNs, id});
    timers_.erase(it);
    ++timersCancelled_;
  }
  dropTimer(t);
  return true;
}

// Cancels the timers of one group (or all, closing the timer table). Returns how many.
std::size_t ThreadPool::Impl::cancelTimers(const CleanupGroup* onlyGroup, bool close) {
  std::vector<Timer> dropped;
  {
    std::lock_guard lock(timerMu_);
    if (close) timersClosed_ = true;
    for (auto it = timers_.begin(); it != timers_.end();) {
      if (onlyGroup == nullptr || it->second.group == onlyGroup) {
        dueOrder_.erase({it->second.dueNs, it->first});
        dropped.push_back(std::move(it->second));
        it = timers_.erase(it);
      } else {
        ++it;
      }
    }
    timersCancelled_ += dropped.size();
  }
  for (Timer& t : dropped) dropTimer(t);
  return dropped.size();
}

// Moves every timer due at `now` into `out` and re-arms periodic ones on their grid.
// Requires: timerMu_ held.
void ThreadPool::Impl::collectDueLocked(std::uint64_t now, std::vector<Entry>& out) {
  while (!dueOrder_.empty() && dueOrder_.begin()->first <= now) {
    const auto [due, id] = *dueOrder_.begin();
    dueOrder_.erase(dueOrder_.begin());
    auto it = timers_.find(id);
    Timer& t = it->second;
    if (t.periodNs == 0) {
      out.push_back(Entry{std::move(t.item.run), t.group, ticks(), Entry::makeExtra(std::move(t.item.onCancel), due)});
      timers_.erase(it);
      continue;
    }
    if (t.periodic->inFlight.exchange(true, std::memory_order_acq_rel)) {
      ++timerSkipped_;
    } else {
      if (t.group) t.group->addMembers(1);
      auto st = t.periodic;
      Entry e;
      e.run = [st] {
        struct Clear {
          PeriodicState* s;
          ~Clear() { s->inFlight.store(false, std::memory_order_release); }
        } clear{st.get()};
        st->fn();
      };
      e.extra = Entry::makeExtra([st] { st->inFlight.store(false, std::memory_order_release); }, due);
      e.group = t.group;
      e.enqueuedTicks = ticks();
      out.push_back(std::move(e));
    }
    // Absolute grid: start + k * period. Grid points already past are skipped, not bunched.
    std::uint64_t next = due + t.periodNs;
    if (next <= now) {
      const std::uint64_t missed = (now - next) / t.periodNs + 1;
      timerSkipped_ += missed;
      next += missed * t.periodNs;
    }
    t.dueNs = next;
    dueOrder_.emplace(next, id);
  }
}

void ThreadPool::Impl::timerMain(WorkerContext& ctx) {
  std::stop_callback onStop(ctx.stopToken(), [this] {
    std::lock_guard lock(timerMu_);
    timerCv_.notify_all();
  });
  std::vector<Entry> firings;
  std::unique_lock lock(timerMu_);
  while (!ctx.stopRequested()) {
    if (timerPaused_ || dueOrder_.empty()) {
      ctx.setState(timerPaused_ ? WorkerState::Paused : WorkerState::Idle);
      timerCv_.wait(lock);
      continue;
    }
    const std::uint64_t first = dueOrder_.begin()->first;
    const std::uint64_t now = nowNs();
    if (first > now) {
      ctx.setState(WorkerState::Idle);
      timerCv_.wait_until(lock, fromNs(first));
      continue;
    }
    ctx.beginWork();
    collectDueLocked(now, firings);
    timersFired_ += firings.size();
    const std::size_t n = firings.size();
    lock.unlock();
    if (n > 0) enqueueFirings(firings);
    firings.clear();
    ctx.endWork(n);
    lock.lock();
  }
}

}  // namespace gamesrv
