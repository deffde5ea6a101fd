// The bots (gamesrv/bots.hpp) against the whole Engine's game port on 127.0.0.1, so the
// sanitizer lanes run the bot driver's threads (epoll workers, the controlling thread's
// progress and finish) next to the server's: every bot logs in, moves, measures and leaves.
#include <string>
#include <vector>

#include "eventually.hpp"
#include "harness.hpp"
#include "gamesrv/bots.hpp"
#include "game_engine_test_support.hpp"
#include "gamesrv/engine.hpp"

using namespace gamesrv;
using namespace gstest;
using namespace std::chrono_literals;

TEST(bots_log_in_move_measure_and_leave) {
  EngineOptions options;
  options.world.worldSize = 1000;
  Engine engine(options);
  CHECK(engine.start(gameConfig("t-bots")).error == TransitionError::None);
  BotsConfig c;
  c.port = engine.game().stats().port;
  c.count = 60;
  c.rateHz = 10;
  c.durationS = 1.5;
  c.threads = 2;
  c.firstPlayerId = 1000;
  c.chatEveryS = 0.5;
  for (std::uint32_t i = 0; i < c.count; ++i) c.tickets.push_back(std::to_string(c.firstPlayerId + i) + ":bot" + std::to_string(i));
  int reports = 0;
  const BotsResult r = runBots(c, [&](const BotsSummary&) { ++reports; }, {});
  CHECK_MSG(r.ok, r.error);
  CHECK_MSG(r.summary.connected == c.count, r.summary.lastProblem);
  CHECK_EQ(r.summary.failed, 0u);
  CHECK_EQ(r.summary.dropped, 0u);
  CHECK_EQ(r.summary.live, 0u);
  CHECK(r.summary.movesSent > 0);
  CHECK(r.summary.chatsSent > 0);
  CHECK(r.summary.rttUs.count > 0);
  CHECK(r.summary.moveObservedUs.count > 0);
  CHECK(reports >= 1);
  CHECK(eventually([&] {
    engine.flushEvents(1s);
    return engine.world().onlineCount() == 0;
  }, 10s));
  const EngineSnapshot s = engine.snapshot();
  CHECK_EQ(s.events.accepted, s.events.processed);
  CHECK(engine.stop(10s).drained);
}

TEST(an_invalid_config_is_refused_before_anything_runs) {
  BotsConfig c;
  c.count = 2;
  c.tickets = {"1"};
  const BotsResult r = runBots(c, {}, {});
  CHECK(!r.ok);
  CHECK(r.error.find("tickets") != std::string::npos);
  c.tickets = {"1", std::string(2000, 'x')};
  CHECK(validate(c).find("ticket 1") != std::string::npos);
}

GS_TEST_MAIN()
