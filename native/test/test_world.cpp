#include <atomic>
#include <latch>
#include <thread>

#include "gamesrv/world.hpp"
#include "harness.hpp"
#include "world_test_support.hpp"

using namespace gamesrv;
using gstest::ev;


TEST(login_logout_and_counts) {
  World w;
  CHECK(w.apply(ev(EventType::PlayerLogin, 1, "alice"), 10) == InvalidReason::None);
  CHECK(w.apply(ev(EventType::PlayerLogin, 2), 10) == InvalidReason::None);
  CHECK(w.apply(ev(EventType::PlayerLogin, 1), 11) == InvalidReason::AlreadyOnline);
  CHECK_EQ(w.onlineCount(), 2u);
  CHECK_EQ(w.player(1)->name, std::string("alice"));
  CHECK_EQ(w.player(2)->name, std::string("player-2"));
  CHECK(w.apply(ev(EventType::PlayerLogout, 1), 12) == InvalidReason::None);
  CHECK(w.apply(ev(EventType::PlayerLogout, 1), 13) == InvalidReason::NotOnline);
  CHECK(w.apply(ev(EventType::PlayerLogout, 99), 13) == InvalidReason::NotOnline);
  CHECK_EQ(w.onlineCount(), 1u);
  CHECK_EQ(w.knownCount(), 2u);
  CHECK(!w.player(1)->online);
  CHECK_EQ(w.player(1)->lastSeenMs, 12u);
}

TEST(move_parses_coordinates_and_refuses_garbage) {
  World w;
  CHECK(w.apply(ev(EventType::PlayerMove, 1, "1,2"), 1) == InvalidReason::AttackerOffline);
  w.apply(ev(EventType::PlayerLogin, 1), 1);
  CHECK(w.apply(ev(EventType::PlayerMove, 1, "100.5,-200"), 2) == InvalidReason::None);
  CHECK_EQ(w.player(1)->x, 100.5);
  CHECK_EQ(w.player(1)->y, -200.0);
  // docs/PROTOCOL.md's grammar: no spaces, '+', hex, inf or nan, whatever the source.
  for (const char* bad : {"", "1", "1,", ",2", "a,b", "1,2,3", "nan,1", "inf,0", "1e400,0", "999999999,0", "1;2",
                          "1, 2", " 1,2", "1 ,2", "1,2 ", "+1,2", "0x10,2", "1,0x1p3", "1e,2", "--1,2"}) {
    CHECK_MSG(w.apply(ev(EventType::PlayerMove, 1, bad), 3) == InvalidReason::BadCoordinates, bad);
  }
  CHECK_EQ(w.player(1)->x, 100.5);  // refused moves changed nothing
}

TEST(attack_lowers_hp_and_validates_target) {
  World w;
  w.apply(ev(EventType::PlayerLogin, 1), 1);
  w.apply(ev(EventType::PlayerLogin, 2), 1);
  w.apply(ev(EventType::PlayerLogin, 3), 1);
  w.apply(ev(EventType::PlayerLogout, 3), 1);
  CHECK(w.apply(ev(EventType::PlayerAttack, 1, {}, 2, 30), 2) == InvalidReason::None);
  CHECK_EQ(w.player(2)->hp, 70);
  CHECK(w.apply(ev(EventType::PlayerAttack, 1, {}, 42, 10), 2) == InvalidReason::UnknownTarget);
  CHECK(w.apply(ev(EventType::PlayerAttack, 1, {}, 3, 10), 2) == InvalidReason::TargetOffline);
  CHECK(w.apply(ev(EventType::PlayerAttack, 1, {}, 1, 10), 2) == InvalidReason::BadAttack);  // self
  CHECK(w.apply(ev(EventType::PlayerAttack, 1, {}, 2, -5), 2) == InvalidReason::BadAttack);
  CHECK(w.apply(ev(EventType::PlayerAttack, 1, {}, 2, 0.5), 2) == InvalidReason::BadAttack);
  CHECK(w.apply(ev(EventType::PlayerAttack, 1, {}, std::nan(""), 1), 2) == InvalidReason::UnknownTarget);
  CHECK(w.apply(ev(EventType::PlayerAttack, 9, {}, 2, 1), 2) == InvalidReason::AttackerOffline);
  CHECK(w.apply(ev(EventType::PlayerAttack, 1, {}, 2, 500), 3) == InvalidReason::None);
  CHECK_EQ(w.player(2)->hp, 0);  // floored at zero
  CHECK_EQ(w.player(1)->kills, 1u);
}

TEST(chat_log_is_bounded_and_ordered) {
  WorldConfig c;
  c.chatLogCapacity = 3;
  World w(c);
  w.apply(ev(EventType::PlayerLogin, 1), 1);
  for (int i = 0; i < 5; ++i) CHECK(w.apply(ev(EventType::PlayerChat, 1, "m" + std::to_string(i)), 2) == InvalidReason::None);
  CHECK(w.apply(ev(EventType::PlayerChat, 1, ""), 2) == InvalidReason::BadChat);
  CHECK(w.apply(ev(EventType::PlayerChat, 1, std::string(c.maxChatBytes + 1, 'x')), 2) == InvalidReason::BadChat);
  auto log = w.chat(10);
  CHECK_EQ(log.size(), 3u);
  CHECK_EQ(log.front().text, std::string("m2"));
  CHECK_EQ(log.back().text, std::string("m4"));
  CHECK_EQ(log.back().seq, 5u);
}

TEST(world_full_refuses_new_players) {
  WorldConfig c;
  c.maxPlayers = 2;
  World w(c);
  CHECK(w.apply(ev(EventType::PlayerLogin, 1), 1) == InvalidReason::None);
  CHECK(w.apply(ev(EventType::PlayerLogin, 2), 1) == InvalidReason::None);
  CHECK(w.apply(ev(EventType::PlayerLogin, 3), 1) == InvalidReason::WorldFull);
}

TEST(readers_see_consistent_state_while_the_writer_runs) {
  World w;
  std::atomic<bool> done{false};
  std::latch readerStarted(1);  // the writer starts once a reader is in its loop
  std::thread writer([&] {
    readerStarted.wait();
    for (std::uint32_t i = 0; i < 20000; ++i) {
      w.apply(ev(EventType::PlayerLogin, i % 500), i);
      w.apply(ev(EventType::PlayerMove, i % 500, std::to_string(i) + "," + std::to_string(i)), i);
      w.apply(ev(EventType::PlayerLogout, i % 500), i);
    }
    done = true;
  });
  std::size_t reads = 0;
  readerStarted.count_down();
  do {
    for (const Player& p : w.players()) CHECK(p.x == p.y);  // a move is never seen half-applied
    CHECK(w.onlineCount() <= 500u);
    ++reads;
  } while (!done.load());
  writer.join();
  CHECK(reads > 0);
  CHECK_EQ(w.onlineCount(), 0u);
}

GS_TEST_MAIN()
