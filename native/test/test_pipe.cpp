// The inter-server pipe: frame codec, payload grammar, and PipeServer/PipeClient over a
// CompletionPort drained by gs-iocp threads. Every case here runs on both backends; what
// only one platform has (socket files and their modes; named-pipe ACLs and raw handles)
// is in test_pipe_posix.cpp / test_pipe_win32.cpp.
//
// GAMESRV_PIPE_REQUESTS sets the requests per client of the 32-client stress test
// (default 1000; sanitizer lanes may lower it).
#include <atomic>
#include <cstring>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "gamesrv/event.hpp"
#include "pipe_test_support.hpp"

using namespace gamesrv;
using namespace pipetest;
using namespace std::chrono_literals;

// --- codec -----------------------------------------------------------------------------

TEST(frame_layout_is_little_endian_1032_bytes) {
  static_assert(sizeof(PipeFrame) == 1032);
  const PipeFrame f = frameOf(PipeMessageType::PlayerMove, "7:1,2");
  const std::uint8_t head[] = {3, 0, 0, 0, 5, 0, 0, 0, '7', ':', '1', ',', '2'};
  CHECK(std::memcmp(f.data(), head, sizeof head) == 0);
  for (std::size_t i = sizeof head; i < f.size(); ++i) CHECK_EQ(int{f[i]}, 0);
  const PipeFrame e = frameOf(PipeMessageType::Error, "");
  CHECK_EQ(int{e[0]}, 0xFF);
  CHECK_EQ(int{e[1]}, 0xFF);
  CHECK_EQ(int{e[2]}, 0);
}

TEST(codec_round_trips_every_type_and_size) {
  std::mt19937_64 rng(gstest::seed("codec_round_trips_every_type_and_size"));
  const PipeMessageType types[] = {PipeMessageType::PlayerLogin, PipeMessageType::PlayerLogout, PipeMessageType::PlayerMove,
                                   PipeMessageType::ServerStatus, PipeMessageType::Shutdown,   PipeMessageType::Ack,
                                   PipeMessageType::StatusReply,  PipeMessageType::Error};
  for (PipeMessageType t : types) {
    CHECK_EQ(parsePipeMessageType(toString(t)).value_or(PipeMessageType::Ack), t);
    for (std::size_t size : {std::size_t{0}, std::size_t{1}, std::size_t{3}, std::size_t{1023}, std::size_t{1024}}) {
      std::string data(size, '\0');
      for (char& c : data) c = static_cast<char>(rng());  // binary, NULs included
      const PipeFrame f = frameOf(t, data);
      const PipeDecodeResult d = decodePipeFrame(f.data(), f.size());
      CHECK_MSG(d.ok(), d.detail);
      CHECK(d.message.type == t);
      CHECK(d.message.data == data);
    }
  }
}

TEST(encode_refuses_data_over_1024_instead_of_sending_it_empty) {
  const PipeEncodeResult r = encodePipeFrame(PipeMessageType::PlayerLogin, std::string(1025, 'x'));
  CHECK(!r.ok());
  CHECK(r.error == PipeError::TooLarge);
  CHECK_MSG(r.detail.find("1025") != std::string::npos, r.detail);
  PipeFrame out{};
  out[0] = 0xAB;
  CHECK(encodePipeFrameInto(PipeMessageType::Ack, std::string(5000, 'y'), out) == PipeError::TooLarge);
  CHECK_EQ(int{out[0]}, 0xAB);  // untouched
}

TEST(decode_rejects_wrong_length) {
  std::vector<std::uint8_t> buf(3000, 0);
  putLe32(buf.data(), 1);
  for (std::size_t len : {std::size_t{0}, std::size_t{1}, std::size_t{8}, std::size_t{1031}, std::size_t{1033}, std::size_t{2064}}) {
    const PipeDecodeResult d = decodePipeFrame(buf.data(), len);
    CHECK(d.error == PipeError::BadLength);
    CHECK_EQ(d.detail, "frame is " + std::to_string(len) + " bytes, expected 1032");
  }
}

TEST(decode_rejects_datasize_over_1024) {
  for (std::uint32_t size : {1025u, 4096u, 0xFFFFFFFFu}) {
    PipeFrame f = frameOf(PipeMessageType::PlayerLogin, "1");
    putLe32(f.data() + 4, size);
    const PipeDecodeResult d = decodePipeFrame(f.data(), f.size());
    CHECK(d.error == PipeError::BadSize);
    CHECK_MSG(d.detail.find(std::to_string(size)) != std::string::npos, d.detail);
  }
}

