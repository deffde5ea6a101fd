// The Win32 CompletionPort: posting, the concurrency slots, dequeue, close and drain.
// How the contract is kept over an IOCP, and where it differs: completion_port_win32.hpp.
// The counters, stats() and the running-thread records are the portable base's
// (gamesrv/completion_port_core.hpp).
#include <algorithm>
#include <atomic>
#include <limits>
#include <system_error>
#include <thread>

#include "completion_port_win32.hpp"

namespace gamesrv {

using win32port::Node;

namespace {

// A thread that exits while running gives its slot back. A thread_local with a
// destructor cannot do it here: with mingw's emulated TLS, that destructor and
// winpthreads' release of the TLS block run in an order that corrupts the heap at
// thread exit (seen as a crash in free()). So the record is on the heap, found
// through a trivially destructible thread_local pointer, and released by a fiber-local
// storage callback, which Windows runs at the exit of any thread (also one that
// winpthreads did not create, such as a system thread-pool worker).
void WINAPI releaseAtThreadExit(void* record) {
  auto* r = static_cast<RunningOn*>(record);
  r->releaseAtExit();
  delete r;
}

const DWORD gRunningSlot = ::FlsAlloc(&releaseAtThreadExit);
thread_local RunningOn* tlsRunning = nullptr;

RunningOn& running() {
  if (tlsRunning == nullptr) {
    tlsRunning = new RunningOn;
    if (gRunningSlot != FLS_OUT_OF_INDEXES) ::FlsSetValue(gRunningSlot, tlsRunning);
  }
  return *tlsRunning;
}

}  // namespace

std::shared_ptr<CompletionPort::Impl> CompletionPort::Impl::create(const CompletionPortConfig& config) {
  return std::make_shared<IocpPort>(config);
}

IocpPort::IocpPort(const CompletionPortConfig& config) : Impl(config) {
  const DWORD concurrency = static_cast<DWORD>(std::min<std::size_t>(limit_, std::numeric_limits<DWORD>::max()));
  port_ = ::CreateIoCompletionPort(INVALID_HANDLE_VALUE, nullptr, 0, concurrency);
  if (port_ == nullptr)
    throw std::system_error(static_cast<int>(::GetLastError()), std::system_category(), "CreateIoCompletionPort");
}

IocpPort::~IocpPort() {
  drainKernel();
  ::CloseHandle(port_);
}

void IocpPort::drainKernel() {
  OVERLAPPED_ENTRY entries[64];
  ULONG n = 0;
  while (::GetQueuedCompletionStatusEx(port_, entries, 64, &n, 0, FALSE) && n > 0) {
    for (ULONG i = 0; i < n; ++i)
      if (entries[i].lpCompletionKey == kReservedKey) delete reinterpret_cast<Node*>(entries[i].lpOverlapped);
  }
}

PortStatus IocpPort::post(const CompletionPacket& packet) {
  const bool quit = packet.kind == CompletionKind::Quit;
  {
    std::lock_guard lock(mu_);
    if (closed_ || draining_ || (!quit && pendingPosted_ >= capacity_)) {
      ++postRejected_;
      return closed_ || draining_ ? PortStatus::Closed : PortStatus::QueueFull;
    }
    // Counted before the kernel has it, so a drain waits for it and close() discards it.
    if (quit) {
      ++pendingQuit_;
      ++quitPosted_;
    } else {
      ++pendingPosted_;
      ++posted_;
    }
  }
  Node* node = new Node{packet};
  if (::PostQueuedCompletionStatus(port_, 0, static_cast<ULONG_PTR>(kReservedKey), reinterpret_cast<OVERLAPPED*>(node)))
    return PortStatus::Ok;
  const DWORD err = ::GetLastError();
  delete node;
  {
    std::lock_guard lock(mu_);
    if (!closed_) {  // after close() it was already counted as discarded
      if (quit) {
        --pendingQuit_;
        --quitPosted_;
      } else {
        --pendingPosted_;
        --posted_;
      }
    }
    ++postRejected_;
  }
  ::SetLastError(err);
  return PortStatus::SystemError;
}

void IocpPort::wakeAllSleepersLocked() {
  while (!sleepers_.empty()) {
    Sleeper* s = sleepers_.back();
    sleepers_.pop_back();
    s->signaled = true;
    ++woken_;
    s->cv.notify_one();  // under mu_: the sleeper's frame may be gone once mu_ is released
  }
}

void IocpPort::releaseSlotLocked() {
  if (!terminalLocked() && !sleepers_.empty()) {
    Sleeper* s = sleepers_.back();  // LIFO: the slot passes straight to the last waiter
    sleepers_.pop_back();
    s->signaled = true;
    s->gotSlot = true;
    ++woken_;
    s->cv.notify_one();
    return;
  }
  --slots_;
}

std::size_t IocpPort::wakesNeededLocked() {
  std::size_t want = 0;
  if (terminalLocked()) {
    wakeAllSleepersLocked();
    want = inKernel_;  // everyone in the kernel must come out and see it
  } else if (!stash_.empty() && inKernel_ > 0) {
    want = 1;  // one slot holder takes the stash; it hands on if more is left
  }
  const std::size_t n = want > wakesPending_ ? want - wakesPending_ : 0;
  wakesPending_ += n;
  return n;
}

void IocpPort::postWakes(std::size_t n) {
  for (; n > 0; --n) ::PostQueuedCompletionStatus(port_, 0, static_cast<ULONG_PTR>(kReservedKey), nullptr);
}

void IocpPort::countTakenLocked(const CompletionPacket& p) {
  ++dequeued_;
  bytes_ += p.bytes;
  if (p.kind == CompletionKind::Posted) --pendingPosted_;
  if (p.kind == CompletionKind::Quit) --pendingQuit_;
}

bool IocpPort::sleepForSlotLocked(Lock& lock, TimePoint deadline, bool infinite) {
  Sleeper me;
  sleepers_.push_back(&me);
  if (infinite) {
    me.cv.wait(lock, [&] { return me.signaled; });
  } else {
    me.cv.wait_until(lock, deadline, [&] { return me.signaled; });
  }
  if (me.signaled) {
    --woken_;
  } else {  // timed out: still on the stack
    sleepers_.erase(std::find(sleepers_.begin(), sleepers_.end(), &me));
  }
  return me.gotSlot;
}

DWORD IocpPort::harvestLocked(Lock& lock, std::span<CompletionPacket> out, std::size_t& count, DWORD ms) {
  OVERLAPPED_ENTRY entries[64];
  const ULONG want = static_cast<ULONG>(std::min<std::size_t>(out.size(), 64));
  ULONG n = 0;
  ++inKernel_;
  lock.unlock();
  const BOOL ok = ::GetQueuedCompletionStatusEx(port_, entries, want, &n, ms, FALSE);
  const DWORD err = ok ? ERROR_SUCCESS : ::GetLastError();
  lock.lock();
  --inKernel_;
  if (!ok) return err;
  bool quitSeen = false;
  for (ULONG i = 0; i < n; ++i) {
    const OVERLAPPED_ENTRY& e = entries[i];
    CompletionPacket p;
    if (e.lpCompletionKey == kReservedKey) {
      Node* node = reinterpret_cast<Node*>(e.lpOverlapped);
      if (node == nullptr) {
        --wakesPending_;
        continue;
      }
      p = node->packet;
      delete node;
      if (closed_) continue;  // close() counted it as discarded already
    } else {
      p = win32port::ioPacket(e);
      countIoLocked(p.events);
      if (closed_) {
        ++discarded_;
        continue;
      }
    }
    if (quitSeen) {
      stash_.push_back(p);
      if (p.kind == CompletionKind::Io) ++stashIo_;
      continue;
    }
    countTakenLocked(p);
    out[count++] = p;
    if (p.kind == CompletionKind::Quit) quitSeen = true;
  }
  return ERROR_SUCCESS;
}

PortStatus IocpPort::dequeue(std::span<CompletionPacket> out, std::size_t& count,
                                         std::chrono::nanoseconds timeout) {
  count = 0;
  if (out.empty()) return PortStatus::InvalidArgument;
  const auto [startNs, infinite, deadline] = windowOf(timeout);

  RunningOn& me = running();
  leaveOtherPort(me);
  Lock lock(mu_);
  // Coming back: the running slot becomes a waiting one.
  bool haveSlot = comeBackLocked(me);
  ++callers_;
  PortStatus status = PortStatus::Timeout;
  DWORD kernelError = ERROR_SUCCESS;
  bool polled = false;
  for (;;) {
    if (terminalLocked()) {
      status = PortStatus::Closed;
      break;
    }
    const TimePoint now = SteadyClock::now();
    const bool expired = now >= deadline;
    if (!haveSlot) {
      if (slots_ < limit_) {
        ++slots_;
        haveSlot = true;
      } else if (expired) {
        break;
      } else {
        haveSlot = sleepForSlotLocked(lock, deadline, infinite);
        continue;
      }
    }
    if (!stash_.empty()) {
      while (count < out.size() && !stash_.empty()) {
        const CompletionPacket p = stash_.front();
        stash_.pop_front();
        if (p.kind == CompletionKind::Io) --stashIo_;
        countTakenLocked(p);
        out[count++] = p;
        if (p.kind == CompletionKind::Quit) break;
      }
      status = PortStatus::Ok;
      break;
    }
    if (expired && polled) break;
    DWORD ms = INFINITE;
    if (!infinite) {
      const auto ceilMs = std::chrono::ceil<std::chrono::milliseconds>(expired ? Nanos::zero() : deadline - now).count();
      ms = static_cast<DWORD>(std::min<long long>(ceilMs, INFINITE - 1));
    }
    const DWORD err = harvestLocked(lock, out, count, ms);
    polled = true;
    if (count > 0 && !closed_) {
      status = PortStatus::Ok;
      break;
    }
    count = 0;
    if (err != ERROR_SUCCESS && err != WAIT_TIMEOUT) {
      kernelError = err;
      status = PortStatus::SystemError;
      break;
    }
    // Timed out (the loop re-checks the clock: a kernel wait may end a tick early), or
    // only wake-ups came: re-evaluate.
  }
  if (status == PortStatus::Ok) {
    runLocked(me);
  } else if (haveSlot) {
    releaseSlotLocked();
  }
  if (status == PortStatus::Timeout) ++timeouts_;
  if (--callers_ == 0 && closed_) noCallerCv_.notify_all();
  const std::size_t wakes = wakesNeededLocked();
  lock.unlock();
  postWakes(wakes);
  if (status == PortStatus::Ok) waitNs_.record(nowNs() - startNs);
  if (status == PortStatus::SystemError) ::SetLastError(kernelError);
  return status;
}

void IocpPort::releaseRunning() {
  Lock lock(mu_);
  if (active_ > 0) {
    --active_;
    releaseSlotLocked();
  }
  const std::size_t wakes = wakesNeededLocked();
  lock.unlock();
  postWakes(wakes);
}

void IocpPort::shutdown() {
  Lock lock(mu_);
  draining_ = true;
  const std::size_t wakes = wakesNeededLocked();
  lock.unlock();
  postWakes(wakes);
}

void IocpPort::close() {
  Lock lock(mu_);
  if (closed_) return;
  closed_ = true;
  discarded_ += queuedLocked();
  pendingPosted_ = pendingQuit_ = stashIo_ = 0;
  stash_.clear();
  const std::size_t wakes = wakesNeededLocked();
  lock.unlock();
  postWakes(wakes);
}

void CompletionPort::leave() noexcept { impl_->leave(tlsRunning); }

}  // namespace gamesrv
