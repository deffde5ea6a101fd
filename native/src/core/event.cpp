#include "gamesrv/event.hpp"

#include <algorithm>

namespace gamesrv {

Event::Event(Reset reset, bool initiallySet) : manual_(reset == Reset::Manual), signaled_(initiallySet) {}

void Event::set() {
  std::lock_guard lock(mu_);
  signaled_ = true;
  if (manual_) {
    cv_.notify_all();
  } else {
    cv_.notify_one();
  }
  // Lock order: Event::mu_ before Waiter::mu.
  for (Waiter* w : waiters_) {
    std::lock_guard wl(w->mu);
    ++w->generation;
    w->cv.notify_all();
  }
}

void Event::reset() {
  std::lock_guard lock(mu_);
  signaled_ = false;
}

bool Event::isSet() const {
  std::lock_guard lock(mu_);
  return signaled_;
}

bool Event::tryConsumeLocked() {
  if (!signaled_) return false;
  if (!manual_) signaled_ = false;
  return true;
}

void Event::wait() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return signaled_; });
  tryConsumeLocked();
}

bool Event::waitUntil(std::chrono::steady_clock::time_point deadline) {
  std::unique_lock lock(mu_);
  if (!cv_.wait_until(lock, deadline, [&] { return signaled_; })) return false;
  tryConsumeLocked();
  return true;
}

bool Event::waitFor(std::chrono::nanoseconds timeout) {
  return waitUntil(std::chrono::steady_clock::now() + timeout);
}

void Event::addWaiter(Waiter* w) {
  std::lock_guard lock(mu_);
  waiters_.push_back(w);
}

void Event::removeWaiter(Waiter* w) {
  std::lock_guard lock(mu_);
  waiters_.erase(std::remove(waiters_.begin(), waiters_.end(), w), waiters_.end());
}

namespace {
// Distinct events in address order: the global lock order for waitAll.
std::vector<Event*> lockOrder(std::span<Event* const> events) {
  std::vector<Event*> v(events.begin(), events.end());
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
  return v;
}
}  // namespace

std::optional<std::size_t> Event::waitAny(std::span<Event* const> events, std::chrono::nanoseconds timeout) {
  if (events.empty()) return std::nullopt;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  Waiter w;
  for (Event* e : events) e->addWaiter(&w);
  std::optional<std::size_t> hit;
  for (;;) {
    std::uint64_t seen;
    {
      std::lock_guard wl(w.mu);
      seen = w.generation;
    }
    for (std::size_t i = 0; i < events.size() && !hit; ++i) {
      std::lock_guard lock(events[i]->mu_);
      if (events[i]->tryConsumeLocked()) hit = i;
    }
    if (hit) break;
    std::unique_lock wl(w.mu);
    if (!w.cv.wait_until(wl, deadline, [&] { return w.generation != seen; })) break;
  }
  for (Event* e : events) e->removeWaiter(&w);
  return hit;
}

// Takes the events one at a time in address order (never more than one event lock held,
// so any number of events works, and sanitizers' lock tables stay small). Auto-reset
// events are consumed as they are taken; if one is found unset, the ones taken so far
// are given back (set again, which also wakes their waiters) and the wait goes on. So a
// set() is never lost, and the wait succeeds at the instant its last event is taken,
// holding every auto-reset member at that instant. Manual-reset members are checked.
bool Event::waitAll(std::span<Event* const> events, std::chrono::nanoseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  const std::vector<Event*> ordered = lockOrder(events);
  if (ordered.empty()) return true;
  Waiter w;
  for (Event* e : ordered) e->addWaiter(&w);
  bool done = false;
  std::vector<Event*> taken;
  taken.reserve(ordered.size());
  for (;;) {
    done = true;
    Event* missing = nullptr;
    for (Event* e : ordered) {
      std::lock_guard lock(e->mu_);
      if (!e->signaled_) {
        done = false;
        missing = e;
        break;
      }
      if (!e->manual_) {
        e->signaled_ = false;
        taken.push_back(e);
      }
    }
    if (done) break;
    for (Event* e : taken) e->set();  // give back what we took (this bumps our generation)
    taken.clear();
    std::uint64_t seen;
    {
      std::lock_guard wl(w.mu);
      seen = w.generation;
    }
    // A set() of the missing event before `seen` was read shows here; one after it
    // changes the generation and ends the wait below.
    if (missing->isSet()) continue;
    std::unique_lock wl(w.mu);
    if (!w.cv.wait_until(wl, deadline, [&] { return w.generation != seen; })) break;
  }
  for (Event* e : ordered) e->removeWaiter(&w);
  return done;
}

}  // namespace gamesrv
