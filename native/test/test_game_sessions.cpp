// The game port's portable core (GameSessions) without sockets: a fake listener feeds
// received() and drains gather()/wrote(). Runs on every platform; the TCP listener's
// cases are in test_game_listener.cpp.
#include <atomic>
#include <thread>

#include "game_sessions_test_support.hpp"

using namespace gamesrv;
using namespace gstest;
using namespace std::chrono_literals;

namespace {

struct CountingIo final : GameSessions::Io {
  std::atomic<int> wakes{0};
  void wake(GameSession&) override { wakes.fetch_add(1); }
};

struct Core {
  explicit Core(GameSessionsConfig c = {}) : sessions(c, handler) {
    handler.sessions = &sessions;
    sessions.attach(&io);
  }
  ~Core() { sessions.attach(nullptr); }
  std::shared_ptr<GameSession> open() {
    auto s = std::make_shared<GameSession>();
    CHECK(sessions.admit(s, "test:1") == GameSessions::Admission::Accepted);
    return s;
  }
  // Takes `max` bytes (all if 0) of what is queued, as a peer would read them.
  std::vector<std::byte> drain(GameSession& s, std::size_t max = 0) {
    std::vector<std::byte> out;
    GameIoSlice slices[8];
    for (;;) {
      const std::size_t n = sessions.gather(s, slices);
      if (n == 0) break;
      std::size_t took = 0;
      for (std::size_t i = 0; i < n; ++i) {
        std::size_t len = slices[i].len;
        if (max > 0) len = std::min(len, max - out.size());
        out.insert(out.end(), slices[i].data, slices[i].data + len);
        took += len;
        if (max > 0 && out.size() == max) break;
      }
      sessions.wrote(s, took);
      if (max > 0 && out.size() == max) break;
    }
    return out;
  }
  EchoHandler handler;
  CountingIo io;
  GameSessions sessions;
};

std::vector<Frame> parse(const std::vector<std::byte>& bytes) {
  std::vector<Frame> frames;
  std::size_t at = 0;
  while (at + 4 <= bytes.size()) {
    std::uint32_t len = 0;
    for (int i = 0; i < 4; ++i) len |= std::uint32_t(std::to_integer<std::uint8_t>(bytes[at + i])) << (8 * i);
    CHECK(len >= 1);
    CHECK(at + 4 + len <= bytes.size());
    Frame f;
    f.type = std::to_integer<std::uint8_t>(bytes[at + 4]);
    f.payload.assign(reinterpret_cast<const char*>(bytes.data() + at + 5), len - 1);
    frames.push_back(f);
    at += 4 + len;
  }
  CHECK_EQ(at, bytes.size());
  return frames;
}

}  // namespace

TEST(a_frame_split_into_single_bytes_is_delivered_whole) {
  Core c;
  auto s = c.open();
  const auto wire = encodeFrame(kHello, "hello there");
  for (const std::byte b : wire) c.sessions.received(*s, std::span(&b, 1));
  const auto frames = parse(c.drain(*s));
  CHECK_EQ(frames.size(), 1u);
  CHECK_EQ(frames[0].payload, std::string("hello there"));
  CHECK(s->state.load() == GameSessionState::Live);
  CHECK(s->inbound.capacity() == 0);  // nothing held between frames
}

TEST(several_frames_in_one_read_are_delivered_in_order) {
  Core c;
  auto s = c.open();
  std::vector<std::byte> wire;
  for (const char* p : {"a", "bb", "ccc"}) {
    const auto f = encodeFrame(0x05, p);
    wire.insert(wire.end(), f.begin(), f.end());
  }
  c.sessions.received(*s, std::span(wire).first(wire.size() - 2));  // the last one arrives later
  c.sessions.received(*s, std::span(wire).last(2));
  const auto frames = parse(c.drain(*s));
  CHECK_EQ(frames.size(), 3u);
  CHECK_EQ(frames[2].payload, std::string("ccc"));
}

