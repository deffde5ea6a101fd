// BotDriver on Windows: not implemented (the load generator runs on Linux, epoll). start()
// fails with a clear error, so that the build links and `gamesrv bots` says why.
#include "gamesrv/bots.hpp"
#include "gamesrv/platform/bot_driver.hpp"

namespace gamesrv {
namespace {

class Win32BotDriver final : public BotDriver {
 public:
  std::string start() override { return "bots run on Linux"; }
  void finish(std::uint32_t) override {}
};

}  // namespace

std::unique_ptr<BotDriver> BotDriver::create(BotFleet&) { return std::make_unique<Win32BotDriver>(); }

}  // namespace gamesrv
