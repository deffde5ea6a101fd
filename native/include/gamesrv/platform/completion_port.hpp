// CompletionPort: an I/O completion port (seed 4.2.2) behind one small interface.
// POSIX: epoll + eventfd (native/src/platform/posix/completion_port_posix.cpp).
// Win32: an IOCP (native/src/platform/win32/completion_port_win32*.cpp). Their common
// part (counters, stats, running-thread records): gamesrv/completion_port_core.hpp. No OS
// header is included here.
//
// A port hands out packets to the threads that call dequeue():
// - Posted packets: post(key, bytes, ptr), delivered FIFO, each to exactly one thread.
// - I/O packets: associate(handle, key, interest) arms a handle. When it becomes ready
//   the port delivers ONE packet {key, events} to ONE thread and disarms the handle
//   (one-shot, like IOCP's one completion per operation). The consumer re-arms it with
//   rearm() once it has done its I/O. Readiness is level-checked at arm time: if the
//   handle is still readable when re-armed, a new packet follows at once, so no edge is
//   ever lost. Hangup and error are always reported, whatever the interest.
// - Quit packets ("null packets"): postQuit() makes exactly one dequeue return a packet
//   of kind Quit, after the packets posted before it.
//
// Choices this interface makes (callers may rely on them)
// - Bounded: at most `queueCapacity` posted packets wait at once; post() on a full
//   queue returns QueueFull at once and never blocks. Quit packets bypass the bound
//   (so a stop never fails on a full queue); I/O packets need no bound (at most one
//   per associated handle is ever pending).
// - Concurrency limit (IOCP's NumberOfConcurrentThreads): a thread that got packets
//   counts as running until it calls dequeue again, calls leave(), or exits. While
//   `maxConcurrency` threads run, further callers wait even if packets are queued; a
//   running thread coming back releases its slot and takes the next packet itself.
//   Waiting threads are released most-recently-waiting first (IOCP's LIFO order), and a
//   packet wakes at most one of them. A thread is running on at most one port.
// - dequeueBatch() takes up to out.size() packets (GetQueuedCompletionStatusEx); the
//   thread counts as one running thread. A Quit packet ends a batch.
// - shutdown(): posts and associations are refused, waiters drain what is queued, then
//   every dequeue returns Closed. close(): immediate; queued packets are discarded
//   (counted) and every waiter returns Closed promptly. Both wake every waiter, are
//   idempotent, and may be combined (close() after shutdown()).
// - Timeouts: dequeue waits at most `timeout` (kInfinite: no limit; 0: never blocks).
// - Counting: posted + quitPosted + ioCompletions == dequeued + discarded + queueDepth.
//
// Win32 (an IOCP has completions, not readiness), where the above differs:
// - I/O packets are completions of overlapped operations on associated handles: bytes =
//   bytes transferred, ptr = the OVERLAPPED*, events = Hangup (peer gone, end of file)
//   or Error from the operation's status, else None (Readable/Writable are never set).
//   Nothing is armed: `interest` is ignored, rearm() only checks that the handle is
//   associated with that key (an IOCP cannot change a key: another key is refused).
// - disassociate() only stops counting the handle: it stays bound to the port until it
//   is closed, so completions of I/O in flight still arrive, and associating it again
//   (with any port) fails with InvalidArgument.
// - ioCompletions, queueDepth and close()'s discards count only I/O packets the port has
//   taken from the kernel; completions still queued in the kernel are freed, uncounted,
//   when the port is destroyed. The counting identity holds for what is counted.
// - The concurrency limit is enforced as stated (the kernel's own count, which stops
//   counting a thread as soon as it blocks anywhere, is also set to maxConcurrency, but
//   cannot be the one relied on). Right after leave(), the kernel may hold back the next
//   thread until the leaving thread blocks.
//
// Thread safety: every member is safe to call from any thread. The port must outlive
// every call into it; the destructor closes the port and waits for callers still
// inside dequeue() to return (they do so promptly). A handle must stay open while it
// is associated (disassociate() before closing it).
#pragma once
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "gamesrv/histogram.hpp"