TEST(zero_length_is_bad_frame_and_closes) {
  Core c;
  auto s = c.open();
  const std::byte zero[4] = {};
  c.sessions.received(*s, zero);
  CHECK(s->state.load() == GameSessionState::Closing);
  CHECK(c.sessions.closeInfo(*s).kind == GameCloseKind::Error);
  const auto frames = parse(c.drain(*s));
  CHECK_EQ(frames.size(), 1u);
  CHECK_EQ(frames[0].type, game_wire::kTypeError);
  CHECK_EQ(frames[0].errorCode(), 1);
  CHECK(c.sessions.closeDue(*s, SteadyClock::now()));
  CHECK_EQ(c.sessions.stats().errorsSent[1], 1u);
}

TEST(over_long_length_is_frame_too_long_and_nothing_is_buffered) {
  Core c;
  auto s = c.open();
  const auto wire = encodeFrame(0x04, std::string(game_wire::kMaxClientFrame, 'x'));  // length = max + 1
  c.sessions.received(*s, std::span(wire).first(4));
  CHECK(c.sessions.closeInfo(*s).code == 2);
  c.sessions.received(*s, std::span(wire).subspan(4));  // the rest is ignored
  CHECK(s->inbound.capacity() == 0);
  const auto frames = parse(c.drain(*s));
  CHECK_EQ(frames.size(), 1u);
  CHECK_EQ(frames[0].errorCode(), 2);
}

TEST(droppable_frames_over_the_soft_limit_are_dropped_never_a_started_one) {
  GameSessionsConfig cfg;
  cfg.sendSoftLimit = 1000;
  cfg.sendHardLimit = 100000;
  Core c(cfg);
  auto s = c.open();
  const auto block = std::make_shared<std::vector<std::byte>>(300, std::byte{7});
  auto state = [&](std::uint8_t tag) {
    const std::byte head[1] = {std::byte(tag)};
    return GameFrame::gather(0x82, head, {GameBuffer{block, block->data(), block->size()}});
  };
  CHECK(c.sessions.send(s->id, state(1), true));
  const auto started = c.drain(*s, 10);  // the first one is partly written
  CHECK_EQ(started.size(), 10u);
  CHECK(c.sessions.send(s->id, GameFrame::copyOf(0x84, bytesOf("chat")), false));
  for (std::uint8_t i = 2; i <= 6; ++i) CHECK(c.sessions.send(s->id, state(i), true));
  const auto st = c.sessions.stats();
  CHECK(st.droppedStates >= 2);
  CHECK(c.handler.droppedCalls() >= 1);
  auto rest = c.drain(*s);
  std::vector<std::byte> all(started);
  all.insert(all.end(), rest.begin(), rest.end());
  const auto frames = parse(all);  // whole frames only
  CHECK_EQ(frames.front().payload[0], char(1));  // the started one went out whole
  bool chat = false;
  for (const Frame& f : frames) chat = chat || f.type == 0x84;
  CHECK(chat);  // reliable frames are never dropped
  CHECK_EQ(frames.back().payload[0], char(6));  // the newest state is kept
  CHECK_EQ(frames.size() + st.droppedStates, 7u);
}

TEST(past_the_hard_limit_the_session_is_kicked_too_slow) {
  GameSessionsConfig cfg;
  cfg.sendSoftLimit = 100;
  cfg.sendHardLimit = 1000;
  Core c(cfg);
  auto s = c.open();
  int sent = 0;
  while (c.sessions.send(s->id, GameFrame::copyOf(0x84, std::vector<std::byte>(90)), false)) ++sent;
  CHECK(sent >= 9 && sent <= 11);
  CHECK(s->state.load() == GameSessionState::Closing);
  CHECK(c.sessions.closeInfo(*s).kind == GameCloseKind::Kick);
  CHECK_EQ(c.sessions.closeInfo(*s).code, 2);
  const auto frames = parse(c.drain(*s));
  CHECK_EQ(frames.back().type, game_wire::kTypeKick);
  CHECK_EQ(frames.back().kickReason(), 2);
  CHECK_EQ(c.sessions.stats().kicksSent[2], 1u);
  c.sessions.finish(*s, c.sessions.closeInfo(*s));
  CHECK(c.handler.closedWith(s->id).has_value());
  CHECK_EQ(c.sessions.count(), 0u);
  CHECK_EQ(c.sessions.stats().sendQueueBytes, 0u);
}

