// The game port's TCP listener on IocpWorkers threads (Linux: epoll, edge-triggered;
// Windows: AcceptEx / WSARecv / WSASend on the IOCP, run under wine by the Windows lane):
// real sockets on 127.0.0.1, port 0, and an echo handler. The core's policies without
// sockets: test_game_sessions.cpp.
#include <atomic>
#include <thread>

#include "eventually.hpp"
#include "game_sessions_test_support.hpp"
#include "game_socket_client.hpp"
#include "gamesrv/iocp_workers.hpp"
#include "gamesrv/platform/game_listener.hpp"

using namespace gamesrv;
using namespace gstest;
using namespace std::chrono_literals;

namespace {

struct Server {
  explicit Server(GameSessionsConfig cfg = {}, std::size_t threads = 2, const char* host = "127.0.0.1")
      : sessions(cfg, handler),
        listener(GameListener::create(sessions, GameListenerConfig{host, 0, &port})),
        workers(port, [this](const CompletionPacket& p) { listener->dispatch(p); }, IocpWorkersConfig{threads, 16, "gs-iocp"}) {
    handler.sessions = &sessions;
    const GameListenResult r = listener->start();
    CHECK_MSG(r.ok, r.error);
    CHECK(r.boundPort != 0);
    CHECK_EQ(listener->boundPort(), r.boundPort);
    workers.start();
  }
  ~Server() {
    listener->stop();
    workers.stop(std::chrono::seconds(30));
  }
  EchoHandler handler;
  GameSessions sessions;
  CompletionPort port;
  std::unique_ptr<GameListener> listener;
  IocpWorkers workers;
};

void expectEcho(Client& c, std::string_view text) {
  c.sendFrame(kHello, text);
  const auto f = c.read();
  CHECK(f.has_value());
  CHECK_EQ(f->type, kHello);
  CHECK_EQ(f->payload, std::string(text));
}

// The session's ERROR (or KICK) arrives, then the server closes.
void expectAnsweredAndClosed(Client& c, std::uint8_t type, std::uint16_t code) {
  const auto f = c.read();
  CHECK(f.has_value());
  CHECK_EQ(f->type, type);
  CHECK_EQ(type == game_wire::kTypeError ? f->errorCode() : f->kickReason(), code);
  CHECK(c.closedByServer());
}

}  // namespace

TEST(connect_accept_echo_and_peer_close) {
  Server srv;
  {
    Client c(srv.listener->boundPort());
    expectEcho(c, "hello");
    const std::uint32_t id = srv.handler.waitOpened(1);
    const auto info = srv.sessions.sessions(0, 10);
    CHECK_EQ(info.size(), 1u);
    CHECK(info[0].remote.rfind("127.0.0.1:", 0) == 0);
    CHECK(info[0].state == GameSessionState::Live);
    CHECK_EQ(info[0].bytesIn, 10u);
    CHECK(eventually([&] { return srv.sessions.sessions(0, 1).at(0).bytesOut == 10u; }));
    CHECK(id != 0);
  }
  const auto why = srv.handler.waitClosed(srv.handler.opened().at(0));
  CHECK(why.has_value());
  CHECK(why->kind == GameCloseKind::PeerClosed);
  CHECK_EQ(srv.sessions.count(), 0u);
}

TEST(a_thousand_concurrent_connections_each_send_and_receive) {
  GameSessionsConfig cfg;
  cfg.maxSessions = 2000;
  // Connecting a thousand clients takes seconds under wine on a busy machine: not the
  // HELLO deadline's test (the default 5 s would answer the last ones hello_timeout).
  cfg.helloTimeout = std::chrono::minutes(1);
  Server srv(cfg, 2);
  constexpr int kClients = 1000;
  std::vector<std::unique_ptr<Client>> clients;
  for (int i = 0; i < kClients; ++i) clients.push_back(std::make_unique<Client>(srv.listener->boundPort()));
  for (int i = 0; i < kClients; ++i) clients[i]->sendFrame(kHello, "client " + std::to_string(i));
  for (int i = 0; i < kClients; ++i) {
    const auto f = clients[i]->read();
    CHECK_MSG(f.has_value(), "client " << i);
    CHECK_MSG(f->type == kHello && f->payload == "client " + std::to_string(i),
              "client " << i << " got type " << int(f->type) << " '" << f->payload << "'");
  }
  CHECK_EQ(srv.sessions.count(), static_cast<std::size_t>(kClients));
  const auto st = srv.sessions.stats();
  CHECK_EQ(st.connections.accepted, static_cast<std::uint64_t>(kClients));
  CHECK_EQ(st.connections.framesIn, static_cast<std::uint64_t>(kClients));
  clients.clear();
  CHECK(srv.handler.waitClosedCount(kClients));
  CHECK(srv.handler.closedOnce());
  CHECK(eventually([&] { return srv.sessions.count() == 0; }));
}

