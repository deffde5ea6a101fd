// The game port through the whole Engine (GameServer: HELLO, inputs as World events,
// replication, logout on close), with real sockets on 127.0.0.1: what the node suites
// test end to end, here so that the sanitizer lanes run the glue's threads too (I/O
// threads, the event thread, a game-loop thread replicating, the caller's operations),
// and the Windows lane runs it under wine against the IOCP listener.
#include <string>
#include <vector>

#include "eventually.hpp"
#include "game_socket_client.hpp"
#include "game_engine_test_support.hpp"
#include "gamesrv/engine.hpp"
#include "gamesrv/game_protocol.hpp"
#include "gamesrv/platform/thread.hpp"

using namespace gamesrv;
using namespace gstest;
using namespace std::chrono_literals;

namespace {

void sendMessage(Client& c, const auto& message) {
  std::string out;
  CHECK(game::encode(out, message));
  c.sendRaw(std::vector<std::byte>(reinterpret_cast<const std::byte*>(out.data()), reinterpret_cast<const std::byte*>(out.data()) + out.size()));
}

game::Bytes bytes(const std::string& s) { return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()}; }


}  // namespace

TEST(players_log_in_move_see_each_other_chat_and_leave_through_the_engine) {
  EngineOptions options;
  options.world.worldSize = 1000;
  Engine engine(options);
  CHECK(engine.start(gameConfig("t-game-server")).error == TransitionError::None);
  const std::uint16_t port = engine.game().stats().port;
  CHECK(port != 0);

  constexpr int kPlayers = 24;
  std::vector<std::unique_ptr<Client>> clients;
  for (int i = 0; i < kPlayers; ++i) {
    clients.push_back(std::make_unique<Client>(port));
    sendMessage(*clients.back(), game::Hello{game::kProtocolVersion, std::to_string(i + 1) + ":p" + std::to_string(i + 1)});
  }
  for (int i = 0; i < kPlayers; ++i) {
    const auto f = clients[i]->read();
    CHECK(f.has_value() && f->type == static_cast<std::uint8_t>(game::MessageType::Welcome));
    game::Welcome w;
    CHECK(game::parseWelcome(bytes(f->payload), w) == game::ErrorCode::None);
    CHECK_EQ(w.playerId, static_cast<std::uint32_t>(i + 1));
  }
  // All within one 3x3 area: everyone sees everyone.
  for (int i = 0; i < kPlayers; ++i) sendMessage(*clients[i], game::Move{5.0 * i, 7.0, 1});
  sendMessage(*clients[0], game::Chat{"hi"});
  for (int i = 0; i < kPlayers; ++i) {
    bool seesAll = false, heard = false;
    game::State state;
    std::vector<bool> seen(kPlayers + 1, false);
    while (!(seesAll && heard)) {
      const auto f = clients[i]->read();
      CHECK_MSG(f.has_value(), "player " + std::to_string(i + 1) + " gets STATE and CHAT frames");
      if (f->type == static_cast<std::uint8_t>(game::MessageType::ServerChat)) {
        game::ServerChat chat;
        CHECK(game::parseServerChat(bytes(f->payload), chat) == game::ErrorCode::None);
        heard = chat.fromPlayerId == 1 && chat.text == "hi";
      }
      if (f->type != static_cast<std::uint8_t>(game::MessageType::State)) continue;
      CHECK(game::parseState(bytes(f->payload), state) == game::ErrorCode::None);
      for (const game::Entry& e : state.entries) {
        if (e.playerId >= 1 && e.playerId <= kPlayers) seen[e.playerId] = true;
      }
      seesAll = state.header.lastClientSeq == 1;
      for (int j = 1; j <= kPlayers; ++j) seesAll = seesAll && seen[j];
    }
  }
  CHECK_EQ(engine.game().list(0, 100).size(), static_cast<std::size_t>(kPlayers));
  CHECK_EQ(engine.game().broadcast("notice"), static_cast<std::size_t>(kPlayers));
  for (auto& c : clients) sendMessage(*c, game::Bye{});
  for (auto& c : clients) CHECK(c->drainedAndClosedByServer());
  CHECK(eventually([&] {
    engine.flushEvents(1s);
    return engine.world().onlineCount() == 0;
  }, 10s));
  const StopReport r = engine.stop(10s);
  CHECK(r.drained);
  const EngineSnapshot s = engine.snapshot();
  CHECK_EQ(s.events.accepted, s.events.processed);
  CHECK(s.game.stateFrames > 0);
  CHECK_EQ(s.game.hellos, static_cast<std::uint64_t>(kPlayers));
}