TEST(token_bucket_refuses_then_kicks) {
  GameSessionsConfig cfg;
  cfg.messageRate = 1;
  cfg.messageBurst = 3;
  cfg.rateOffencesToKick = 3;
  Core c(cfg);
  auto s = c.open();
  std::vector<std::byte> wire;
  for (int i = 0; i < 8; ++i) {
    const auto f = encodeFrame(0x05, "p");
    wire.insert(wire.end(), f.begin(), f.end());
  }
  c.sessions.received(*s, wire);
  const auto frames = parse(c.drain(*s));
  CHECK_EQ(frames.size(), 3u + 2u + 1u);  // 3 echoes, 2 ERROR rate_limited, 1 KICK
  CHECK_EQ(frames[3].errorCode(), 12);
  CHECK_EQ(frames[4].errorCode(), 12);
  CHECK_EQ(frames[5].type, game_wire::kTypeKick);
  CHECK_EQ(frames[5].kickReason(), 6);
  CHECK_EQ(c.sessions.stats().rateLimited, 3u);
}

TEST(sweep_enforces_the_hello_deadline_and_idle) {
  GameSessionsConfig cfg;
  cfg.helloTimeout = 50ms;
  cfg.idleTimeout = 80ms;
  Core c(cfg);
  auto waiting = c.open();
  auto live = c.open();
  const auto hello = encodeFrame(kHello, "");
  c.sessions.received(*live, hello);
  c.drain(*live);
  const TimePoint t0 = waiting->connectedAt;  // times relative to the sessions' own clocks, not the test's pace
  c.sessions.sweep(t0 + 10ms);
  CHECK(waiting->state.load() == GameSessionState::AwaitingHello);
  c.sessions.sweep(t0 + 60ms);
  CHECK(waiting->state.load() == GameSessionState::Closing);
  CHECK_EQ(parse(c.drain(*waiting)).at(0).errorCode(), 15);
  CHECK(live->state.load() == GameSessionState::Live);
  c.sessions.sweep(fromNs(static_cast<std::uint64_t>(live->lastInputNs.load())) + 100ms);
  CHECK(live->state.load() == GameSessionState::Closing);
  CHECK_EQ(parse(c.drain(*live)).at(0).kickReason(), 5);
}

// A reader that takes nothing while every replication round supersedes its STATE (drop
// the queued one, queue the new one) is stalled since the first one was queued: the drop
// that empties the queue does not restart the stall clock (only a written byte does).
TEST(a_reader_whose_states_keep_being_superseded_is_stalled_and_kicked_too_slow) {
  GameSessionsConfig cfg;
  cfg.sendStallTimeout = 50ms;
  Core c(cfg);
  auto s = c.open();
  c.sessions.received(*s, encodeFrame(kHello, ""));
  c.drain(*s);  // the echoed HELLO is written: nothing queued now
  const auto block = std::make_shared<std::vector<std::byte>>(64, std::byte{1});
  auto state = [&] {
    const std::byte head[1] = {std::byte{0}};
    return GameFrame::gather(0x82, head, {GameBuffer{block, block->data(), block->size()}});
  };
  CHECK(c.sessions.send(*s, state(), true));
  const std::int64_t first = s->waitingSinceNs;
  // Rounds later, on a clock that has moved on: each drops the unwritten STATE and queues a new one.
  const std::int64_t later = first + 1'000;
  while (steadyNs(SteadyClock::now()) < later) {
  }
  for (int round = 0; round < 5; ++round) {
    CHECK_EQ(c.sessions.dropStates(*s), 1u);
    CHECK(c.sessions.send(*s, state(), true));
  }
  CHECK_EQ(s->waitingSinceNs, first);
  c.sessions.sweep(fromNs(static_cast<std::uint64_t>(first)) + 60ms);
  CHECK(s->state.load() == GameSessionState::Closing);
  CHECK(c.sessions.closeInfo(*s).kind == GameCloseKind::Kick);
  CHECK_EQ(c.sessions.closeInfo(*s).code, static_cast<std::uint16_t>(game_wire::KickReason::TooSlow));
}