TEST(every_framing_error_is_answered_and_closed_others_unaffected) {
  GameSessionsConfig cfg;
  cfg.helloTimeout = 300ms;
  Server srv(cfg);
  Client bystander(srv.listener->boundPort());
  expectEcho(bystander, "before");
  {
    Client c(srv.listener->boundPort());
    c.sendRaw(std::vector<std::byte>(4));  // length 0
    expectAnsweredAndClosed(c, game_wire::kTypeError, 1);
  }
  {
    Client c(srv.listener->boundPort());
    c.sendRaw(encodeFrame(0x04, std::string(game_wire::kMaxClientFrame, 'x')));  // length max + 1
    expectAnsweredAndClosed(c, game_wire::kTypeError, 2);
  }
  {
    Client c(srv.listener->boundPort());  // a frame split across many writes works
    const auto wire = encodeFrame(kHello, std::string(700, 'y'));
    for (std::size_t at = 0; at < wire.size(); at += 37) {
      const std::size_t n = std::min<std::size_t>(37, wire.size() - at);
      c.sendBytes(wire.data() + at, n);
      if (at % (37 * 4) == 0) std::this_thread::sleep_for(1ms);  // separate segments, not one read
    }
    const auto f = c.read();
    CHECK(f.has_value());
    CHECK_EQ(f->payload.size(), 700u);
  }
  {
    Client c(srv.listener->boundPort());  // half a frame, then silence: the hello deadline
    const auto wire = encodeFrame(kHello, "half of this");
    c.sendRaw(std::vector<std::byte>(wire.begin(), wire.begin() + 7));
    expectAnsweredAndClosed(c, game_wire::kTypeError, 15);
  }
  expectEcho(bystander, "after");
  const auto st = srv.sessions.stats();
  CHECK_EQ(st.errorsSent[1], 1u);
  CHECK_EQ(st.errorsSent[2], 1u);
  CHECK_EQ(st.errorsSent[15], 1u);
  CHECK(srv.handler.closedOnce());
}

TEST(a_reader_that_never_reads_loses_states_then_is_kicked_too_slow) {
  GameSessionsConfig cfg;
  cfg.sendSoftLimit = 64 * 1024;
  cfg.sendHardLimit = 256 * 1024;
  cfg.closeGrace = 200ms;
  Server srv(cfg);
  Client slow(srv.listener->boundPort(), 4096);
  const std::uint32_t id = srv.handler.waitOpened(1);
  Client bystander(srv.listener->boundPort());
  const auto block = std::make_shared<std::vector<std::byte>>(8192, std::byte{1});
  auto state = [&] { return GameFrame::gather(0x82, {}, {GameBuffer{block, block->data(), block->size()}}); };
  std::size_t sent = 0;
  while (srv.sessions.stats().droppedStates == 0 && sent < 100000) {  // the kernel's buffers fill first
    CHECK(srv.sessions.send(id, state(), true));
    ++sent;
  }
  CHECK(srv.sessions.stats().droppedStates > 0);
  CHECK(srv.handler.droppedCalls() > 0);
  CHECK(srv.sessions.sessions(0, 1).at(0).droppedStates > 0);
  CHECK(srv.sessions.stats().sendQueueBytes <= cfg.sendHardLimit);
  int reliable = 0;
  while (srv.sessions.send(id, GameFrame::copyOf(0x84, std::vector<std::byte>(1000)), false)) ++reliable;
  CHECK(reliable > 0);
  const auto why = srv.handler.waitClosed(id);
  CHECK(why.has_value());
  CHECK(why->kind == GameCloseKind::Kick);
  CHECK_EQ(why->code, 2);
  expectEcho(bystander, "still here");
  CHECK_EQ(srv.sessions.stats().kicksSent[2], 1u);
}

TEST(a_reader_that_stops_reading_is_kicked_too_slow_even_when_only_states_are_sent) {
  GameSessionsConfig cfg;
  cfg.sendSoftLimit = 64 * 1024;
  cfg.sendStallTimeout = 300ms;
  cfg.closeGrace = 200ms;
  Server srv(cfg);
  Client slow(srv.listener->boundPort(), 4096);
  const std::uint32_t id = srv.handler.waitOpened(1);
  CHECK(srv.sessions.markLive(id));
  const auto block = std::make_shared<std::vector<std::byte>>(8192, std::byte{1});
  // Only droppable frames: the queue never reaches the hard limit, but the socket takes
  // nothing once the kernel's buffers are full, and the stall rule ends it.
  std::size_t sent = 0;
  while (srv.sessions.send(id, GameFrame::gather(0x82, {}, {GameBuffer{block, block->data(), block->size()}}), true) && sent < 1000000) {
    ++sent;
    if (sent % 64 == 0) std::this_thread::sleep_for(1ms);  // a replication's pace, roughly
  }
  const auto why = srv.handler.waitClosed(id);
  CHECK(why.has_value());
  CHECK(why->kind == GameCloseKind::Kick);
  CHECK_EQ(why->code, static_cast<std::uint16_t>(game::KickReason::TooSlow));
  CHECK(srv.sessions.stats().sendQueueBytes <= cfg.sendHardLimit);
}

