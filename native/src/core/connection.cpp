#include "gamesrv/connection.hpp"

namespace gamesrv {
namespace {

// The gate whose dispatch the calling thread is inside (nullptr: none).
thread_local const void* tlsInsideGate = nullptr;

constexpr auto kRelaxed = std::memory_order_relaxed;

}  // namespace

bool ConnectionCounters::tryAdmit(std::size_t limit) noexcept {
  std::size_t now = active_.load(kRelaxed);
  do {
    if (now >= limit) return false;
  } while (!active_.compare_exchange_weak(now, now + 1, kRelaxed));
  std::size_t peak = peakActive_.load(kRelaxed);
  while (peak < now + 1 && !peakActive_.compare_exchange_weak(peak, now + 1, kRelaxed)) {
  }
  accepted_.fetch_add(1, kRelaxed);
  return true;
}

void ConnectionCounters::closed(bool ioError) noexcept {
  active_.fetch_sub(1, kRelaxed);
  closed_.fetch_add(1, kRelaxed);
  if (ioError) ioErrors_.fetch_add(1, kRelaxed);
}

std::size_t ConnectionCounters::closeAll() noexcept {
  const std::size_t n = active_.exchange(0, kRelaxed);
  closed_.fetch_add(n, kRelaxed);
  return n;
}

void ConnectionCounters::frameIn(std::uint64_t bytes) noexcept {
  framesIn_.fetch_add(1, kRelaxed);
  bytesIn_.fetch_add(bytes, kRelaxed);
}

void ConnectionCounters::frameOut(std::uint64_t bytes) noexcept {
  framesOut_.fetch_add(1, kRelaxed);
  bytesOut_.fetch_add(bytes, kRelaxed);
}

void ConnectionCounters::unsent(std::uint64_t bytes) noexcept {
  framesOut_.fetch_sub(1, kRelaxed);
  bytesOut_.fetch_sub(bytes, kRelaxed);
}

ConnectionCounts ConnectionCounters::read() const noexcept {
  ConnectionCounts c;
  c.accepted = accepted_.load(kRelaxed);
  c.refused = refused_.load(kRelaxed);
  c.closed = closed_.load(kRelaxed);
  c.active = active_.load(kRelaxed);
  c.peakActive = peakActive_.load(kRelaxed);
  c.framesIn = framesIn_.load(kRelaxed);
  c.framesOut = framesOut_.load(kRelaxed);
  c.bytesIn = bytesIn_.load(kRelaxed);
  c.bytesOut = bytesOut_.load(kRelaxed);
  c.deferredWrites = deferredWrites_.load(kRelaxed);
  c.ioErrors = ioErrors_.load(kRelaxed);
  return c;
}

bool ServerGate::beginStop(Lock& lock) {
  const bool fromDispatch = tlsInsideGate == this;
  if (state_ == State::Created) {
    state_ = State::Stopped;
    return false;
  }
  if (state_ != State::Running) {  // stopped, or another thread is stopping it
    if (!fromDispatch) changed_.wait(lock, [&] { return state_ == State::Stopped; });
    return false;
  }
  state_ = State::Stopping;
  const std::size_t self = fromDispatch ? 1 : 0;
  changed_.wait(lock, [&] { return inFlight_ <= self; });
  return true;
}

void ServerGate::finishStop(Lock&) noexcept {
  state_ = State::Stopped;
  changed_.notify_all();
}

void ServerGate::leave() {
  Lock lock(mu_);
  leaveLocked();
}

void ServerGate::leaveLocked() noexcept {
  --inFlight_;
  if (state_ != State::Running) changed_.notify_all();  // beginStop() waits for 0, or 1 from a handler
}

ServerGate::Dispatch::Dispatch(ServerGate& gate) noexcept : gate_(gate), outer_(tlsInsideGate) { tlsInsideGate = &gate; }

ServerGate::Dispatch::~Dispatch() {
  tlsInsideGate = outer_;
  gate_.leave();
}

}  // namespace gamesrv
