// ThreadPoolBackend::Native on Windows: timers, one TP_TIMER each (see
// thread_pool_win32.hpp). A timer callback only moves a firing into the FIFO.
#include <algorithm>

#include "gamesrv/clock.hpp"
#include "thread_pool_win32.hpp"

namespace gamesrv::platform::win32 {

namespace {

// The window length lets the OS batch expirations: a timer may fire up to
// due/kWindowDivisor late (capped at kMaxWindowMs), a small share of its own delay.
constexpr std::uint64_t kWindowDivisor = 16;
constexpr std::uint64_t kMaxWindowMs = 10;

std::uint64_t dueAfter(std::chrono::nanoseconds d) noexcept {
  constexpr std::uint64_t kFar = std::uint64_t{1} << 62;
  const std::uint64_t now = nowNs();
  if (d.count() <= 0) return now;
  const auto add = static_cast<std::uint64_t>(d.count());
  return add >= kFar - now ? kFar : now + add;
}

}  // namespace

TimerId NativePool::scheduleAfter(std::chrono::nanoseconds delay, WorkItem&& item, CleanupGroup* group) {
  auto rec = std::make_unique<TimerRec>();
  rec->dueNs = dueAfter(delay);
  rec->item = std::move(item);
  rec->group = group;
  return addTimer(std::move(rec));
}

TimerId NativePool::schedulePeriodic(std::chrono::nanoseconds firstDelay, std::chrono::nanoseconds period,
                                     std::function<void()>&& fn, CleanupGroup* group) {
  if (period.count() <= 0) return 0;
  auto rec = std::make_unique<TimerRec>();
  rec->dueNs = dueAfter(firstDelay);
  rec->periodNs = static_cast<std::uint64_t>(period.count());
  rec->periodic = std::make_shared<PeriodicState>();
  rec->periodic->fn = std::move(fn);
  rec->group = group;
  return addTimer(std::move(rec));
}

TimerId NativePool::addTimer(std::unique_ptr<TimerRec> rec) {
  reapRetired();
  rec->pool = this;
  if (rec->group) addMembers(*rec->group, 1);
  {
    std::lock_guard lock(mu_);
    if (!closed_) rec->timer = ::CreateThreadpoolTimer(&NativePool::timerCallback, rec.get(), &env_);
    if (rec->timer) {
      const TimerId id = nextTimerId_++;
      rec->id = id;
      rec->live = true;
      armLocked(*rec, nowNs());
      timers_.emplace(id, std::move(rec));
      return id;
    }
  }
  if (rec->group) memberDone(*rec->group);  // shutting down (or the OS refused a timer)
  return 0;
}

void NativePool::armLocked(TimerRec& r, std::uint64_t now) {
  const std::uint64_t delta = r.dueNs > now ? r.dueNs - now : 0;
  ULARGE_INTEGER rel;
  rel.QuadPart = static_cast<ULONGLONG>(-static_cast<LONGLONG>((delta + 99) / 100));  // negative: relative, 100 ns
  FILETIME ft;
  ft.dwLowDateTime = rel.LowPart;
  ft.dwHighDateTime = rel.HighPart;
  const std::uint64_t spanMs = (r.periodNs != 0 ? r.periodNs : delta) / 1'000'000;
  const auto window = static_cast<DWORD>(std::min(spanMs / kWindowDivisor, kMaxWindowMs));
  ::SetThreadpoolTimer(r.timer, &ft, 0, window);
}

void CALLBACK NativePool::timerCallback(PTP_CALLBACK_INSTANCE, PVOID context, PTP_TIMER) {
  auto& r = *static_cast<TimerRec*>(context);
  r.pool->onTimer(r);
}

void NativePool::onTimer(TimerRec& r) {
  std::lock_guard lock(mu_);
  if (!r.live) return;  // cancelled while this callback was on its way
  const std::uint64_t now = nowNs();
  if (now < r.dueNs) {  // the OS clock ran a little ahead of ours: never fire early
    armLocked(r, now);
    return;
  }
  if (paused_) {
    r.heldDue = true;  // resume() fires it
    return;
  }
  fireLocked(r, now);
}

void NativePool::fireLocked(TimerRec& r, std::uint64_t now) {
  if (r.periodNs == 0) {
    ++timersFired_;
    enqueueFiringLocked(QueuedItem{std::move(r.item.run), std::move(r.item.onCancel), r.group, now, r.dueNs});
    r.group = nullptr;  // membership moved to the firing
    retireLocked(r);
    return;
  }
  if (r.periodic->inFlight.exchange(true, std::memory_order_acq_rel)) {
    ++timerSkipped_;
  } else {
    ++timersFired_;
    if (r.group) addMembers(*r.group, 1);
    auto st = r.periodic;
    QueuedItem e;
    e.run = [st] {
      struct Clear {
        PeriodicState* s;
        ~Clear() { s->inFlight.store(false, std::memory_order_release); }
      } clear{st.get()};
      st->fn();
    };
    e.onCancel = [st] { st->inFlight.store(false, std::memory_order_release); };
    e.group = r.group;
    e.enqueuedNs = now;
    e.dueNs = r.dueNs;
    enqueueFiringLocked(std::move(e));
  }
  // Absolute grid: start + k * period. Grid points already past are skipped, not bunched.
  std::uint64_t next = r.dueNs + r.periodNs;
  if (next <= now) {
    const std::uint64_t missed = (now - next) / r.periodNs + 1;
    timerSkipped_ += missed;
    next += missed * r.periodNs;
  }
  r.dueNs = next;
  armLocked(r, now);
}

// Takes a timer out of the live table; its TP timer is closed later by reapRetired().
void NativePool::retireLocked(TimerRec& r) {
  r.live = false;
  auto it = timers_.find(r.id);
  retired_.push_back(std::move(it->second));
  timers_.erase(it);
  haveRetired_ = true;
}

// What cancelling a timer owes: a one-shot's onCancel, and the timer's group membership.
// Taken under mu_, run after it, when the record may already be freed.
NativePool::TimerDrop NativePool::takeDropLocked(TimerRec& r) {
  TimerDrop d{r.periodNs == 0 ? std::move(r.item.onCancel) : nullptr, r.group};
  r.item = WorkItem{};
  r.group = nullptr;
  return d;
}

void NativePool::runDrop(TimerDrop& d) {
  if (d.onCancel) {
    try {
      d.onCancel();
    } catch (...) {
    }
    d.onCancel = nullptr;
  }
  if (d.group) memberDone(*d.group);
}

bool NativePool::cancelTimer(TimerId id) {
  TimerDrop drop;
  {
    std::lock_guard lock(mu_);
    auto it = timers_.find(id);
    if (it == timers_.end()) return false;
    TimerRec& r = *it->second;
    ++timersCancelled_;
    drop = takeDropLocked(r);
    retireLocked(r);
  }
  runDrop(drop);
  reapRetired();
  return true;
}

std::size_t NativePool::cancelTimers(const CleanupGroup* onlyGroup) {
  std::vector<TimerDrop> dropped;
  {
    std::lock_guard lock(mu_);
    std::vector<TimerRec*> matching;
    for (auto& [id, t] : timers_)
      if (onlyGroup == nullptr || t->group == onlyGroup) matching.push_back(t.get());
    for (TimerRec* t : matching) {
      dropped.push_back(takeDropLocked(*t));
      retireLocked(*t);
    }
    timersCancelled_ += dropped.size();
  }
  for (TimerDrop& d : dropped) runDrop(d);
  reapRetired();
  return dropped.size();
}

// Closes the TP timers of retired records, waiting out (or cancelling) their callbacks,
// then frees the records. Never called from a timer callback.
void NativePool::reapRetired() {
  std::lock_guard reap(reapMu_);
  if (finished_) return;  // the cleanup group closed them all
  std::vector<std::unique_ptr<TimerRec>> done;
  {
    std::lock_guard lock(mu_);
    done.swap(retired_);
    haveRetired_ = false;
  }
  for (auto& r : done) {
    ::SetThreadpoolTimer(r->timer, nullptr, 0, 0);
    ::WaitForThreadpoolTimerCallbacks(r->timer, TRUE);
    ::CloseThreadpoolTimer(r->timer);
  }
}

}  // namespace gamesrv::platform::win32
