// CompletionPort over epoll + eventfd. See completion_port.hpp for the contract; the
// notes here say how it is kept. The counters, stats() and the running-thread records
// are the portable base's (gamesrv/completion_port_core.hpp).
//
// - One mutex `mu_` guards the packet FIFO (posted and harvested I/O packets together),
//   the counters and the thread bookkeeping. No syscall runs under it except epoll_ctl
//   in associate()/disassociate() and the futex wakes of condition variables.
// - Waiting threads: at most one "poller" blocks in epoll_wait, and only while handles
//   are associated; every other waiter sleeps on its own condition variable in a LIFO
//   stack (`sleepers_`). A packet wakes a sleeper (futex), or the poller through the
//   eventfd only when no sleeper is left, and nobody at all when the threads already
//   woken (or running and coming back) cover the queued packets. So a steady stream of
//   posts to busy threads costs no syscall per post, and with no handle associated the
//   eventfd is never touched.
// - Handles are registered EPOLLONESHOT and level-triggered: the kernel reports one arm
//   once, to the one poller, which queues it as a packet; rearm() is EPOLL_CTL_MOD.
// - A thread's "running on port X" record is thread_local and holds the Impl weakly, so
//   a thread that exits or moves to another port gives its concurrency slot back.
//   Two port locks are never held together.
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <deque>
#include <limits>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

#include "gamesrv/completion_port_core.hpp"

namespace gamesrv {
namespace {

constexpr int kMaxEventsPerPoll = 64;

std::uint32_t epollBits(IoEvents interest) {
  std::uint32_t bits = EPOLLONESHOT;
  if (any(interest & IoEvents::Readable)) bits |= EPOLLIN | EPOLLRDHUP;
  if (any(interest & IoEvents::Writable)) bits |= EPOLLOUT;
  return bits;
}

IoEvents ioEventsOf(std::uint32_t bits) {
  IoEvents e = IoEvents::None;
  if (bits & EPOLLIN) e = e | IoEvents::Readable;
  if (bits & EPOLLOUT) e = e | IoEvents::Writable;
  if (bits & (EPOLLHUP | EPOLLRDHUP)) e = e | IoEvents::Hangup;
  if (bits & EPOLLERR) e = e | IoEvents::Error;
  return e;
}

PortStatus statusOfErrno(int err) {
  switch (err) {
    case EBADF:
    case EEXIST:
    case ENOENT:
    case EPERM:
    case EINVAL: return PortStatus::InvalidArgument;
    default: return PortStatus::SystemError;
  }
}

}  // namespace

struct EpollPort final : CompletionPort::Impl {
  explicit EpollPort(const CompletionPortConfig& config);
  ~EpollPort() override;

  PortStatus associate(NativeHandle handle, CompletionKey key, IoEvents interest) override;
  PortStatus rearm(NativeHandle handle, CompletionKey key, IoEvents interest) override;
  PortStatus disassociate(NativeHandle handle) override;
  PortStatus post(const CompletionPacket& packet) override;
  PortStatus dequeue(std::span<CompletionPacket> out, std::size_t& count, std::chrono::nanoseconds timeout) override;
  void releaseRunning() override;
  void shutdown() override;
  void close() override;

 private:
  struct Sleeper {
    std::condition_variable cv;
    bool signaled = false;  // guarded by mu_: popped from sleepers_ by a waker
  };

  bool releasedLocked() const { return closed_ || (draining_ && queue_.empty()); }  // Requires: mu_ held.
  // Wakes whoever the current state needs; true if the eventfd must be written (after
  // unlocking). Requires: mu_ held.
  bool wakeLocked();
  void signalTopSleeperLocked();  // Requires: mu_ held, sleepers_ not empty.
  std::size_t takeLocked(std::span<CompletionPacket> out);  // Requires: mu_ held.
  // Blocks in epoll_wait without mu_, then queues what it harvested. Requires: mu_ held.
  void pollLocked(std::unique_lock<std::mutex>& lock, int timeoutMs);
  void sleepLocked(std::unique_lock<std::mutex>& lock, TimePoint deadline, bool infinite);  // Requires: mu_ held.
  void writeWakeFd() const;
  void drainWakeFd() const;

