// Waits for a state that has no event of its own (a thread blocked inside a call, a
// connection the server has counted, a pool thread retired): a bounded loop with a short
// pause, never an open-ended sleep. Where an event or a promise can be awaited, await it.
#pragma once
#include <chrono>
#include <thread>

namespace gstest {

// True once pred() holds; false if it still does not after `limit` (checked once more at
// the end, so a state reached during the last pause counts).
template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds limit = std::chrono::seconds(10),
                std::chrono::milliseconds pause = std::chrono::milliseconds(1)) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < until) {
    if (pred()) return true;
    std::this_thread::sleep_for(pause);
  }
  return pred();
}

}  // namespace gstest