// The event thread stages grid changes for the next replication round; with the game loop
// ticking once a second, more moves than the staging bound arrive between two rounds, so
// the event thread applies some itself. Either way they are applied in order: a STATE
// shows the last move (were an older one applied after it, the grid would end there).
TEST(more_grid_changes_than_the_staging_bound_between_two_rounds_are_applied_in_order) {
  EngineOptions options;
  options.world.worldSize = 1000;
  options.events.queueCapacity = 1u << 17;
  Engine engine(options);
  EngineConfig config = gameConfig("t-game-server-3");
  config.controller.tickRateHz = 1;
  CHECK(engine.start(config).error == TransitionError::None);
  Client client(engine.game().stats().port);
  sendMessage(client, game::Hello{game::kProtocolVersion, "7:seven"});
  CHECK(client.read().has_value());  // WELCOME
  CHECK(eventually([&] {
    engine.flushEvents(1s);
    return engine.world().onlineCount() == 1;
  }, 10s));
  constexpr int kMoves = 70'000;  // > GameServer's staging bound (65,536)
  std::vector<GameEvent> batch;
  for (int i = 0; i < kMoves; ++i) {
    GameEvent e;
    e.type = EventType::PlayerMove;
    e.playerId = 7;
    e.text = std::to_string(i % 500) + "," + std::to_string(i % 300);
    batch.push_back(std::move(e));
  }
  const double lastX = (kMoves - 1) % 500, lastY = (kMoves - 1) % 300;
  CHECK(engine.enqueue(std::move(batch)).status == EnqueueStatus::Ok);
  CHECK(engine.flushEvents(30s));
  bool seen = false;
  while (!seen) {
    const auto f = client.read();
    CHECK_MSG(f.has_value(), "the player gets a STATE with its last position");
    if (f->type != static_cast<std::uint8_t>(game::MessageType::State)) continue;
    game::State state;
    CHECK(game::parseState(bytes(f->payload), state) == game::ErrorCode::None);
    for (const game::Entry& e : state.entries) {
      if (e.playerId == 7 && e.x == static_cast<float>(lastX) && e.y == static_cast<float>(lastY)) seen = true;
    }
  }
  CHECK(engine.stop(10s).drained);
}

// Input back-pressure through the listener (the IOCP one in the Windows lane): inputs that
// find the event queue full are held and the session's reading pauses; once the queue
// drains they are all applied, in order, none refused.
TEST(inputs_that_find_the_queue_full_wait_and_are_all_applied_once_it_drains) {
  EngineOptions options;
  options.world.worldSize = 1000;
  options.events.queueCapacity = 16;
  Engine engine(options);
  EngineConfig config = gameConfig("t-game-server-4");
  config.game.sessions.messageRate = 1'000'000;  // the token bucket is not what is tested
  config.game.sessions.messageBurst = 2'000'000;
  CHECK(engine.start(config).error == TransitionError::None);
  Client client(engine.game().stats().port);
  sendMessage(client, game::Hello{game::kProtocolVersion, "9:nine"});
  CHECK(client.read().has_value());  // WELCOME
  CHECK(eventually([&] {
    engine.flushEvents(1s);
    return engine.world().onlineCount() == 1;
  }, 10s));
  CHECK(engine.pause().error == TransitionError::None);
  constexpr int kMoves = 300;  // in two sends: the second arrives while reading is paused
  auto sendMoves = [&](int from, int to) {
    std::string out;
    for (int i = from; i <= to; ++i) CHECK(game::encode(out, game::Move{1.0 * i, 2.0 * (i % 100), static_cast<std::uint32_t>(i)}));
    client.sendRaw(std::vector<std::byte>(reinterpret_cast<const std::byte*>(out.data()), reinterpret_cast<const std::byte*>(out.data()) + out.size()));
  };
  sendMoves(1, kMoves / 2);
  CHECK(eventually([&] { return engine.game().stats().inputsHeld > 0; }, 10s));
  sendMoves(kMoves / 2 + 1, kMoves);  // waits in the OS until the session reads again
  CHECK(engine.resume().error == TransitionError::None);
  CHECK(eventually([&] {
    engine.flushEvents(1s);
    const auto p = engine.world().player(9);
    return p && p->x == 1.0 * kMoves && engine.snapshot().events.processed == engine.snapshot().events.accepted;
  }, 20s));
  const GameServerStats st = engine.game().stats();
  CHECK_EQ(st.inputsRefused, 0u);
  CHECK_EQ(st.inputs, static_cast<std::uint64_t>(1 + kMoves));  // the LOGIN and every MOVE
  CHECK(engine.stop(10s).drained);
}

TEST(stop_with_players_connected_logs_them_out_and_a_restart_opens_a_fresh_port) {
  Engine engine;
  for (int run = 0; run < 2; ++run) {
    CHECK(engine.start(gameConfig("t-game-server-2")).error == TransitionError::None);
    const std::uint16_t port = engine.game().stats().port;
    std::vector<std::unique_ptr<Client>> clients;
    for (int i = 0; i < 8; ++i) {
      clients.push_back(std::make_unique<Client>(port));
      sendMessage(*clients.back(), game::Hello{game::kProtocolVersion, std::to_string(100 + i)});
      CHECK(clients.back()->read().has_value());
      sendMessage(*clients.back(), game::Move{1.0 * i, 2.0, 7});
    }
    CHECK(eventually([&] {
      engine.flushEvents(1s);
      return engine.world().onlineCount() == 8;
    }, 10s));
    const StopReport r = engine.stop(10s);
    CHECK(r.drained);
    CHECK_EQ(engine.world().onlineCount(), 0u);
    for (auto& c : clients) CHECK(c->drainedAndClosedByServer());
    const EngineSnapshot s = engine.snapshot();
    CHECK_EQ(s.events.accepted, s.events.processed);
  }
}

GS_TEST_MAIN()