TEST(admission_limits_and_draining) {
  GameSessionsConfig cfg;
  cfg.maxSessions = 1;
  Core c(cfg);
  auto first = c.open();
  auto second = std::make_shared<GameSession>();
  CHECK(c.sessions.admit(second, "x") == GameSessions::Admission::ServerFull);
  CHECK_EQ(GameSessions::refusal(GameSessions::Admission::ServerFull).bytes(), 4u + 1 + 2 + 2 + 11);
  c.sessions.finish(*first, GameCloseInfo{GameCloseKind::PeerClosed, 0});
  c.sessions.stopAccepting();
  CHECK(c.sessions.admit(second, "x") == GameSessions::Admission::Draining);
  CHECK(!c.sessions.stats().accepting);
  CHECK_EQ(c.sessions.stats().connections.refused, 2u);
}

TEST(sessions_are_paged_by_id) {
  Core c;
  std::vector<std::shared_ptr<GameSession>> all;
  for (int i = 0; i < 5; ++i) all.push_back(c.open());
  const auto page = c.sessions.sessions(1, 2);
  CHECK_EQ(page.size(), 2u);
  CHECK_EQ(page[0].id, all[1]->id);
  CHECK_EQ(page[1].id, all[2]->id);
  CHECK_EQ(page[0].remote, std::string("test:1"));
  CHECK(c.sessions.sessions(5, 10).empty());
}

TEST(send_from_many_threads_keeps_frames_whole) {
  GameSessionsConfig cfg;
  cfg.sendSoftLimit = 4096;
  cfg.sendHardLimit = 1 << 30;
  Core c(cfg);
  auto s = c.open();
  std::atomic<bool> done{false};
  std::vector<std::byte> wire;
  std::thread reader([&] {
    while (!done.load()) {
      auto part = c.drain(*s, 777);
      wire.insert(wire.end(), part.begin(), part.end());
    }
  });
  std::vector<std::thread> senders;
  for (int t = 0; t < 4; ++t)
    senders.emplace_back([&, t] {
      for (int i = 0; i < 2000; ++i)
        c.sessions.send(s->id, GameFrame::copyOf(0x82, std::vector<std::byte>(50 + t, std::byte(t))), (i % 2) == 0);
    });
  for (auto& th : senders) th.join();
  done = true;
  reader.join();
  const auto rest = c.drain(*s);
  wire.insert(wire.end(), rest.begin(), rest.end());
  const auto frames = parse(wire);
  for (const Frame& f : frames) CHECK_EQ(f.payload.size(), 50u + static_cast<std::uint8_t>(f.payload[0]));
  CHECK_EQ(frames.size() + c.sessions.stats().droppedStates, 8000u);
}

TEST(broadcast_reaches_every_open_session_and_shares_its_buffers) {
  Core c;
  auto a = c.open(), b = c.open(), kicked = c.open();
  CHECK(c.sessions.kick(kicked->id, game_wire::KickReason::Operator, "out"));
  const auto block = std::make_shared<std::vector<std::byte>>(64, std::byte{9});
  const GameFrame notice = GameFrame::gather(0x88, {}, {GameBuffer{block, block->data(), block->size()}});
  CHECK_EQ(c.sessions.broadcast(notice, false), 2u);
  CHECK_EQ(block.use_count(), 1 + 1 + 2);  // ours, the frame's, one per queued copy: no byte copied
  for (auto* s : {a.get(), b.get()}) {
    const auto frames = parse(c.drain(*s));
    CHECK_EQ(frames.size(), 1u);
    CHECK_EQ(frames[0].payload, std::string(64, char(9)));
  }
  CHECK_EQ(block.use_count(), 2);
}

GS_TEST_MAIN()