namespace gamesrv {

using CompletionKey = std::uint64_t;
// A file descriptor on POSIX; a HANDLE or SOCKET (cast) on Win32.
using NativeHandle = std::intptr_t;

// Readiness bits: what an I/O packet reports, and (Readable/Writable) what to watch.
enum class IoEvents : std::uint8_t { None = 0, Readable = 1, Writable = 2, Hangup = 4, Error = 8 };
constexpr IoEvents operator|(IoEvents a, IoEvents b) noexcept {
  return static_cast<IoEvents>(static_cast<std::uint8_t>(a) | static_cast<std::uint8_t>(b));
}
constexpr IoEvents operator&(IoEvents a, IoEvents b) noexcept {
  return static_cast<IoEvents>(static_cast<std::uint8_t>(a) & static_cast<std::uint8_t>(b));
}
constexpr bool any(IoEvents e) noexcept { return e != IoEvents::None; }

enum class CompletionKind : std::uint8_t { Posted, Io, Quit };
constexpr const char* toString(CompletionKind k) noexcept {
  switch (k) {
    case CompletionKind::Posted: return "posted";
    case CompletionKind::Io: return "io";
    case CompletionKind::Quit: return "quit";
  }
  return "unknown";
}

struct CompletionPacket {
  CompletionKey key = 0;
  std::uint64_t bytes = 0;  // Posted: the caller's value. Io: bytes transferred where the OS reports it, else 0.
  void* ptr = nullptr;      // Posted: the caller's pointer (the OVERLAPPED* analog). Io: nullptr on POSIX.
  CompletionKind kind = CompletionKind::Posted;
  IoEvents events = IoEvents::None;  // Io only
};

enum class PortStatus : std::uint8_t {
  Ok,
  Timeout,
  Closed,           // the port is closed (or shut down and drained)
  QueueFull,        // post(): capacity reached; nothing was queued
  InvalidArgument,  // bad handle, reserved key, already / not associated
  SystemError,      // the OS refused; errno / GetLastError() of the calling thread tells why
};
constexpr const char* toString(PortStatus s) noexcept {
  switch (s) {
    case PortStatus::Ok: return "ok";
    case PortStatus::Timeout: return "timeout";
    case PortStatus::Closed: return "closed";
    case PortStatus::QueueFull: return "queue-full";
    case PortStatus::InvalidArgument: return "invalid-argument";
    case PortStatus::SystemError: return "system-error";
  }
  return "unknown";
}

struct CompletionPortConfig {
  std::size_t queueCapacity = 65536;  // posted packets waiting at once
  std::size_t maxConcurrency = 0;     // threads running at once; 0 = hardware threads
};

struct CompletionPortStats {
  std::uint64_t posted = 0;         // accepted post() calls
  std::uint64_t postRejected = 0;   // post() answered QueueFull or Closed
  std::uint64_t quitPosted = 0;
  std::uint64_t ioCompletions = 0;  // I/O packets produced
  std::uint64_t ioReadable = 0;     // I/O packets by readiness bit (one packet may carry several)
  std::uint64_t ioWritable = 0;
  std::uint64_t ioHangup = 0;
  std::uint64_t ioError = 0;
  std::uint64_t dequeued = 0;       // packets handed out, every kind
  std::uint64_t bytes = 0;          // sum of `bytes` over dequeued packets
  std::uint64_t discarded = 0;      // packets dropped by close()
  std::uint64_t timeouts = 0;       // dequeue calls that timed out
  std::size_t queueDepth = 0;       // packets waiting now
  std::size_t queueCapacity = 0;
  std::size_t associated = 0;       // handles associated now
  std::size_t activeThreads = 0;    // threads running packets now
  std::size_t peakActive = 0;
  std::size_t maxConcurrency = 0;
  std::size_t waitingThreads = 0;   // threads blocked in dequeue now
  bool closed = false;              // close(), or shutdown() (drained or not)
  HistogramSummary dequeueWaitNs;   // dequeue call -> packets returned
};

class CompletionPort {
 public:
  static constexpr std::chrono::nanoseconds kInfinite = std::chrono::nanoseconds::max();
  static constexpr CompletionKey kReservedKey = ~CompletionKey{0};  // used internally

  explicit CompletionPort(CompletionPortConfig config = {});  // throws std::system_error if the OS refuses
  ~CompletionPort();
  CompletionPort(const CompletionPort&) = delete;
  CompletionPort& operator=(const CompletionPort&) = delete;

  // Arms `handle` (one-shot) for `interest` (Readable and/or Writable).
  PortStatus associate(NativeHandle handle, CompletionKey key, IoEvents interest);
  // Re-arms a handle after its packet was delivered (may also change key or interest).
  PortStatus rearm(NativeHandle handle, CompletionKey key, IoEvents interest);
  // A packet already queued for the handle is still delivered after this returns.
  PortStatus disassociate(NativeHandle handle);

  PortStatus post(CompletionKey key, std::uint64_t bytes = 0, void* ptr = nullptr);
  PortStatus postQuit();

  // Ok with one packet, Timeout, or Closed.
  PortStatus dequeue(CompletionPacket& out, std::chrono::nanoseconds timeout);
  // Ok with 1..out.size() packets in out[0..count), Timeout, or Closed (count = 0).
  PortStatus dequeueBatch(std::span<CompletionPacket> out, std::size_t& count, std::chrono::nanoseconds timeout);
  // The calling thread stops counting as running on this port (no-op if it was not).
  void leave() noexcept;

  void shutdown();
  void close();

  CompletionPortStats stats() const;

  struct Impl;  // defined by the platform backend

 private:
  std::shared_ptr<Impl> impl_;  // shared: a thread's "running on" record holds it weakly
};

}  // namespace gamesrv
