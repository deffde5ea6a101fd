// Building World events in the native tests (test_world, test_world_hashes, test_persistence).
#pragma once
#include <cstdint>
#include <string>
#include <utility>

#include "gamesrv/game_event.hpp"

namespace gstest {

inline gamesrv::GameEvent ev(gamesrv::EventType t, std::uint32_t id, std::string text = {}, double n1 = 0, double n2 = 0,
                             std::uint64_t seq = 0) {
  gamesrv::GameEvent e;
  e.type = t;
  e.playerId = id;
  e.text = std::move(text);
  e.num1 = n1;
  e.num2 = n2;
  e.seq = seq;
  return e;
}

}  // namespace gstest