TEST(decode_rejects_unknown_type) {
  for (std::uint32_t type : {0u, 8u, 100u, 0xFFFEu, 0x10000u}) {
    PipeFrame f = frameOf(PipeMessageType::Ack, "");
    putLe32(f.data(), type);
    const PipeDecodeResult d = decodePipeFrame(f.data(), f.size());
    CHECK(d.error == PipeError::UnknownType);
    CHECK_EQ(d.rawType, type);
    CHECK_EQ(d.detail, "unknown message type " + std::to_string(type));
  }
}

TEST(decode_rejects_nonzero_padding) {
  PipeFrame f = frameOf(PipeMessageType::PlayerLogout, "42");
  f[kPipeHeaderBytes + 2] = 'x';  // first padding byte
  PipeDecodeResult d = decodePipeFrame(f.data(), f.size());
  CHECK(d.error == PipeError::BadPadding);
  CHECK_MSG(d.detail.find("offset 2") != std::string::npos, d.detail);
  f = frameOf(PipeMessageType::PlayerLogout, "42");
  f.back() = 1;  // last byte
  CHECK(decodePipeFrame(f.data(), f.size()).error == PipeError::BadPadding);
}

// --- payload grammar ---------------------------------------------------------------------

TEST(payload_grammar_accepts_valid_payloads) {
  auto login = parsePlayerPayload(PipeMessageType::PlayerLogin, "17");
  CHECK(login.ok());
  CHECK_EQ(login.payload.playerId, 17u);
  CHECK(login.payload.name.empty());
  login = parsePlayerPayload(PipeMessageType::PlayerLogin, "4294967295:Kim: the \xed\x99\x8d");
  CHECK_MSG(login.ok(), login.detail);
  CHECK_EQ(login.payload.playerId, 4294967295u);
  CHECK_EQ(login.payload.name, "Kim: the \xed\x99\x8d");
  auto logout = parsePlayerPayload(PipeMessageType::PlayerLogout, "0");
  CHECK(logout.ok());
  CHECK_EQ(logout.payload.playerId, 0u);
  auto move = parsePlayerPayload(PipeMessageType::PlayerMove, "5:-3.5,1e3");
  CHECK_MSG(move.ok(), move.detail);
  CHECK_EQ(move.payload.playerId, 5u);
  CHECK_EQ(move.payload.position, "-3.5,1e3");
  CHECK_EQ(move.payload.x, -3.5);
  CHECK_EQ(move.payload.y, 1000.0);
  // The formatters produce what the parser takes.
  CHECK_EQ(formatLoginPayload(9, "Lee"), "9:Lee");
  CHECK_EQ(formatLoginPayload(9), "9");
  CHECK_EQ(formatLogoutPayload(9), "9");
  const auto back = parsePlayerPayload(PipeMessageType::PlayerMove, formatMovePayload(9, 0.1, -2e30));
  CHECK(back.ok());
  CHECK_EQ(back.payload.x, 0.1);
  CHECK_EQ(back.payload.y, -2e30);
}

TEST(payload_grammar_rejects_with_clear_errors) {
  struct Bad {
    PipeMessageType type;
    const char* data;
    const char* mentions;
  };
  const Bad cases[] = {
      {PipeMessageType::PlayerLogin, "", "missing"},
      {PipeMessageType::PlayerLogin, "abc", "not a decimal number"},
      {PipeMessageType::PlayerLogin, "-1", "not a decimal number"},
      {PipeMessageType::PlayerLogin, "+1", "not a decimal number"},
      {PipeMessageType::PlayerLogin, " 1", "not a decimal number"},
      {PipeMessageType::PlayerLogin, "4294967296", "32 bits"},
      {PipeMessageType::PlayerLogin, "1:", "empty name"},
      {PipeMessageType::PlayerLogin, "1:a\nb", "control character"},
      {PipeMessageType::PlayerLogin, ":name", "missing"},
      {PipeMessageType::PlayerLogout, "1:x", "after the player id"},
      {PipeMessageType::PlayerLogout, "", "missing"},
      {PipeMessageType::PlayerMove, "1", "missing"},
      {PipeMessageType::PlayerMove, "1:2", "is not \"x,y\""},
      {PipeMessageType::PlayerMove, "1:a,b", "finite decimal"},
      {PipeMessageType::PlayerMove, "1:inf,0", "finite decimal"},
      {PipeMessageType::PlayerMove, "1:nan,0", "finite decimal"},
      {PipeMessageType::PlayerMove, "1:1, 2", "finite decimal"},
      {PipeMessageType::PlayerMove, "1:1,2,3", "finite decimal"},
      {PipeMessageType::PlayerMove, "1:0x10,2", "finite decimal"},
      {PipeMessageType::PlayerMove, "1:,2", "finite decimal"},
      {PipeMessageType::ServerStatus, "1", "no player payload"},
  };
  for (const Bad& b : cases) {
    const PlayerPayloadResult r = parsePlayerPayload(b.type, b.data);
    CHECK_MSG(!r.ok(), toString(b.type) << " \"" << b.data << "\" was accepted");
    CHECK(r.error == PipeError::BadPayload);
    CHECK_MSG(r.detail.find(b.mentions) != std::string::npos, "\"" << b.data << "\": " << r.detail);
  }
}

