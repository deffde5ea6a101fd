// An Engine configuration with the game port open (any free port, gameAuth none, AOI
// 100, 60 Hz) and no pipe or monitor, for the native tests that drive the port.
#pragma once
#include "gamesrv/engine.hpp"

namespace gstest {

inline gamesrv::EngineConfig gameConfig(const char* serverName) {
  gamesrv::EngineConfig c;
  c.io.serverName = serverName;
  c.io.pipe = false;
  c.io.monitor = false;
  c.io.iocpThreads = 2;
  c.controller.tickRateHz = 60;
  c.game.enabled = true;
  c.game.auth = gamesrv::GameAuth::None;
  c.game.aoiRadius = 100;
  return c;
}

}  // namespace gstest
