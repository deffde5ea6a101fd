// CompletionPort over epoll + eventfd. See completion_port.hpp for the contract; the
// notes here say how it is kept.
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

#include "gamesrv/clock.hpp"
#include "gamesrv/platform/completion_port.hpp"

namespace gamesrv {
namespace {

std::atomic<std::uint64_t> gNextPortId{1};

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

struct CompletionPort::Impl : std::enable_shared_from_this<CompletionPort::Impl> {
  explicit Impl(const CompletionPortConfig& config);
  ~Impl();
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  PortStatus associate(NativeHandle handle, CompletionKey key, IoEvents interest);
  PortStatus rearm(NativeHandle handle, CompletionKey key, IoEvents interest);
  PortStatus disassociate(NativeHandle handle);
  PortStatus post(CompletionPacket packet);
  PortStatus dequeue(std::span<CompletionPacket> out, std::size_t& count, std::chrono::nanoseconds timeout);
  void releaseRunning();  // the calling thread was running on this port; it no longer is
  void shutdown();
  void close();
  void waitUntilNoCaller();
  CompletionPortStats stats() const;

  const std::uint64_t id_;

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

  const std::size_t capacity_;
  const std::size_t limit_;
  int epfd_ = -1;
  int wakefd_ = -1;
  std::atomic<bool> refusing_{false};  // mirrors closed_ || draining_ for the lock-free rearm()

  mutable std::mutex mu_;
  std::condition_variable noCallerCv_;
  std::deque<CompletionPacket> queue_;  // guarded by mu_
  std::size_t postedQueued_ = 0;        // guarded by mu_: Posted packets in queue_ (the bounded kind)
  std::vector<Sleeper*> sleepers_;      // guarded by mu_; back() waited last and is woken first
  std::size_t woken_ = 0;               // guarded by mu_: sleepers signalled, not yet awake
  bool pollerActive_ = false;           // guarded by mu_: a thread is in (or entering) epoll_wait
  bool pollerSignaled_ = false;         // guarded by mu_: the eventfd was (or is about to be) written for it
  std::size_t active_ = 0;              // guarded by mu_: threads running packets
  std::size_t peakActive_ = 0;          // guarded by mu_
  std::size_t associated_ = 0;          // guarded by mu_
  std::size_t callers_ = 0;             // guarded by mu_: threads inside dequeue()
  bool closed_ = false;                 // guarded by mu_
  bool draining_ = false;               // guarded by mu_