TEST(server_answers_every_request_type_and_passes_parsed_payloads) {
  std::mutex mu;
  std::vector<PipeRequest> seen;
  Rig rig([&](const PipeRequest& r) {
    {
      std::lock_guard lock(mu);
      seen.push_back(r);
    }
    if (r.type == PipeMessageType::ServerStatus) return PipeReply::status("{\"players\":3}");
    return PipeReply::ack();
  });
  CHECK_MSG(rig.startResult.ok(), rig.startResult.detail);
  PipeClient c = connected(rig.server.path());
  auto r = c.request(PipeMessageType::PlayerLogin, "12:Park");
  CHECK(r.ok());
  CHECK(r.reply.type == PipeMessageType::Ack);
  CHECK_EQ(r.reply.data, "ACK");
  r = c.request(PipeMessageType::PlayerMove, "12:10.5,-4");
  CHECK(r.ok() && r.reply.type == PipeMessageType::Ack);
  r = c.request(PipeMessageType::PlayerLogout, "12");
  CHECK(r.ok() && r.reply.type == PipeMessageType::Ack);
  r = c.request(PipeMessageType::ServerStatus, "");
  CHECK(r.ok());
  CHECK(r.reply.type == PipeMessageType::StatusReply);
  CHECK_EQ(r.reply.data, "{\"players\":3}");
  r = c.request(PipeMessageType::Shutdown, "");
  CHECK(r.ok() && r.reply.type == PipeMessageType::Ack);

  std::lock_guard lock(mu);
  CHECK_EQ(seen.size(), std::size_t{5});
  CHECK(seen[0].player.has_value());
  CHECK_EQ(seen[0].player->playerId, 12u);
  CHECK_EQ(seen[0].player->name, "Park");
  CHECK_EQ(seen[1].player->position, "10.5,-4");
  CHECK_EQ(seen[1].player->y, -4.0);
  CHECK(seen[2].player.has_value());
  CHECK(!seen[3].player.has_value());
  CHECK(seen[0].connectionId != 0 && seen[0].connectionId == seen[4].connectionId);
  const PipeServerStats s = rig.server.stats();
  CHECK(s.running);
  CHECK_EQ(s.framesIn, 5u);
  CHECK_EQ(s.framesOut, 5u);
  CHECK_EQ(s.bytesIn, 5u * 1032);
  for (int i = 0; i < 5; ++i) CHECK_EQ(s.requestsByType[i], 1u);
  CHECK_EQ(s.handlerNs.count, 5u);
}

