// GameListener on Windows: not implemented yet (issue 14 plans AcceptEx / WSARecv /
// WSASend on the IOCP itself, over the same portable GameSessions core). Until then
// start() fails with a clear error, so that the build links and a caller learns why.
#include "gamesrv/game_sessions.hpp"
#include "gamesrv/platform/game_listener.hpp"

namespace gamesrv {
namespace {

class Win32GameListener final : public GameListener {
 public:
  GameListenResult start() override {
    GameListenResult r;
    r.error = "the game port is not yet implemented on Windows";
    return r;
  }
  void stop() override {}
  bool dispatch(const CompletionPacket&) override { return false; }
  std::uint16_t boundPort() const override { return 0; }
};

}  // namespace

std::unique_ptr<GameListener> GameListener::create(GameSessions&, GameListenerConfig) {
  return std::make_unique<Win32GameListener>();
}

}  // namespace gamesrv