  // Counters, guarded by mu_.
  std::uint64_t posted_ = 0, postRejected_ = 0, quitPosted_ = 0, ioCompletions_ = 0;
  std::uint64_t ioReadable_ = 0, ioWritable_ = 0, ioHangup_ = 0, ioError_ = 0;
  std::uint64_t dequeued_ = 0, bytes_ = 0, discarded_ = 0, timeouts_ = 0;
  Histogram waitNs_;  // thread-safe on its own
};

namespace {

// Which port the calling thread is running packets on (IOCP ties a thread to one port).
struct RunningOn {
  std::uint64_t portId = 0;  // 0: none
  std::uint64_t weakId = 0;  // the port `weak` refers to
  std::weak_ptr<CompletionPort::Impl> weak;
  ~RunningOn() {
    if (portId == 0) return;
    if (auto port = weak.lock()) port->releaseRunning();
  }
};
thread_local RunningOn tlsRunning;

// Gives back a slot held on another port before waiting on `portId`.
void leaveOtherPort(std::uint64_t portId) {
  if (tlsRunning.portId == 0 || tlsRunning.portId == portId) return;
  tlsRunning.portId = 0;
  if (auto port = tlsRunning.weak.lock()) port->releaseRunning();
}

}  // namespace

CompletionPort::Impl::Impl(const CompletionPortConfig& config)
    : id_(gNextPortId.fetch_add(1, std::memory_order_relaxed)),
      capacity_(config.queueCapacity),
      limit_(config.maxConcurrency ? config.maxConcurrency : std::max(1u, std::thread::hardware_concurrency())) {
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

CompletionPort::Impl::~Impl() {
  ::close(wakefd_);
  ::close(epfd_);
}

void CompletionPort::Impl::writeWakeFd() const {
  const std::uint64_t one = 1;
  ssize_t r;
  do {
    r = ::write(wakefd_, &one, sizeof one);
  } while (r < 0 && errno == EINTR);
  // EAGAIN would mean the counter is near 2^64: the fd is readable anyway.
}

void CompletionPort::Impl::drainWakeFd() const {
  std::uint64_t value;
  ssize_t r;
  do {
    r = ::read(wakefd_, &value, sizeof value);
  } while (r < 0 && errno == EINTR);
}

PortStatus CompletionPort::Impl::associate(NativeHandle handle, CompletionKey key, IoEvents interest) {
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

PortStatus CompletionPort::Impl::rearm(NativeHandle handle, CompletionKey key, IoEvents interest) {
  if (handle < 0 || handle > std::numeric_limits<int>::max() || key == kReservedKey) return PortStatus::InvalidArgument;
  if (refusing_.load(std::memory_order_acquire)) return PortStatus::Closed;
  epoll_event ev{};
  ev.events = epollBits(interest);
  ev.data.u64 = key;
  if (::epoll_ctl(epfd_, EPOLL_CTL_MOD, static_cast<int>(handle), &ev) != 0) return statusOfErrno(errno);
  return PortStatus::Ok;
}

PortStatus CompletionPort::Impl::disassociate(NativeHandle handle) {
  if (handle < 0 || handle > std::numeric_limits<int>::max()) return PortStatus::InvalidArgument;
  std::lock_guard lock(mu_);
  if (::epoll_ctl(epfd_, EPOLL_CTL_DEL, static_cast<int>(handle), nullptr) != 0) return statusOfErrno(errno);
  if (associated_ > 0) --associated_;
  return PortStatus::Ok;
}

PortStatus CompletionPort::Impl::post(CompletionPacket packet) {
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

void CompletionPort::Impl::signalTopSleeperLocked() {
  Sleeper* s = sleepers_.back();
  sleepers_.pop_back();
  s->signaled = true;
  ++woken_;
  // Notified under mu_: the sleeper's frame may be gone as soon as mu_ is released.
  s->cv.notify_one();
}

bool CompletionPort::Impl::wakeLocked() {
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

std::size_t CompletionPort::Impl::takeLocked(std::span<CompletionPacket> out) {
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

void CompletionPort::Impl::pollLocked(std::unique_lock<std::mutex>& lock, int timeoutMs) {
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
    ++ioCompletions_;
    if (any(e & IoEvents::Readable)) ++ioReadable_;
    if (any(e & IoEvents::Writable)) ++ioWritable_;
    if (any(e & IoEvents::Hangup)) ++ioHangup_;
    if (any(e & IoEvents::Error)) ++ioError_;
    if (closed_) {
      ++discarded_;
      continue;
    }
    queue_.push_back(CompletionPacket{ev.data.u64, 0, nullptr, CompletionKind::Io, e});
  }
}

void CompletionPort::Impl::sleepLocked(std::unique_lock<std::mutex>& lock, TimePoint deadline, bool infinite) {
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

PortStatus CompletionPort::Impl::dequeue(std::span<CompletionPacket> out, std::size_t& count,
                                         std::chrono::nanoseconds timeout) {
  count = 0;
  if (out.empty()) return PortStatus::InvalidArgument;
  const std::uint64_t startNs = nowNs();
  constexpr auto kForever = std::chrono::hours(24 * 365 * 100);
  const bool infinite = timeout >= kForever;
  const TimePoint deadline = infinite ? TimePoint::max() : fromNs(startNs) + std::max(timeout, Nanos::zero());

  leaveOtherPort(id_);
  std::unique_lock lock(mu_);
  if (tlsRunning.portId == id_) {  // coming back: no longer running
    tlsRunning.portId = 0;
    --active_;
  }
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
      peakActive_ = std::max(peakActive_, ++active_);
      if (tlsRunning.weakId != id_) {
        tlsRunning.weak = weak_from_this();
        tlsRunning.weakId = id_;
      }
      tlsRunning.portId = id_;
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

void CompletionPort::Impl::releaseRunning() {
  std::unique_lock lock(mu_);
  if (active_ > 0) --active_;
  const bool kick = wakeLocked();
  lock.unlock();
  if (kick) writeWakeFd();
}

void CompletionPort::Impl::shutdown() {
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

void CompletionPort::Impl::close() {
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

void CompletionPort::Impl::waitUntilNoCaller() {
  std::unique_lock lock(mu_);
  noCallerCv_.wait(lock, [&] { return callers_ == 0; });
}

CompletionPortStats CompletionPort::Impl::stats() const {
  CompletionPortStats s;
  {
    std::lock_guard lock(mu_);
    s.posted = posted_;
    s.postRejected = postRejected_;
    s.quitPosted = quitPosted_;
    s.ioCompletions = ioCompletions_;
    s.ioReadable = ioReadable_;
    s.ioWritable = ioWritable_;
    s.ioHangup = ioHangup_;
    s.ioError = ioError_;
    s.dequeued = dequeued_;
    s.bytes = bytes_;
    s.discarded = discarded_;
    s.timeouts = timeouts_;
    s.queueDepth = queue_.size();
    s.queueCapacity = capacity_;
    s.associated = associated_;
    s.activeThreads = active_;
    s.peakActive = peakActive_;
    s.maxConcurrency = limit_;
    s.waitingThreads = sleepers_.size() + woken_ + (pollerActive_ ? 1 : 0);
    s.closed = closed_ || draining_;
  }
  s.dequeueWaitNs = waitNs_.summary();
  return s;
}

// --- the public face ------------------------------------------------------------

CompletionPort::CompletionPort(CompletionPortConfig config) : impl_(std::make_shared<Impl>(config)) {}

CompletionPort::~CompletionPort() {
  impl_->close();
  impl_->waitUntilNoCaller();
}

PortStatus CompletionPort::associate(NativeHandle handle, CompletionKey key, IoEvents interest) {
  return impl_->associate(handle, key, interest);
}
PortStatus CompletionPort::rearm(NativeHandle handle, CompletionKey key, IoEvents interest) {
  return impl_->rearm(handle, key, interest);
}
PortStatus CompletionPort::disassociate(NativeHandle handle) { return impl_->disassociate(handle); }

PortStatus CompletionPort::post(CompletionKey key, std::uint64_t bytes, void* ptr) {
  return impl_->post(CompletionPacket{key, bytes, ptr, CompletionKind::Posted, IoEvents::None});
}
PortStatus CompletionPort::postQuit() {
  return impl_->post(CompletionPacket{0, 0, nullptr, CompletionKind::Quit, IoEvents::None});
}

PortStatus CompletionPort::dequeue(CompletionPacket& out, std::chrono::nanoseconds timeout) {
  std::size_t count = 0;
  return impl_->dequeue(std::span<CompletionPacket>(&out, 1), count, timeout);
}
PortStatus CompletionPort::dequeueBatch(std::span<CompletionPacket> out, std::size_t& count,
                                        std::chrono::nanoseconds timeout) {
  return impl_->dequeue(out, count, timeout);
}

void CompletionPort::leave() noexcept {
  if (tlsRunning.portId != impl_->id_) return;
  tlsRunning.portId = 0;
  impl_->releaseRunning();
}

void CompletionPort::shutdown() { impl_->shutdown(); }
void CompletionPort::close() { impl_->close(); }
CompletionPortStats CompletionPort::stats() const { return impl_->stats(); }

}  // namespace gamesrv