  std::size_t queueDepthLocked() const override { return queue_.size(); }
  std::size_t associatedLocked() const override { return associated_; }
  std::size_t waitingLocked() const override { return sleepers_.size() + woken_ + (pollerActive_ ? 1 : 0); }

  int epfd_ = -1;
  int wakefd_ = -1;
  std::atomic<bool> refusing_{false};  // mirrors closed_ || draining_ for the lock-free rearm()

  std::deque<CompletionPacket> queue_;  // guarded by mu_
  std::size_t postedQueued_ = 0;        // guarded by mu_: Posted packets in queue_ (the bounded kind)
  std::vector<Sleeper*> sleepers_;      // guarded by mu_; back() waited last and is woken first
  std::size_t woken_ = 0;               // guarded by mu_: sleepers signalled, not yet awake
  bool pollerActive_ = false;           // guarded by mu_: a thread is in (or entering) epoll_wait
  bool pollerSignaled_ = false;         // guarded by mu_: the eventfd was (or is about to be) written for it
  std::size_t associated_ = 0;          // guarded by mu_
};

namespace {

// The calling thread's record; its destructor gives back a slot held at thread exit.
struct ThreadRunning : RunningOn {
  ~ThreadRunning() { releaseAtExit(); }
};
thread_local ThreadRunning tlsRunning;

}  // namespace

std::shared_ptr<CompletionPort::Impl> CompletionPort::Impl::create(const CompletionPortConfig& config) {
  return std::make_shared<EpollPort>(config);
}

EpollPort::EpollPort(const CompletionPortConfig& config) : Impl(config) {
  epfd_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (epfd_ < 0) throw std::system_error(errno, std::generic_category(), "epoll_create1");
  wakefd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wakefd_ < 0) {
    const int err = errno;
    ::close(epfd_);
    throw std::system_error(err, std::generic_category(), "eventfd");
  }
  epoll_event ev{};
  ev.events = EPOLLIN;  // level-triggered: stays ready until a poller reads it
  ev.data.u64 = kReservedKey;
  if (::epoll_ctl(epfd_, EPOLL_CTL_ADD, wakefd_, &ev) != 0) {
    const int err = errno;
    ::close(wakefd_);
    ::close(epfd_);
    throw std::system_error(err, std::generic_category(), "epoll_ctl(eventfd)");
  }
}

EpollPort::~EpollPort() {
  ::close(wakefd_);
  ::close(epfd_);
}

void EpollPort::writeWakeFd() const {
  const std::uint64_t one = 1;
  ssize_t r;
  do {
    r = ::write(wakefd_, &one, sizeof one);
  } while (r < 0 && errno == EINTR);
  // EAGAIN would mean the counter is near 2^64: the fd is readable anyway.
}

void EpollPort::drainWakeFd() const {
  std::uint64_t value;
  ssize_t r;
  do {
    r = ::read(wakefd_, &value, sizeof value);
  } while (r < 0 && errno == EINTR);
}

PortStatus EpollPort::associate(NativeHandle handle, CompletionKey key, IoEvents interest) {
  if (handle < 0 || handle > std::numeric_limits<int>::max() || key == kReservedKey) return PortStatus::InvalidArgument;
  std::unique_lock lock(mu_);
  if (closed_ || draining_) return PortStatus::Closed;
  epoll_event ev{};
  ev.events = epollBits(interest);
  ev.data.u64 = key;
  if (::epoll_ctl(epfd_, EPOLL_CTL_ADD, static_cast<int>(handle), &ev) != 0) return statusOfErrno(errno);
  ++associated_;
  const bool kick = wakeLocked();  // a sleeper may have to start polling
  lock.unlock();
  if (kick) writeWakeFd();
  return PortStatus::Ok;
}

