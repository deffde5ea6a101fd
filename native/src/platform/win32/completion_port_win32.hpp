// Internal to the Win32 CompletionPort (completion_port_win32.cpp, completion_port_win32_io.cpp).
// CompletionPort over a real I/O completion port. See completion_port.hpp for the
// contract; the notes here say how it is kept, and where Win32 makes it differ.
//
// - Posted and Quit packets travel through the IOCP itself (PostQueuedCompletionStatus)
//   under the reserved key, their OVERLAPPED* pointing at a heap Node that carries the
//   whole packet (the IOCP fields are too narrow: bytes is a DWORD, and a caller's key
//   must stay distinguishable from an I/O completion's). A reserved-key packet with a
//   null pointer is a wake-up: "re-evaluate", used by close()/shutdown() and hand-offs.
// - I/O packets are completions of overlapped I/O on associated handles: key = the
//   association key, ptr = the OVERLAPPED*, bytes = bytes transferred, events = Error
//   or Hangup from the operation's NTSTATUS (a successful read and a successful write
//   look alike to the port, so Readable/Writable are never set; the caller's OVERLAPPED
//   wrapper says which operation it was). There is no readiness to arm: `interest` is
//   ignored and rearm() is a no-op that only checks its arguments.
// - The concurrency limit is passed to CreateIoCompletionPort, and also kept in user
//   space, because the kernel's rule differs from the contract: the kernel stops
//   counting a thread as running as soon as it blocks on anything (not only when it
//   comes back to the port), and wine does not enforce the limit at all. So a thread
//   needs a slot to enter GetQueuedCompletionStatusEx and keeps it while it runs
//   packets; at most maxConcurrency slots exist, and threads without one sleep on a
//   LIFO stack of condition variables. The kernel's own count can only be lower than
//   ours, so it never holds back a thread we let in, except right after leave() while
//   the leaving thread is still running: the kernel then waits until it blocks.
// - A Quit ends a batch, but the kernel may hand over packets queued behind it in the
//   same call: those go to `stash_`, which any slot holder takes from before it asks
//   the kernel again (a wake-up makes sure one does).
// - Counting: posted/quit packets are queued from post() until dequeued or discarded.
//   I/O completions are invisible until a thread takes them from the kernel, so
//   ioCompletions counts what was taken, queueDepth counts only what this object can
//   see, and close() discards what it can see; kernel-queued leftovers are freed
//   uncounted when the port is destroyed.
// - disassociate() only stops counting the handle: Win32 binds a handle to one port until
//   it is closed, so completions of I/O still in flight keep arriving, and associating
//   the same handle again fails with InvalidArgument.
//
// One mutex `mu_` guards everything but the kernel queue; no kernel wait happens under it.
#pragma once
#include <windows.h>

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "gamesrv/completion_port_core.hpp"

namespace gamesrv {

namespace win32port {

// What a Posted or Quit packet's OVERLAPPED* points at while it sits in the kernel queue.
struct Node {
  CompletionPacket packet;
};

// The packet for one completion of overlapped I/O on an associated handle.
CompletionPacket ioPacket(const OVERLAPPED_ENTRY& entry) noexcept;

}  // namespace win32port

struct IocpPort final : CompletionPort::Impl {
  explicit IocpPort(const CompletionPortConfig& config);
  ~IocpPort() override;

  // `interest` is ignored: there is no readiness to arm (see above).
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
    bool gotSlot = false;   // guarded by mu_: ...and handed a slot
  };
  using Lock = std::unique_lock<std::mutex>;

  bool terminalLocked() const { return closed_ || (draining_ && queuedLocked() == 0); }  // Requires: mu_ held.
  std::size_t queuedLocked() const { return pendingPosted_ + pendingQuit_ + stashIo_; }  // Requires: mu_ held.
  void releaseSlotLocked();             // Requires: mu_ held, the caller holds a slot.
  void wakeAllSleepersLocked();         // Requires: mu_ held.
  std::size_t wakesNeededLocked();      // Requires: mu_ held. Counts them as pending.
  void postWakes(std::size_t n);        // without mu_
  void countTakenLocked(const CompletionPacket& p);  // Requires: mu_ held.
  // Returns whether the caller got the slot before the deadline.
  bool sleepForSlotLocked(Lock& lock, TimePoint deadline, bool infinite);  // Requires: mu_ held.
  // One kernel wait; fills out, stashes what follows a Quit. Requires: mu_ held, a slot.
  DWORD harvestLocked(Lock& lock, std::span<CompletionPacket> out, std::size_t& count, DWORD ms);
  void drainKernel();  // frees every Node still queued; only when no thread can wait

  std::size_t queueDepthLocked() const override { return queuedLocked(); }
  std::size_t associatedLocked() const override { return associated_.size(); }
  std::size_t waitingLocked() const override { return sleepers_.size() + woken_ + inKernel_; }

  HANDLE port_ = nullptr;

  std::unordered_map<NativeHandle, CompletionKey> associated_;  // guarded by mu_
  std::deque<CompletionPacket> stash_;  // guarded by mu_: taken from the kernel after a Quit, not yet handed out
  std::size_t stashIo_ = 0;             // guarded by mu_: I/O packets in stash_
  std::size_t pendingPosted_ = 0;       // guarded by mu_: Posted packets queued (kernel or stash)
  std::size_t pendingQuit_ = 0;         // guarded by mu_
  std::vector<Sleeper*> sleepers_;      // guarded by mu_; back() waited last and gets the next slot
  std::size_t woken_ = 0;               // guarded by mu_: sleepers signalled, not yet awake
  std::size_t slots_ = 0;               // guarded by mu_: held by threads in the kernel, running, or between
  std::size_t inKernel_ = 0;            // guarded by mu_: threads inside GetQueuedCompletionStatusEx
  std::size_t wakesPending_ = 0;        // guarded by mu_: wake-ups posted, not yet taken
};

}  // namespace gamesrv
