// The protocol-agnostic half of a connection server: what every server whose I/O runs on
// a CompletionPort keeps the same way, whatever it speaks and whatever the OS.
//
// - ConnectionCounters: admission against a client limit, and the counts of connections,
//   frames and bytes in each direction, deferred writes and I/O errors.
// - ServerGate: the life cycle Created -> Running -> Stopping -> Stopped, and the count of
//   port threads inside the server (dispatch calls past the state check). stop() waits
//   for that count to drain before it touches any OS object, so no handle is closed while
//   a port thread uses it and no handler runs after stop() returns; stop() called from
//   inside a dispatch (a handler asking for shutdown) does not wait for its own call.
//
// The inter-server pipe (pipe_session.hpp; platform/*/pipe_server_*.cpp) uses both; a
// second protocol over another transport (player sessions over TCP) uses them as they
// are: docs/DESIGN-NOTES.md, "One connection core".
//
// Thread safety: ConnectionCounters is lock-free, safe from any thread. ServerGate's
// members say which need its mutex.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>

namespace gamesrv {

struct ConnectionCounts {
  std::uint64_t accepted = 0;  // connections admitted and served
  std::uint64_t refused = 0;   // closed at once (over the limit, or refused by the OS layer)
  std::uint64_t closed = 0;    // admitted connections that ended (EOF, error or stop)
  std::size_t active = 0;      // admitted and not yet closed
  std::size_t peakActive = 0;
  std::uint64_t framesIn = 0;  // messages read, valid or not
  std::uint64_t framesOut = 0;
  std::uint64_t bytesIn = 0;
  std::uint64_t bytesOut = 0;
  std::uint64_t deferredWrites = 0;  // writes that waited for the peer to drain its buffer
  std::uint64_t ioErrors = 0;        // connections (or accepts) ended by an OS error
};

class ConnectionCounters {
 public:
  // Admits one connection unless `limit` are active; counts it accepted.
  bool tryAdmit(std::size_t limit) noexcept;
  void refused(std::uint64_t n = 1) noexcept { refused_.fetch_add(n, std::memory_order_relaxed); }
  // An admitted connection ended. ioError: by an OS error rather than a clean end.
  void closed(bool ioError) noexcept;
  // stop(): every admitted connection ends at once; returns how many there were.
  std::size_t closeAll() noexcept;
  void ioError() noexcept { ioErrors_.fetch_add(1, std::memory_order_relaxed); }

  void frameIn(std::uint64_t bytes) noexcept;
  // Counted before the write is issued, so that a peer holding the frame finds it in the
  // stats; unsent() takes it back when the write fails.
  void frameOut(std::uint64_t bytes) noexcept;
  void unsent(std::uint64_t bytes) noexcept;
  void deferredWrite() noexcept { deferredWrites_.fetch_add(1, std::memory_order_relaxed); }

  ConnectionCounts read() const noexcept;

 private:
  std::atomic<std::size_t> active_{0}, peakActive_{0};
  std::atomic<std::uint64_t> accepted_{0}, refused_{0}, closed_{0}, ioErrors_{0};
  std::atomic<std::uint64_t> framesIn_{0}, framesOut_{0}, bytesIn_{0}, bytesOut_{0}, deferredWrites_{0};
};

class ServerGate {
 public:
  enum class State : std::uint8_t { Created, Running, Stopping, Stopped };
  using Lock = std::unique_lock<std::mutex>;

  // The server's one lock: the gate's fields, and whichever tables the server says.
  std::mutex& mutex() const noexcept { return mu_; }
  State state() const noexcept { return state_; }  // Requires: mutex() held.
  bool running() const noexcept { return state_ == State::Running; }  // Requires: mutex() held.
  void setRunning() noexcept { state_ = State::Running; }  // Requires: mutex() held, state Created.

  // Requires: mutex() held (by `lock`). The first half of stop(): false when there is
  // nothing to stop (never started: now Stopped; or stopped, or being stopped by another
  // thread, which is waited for unless the caller is inside a dispatch of this server).
  // True: the state is Stopping and no dispatch runs but the caller's own.
  bool beginStop(Lock& lock);
  // Requires: mutex() held (by `lock`). The last step of stop().
  void finishStop(Lock& lock) noexcept;

  // Requires: mutex() held and running(). The caller is now counted in flight.
  void enterLocked() noexcept { ++inFlight_; }
  // Ends what enterLocked() began. Takes mutex().
  void leave();
  // Requires: mutex() held (by `lock`). Like leave(), for a caller that holds the lock.
  void leaveLocked() noexcept;

  // Marks the calling thread as inside a dispatch of this server while it lives (so that
  // beginStop() from a handler does not wait for itself), then calls leave().
  class Dispatch {
   public:
    explicit Dispatch(ServerGate& gate) noexcept;
    ~Dispatch();
    Dispatch(const Dispatch&) = delete;
    Dispatch& operator=(const Dispatch&) = delete;

   private:
    ServerGate& gate_;
    const void* outer_;
  };

 private:
  mutable std::mutex mu_;
  std::condition_variable changed_;  // inFlight_ or state_ changed
  State state_ = State::Created;     // guarded by mu_
  std::size_t inFlight_ = 0;         // guarded by mu_
};

}  // namespace gamesrv