PortStatus EpollPort::rearm(NativeHandle handle, CompletionKey key, IoEvents interest) {
  if (handle < 0 || handle > std::numeric_limits<int>::max() || key == kReservedKey) return PortStatus::InvalidArgument;
  if (refusing_.load(std::memory_order_acquire)) return PortStatus::Closed;
  epoll_event ev{};
  ev.events = epollBits(interest);
  ev.data.u64 = key;
  if (::epoll_ctl(epfd_, EPOLL_CTL_MOD, static_cast<int>(handle), &ev) != 0) return statusOfErrno(errno);
  return PortStatus::Ok;
}

PortStatus EpollPort::disassociate(NativeHandle handle) {
  if (handle < 0 || handle > std::numeric_limits<int>::max()) return PortStatus::InvalidArgument;
  std::lock_guard lock(mu_);
  if (::epoll_ctl(epfd_, EPOLL_CTL_DEL, static_cast<int>(handle), nullptr) != 0) return statusOfErrno(errno);
  if (associated_ > 0) --associated_;
  return PortStatus::Ok;
}

PortStatus EpollPort::post(const CompletionPacket& packet) {
  std::unique_lock lock(mu_);
  if (closed_ || draining_) {
    ++postRejected_;
    return PortStatus::Closed;
  }
  if (packet.kind == CompletionKind::Posted) {
    if (postedQueued_ >= capacity_) {
      ++postRejected_;
      return PortStatus::QueueFull;
    }
    ++postedQueued_;
    ++posted_;
  } else {
    ++quitPosted_;
  }
  queue_.push_back(packet);
  const bool kick = wakeLocked();
  lock.unlock();
  if (kick) writeWakeFd();
  return PortStatus::Ok;
}

void EpollPort::signalTopSleeperLocked() {
  Sleeper* s = sleepers_.back();
  sleepers_.pop_back();
  s->signaled = true;
  ++woken_;
  // Notified under mu_: the sleeper's frame may be gone as soon as mu_ is released.
  s->cv.notify_one();
}

bool EpollPort::wakeLocked() {
  if (releasedLocked()) {
    while (!sleepers_.empty()) signalTopSleeperLocked();
    if (pollerActive_ && !pollerSignaled_) {
      pollerSignaled_ = true;
      return true;
    }
    return false;
  }
  const std::size_t budget = active_ < limit_ ? limit_ - active_ : 0;
  const std::size_t want = queue_.size();
  std::size_t coming = woken_ + (pollerSignaled_ ? 1 : 0);
  while (coming < want && coming < budget && !sleepers_.empty()) {
    signalTopSleeperLocked();
    ++coming;
  }
  // Handles need a poller; a woken thread that finds no packet becomes one.
  if (associated_ > 0 && !pollerActive_ && !draining_ && woken_ == 0 && coming < budget && !sleepers_.empty()) {
    signalTopSleeperLocked();
    ++coming;
  }
  if (coming < want && coming < budget && pollerActive_ && !pollerSignaled_) {
    pollerSignaled_ = true;
    return true;
  }
  return false;
}

std::size_t EpollPort::takeLocked(std::span<CompletionPacket> out) {
  std::size_t n = 0;
  while (n < out.size() && !queue_.empty()) {
    const CompletionPacket& p = out[n++] = queue_.front();
    queue_.pop_front();
    bytes_ += p.bytes;
    if (p.kind == CompletionKind::Posted) --postedQueued_;
    if (p.kind == CompletionKind::Quit) break;
  }
  dequeued_ += n;
  return n;
}

void EpollPort::pollLocked(std::unique_lock<std::mutex>& lock, int timeoutMs) {
  pollerActive_ = true;
  lock.unlock();
  epoll_event events[kMaxEventsPerPoll];
  const int n = ::epoll_wait(epfd_, events, kMaxEventsPerPoll, timeoutMs);  // EINTR: just re-evaluate
  lock.lock();
  pollerActive_ = false;
  pollerSignaled_ = false;
  for (int i = 0; i < n; ++i) {
    const epoll_event& ev = events[i];
    if (ev.data.u64 == kReservedKey) {
      drainWakeFd();
      continue;
    }
    const IoEvents e = ioEventsOf(ev.events);
    countIoLocked(e);
    if (closed_) {
      ++discarded_;
      continue;
    }
    queue_.push_back(CompletionPacket{ev.data.u64, 0, nullptr, CompletionKind::Io, e});
  }
}

