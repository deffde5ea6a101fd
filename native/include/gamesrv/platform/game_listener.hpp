// GameListener: the OS half of the TCP game port (issue 14, item 1). It listens on
// host:port, accepts, reads, writes and closes; every policy (framing, limits, queues,
// timers, the handler) is the portable GameSessions' (gamesrv/game_sessions.hpp).
// POSIX: native/src/platform/posix/game_listener_posix.cpp (epoll, edge-triggered, on the
// completion port's threads). Win32: native/src/platform/win32/game_listener_win32.cpp
// (AcceptEx, WSARecv, WSASend on the IOCP itself). No OS header is included here.
//
// - start() binds and listens (port 0: any free port; boundPort() tells which), and
//   associates the listener's I/O with `config.completionPort`. Whoever drains that port (an
//   IocpWorkers, typically) passes every packet to dispatch(), which returns false for a
//   packet that is not this listener's (so a port can be shared with the pipe server).
// - stop(): stops accepting, waits for dispatches in progress (Win32: and for the
//   completions of every cancelled operation, delivered through dispatch() by the port's
//   threads, so those must still run while stop() does), then closes every session
//   (KICK shutdown written if the socket takes it at once; the handler's onClose() with
//   kind Stopped, code 7: shutdown) and the listener. Idempotent; the destructor calls it.
//   GameSessions must outlive the listener; the port's threads must not dispatch to a
//   destroyed listener (stop them, or stop routing packets to it, first).
//
// Thread safety: every member is safe from any thread; stop() must not run inside the
// handler (it waits for dispatches, the caller's own included).
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "gamesrv/platform/completion_port.hpp"

namespace gamesrv {

class GameSessions;

struct GameListenerConfig {
  std::string host = "127.0.0.1";  // an IPv4 or IPv6 literal
  std::uint16_t port = 0;          // 0: any free port
  CompletionPort* completionPort = nullptr;  // required: the port whose threads serve the sessions
  std::uint8_t keyTag = 0x47;       // top byte of this listener's completion keys
  // Each session socket's kernel send buffer (SO_SNDBUF; 0: the OS default, which
  // autotunes to megabytes). Small: state queued in the kernel is stale state, and a peer
  // that stops reading should fill it in seconds so that the core's stall rule
  // (GameSessionsConfig::sendStallTimeout) sees it, not after minutes of buffering.
  std::size_t socketSendBuffer = 64 * 1024;
};

struct GameListenResult {
  bool ok = false;
  std::string error;  // why not, when !ok
  std::uint16_t boundPort = 0;
};

class GameListener {
 public:
  // Made by the platform: the one definition of this in each platform's game_listener_*.cpp.
  static std::unique_ptr<GameListener> create(GameSessions& sessions, GameListenerConfig config);
  virtual ~GameListener() = default;

  virtual GameListenResult start() = 0;
  virtual void stop() = 0;
  virtual bool dispatch(const CompletionPacket& packet) = 0;
  virtual std::uint16_t boundPort() const = 0;
};

}  // namespace gamesrv
