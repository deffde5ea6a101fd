// BotDriver: the OS half of the bots (gamesrv/bots.hpp): sockets and threads. It connects
// every bot of a BotFleet to config().host:port and moves bytes between the sockets and the
// bots; what the bytes mean, the schedule and the statistics are the fleet's (core).
// POSIX: native/src/platform/posix/bots_posix.cpp (config().threads threads, each with its
// own epoll set; non-blocking connects; edge-triggered reads and writes; epoll_wait's
// timeout is the earliest bot's due time; an eventfd wakes a thread to end).
// Win32: start() fails with "bots run on Linux". No OS header is included here.
//
// - start(): creates the threads, which connect their bots (bot i is thread i % threads')
//   and run them. Empty on success, else why not (nothing is left running).
// - finish(): every thread queues BYE on its bots, writes what it can within
//   `lingerMs`, closes every socket and exits; finish() returns once all have joined.
//   Idempotent; the destructor calls it.
//
// Thread safety: start() and finish() from one controlling thread.
#pragma once
#include <cstdint>
#include <memory>
#include <string>

namespace gamesrv {

class BotFleet;

class BotDriver {
 public:
  static std::unique_ptr<BotDriver> create(BotFleet& fleet);
  virtual ~BotDriver() = default;

  virtual std::string start() = 0;
  virtual void finish(std::uint32_t lingerMs) = 0;
};

}  // namespace gamesrv