void EpollPort::sleepLocked(std::unique_lock<std::mutex>& lock, TimePoint deadline, bool infinite) {
  Sleeper me;
  sleepers_.push_back(&me);
  if (infinite) {
    me.cv.wait(lock);
  } else {
    me.cv.wait_until(lock, deadline);
  }
  if (me.signaled) {
    --woken_;
  } else {  // timed out or woke spuriously: still on the stack
    sleepers_.erase(std::find(sleepers_.begin(), sleepers_.end(), &me));
  }
}

PortStatus EpollPort::dequeue(std::span<CompletionPacket> out, std::size_t& count,
                                         std::chrono::nanoseconds timeout) {
  count = 0;
  if (out.empty()) return PortStatus::InvalidArgument;
  const auto [startNs, infinite, deadline] = windowOf(timeout);

  leaveOtherPort(tlsRunning);
  std::unique_lock lock(mu_);
  comeBackLocked(tlsRunning);  // coming back: no longer running
  ++callers_;
  PortStatus status;
  bool polled = false;
  for (;;) {
    if (closed_) {
      status = PortStatus::Closed;
      break;
    }
    if (!queue_.empty() && active_ < limit_) {
      count = takeLocked(out);
      runLocked(tlsRunning);
      status = PortStatus::Ok;
      break;
    }
    if (draining_ && queue_.empty()) {
      status = PortStatus::Closed;
      break;
    }
    const TimePoint now = SteadyClock::now();
    const bool expired = now >= deadline;
    if (associated_ > 0 && !pollerActive_ && !draining_ && active_ < limit_ && !(expired && polled)) {
      int ms = -1;
      if (!infinite) {
        const auto left = expired ? Nanos::zero() : deadline - now;
        const auto ceilMs = std::chrono::ceil<std::chrono::milliseconds>(left).count();
        ms = static_cast<int>(std::min<long long>(ceilMs, std::numeric_limits<int>::max()));
      }
      pollLocked(lock, ms);
      polled = true;
      continue;
    }
    if (expired) {
      status = PortStatus::Timeout;
      ++timeouts_;
      break;
    }
    sleepLocked(lock, deadline, infinite);
  }
  if (--callers_ == 0 && closed_) noCallerCv_.notify_all();
  const bool kick = wakeLocked();  // packets left over, or poller duty to hand on
  lock.unlock();
  if (kick) writeWakeFd();
  if (status == PortStatus::Ok) waitNs_.record(nowNs() - startNs);
  return status;
}

void EpollPort::releaseRunning() {
  std::unique_lock lock(mu_);
  if (active_ > 0) --active_;
  const bool kick = wakeLocked();
  lock.unlock();
  if (kick) writeWakeFd();
}

void EpollPort::shutdown() {
  std::unique_lock lock(mu_);
  draining_ = true;
  refusing_.store(true, std::memory_order_release);
  // Everyone re-evaluates: sleepers may now be done, and the poller must stop polling.
  while (!sleepers_.empty()) signalTopSleeperLocked();
  const bool kick = pollerActive_ && !pollerSignaled_;
  if (kick) pollerSignaled_ = true;
  lock.unlock();
  if (kick) writeWakeFd();
}

void EpollPort::close() {
  std::unique_lock lock(mu_);
  if (closed_) return;
  closed_ = true;
  refusing_.store(true, std::memory_order_release);
  discarded_ += queue_.size();
  queue_.clear();
  postedQueued_ = 0;
  const bool kick = wakeLocked();
  lock.unlock();
  if (kick) writeWakeFd();
}

void CompletionPort::leave() noexcept { impl_->leave(&tlsRunning); }

}  // namespace gamesrv
