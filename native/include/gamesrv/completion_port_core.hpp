// The portable half of CompletionPort (platform/completion_port.hpp): what both backends
// (native/src/platform/posix/completion_port_posix.cpp: epoll; win32/completion_port_win32*:
// an IOCP) keep the same way. Each backend derives from CompletionPort::Impl below and
// does the OS work: queueing, waking, waiting. Here: the counters and stats(), the count
// of threads running packets (the concurrency limit's bookkeeping), which port each
// thread runs on (RunningOn), the dequeue deadline, and the public face forwarding to
// the backend (native/src/core/completion_port_core.cpp).
//
// Thread safety: as completion_port.hpp says. Members marked "guarded by mu_" need the
// backend's one mutex, which is this base's mu_.
#pragma once
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>

#include "gamesrv/clock.hpp"
#include "gamesrv/histogram.hpp"
#include "gamesrv/platform/completion_port.hpp"

namespace gamesrv {

// Which port the calling thread is running packets on (IOCP ties a thread to one port).
// Each backend keeps one per thread and gives its slot back when the thread exits (how
// it learns of the exit is the OS's business: a thread_local destructor, or a
// fiber-local-storage callback).
struct RunningOn {
  std::uint64_t portId = 0;  // 0: none
  std::uint64_t weakId = 0;  // the port `weak` refers to
  std::weak_ptr<CompletionPort::Impl> weak;
  void releaseAtExit();  // the thread exits: give back the slot it holds, if any
};

struct CompletionPort::Impl : std::enable_shared_from_this<CompletionPort::Impl> {
  explicit Impl(const CompletionPortConfig& config);
  virtual ~Impl() = default;
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  // Made by the backend: the one definition of this in each platform's files.
  static std::shared_ptr<Impl> create(const CompletionPortConfig& config);

  virtual PortStatus associate(NativeHandle handle, CompletionKey key, IoEvents interest) = 0;
  virtual PortStatus rearm(NativeHandle handle, CompletionKey key, IoEvents interest) = 0;
  virtual PortStatus disassociate(NativeHandle handle) = 0;
  virtual PortStatus post(const CompletionPacket& packet) = 0;
  virtual PortStatus dequeue(std::span<CompletionPacket> out, std::size_t& count, std::chrono::nanoseconds timeout) = 0;
  virtual void releaseRunning() = 0;  // the calling thread was running on this port; it no longer is
  virtual void shutdown() = 0;
  virtual void close() = 0;
  void leave(RunningOn* me) noexcept;  // CompletionPort::leave() for the thread whose record is `me`
  void waitUntilNoCaller();
  CompletionPortStats stats() const;

  const std::uint64_t id_;  // process-wide, never reused
  static constexpr CompletionKey kReservedKey = CompletionPort::kReservedKey;

 protected:
  // When a dequeue that started now with `timeout` must give up.
  struct Window {
    std::uint64_t startNs;
    bool infinite;
    TimePoint deadline;
  };
  static Window windowOf(std::chrono::nanoseconds timeout) noexcept;

  // Gives back a slot `me` holds on another port before waiting on this one.
  void leaveOtherPort(RunningOn& me);
  // Requires: mu_ held. A thread coming back to dequeue was running here: it no longer is.
  bool comeBackLocked(RunningOn& me) noexcept;
  // Requires: mu_ held. The thread got packets: it runs on this port now.
  void runLocked(RunningOn& me);
  // Requires: mu_ held. An I/O packet was produced with these readiness bits.
  void countIoLocked(IoEvents e) noexcept;
  // What stats() reads from the backend. Requires: mu_ held.
  virtual std::size_t queueDepthLocked() const = 0;
  virtual std::size_t associatedLocked() const = 0;
  virtual std::size_t waitingLocked() const = 0;

  const std::size_t capacity_;
  const std::size_t limit_;  // maxConcurrency, or the hardware threads

  mutable std::mutex mu_;
  std::condition_variable noCallerCv_;
  std::size_t callers_ = 0;     // guarded by mu_: threads inside dequeue()
  std::size_t active_ = 0;      // guarded by mu_: threads running packets
  std::size_t peakActive_ = 0;  // guarded by mu_
  bool closed_ = false;         // guarded by mu_
  bool draining_ = false;       // guarded by mu_

  // Counters, guarded by mu_.
  std::uint64_t posted_ = 0, postRejected_ = 0, quitPosted_ = 0, ioCompletions_ = 0;
  std::uint64_t ioReadable_ = 0, ioWritable_ = 0, ioHangup_ = 0, ioError_ = 0;
  std::uint64_t dequeued_ = 0, bytes_ = 0, discarded_ = 0, timeouts_ = 0;
  Histogram waitNs_;  // thread-safe on its own
};

}  // namespace gamesrv