TEST(over_max_sessions_gets_server_full) {
  GameSessionsConfig cfg;
  cfg.maxSessions = 2;
  Server srv(cfg);
  Client a(srv.listener->boundPort()), b(srv.listener->boundPort());
  expectEcho(a, "a");
  expectEcho(b, "b");
  Client c(srv.listener->boundPort());
  expectAnsweredAndClosed(c, game_wire::kTypeError, 13);
  expectEcho(a, "a again");
  CHECK_EQ(srv.sessions.stats().connections.refused, 1u);
  srv.sessions.stopAccepting();
  Client d(srv.listener->boundPort());
  expectAnsweredAndClosed(d, game_wire::kTypeError, 14);
}

TEST(rate_limit_refuses_then_kicks) {
  GameSessionsConfig cfg;
  cfg.messageRate = 1;
  cfg.messageBurst = 4;
  cfg.rateOffencesToKick = 3;
  Server srv(cfg);
  Client c(srv.listener->boundPort());
  std::vector<std::byte> burst;
  for (int i = 0; i < 10; ++i) {
    const auto f = encodeFrame(0x05, "ping");
    burst.insert(burst.end(), f.begin(), f.end());
  }
  c.sendRaw(burst);
  int echoes = 0, errors = 0;
  std::optional<Frame> f;
  while ((f = c.read()) && f->type == 0x05) ++echoes;
  CHECK(echoes >= 4 && echoes <= 5);  // the burst, and a token refilled meanwhile at most
  for (; f && f->type == game_wire::kTypeError; f = c.read()) {
    CHECK_EQ(f->errorCode(), 12);
    ++errors;
  }
  CHECK_EQ(errors, 2);
  CHECK(f.has_value());
  CHECK_EQ(f->type, game_wire::kTypeKick);
  CHECK_EQ(f->kickReason(), 6);
  CHECK(c.closedByServer());
}

TEST(idle_and_operator_kicks_and_close) {
  GameSessionsConfig cfg;
  cfg.idleTimeout = 300ms;
  Server srv(cfg);
  Client idle(srv.listener->boundPort());
  expectEcho(idle, "then nothing");
  expectAnsweredAndClosed(idle, game_wire::kTypeKick, 5);

  Client kicked(srv.listener->boundPort());
  expectEcho(kicked, "hi");
  CHECK(srv.sessions.kick(srv.handler.waitOpened(2), game_wire::KickReason::Operator, "bye now"));
  const auto f = kicked.read();
  CHECK(f.has_value());
  CHECK_EQ(f->kickReason(), 3);
  CHECK_EQ(f->payload.substr(3), std::string("bye now"));
  CHECK(kicked.closedByServer());

  Client closed(srv.listener->boundPort());
  expectEcho(closed, "hi");
  CHECK(srv.sessions.close(srv.handler.waitOpened(3)));
  CHECK(closed.closedByServer());
  CHECK(srv.handler.waitClosed(3).value().kind == GameCloseKind::Closed);
}

TEST(stop_with_connections_open_closes_all_and_frees_everything) {
  auto srv = std::make_unique<Server>();
  std::vector<std::unique_ptr<Client>> clients;
  for (int i = 0; i < 50; ++i) {
    clients.push_back(std::make_unique<Client>(srv->listener->boundPort()));
    expectEcho(*clients.back(), "x");
  }
  const std::weak_ptr<GameSession> one = srv->sessions.find(srv->handler.waitOpened(1));
  CHECK(!one.expired());
  srv->listener->stop();
  CHECK_EQ(srv->sessions.count(), 0u);
  CHECK(srv->handler.waitClosedCount(50, 1ms));  // every onClose ran before stop() returned
  CHECK(srv->handler.closedWith(1).value().kind == GameCloseKind::Stopped);
  CHECK(srv->handler.closedOnce());
  CHECK(one.expired());  // freed, its fd closed
  for (auto& c : clients) expectAnsweredAndClosed(*c, game_wire::kTypeKick, 7);  // each got its farewell
  CHECK_EQ(srv->sessions.stats().connections.active, 0u);
  CHECK(!srv->listener->start().ok);  // a stopped listener is not restarted
  srv.reset();
}

TEST(an_ipv6_literal_host_listens_on_ipv6) {
  Server srv({}, 2, "::1");
  Client c(srv.listener->boundPort(), 0, true);
  expectEcho(c, "over ipv6");
  srv.handler.waitOpened(1);
  const auto info = srv.sessions.sessions(0, 1);
  CHECK_EQ(info.size(), 1u);
  CHECK_MSG(info[0].remote.rfind("[::1]:", 0) == 0, info[0].remote);
  CHECK(!srv.listener->start().ok);  // a running listener is not started twice, and keeps serving
  expectEcho(c, "still here");
  Client again(srv.listener->boundPort(), 0, true);
  expectEcho(again, "a new connection too");
}

TEST(an_address_that_is_not_an_ip_is_refused) {
  EchoHandler handler;
  GameSessions sessions({}, handler);
  CompletionPort port;
  auto listener = GameListener::create(sessions, GameListenerConfig{"localhost.invalid", 0, &port});
  const GameListenResult r = listener->start();
  CHECK(!r.ok);
  CHECK(r.error.find("not an IPv4 or IPv6") != std::string::npos);
}

GS_TEST_MAIN()