TEST(thirty_two_clients_each_reply_matches_its_request) {
  const std::uint64_t seed = gstest::seed("thirty_two_clients_each_reply_matches_its_request");
  const std::size_t perClient = requestsPerClient();
  constexpr int kClients = 32;
  Rig rig(echoHandler, 3);
  CHECK_MSG(rig.startResult.ok(), rig.startResult.detail);
  std::atomic<int> mismatches{0}, failures{0};
  std::mutex firstMu;
  std::string first;
  auto note = [&](std::string what) {
    std::lock_guard lock(firstMu);
    if (first.empty()) first = std::move(what);
  };
  Rendezvous allConnected(kClients);
  std::vector<std::thread> threads;
  for (int c = 0; c < kClients; ++c) {
    threads.emplace_back([&, c] {
      std::mt19937_64 rng(seed + c);
      PipeClient client;
      const PipeResult connectedOk = client.connect(rig.server.path(), 10s);
      allConnected.arriveAndWait();  // every client is connected at once: peakActive is 32
      if (!connectedOk.ok()) {
        failures.fetch_add(1);
        note("connect: " + connectedOk.detail);
        return;
      }
      for (std::size_t i = 0; i < perClient; ++i) {
        const std::uint64_t nonce = rng();
        const auto id = static_cast<std::uint32_t>(nonce);
        PipeMessageType type;
        std::string data;
        switch (nonce % 4) {
          case 0: type = PipeMessageType::PlayerLogin; data = formatLoginPayload(id, "n" + std::to_string(nonce)); break;
          case 1: type = PipeMessageType::PlayerLogout; data = formatLogoutPayload(id); break;
          case 2: type = PipeMessageType::PlayerMove; data = std::to_string(id) + ":" + std::to_string(c) + "," + std::to_string(i); break;
          default: type = PipeMessageType::ServerStatus; data = "c" + std::to_string(c) + "-" + std::to_string(nonce); break;
        }
        const PipeReplyResult r = client.request(type, data, 30s);
        if (!r.ok()) {
          failures.fetch_add(1);
          note("request: " + std::string(toString(r.error)) + " " + r.detail);
          return;
        }
        const std::string want = type == PipeMessageType::ServerStatus ? "{\"echo\":\"" + data + "\"}"
                                                                       : std::string(toString(type)) + " " + data;
        const PipeMessageType wantType = type == PipeMessageType::ServerStatus ? PipeMessageType::StatusReply : PipeMessageType::Ack;
        if (r.reply.data != want || r.reply.type != wantType) {
          mismatches.fetch_add(1);
          note("client " + std::to_string(c) + " sent \"" + data + "\", got \"" + r.reply.data + "\"");
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK_MSG(failures.load() == 0, first);
  CHECK_MSG(mismatches.load() == 0, first);
  const PipeServerStats s = rig.server.stats();
  const std::uint64_t total = kClients * perClient;
  CHECK_EQ(s.accepted, std::uint64_t{kClients});
  CHECK_EQ(s.peakActive, std::size_t{kClients});
  CHECK_EQ(s.framesIn, total);
  CHECK_EQ(s.framesOut, total);
  CHECK_EQ(s.handlerNs.count, total);
  CHECK_EQ(s.errors.badPayload + s.errors.badLength + s.errors.unknownType + s.errors.io, 0u);
}

TEST(every_malformed_frame_class_gets_an_error_reply_and_the_connection_survives) {
  Rig rig(echoHandler, 2);
  CHECK_MSG(rig.startResult.ok(), rig.startResult.detail);
  PipeClient c = connected(rig.server.path());
  struct Case {
    std::vector<std::uint8_t> bytes;
    const char* code;
  };
  std::vector<Case> cases;
  {
    const PipeFrame good = frameOf(PipeMessageType::PlayerLogin, "1:A");
    cases.push_back({std::vector<std::uint8_t>(good.begin(), good.begin() + 100), "bad_length: frame is 100 bytes, expected 1032"});
    std::vector<std::uint8_t> big(good.begin(), good.end());
    big.resize(1500, 0);
    cases.push_back({big, "bad_length: frame is 1500 bytes, expected 1032"});
    cases.push_back({{1, 0, 0}, "bad_length: frame is 3 bytes, expected 1032"});
    PipeFrame f = good;
    putLe32(f.data() + 4, 2000);
    cases.push_back({{f.begin(), f.end()}, "bad_size: dataSize is 2000"});
    f = good;
    putLe32(f.data(), 99);
    cases.push_back({{f.begin(), f.end()}, "unknown_type: unknown message type 99"});
    f = frameOf(PipeMessageType::Ack, "hi");
    cases.push_back({{f.begin(), f.end()}, "unknown_type: message type 6 (ACK) is a reply type"});
    f = good;
    f[600] = 7;
    cases.push_back({{f.begin(), f.end()}, "bad_padding: non-zero byte at data offset 592"});
    f = frameOf(PipeMessageType::PlayerMove, "1:north");
    cases.push_back({{f.begin(), f.end()}, "bad_payload: PLAYER_MOVE: position \"north\""});
  }
  for (const Case& k : cases) {
    PipeResult sent = c.sendRaw(k.bytes);
    CHECK_MSG(sent.ok(), sent.detail);
    const PipeReplyResult r = c.receive(5s);
    CHECK_MSG(r.ok(), toString(r.error) << " " << r.detail);
    CHECK(r.reply.type == PipeMessageType::Error);
    CHECK_MSG(r.reply.data.rfind(k.code, 0) == 0, "got \"" << r.reply.data << "\", want prefix \"" << k.code << "\"");
    // The same connection still serves a valid request.
    const PipeReplyResult ok = c.request(PipeMessageType::PlayerLogout, "1");
    CHECK(ok.ok());
    CHECK_EQ(ok.reply.data, "PLAYER_LOGOUT 1");
  }
  const PipeServerStats s = rig.server.stats();
  CHECK_EQ(s.errors.badLength, 3u);
  CHECK_EQ(s.errors.badSize, 1u);
  CHECK_EQ(s.errors.unknownType, 2u);
  CHECK_EQ(s.errors.badPadding, 1u);
  CHECK_EQ(s.errors.badPayload, 1u);
  CHECK_EQ(s.accepted, 1u);
  CHECK_EQ(s.active, std::size_t{1});
  CHECK_EQ(s.framesIn, 2u * cases.size());
  CHECK_EQ(s.bytesIn, (cases.size() - 3) * 2064u + 100 + 1500 + 3 + 3 * 1032u);
}

TEST(handler_failures_become_error_replies) {
  Rig rig([](const PipeRequest& r) -> PipeReply {
    if (r.data == "throw") throw std::runtime_error("database unreachable");
    if (r.data == "huge") return PipeReply::status(std::string(2000, '{'));
    return PipeReply::ack();
  }, 2);
  CHECK_MSG(rig.startResult.ok(), rig.startResult.detail);
  PipeClient c = connected(rig.server.path());
  auto r = c.request(PipeMessageType::ServerStatus, "throw");
  CHECK(r.ok() && r.reply.type == PipeMessageType::Error);
  CHECK_EQ(r.reply.data, "handler_failed: the handler failed: database unreachable");
  r = c.request(PipeMessageType::ServerStatus, "huge");
  CHECK(r.ok() && r.reply.type == PipeMessageType::Error);
  CHECK_MSG(r.reply.data.find("2000 bytes") != std::string::npos, r.reply.data);
  r = c.request(PipeMessageType::ServerStatus, "fine");
  CHECK(r.ok() && r.reply.type == PipeMessageType::Ack);
  CHECK_EQ(rig.server.stats().errors.handlerFailed, 2u);
}

TEST(stop_with_idle_clients_is_prompt_and_clients_see_eof) {
  Rig rig(echoHandler, 2);
  CHECK_MSG(rig.startResult.ok(), rig.startResult.detail);
  const std::string path = rig.server.path();
  std::vector<PipeClient> idle;
  for (int i = 0; i < 16; ++i) {
    idle.push_back(connected(path));
    CHECK(idle.back().request(PipeMessageType::ServerStatus, "hello").ok());  // accepted and served
  }
  // One more client blocks in a read with nothing coming.
  PipeClient blocked = connected(path);
  CHECK(blocked.request(PipeMessageType::ServerStatus, "hello").ok());
  Event reading;
  PipeReplyResult blockedResult;
  std::thread reader([&] {
    reading.set();
    blockedResult = blocked.receive(30s);
  });
  CHECK(reading.waitFor(5s));
  CHECK_EQ(rig.server.stats().active, std::size_t{17});

  const auto t0 = std::chrono::steady_clock::now();
  rig.server.stop();
  const auto took = std::chrono::steady_clock::now() - t0;
  CHECK_MSG(took < 1s, std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms");
  reader.join();
  CHECK_MSG(std::chrono::steady_clock::now() - t0 < 2s, "the blocked reader did not see EOF promptly");
  CHECK(blockedResult.error == PipeError::Closed);
  for (PipeClient& c : idle) {
    const PipeReplyResult r = c.receive(2s);
    CHECK_MSG(r.error == PipeError::Closed, toString(r.error));
  }
  PipeClient late;  // the path is gone with the server
  const PipeResult lateResult = late.connect(path, 1s);
  CHECK_MSG(lateResult.error == PipeError::NoServer, toString(lateResult.error) << " " << lateResult.detail);
  const PipeServerStats s = rig.server.stats();
  CHECK(!s.running);
  CHECK_EQ(s.active, std::size_t{0});
  CHECK_EQ(s.closed, 17u);
  rig.server.stop();  // idempotent
  CHECK(rig.workers.stop(5s));
}

TEST(stop_from_the_handler_on_shutdown_does_not_deadlock) {
  PipeServer* self = nullptr;
  Rig rig([&](const PipeRequest& r) {
    if (r.type == PipeMessageType::Shutdown) self->stop();
    return PipeReply::ack();
  }, 2);
  self = &rig.server;
  CHECK_MSG(rig.startResult.ok(), rig.startResult.detail);
  PipeClient other = connected(rig.server.path());
  CHECK(other.request(PipeMessageType::ServerStatus, "").ok());
  PipeClient c = connected(rig.server.path());
  const PipeReplyResult r = c.request(PipeMessageType::Shutdown, "", 5s);
  CHECK_MSG(r.error == PipeError::Closed, toString(r.error));  // its reply is lost with the connection
  CHECK(!rig.server.stats().running);
  CHECK(other.receive(2s).error == PipeError::Closed);
  rig.server.stop();  // waits for the stop the handler began
  PipeClient late;  // the path is gone when stop() returns, though the handler's call was still unwinding
  const PipeResult lateResult = late.connect(rig.server.path(), 1s);
  CHECK_MSG(lateResult.error == PipeError::NoServer, toString(lateResult.error) << " " << lateResult.detail);
  CHECK_EQ(rig.server.stats().active, std::size_t{0});
}

TEST(second_server_on_a_live_path_fails_with_address_in_use) {
  Rig first(echoHandler, 2);
  CHECK_MSG(first.startResult.ok(), first.startResult.detail);
  {
    CompletionPort port;
    PipeServer second(PipeServerConfig{first.server.path(), 16, &port}, echoHandler);
    const PipeResult r = second.start();
    CHECK(r.error == PipeError::AddressInUse);
    CHECK_MSG(r.detail.find("address in use") != std::string::npos && r.detail.find(first.server.path()) != std::string::npos,
              r.detail);
  }
  // The failed second server removed nothing: the first one still serves.
  PipeClient c = connected(first.server.path());
  CHECK(c.request(PipeMessageType::ServerStatus, "x").ok());
}

TEST(clients_beyond_max_clients_get_server_busy) {
  Rig rig(echoHandler, 2, 2);
  CHECK_MSG(rig.startResult.ok(), rig.startResult.detail);
  PipeClient a = connected(rig.server.path());
  PipeClient b = connected(rig.server.path());
  CHECK(a.request(PipeMessageType::ServerStatus, "a").ok());
  CHECK(b.request(PipeMessageType::ServerStatus, "b").ok());
  PipeClient c = connected(rig.server.path());
  const PipeReplyResult r = c.receive(5s);
  CHECK(r.ok());
  CHECK(r.reply.type == PipeMessageType::Error);
  CHECK_MSG(r.reply.data.find("server busy") != std::string::npos, r.reply.data);
  CHECK(c.receive(5s).error == PipeError::Closed);
  PipeClient e = connected(rig.server.path());  // a request on a refused connection says why
  const PipeReplyResult busy = e.request(PipeMessageType::ServerStatus, "e");
  CHECK_MSG(busy.error == PipeError::ServerBusy, toString(busy.error) << " " << busy.detail);
  CHECK(!e.connected());
  CHECK_EQ(rig.server.stats().refused, 2u);
  a.close();
  CHECK(eventually([&] { return rig.server.stats().active == 1; }, 5s));
  PipeClient d = connected(rig.server.path());
  CHECK(d.request(PipeMessageType::ServerStatus, "d").ok());
}

TEST(client_errors_are_explicit) {
  PipeClient c;
  CHECK(c.request(PipeMessageType::ServerStatus, "").error == PipeError::NotConnected);
  CHECK(c.connect(testPath("missing"), 200ms).error == PipeError::NoServer);
  CHECK(c.connect(std::string(200, 'a'), 200ms).error == PipeError::InvalidPath);

  Event release;
  Rig rig([&](const PipeRequest& r) {
    if (r.data == "slow") release.waitFor(10s);
    return PipeReply::ack();
  }, 2);
  CHECK_MSG(rig.startResult.ok(), rig.startResult.detail);
  CHECK(c.connect(rig.server.path()).ok());
  const PipeReplyResult big = c.request(PipeMessageType::ServerStatus, std::string(1025, 'x'));
  CHECK(big.error == PipeError::TooLarge);
  CHECK(c.connected());  // nothing was sent; the connection is intact
  CHECK(c.request(PipeMessageType::ServerStatus, "ok").ok());
  const PipeReplyResult slow = c.request(PipeMessageType::ServerStatus, "slow", 50ms);
  CHECK(slow.error == PipeError::Timeout);
  CHECK(!c.connected());  // a late reply must not answer the next request
  release.set();
  CHECK(c.request(PipeMessageType::ServerStatus, "again").error == PipeError::NotConnected);
  CHECK(c.connect(rig.server.path()).ok());
  CHECK(c.request(PipeMessageType::ServerStatus, "again").ok());
}

TEST(a_stopped_server_frees_its_path_for_the_next_one) {
  const std::string path = testPath("reuse");
  for (int round = 0; round < 3; ++round) {
    Rig rig(echoHandler, 2, 1024, path);
    CHECK_MSG(rig.startResult.ok(), "round " << round << ": " << rig.startResult.detail);
    PipeClient c = connected(path);
    const PipeReplyResult r = c.request(PipeMessageType::ServerStatus, std::to_string(round));
    CHECK(r.ok());
    CHECK_EQ(r.reply.data, "{\"echo\":\"" + std::to_string(round) + "\"}");
    rig.server.stop();
    CHECK(c.receive(2s).error == PipeError::Closed);
  }
}

TEST(a_client_giving_up_mid_request_is_a_clean_close_and_others_are_served) {
  Event release;
  Rig rig([&](const PipeRequest& r) {
    if (r.data == "slow") release.waitFor(10s);
    return PipeReply::ack(r.data);
  }, 2);
  CHECK_MSG(rig.startResult.ok(), rig.startResult.detail);
  PipeClient leaving = connected(rig.server.path());
  PipeClient staying = connected(rig.server.path());
  const PipeReplyResult gaveUp = leaving.request(PipeMessageType::ServerStatus, "slow", 100ms);
  CHECK(gaveUp.error == PipeError::Timeout);
  CHECK(!leaving.connected());  // the timeout closed it: the late reply goes nowhere
  release.set();
  CHECK(eventually([&] { return rig.server.stats().closed == 1; }, 5s));
  const PipeReplyResult r = staying.request(PipeMessageType::ServerStatus, "still here");
  CHECK(r.ok());
  CHECK_EQ(r.reply.data, "still here");
  const PipeServerStats s = rig.server.stats();
  CHECK_EQ(s.errors.io, 0u);
  CHECK_EQ(s.active, std::size_t{1});
  CHECK_EQ(s.framesOut, 1u);  // the reply nobody could take is not counted as written
}

TEST(dispatcher_ignores_foreign_packets_and_outlives_the_server) {
  CompletionPort port;
  PipeDispatcher d;
  {
    PipeServer server(PipeServerConfig{testPath("disp"), 16, &port, 0x51}, echoHandler);
    d = server.dispatcher();
    CHECK(!d(CompletionPacket{1, 0, nullptr, CompletionKind::Posted, IoEvents::None}));
    CHECK(!d(CompletionPacket{std::uint64_t{0x50} << 56 | 7, 0, nullptr, CompletionKind::Io, IoEvents::Readable}));
    CHECK(d(CompletionPacket{std::uint64_t{0x51} << 56 | 7, 0, nullptr, CompletionKind::Io, IoEvents::Readable}));
  }
  // The server is gone; a stale packet for it is still handled (ignored) safely.
  CHECK(d(CompletionPacket{std::uint64_t{0x51} << 56 | 9, 0, nullptr, CompletionKind::Io, IoEvents::Readable}));
}

GS_TEST_MAIN()

// --- deferred replies (pipe.hpp, "Deferred replies") ----------------------------------

namespace {

// Deferred replies handed over by a handler, for the test to send from its own thread.
class LaterBox {
 public:
  void put(PipeLaterReply later) {
    std::lock_guard lock(mu_);
    held_.push_back(std::move(later));
    changed_.notify_all();
  }
  // The first one held; waits up to 5 s for it (an empty one on timeout).
  PipeLaterReply take() {
    std::unique_lock lock(mu_);
    if (!changed_.wait_for(lock, 5s, [&] { return !held_.empty(); })) return {};
    PipeLaterReply later = std::move(held_.front());
    held_.erase(held_.begin());
    return later;
  }

 private:
  std::mutex mu_;
  std::condition_variable changed_;
  std::vector<PipeLaterReply> held_;  // guarded by mu_
};

// LOGIN: deferred, answered by the test. MOVE: deferred, answered from inside the handler.
// SERVER_STATUS: answered at once.
PipeHandler deferringHandler(LaterBox& box) {
  return [&box](const PipeRequest& r) -> PipeReply {
    if (r.type == PipeMessageType::ServerStatus) return PipeReply::status("{\"now\":\"" + r.data + "\"}");
    PipeLaterReply later = r.deferReply();
    if (r.type == PipeMessageType::PlayerMove) {
      CHECK(later.send(PipeReply::ack("MOVE " + r.data)));
    } else {
      box.put(std::move(later));
    }
    return PipeReply::later();
  };
}

}  // namespace

TEST(a_deferred_reply_frees_the_port_thread_and_keeps_the_connection_in_request_order) {
  LaterBox box;
  Rig rig(deferringHandler(box), 1);  // one port thread: a handler waiting here would stall everyone
  CHECK_MSG(rig.startResult.ok(), rig.startResult.detail);
  PipeClient a = connected(rig.server.path());
  // Pipelined: the MOVE's (filled at once) and the STATUS's replies must wait for the LOGIN's.
  for (const PipeFrame& f : {frameOf(PipeMessageType::PlayerLogin, "1:first"), frameOf(PipeMessageType::PlayerMove, "1:2,3"),
                             frameOf(PipeMessageType::ServerStatus, "a")})
    CHECK(a.sendRaw(f).ok());
  PipeLaterReply login = box.take();
  CHECK(static_cast<bool>(login));
  PipeClient b = connected(rig.server.path());
  const PipeReplyResult status = b.request(PipeMessageType::ServerStatus, "b", 5s);
  CHECK_MSG(status.ok(), status.detail);
  CHECK(status.reply.type == PipeMessageType::StatusReply);
  CHECK_EQ(rig.server.stats().framesOut, 1u);  // b's reply only: nothing of a's has overtaken its LOGIN
  std::thread sender([&] { CHECK(login.send(PipeReply::ack("LOGIN first"))); });
  sender.join();
  PipeReplyResult r = a.receive(5s);
  CHECK_MSG(r.ok(), r.detail);
  CHECK_EQ(r.reply.data, "LOGIN first");
  r = a.receive(5s);
  CHECK_MSG(r.ok(), r.detail);
  CHECK_EQ(r.reply.data, "MOVE 1:2,3");
  r = a.receive(5s);
  CHECK_MSG(r.ok(), r.detail);
  CHECK(r.reply.type == PipeMessageType::StatusReply);
  CHECK_EQ(r.reply.data, "{\"now\":\"a\"}");
  // The connection reads again once its replies are out.
  r = a.request(PipeMessageType::PlayerMove, "1:4,5");
  CHECK(r.ok() && r.reply.data == "MOVE 1:4,5");
  const PipeServerStats s = rig.server.stats();
  CHECK_EQ(s.laterReplies, 3u);
  CHECK_EQ(s.laterDropped, 0u);
  CHECK_EQ(s.framesOut, 5u);
  CHECK(!login.send(PipeReply::ack("twice")));  // once only
}

TEST(a_deferred_reply_whose_connection_closed_is_dropped_and_counted) {
  LaterBox box;
  Rig rig(deferringHandler(box), 1);
  CHECK_MSG(rig.startResult.ok(), rig.startResult.detail);
  {
    PipeClient gone = connected(rig.server.path());
    CHECK(gone.sendRaw(frameOf(PipeMessageType::PlayerLogin, "1:gone")).ok());
    PipeLaterReply later = box.take();
    CHECK(static_cast<bool>(later));
    gone.close();
    // Whether this finds the connection open (its handler may not have returned yet) or
    // not, the reply is not written and is counted.
    (void)later.send(PipeReply::ack("too late"));
  }
  CHECK(eventually([&] { return rig.server.stats().laterDropped == 1; }));
  CHECK_EQ(rig.server.stats().framesOut, 0u);
  PipeClient next = connected(rig.server.path());  // the server goes on
  const PipeReplyResult r = next.request(PipeMessageType::ServerStatus, "x");
  CHECK(r.ok() && r.reply.type == PipeMessageType::StatusReply);
  // A reply deferred past the server's stop finds nothing either.
  CHECK(next.sendRaw(frameOf(PipeMessageType::PlayerLogin, "2:late")).ok());
  PipeLaterReply late = box.take();
  CHECK(static_cast<bool>(late));
  rig.server.stop();
  CHECK(!late.send(PipeReply::ack("after stop")));
  CHECK_EQ(rig.server.stats().laterDropped, 2u);
}

TEST(a_deferral_abandoned_or_misused_answers_an_error) {
  Rig rig([](const PipeRequest& r) -> PipeReply {
    if (r.data == "1:drop") {
      PipeLaterReply dropped = r.deferReply();  // destroyed unsent
      return PipeReply::later();
    }
    if (r.data == "1:both") {
      PipeLaterReply held = r.deferReply();
      return PipeReply::ack("and now");
    }
    if (r.data == "1:twice") {
      PipeLaterReply once = r.deferReply();
      PipeLaterReply again = r.deferReply();  // throws
      return PipeReply::later();
    }
    return PipeReply::later();  // without deferring
  }, 2);
  CHECK_MSG(rig.startResult.ok(), rig.startResult.detail);
  PipeClient c = connected(rig.server.path());
  auto r = c.request(PipeMessageType::PlayerLogin, "1:drop");
  CHECK(r.ok() && r.reply.type == PipeMessageType::Error);
  CHECK_EQ(r.reply.data, "handler_failed: the deferred reply was abandoned unsent");
  r = c.request(PipeMessageType::PlayerLogin, "1:both");
  CHECK(r.ok() && r.reply.type == PipeMessageType::Error);
  CHECK_EQ(r.reply.data, "handler_failed: the handler deferred its reply and also returned one");
  r = c.request(PipeMessageType::PlayerLogin, "1:twice");
  CHECK(r.ok() && r.reply.type == PipeMessageType::Error);
  CHECK_EQ(r.reply.data, "handler_failed: the handler failed: the reply to this request was already deferred");
  r = c.request(PipeMessageType::PlayerLogin, "1:plain");
  CHECK(r.ok() && r.reply.type == PipeMessageType::Error);
  CHECK_EQ(r.reply.data, "handler_failed: the handler returned PipeReply::later() without deferring its reply");
  PipeRequest made;  // not from a server
  bool threw = false;
  try {
    (void)made.deferReply();
  } catch (const std::logic_error&) {
    threw = true;
  }
  CHECK(threw);
  const PipeServerStats s = rig.server.stats();
  CHECK_EQ(s.errors.handlerFailed, 3u);  // the abandoned one is a reply the handler sent (an ERROR)
  CHECK_EQ(s.laterReplies, 1u);
}
