// The game protocol codec: round trips of every message, the layout table against the
// bytes the encoders write, every malformed class that is the codec's business, and
// framing that does not depend on how the stream is cut. About 500 lines, past the usual
// 400: it is one contract, and most of it is the list of every message and malformed class.
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <ostream>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "gamesrv/game_protocol.hpp"
#include "gamesrv/utf8.hpp"
#include "harness.hpp"

using namespace gamesrv;
using namespace gamesrv::game;

namespace gamesrv::game {
std::ostream& operator<<(std::ostream& os, ErrorCode c) { return os << toString(c); }
}  // namespace gamesrv::game

namespace {

const WorldBounds kWorld{-1000.0, 1000.0};

// The one frame `wire` holds, split with `max`; fails the test unless it is exactly one frame.
FrameSplit onlyFrame(const std::string& wire, std::uint32_t max) {
  const FrameSplit s = splitFrame(asBytes(wire), max);
  CHECK(s.status == FrameSplit::Status::Frame);
  CHECK_EQ(s.frameBytes, wire.size());
  return s;
}

// string_views in the result point into a buffer that lives until the next call.
template <class M>
M clientRoundTrip(const M& m) {
  static std::string wire;
  wire.clear();
  CHECK(encode(wire, m));
  const FrameSplit s = onlyFrame(wire, kMaxClientFrame);
  ClientMessage parsed;
  CHECK_EQ(toString(parseClientMessage(s.type, s.payload, kWorld, parsed)), std::string("none"));
  CHECK(std::holds_alternative<M>(parsed));
  return std::get<M>(parsed);
}

// Parses into a caller-owned variant: string_views in the result point into `wire`.
template <class M>
M serverRoundTrip(const M& m, std::string& wire) {
  wire.clear();
  CHECK(encode(wire, m));
  const FrameSplit s = onlyFrame(wire, kMaxServerFrame);
  ServerMessage parsed;
  CHECK_EQ(toString(parseServerMessage(s.type, s.payload, parsed)), std::string("none"));
  CHECK(std::holds_alternative<M>(parsed));
  return std::get<M>(parsed);
}

// A frame of `type` with exactly `payload` as its payload.
std::string rawFrame(std::uint8_t type, const std::string& payload) {
  std::string f;
  const auto len = static_cast<std::uint32_t>(payload.size() + 1);
  for (int i = 0; i < 4; ++i) f += static_cast<char>(len >> (8 * i));
  f += static_cast<char>(type);
  return f + payload;
}

ErrorCode parseRaw(std::uint8_t type, const std::string& payload) {
  ClientMessage m;
  return parseClientMessage(type, asBytes(payload), kWorld, m);
}

std::string payloadOf(const std::string& frame) { return frame.substr(kFrameHeaderBytes); }

std::uint64_t loadLe(const std::string& s, std::size_t at, std::size_t n) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < n; ++i) v |= static_cast<std::uint64_t>(static_cast<std::uint8_t>(s[at + i])) << (8 * i);
  return v;
}

}  // namespace

TEST(client_messages_round_trip) {
  const Hello h = clientRoundTrip(Hello{kProtocolVersion, "v1.42.Zm9v-_~"});
  CHECK_EQ(h.version, kProtocolVersion);
  CHECK_EQ(h.ticket, std::string_view("v1.42.Zm9v-_~"));
  CHECK_EQ(clientRoundTrip(Hello{kProtocolVersion, ""}).ticket.size(), 0u);
  const Move m = clientRoundTrip(Move{-12.25, 999.5, 0xFFFFFFFEu});
  CHECK_EQ(m.x, -12.25);
  CHECK_EQ(m.y, 999.5);
  CHECK_EQ(m.clientSeq, 0xFFFFFFFEu);
  CHECK_EQ(clientRoundTrip(Attack{0x01020304u}).targetPlayerId, 0x01020304u);
  CHECK_EQ(clientRoundTrip(Chat{"h\xC3\xA9llo \xF0\x9F\x8E\xAE"}).text, std::string_view("h\xC3\xA9llo \xF0\x9F\x8E\xAE"));
  CHECK_EQ(clientRoundTrip(Ping{0x0102030405060708ull}).t, 0x0102030405060708ull);
  clientRoundTrip(Bye{});
  // The world's edges are inside it.
  CHECK_EQ(clientRoundTrip(Move{kWorld.min, kWorld.max, 1}).x, kWorld.min);
}

TEST(server_messages_round_trip) {
  std::string wire;
  const Welcome w = serverRoundTrip(Welcome{7, 42, 60, 20, -1000.0, 1000.0, 100.0}, wire);
  CHECK(w.sessionId == 7 && w.playerId == 42 && w.tickRateHz == 60 && w.replicationHz == 20);
  CHECK(w.worldMin == -1000.0 && w.worldMax == 1000.0 && w.aoiRadius == 100.0);

  State st;
  st.header = {0x1122334455667788ull, 99, 3};
  st.entries = {{1, 1.5f, -2.5f, 100}, {2, 3.0f, 4.0f, -5}, {3, 0.0f, 0.0f, 0}};
  st.cells = {{-1, 2, 0, 2}, {5, -7, 2, 0}, {0, 0, 2, 1}};  // the middle cell is empty now
  const State back = serverRoundTrip(st, wire);
  CHECK_EQ(back.header.tick, st.header.tick);
  CHECK_EQ(back.header.lastClientSeq, 99u);
  CHECK_EQ(back.header.cellCount, 3);
  CHECK_EQ(back.cells.size(), 3u);
  CHECK_EQ(back.entries.size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) {
    CHECK(back.cells[i].cx == st.cells[i].cx && back.cells[i].cy == st.cells[i].cy);
    CHECK(back.cells[i].first == st.cells[i].first && back.cells[i].count == st.cells[i].count);
    CHECK(back.entries[i].playerId == st.entries[i].playerId && back.entries[i].hp == st.entries[i].hp);
    CHECK(back.entries[i].x == st.entries[i].x && back.entries[i].y == st.entries[i].y);
  }

  CHECK(serverRoundTrip(Leave{{1, 2, 0xFFFFFFFFu}}, wire).playerIds == (std::vector<std::uint32_t>{1, 2, 0xFFFFFFFFu}));
  CHECK(serverRoundTrip(Leave{}, wire).playerIds.empty());
  const ServerChat c = serverRoundTrip(ServerChat{9, "gg \xE2\x82\xAC"}, wire);
  CHECK(c.fromPlayerId == 9 && c.text == "gg \xE2\x82\xAC");
  const Hit hit = serverRoundTrip(Hit{1, 2, 30, -10}, wire);
  CHECK(hit.attacker == 1 && hit.target == 2 && hit.damage == 30 && hit.hpAfter == -10);
  const Death d = serverRoundTrip(Death{3, 4}, wire);
  CHECK(d.killer == 3 && d.victim == 4);
  const Pong p = serverRoundTrip(Pong{5, 0xABCDEF0123456789ull}, wire);
  CHECK(p.t == 5 && p.serverTimeUs == 0xABCDEF0123456789ull);
  CHECK_EQ(serverRoundTrip(Notice{"draining in 30 s"}, wire).text, std::string_view("draining in 30 s"));
  const Kick k = serverRoundTrip(Kick{KickReason::TooSlow, "send queue over 1 MiB"}, wire);
  CHECK(k.reason == KickReason::TooSlow && k.text == "send queue over 1 MiB");
  const ServerError e = serverRoundTrip(ServerError{ErrorCode::BadUtf8, ""}, wire);
  CHECK(e.code == ErrorCode::BadUtf8 && e.text.empty());
}

TEST(state_header_and_shared_cells_make_the_same_frame_as_one_buffer) {
  const Entry a[] = {{10, 1, 2, 3}, {11, 4, 5, 6}};
  std::string cell1, cell2;
  CHECK(encodeCell(cell1, 3, 4, a));
  CHECK(encodeCell(cell2, 3, 5, {}));
  CHECK_EQ(cell1.size(), cellBlockBytes(2));
  CHECK_EQ(cell2.size(), cellBlockBytes(0));
  std::string header;
  CHECK(encodeStateHeader(header, {77, 5, 2}, cell1.size() + cell2.size()));
  CHECK_EQ(header.size(), kFrameHeaderBytes + kStateHeaderBytes);
  State st;
  st.header = {77, 5, 2};
  st.entries = {a[0], a[1]};
  st.cells = {{3, 4, 0, 2}, {3, 5, 2, 0}};
  std::string whole;
  CHECK(encode(whole, st));
  CHECK(header + cell1 + cell2 == whole);
}

// Every fixed-size field of the layout table (what docs/PROTOCOL.md is checked against)
// holds, at its offset and size, the value the encoder was given.
TEST(layout_table_matches_the_encoders) {
  std::map<std::string, std::string> payloads;  // by layout name; CHAT by direction
  std::map<std::string, std::uint64_t> expected;  // "MESSAGE.field" -> raw little-endian bits
  std::string f;
  auto keep = [&](const std::string& name) {
    payloads[name] = payloadOf(f);
    f.clear();
  };
  CHECK(encode(f, Hello{0x0102, "abc"}));
  keep("HELLO");
  expected["HELLO.version"] = 0x0102;  // not parseable, but encodable: the layout is what counts here
  expected["HELLO.ticketLen"] = 3;
  CHECK(encode(f, Move{1.25, -3.5, 0xA1B2C3D4u}));
  keep("MOVE");
  expected["MOVE.x"] = std::bit_cast<std::uint64_t>(1.25);
  expected["MOVE.y"] = std::bit_cast<std::uint64_t>(-3.5);
  expected["MOVE.clientSeq"] = 0xA1B2C3D4u;
  CHECK(encode(f, Attack{0x0A0B0C0Du}));
  keep("ATTACK");
  expected["ATTACK.targetPlayerId"] = 0x0A0B0C0Du;
  CHECK(encode(f, Chat{"xyz!"}));
  keep("CHAT>");
  expected["CHAT>.len"] = 4;
  CHECK(encode(f, Ping{0x1122334455667788ull}));
  keep("PING");
  expected["PING.t"] = 0x1122334455667788ull;
  CHECK(encode(f, Welcome{0x01020304u, 0x05060708u, 0x090A, 0x0B0C, -2.0, 4.0, 8.5}));
  keep("WELCOME");
  expected["WELCOME.sessionId"] = 0x01020304u;
  expected["WELCOME.playerId"] = 0x05060708u;
  expected["WELCOME.tickRateHz"] = 0x090A;
  expected["WELCOME.replicationHz"] = 0x0B0C;
  expected["WELCOME.worldMin"] = std::bit_cast<std::uint64_t>(-2.0);
  expected["WELCOME.worldMax"] = std::bit_cast<std::uint64_t>(4.0);
  expected["WELCOME.aoiRadius"] = std::bit_cast<std::uint64_t>(8.5);
  CHECK(encodeStateHeader(f, {0x0807060504030201ull, 0x0D0C0B0Au, 0x0F0E}, 0));
  keep("STATE");
  expected["STATE.tick"] = 0x0807060504030201ull;
  expected["STATE.lastClientSeq"] = 0x0D0C0B0Au;
  expected["STATE.cellCount"] = 0x0F0E;
  const Entry e{0x31323334u, 0.5f, -0.25f, -7};
  CHECK(encodeCell(f, -3, 0x41424344, std::span<const Entry>(&e, 1)));
  payloads["CELL"] = f;
  payloads["ENTRY"] = f.substr(kCellHeaderBytes);
  f.clear();
  expected["CELL.cx"] = std::bit_cast<std::uint32_t>(std::int32_t{-3});
  expected["CELL.cy"] = 0x41424344u;
  expected["CELL.count"] = 1;
  expected["ENTRY.playerId"] = 0x31323334u;
  expected["ENTRY.x"] = std::bit_cast<std::uint32_t>(0.5f);
  expected["ENTRY.y"] = std::bit_cast<std::uint32_t>(-0.25f);
  expected["ENTRY.hp"] = std::bit_cast<std::uint32_t>(std::int32_t{-7});
  CHECK(encode(f, Leave{{0xDEADBEEFu}}));
  keep("LEAVE");
  expected["LEAVE.count"] = 1;
  CHECK(encode(f, ServerChat{0x51525354u, "hi"}));
  keep("CHAT<");
  expected["CHAT<.fromPlayerId"] = 0x51525354u;
  expected["CHAT<.len"] = 2;
  CHECK(encode(f, Hit{1, 2, -3, 4}));
  keep("HIT");
  expected["HIT.attacker"] = 1;
  expected["HIT.target"] = 2;
  expected["HIT.damage"] = 0xFFFFFFFDu;
  expected["HIT.hpAfter"] = 4;
  CHECK(encode(f, Death{0x61u, 0x62u}));
  keep("DEATH");
  expected["DEATH.killer"] = 0x61;
  expected["DEATH.victim"] = 0x62;
  CHECK(encode(f, Pong{0x71u, 0x72u}));
  keep("PONG");
  expected["PONG.t"] = 0x71;
  expected["PONG.serverTimeUs"] = 0x72;
  CHECK(encode(f, Notice{"n"}));
  keep("NOTICE");
  expected["NOTICE.len"] = 1;
  CHECK(encode(f, Kick{KickReason::Idle, "zz"}));
  keep("KICK");
  expected["KICK.reason"] = 5;
  expected["KICK.len"] = 2;
  CHECK(encode(f, ServerError{ErrorCode::Draining, "bye"}));
  keep("ERROR");
  expected["ERROR.code"] = 14;
  expected["ERROR.len"] = 3;

  std::size_t checked = 0;
  for (const MessageLayout& m : gameProtocolLayouts()) {
    std::string key(m.name);
    if (key == "CHAT") key += isClientType(m.type) ? ">" : "<";
    if (key == "BYE") {
      CHECK(m.fields.empty());
      continue;
    }
    CHECK_MSG(payloads.count(key) == 1, key);
    const std::string& p = payloads[key];
    std::size_t fixedEnd = 0;
    for (const FieldLayout& fl : m.fields) {
      CHECK_EQ(fl.offset, fixedEnd);  // fields are contiguous, in order
      if (fl.size == 0) continue;      // variable: the last field
      fixedEnd = fl.offset + fl.size;
      const std::string fk = key + "." + std::string(fl.name);
      CHECK_MSG(expected.count(fk) == 1, fk);
      CHECK_MSG(loadLe(p, fl.offset, fl.size) == expected[fk], fk);
      ++checked;
    }
    // A message's fixed part is what its table says it is.
    if (m.type != 0) {
      const MessageType t = static_cast<MessageType>(m.type);
      CHECK_EQ(std::string(toString(t)), std::string(m.name));
    }
  }
  CHECK_EQ(checked, expected.size());
}

TEST(names_and_numbers_are_the_drafts) {
  CHECK_EQ(errorCodes().size(), 16u);
  for (std::size_t i = 0; i < errorCodes().size(); ++i) {
    CHECK_EQ(errorCodes()[i].value, i + 1);  // 1..16, none missing
    CHECK_EQ(std::string(toString(static_cast<ErrorCode>(i + 1))), std::string(errorCodes()[i].name));
  }
  CHECK_EQ(std::string(toString(ErrorCode::BadCoordinates)), std::string("bad_coordinates"));
  CHECK_EQ(std::string(toString(ErrorCode::HelloTimeout)), std::string("hello_timeout"));
  CHECK_EQ(std::string(toString(ErrorCode::OwnedElsewhere)), std::string("owned_elsewhere"));
  CHECK_EQ(std::string(toString(static_cast<ErrorCode>(17))), std::string("unknown"));
  CHECK_EQ(kickReasons().size(), 7u);
  CHECK_EQ(std::string(toString(KickReason::Replaced)), std::string("replaced"));
  CHECK_EQ(std::string(toString(KickReason::Shutdown)), std::string("shutdown"));
  CHECK_EQ(std::string(toString(MessageType::ServerChat)), std::string("CHAT"));
  CHECK_EQ(std::string(toString(MessageType::Error)), std::string("ERROR"));
  CHECK_EQ(static_cast<int>(MessageType::Error), 0x8A);
  CHECK_EQ(kMaxClientFrame, 1024u);
  CHECK_EQ(kMaxServerFrame, 16u * 1024 * 1024);
}

TEST(framing_errors_have_their_codes) {
  // Short: fewer bytes than the length says is not an error yet, whatever the cut.
  std::string move;
  CHECK(encode(move, Move{1, 2, 3}));
  for (std::size_t n = 0; n < move.size(); ++n) {
    const FrameSplit s = splitFrame(asBytes(move).first(n), kMaxClientFrame);
    CHECK(s.status == FrameSplit::Status::NeedMore);
    CHECK_EQ(s.frameBytes, n < kLengthBytes ? kFrameHeaderBytes : move.size());
  }
  // Zero length: nothing can follow, not even a type.
  const std::string zero("\0\0\0\0", 4);
  FrameSplit s = splitFrame(asBytes(zero), kMaxClientFrame);
  CHECK(s.status == FrameSplit::Status::Error && s.error == ErrorCode::BadFrame);
  // Over-long: decided from the length alone, before any of the frame arrives.
  const std::string over = rawFrame(0x04, std::string(kMaxClientFrame, 'a')).substr(0, 4);
  s = splitFrame(asBytes(over), kMaxClientFrame);
  CHECK(s.status == FrameSplit::Status::Error && s.error == ErrorCode::FrameTooLong);
  const std::string huge("\xFF\xFF\xFF\xFF", 4);
  CHECK(splitFrame(asBytes(huge), kMaxServerFrame).error == ErrorCode::FrameTooLong);
  // The largest client frame is fine; the server's limit is the server's.
  const std::string maxed = rawFrame(0x04, std::string(kMaxClientFrame - 1, 'a'));
  CHECK(splitFrame(asBytes(maxed), kMaxClientFrame).status == FrameSplit::Status::Frame);
  const std::string big = rawFrame(0x82, std::string(kMaxClientFrame, 'a'));
  CHECK(splitFrame(asBytes(big), kMaxClientFrame).error == ErrorCode::FrameTooLong);
  CHECK(splitFrame(asBytes(big), kMaxServerFrame).status == FrameSplit::Status::Frame);
  // Unknown types, including the server's own types sent by a client.
  for (int t : {0x00, 0x07, 0x7F, 0x80, 0x81, 0x84, 0x8A, 0xFF}) CHECK_EQ(parseRaw(static_cast<std::uint8_t>(t), ""), ErrorCode::UnknownType);
  ServerMessage sm;
  CHECK(parseServerMessage(0x01, {}, sm) == ErrorCode::UnknownType);
}

TEST(wrong_payload_sizes_are_bad_payload) {
  const std::string valid[] = {
      payloadOf([] { std::string f; (void)encode(f, Hello{kProtocolVersion, "tkt"}); return f; }()),
      payloadOf([] { std::string f; (void)encode(f, Move{1, 2, 3}); return f; }()),
      payloadOf([] { std::string f; (void)encode(f, Attack{4}); return f; }()),
      payloadOf([] { std::string f; (void)encode(f, Chat{"hey"}); return f; }()),
      payloadOf([] { std::string f; (void)encode(f, Ping{5}); return f; }()),
  };
  const std::uint8_t types[] = {0x01, 0x02, 0x03, 0x04, 0x05};
  for (int i = 0; i < 5; ++i) {
    CHECK_EQ(parseRaw(types[i], valid[i]), ErrorCode::None);
    CHECK_MSG(parseRaw(types[i], valid[i] + 'x') == ErrorCode::BadPayload, int(types[i]));  // one byte too many
    for (std::size_t n = 0; n < valid[i].size(); ++n)  // every truncation (HELLO's version first)
      CHECK_MSG(parseRaw(types[i], valid[i].substr(0, n)) == ErrorCode::BadPayload, int(types[i]) << " at " << n);
  }
  CHECK_EQ(parseRaw(0x06, ""), ErrorCode::None);
  CHECK_EQ(parseRaw(0x06, "x"), ErrorCode::BadPayload);
  // CHAT: 1..512 bytes.
  CHECK_EQ(parseRaw(0x04, std::string("\0\0", 2)), ErrorCode::BadPayload);
  std::string f;
  CHECK(encode(f, Chat{std::string(kMaxChatBytes, 'a')}));
  CHECK_EQ(parseRaw(0x04, payloadOf(f)), ErrorCode::None);
  f.clear();
  CHECK(encode(f, Chat{std::string(kMaxChatBytes + 1, 'a')}));
  CHECK_EQ(parseRaw(0x04, payloadOf(f)), ErrorCode::BadPayload);
  // LEAVE and STATE counts that the bytes do not hold.
  ServerMessage sm;
  CHECK(parseServerMessage(0x83, asBytes(std::string("\x02\x00\x01\x00\x00\x00", 6)), sm) == ErrorCode::BadPayload);
  CHECK(parseServerMessage(0x82, asBytes(std::string(14, '\0') + std::string("\x01", 1)), sm) == ErrorCode::BadPayload);
  std::string st(12, '\0');
  st += std::string("\xFF\xFF", 2);  // 65535 cells announced, none there
  CHECK(parseServerMessage(0x82, asBytes(st), sm) == ErrorCode::BadPayload);
}

TEST(hello_version_and_ticket) {
  std::string f;
  CHECK(encode(f, Hello{2, "tkt"}));
  CHECK_EQ(parseRaw(0x01, payloadOf(f)), ErrorCode::BadVersion);
  f.clear();
  CHECK(encode(f, Hello{0, ""}));
  CHECK_EQ(parseRaw(0x01, payloadOf(f)), ErrorCode::BadVersion);
  for (const char* bad : {"has space", "tab\there", "nul\0x", "\x7F", "caf\xC3\xA9"}) {
    f.clear();
    CHECK(encode(f, Hello{kProtocolVersion, std::string_view(bad, bad[0] == 'n' ? 5 : std::strlen(bad))}));
    CHECK_MSG(parseRaw(0x01, payloadOf(f)) == ErrorCode::BadTicket, bad);
  }
}

TEST(invalid_utf8_is_bad_utf8) {
  const std::string bad[] = {
      "\x80",                 // a continuation byte first
      "\xC0\xAF",             // overlong '/'
      "\xC1\xBF",             // overlong
      "\xE0\x80\xAF",         // overlong 3-byte
      "\xF0\x80\x80\xAF",     // overlong 4-byte
      "\xED\xA0\x80",         // U+D800, a surrogate
      "\xED\xBF\xBF",         // U+DFFF
      "\xF4\x90\x80\x80",     // U+110000
      "\xF5\x80\x80\x80",     // never valid
      "\xFF",                 //
      "ab\xC3",               // truncated 2-byte
      "\xE2\x82",             // truncated 3-byte
      "\xF0\x9F\x8E",         // truncated 4-byte
      "\xC3\x28",             // bad continuation
  };
  for (const std::string& b : bad) {
    CHECK_MSG(!isValidUtf8(b), b.size());
    std::string f;
    CHECK(encode(f, Chat{b}));
    CHECK_EQ(parseRaw(0x04, payloadOf(f)), ErrorCode::BadUtf8);
    f.clear();
    CHECK(encode(f, Notice{b}));
    Notice n;
    CHECK(parseNotice(asBytes(payloadOf(f)), n) == ErrorCode::BadUtf8);
  }
  for (const char* good : {"a", "\xC2\x80", "\xDF\xBF", "\xE0\xA0\x80", "\xED\x9F\xBF", "\xEE\x80\x80",
                           "\xEF\xBF\xBF", "\xF0\x90\x80\x80", "\xF4\x8F\xBF\xBF"})
    CHECK_MSG(isValidUtf8(good), good);
  CHECK(isValidUtf8(std::string_view("\0", 1)));
}

TEST(coordinates_non_finite_or_outside_the_world) {
  const double inf = std::numeric_limits<double>::infinity();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double bad[] = {nan, -nan, inf, -inf, kWorld.max + 0.001, kWorld.min - 0.001, 1e308, -1e308};
  for (double v : bad) {
    for (int axis = 0; axis < 2; ++axis) {
      std::string f;
      CHECK(encode(f, axis == 0 ? Move{v, 0, 1} : Move{0, v, 1}));
      CHECK_MSG(parseRaw(0x02, payloadOf(f)) == ErrorCode::BadCoordinates, v << " on axis " << axis);
    }
  }
  // A signalling NaN bit pattern too.
  std::string f;
  CHECK(encode(f, Move{std::bit_cast<double>(0x7FF0000000000001ull), 0, 1}));
  CHECK_EQ(parseRaw(0x02, payloadOf(f)), ErrorCode::BadCoordinates);
  // The bounds are the caller's.
  f.clear();
  CHECK(encode(f, Move{5000, 5000, 1}));
  Move m;
  CHECK(parseMove(asBytes(payloadOf(f)), WorldBounds{0, 10000}, m) == ErrorCode::None);
  CHECK(parseMove(asBytes(payloadOf(f)), WorldBounds{0, 4999}, m) == ErrorCode::BadCoordinates);
}

TEST(encoders_refuse_what_the_wire_cannot_say) {
  std::string out = "keep";
  CHECK(!encode(out, Hello{kProtocolVersion, std::string(kMaxClientFrame, 't')}));  // frame over 1024
  CHECK(!encode(out, Chat{std::string(0x10000, 'c')}));                               // len over u16
  CHECK(!encode(out, Notice{std::string(0x10000, 'n')}));
  CHECK(!encode(out, Leave{std::vector<std::uint32_t>(0x10000, 1)}));
  CHECK(!encodeStateHeader(out, {}, kMaxServerFrame));
  std::vector<Entry> many(0x10000);
  CHECK(!encodeCell(out, 0, 0, many));
  CHECK_EQ(out, std::string("keep"));
  // The largest client CHAT frame that fits: 1024 = type + u16 + 1021 bytes.
  CHECK(encode(out, Chat{std::string(kMaxClientFrame - 1 - kChatFixedBytes, 'c')}));
  CHECK(!encode(out, Chat{std::string(kMaxClientFrame - kChatFixedBytes, 'c')}));
}

// A stream of frames cut anywhere (byte by byte, then at random) splits into the same frames.
TEST(split_frames_do_not_depend_on_the_cuts) {
  std::string stream;
  CHECK(encode(stream, Hello{kProtocolVersion, "ticket"}));
  CHECK(encode(stream, Move{1, 2, 3}));
  CHECK(encode(stream, Chat{"hello"}));
  CHECK(encode(stream, Ping{9}));
  CHECK(encode(stream, Attack{4}));
  CHECK(encode(stream, Bye{}));
  struct Seen {
    std::uint8_t type;
    std::string payload;
    bool operator==(const Seen&) const = default;
  };
  auto feed = [&](const std::vector<std::size_t>& cuts) {
    std::vector<Seen> seen;
    std::string pending;
    std::size_t at = 0;
    for (std::size_t n : cuts) {
      pending.append(stream, at, n);
      at += n;
      for (;;) {
        // An exact-size copy: ASan sees any read past the bytes received so far.
        auto copy = std::make_unique<std::uint8_t[]>(pending.size() + 1);
        std::memcpy(copy.get(), pending.data(), pending.size());
        const FrameSplit s = splitFrame(Bytes(copy.get(), pending.size()), kMaxClientFrame);
        CHECK(s.status != FrameSplit::Status::Error);
        if (s.status == FrameSplit::Status::NeedMore) break;
        seen.push_back({s.type, std::string(reinterpret_cast<const char*>(s.payload.data()), s.payload.size())});
        pending.erase(0, s.frameBytes);
      }
    }
    CHECK(pending.empty());
    return seen;
  };
  const std::vector<Seen> whole = feed({stream.size()});
  CHECK_EQ(whole.size(), 6u);
  CHECK_EQ(whole[2].type, 0x04);
  CHECK(feed(std::vector<std::size_t>(stream.size(), 1)) == whole);
  std::mt19937_64 rng(gstest::seed("split_frames_do_not_depend_on_the_cuts"));
  for (int round = 0; round < 200; ++round) {
    std::vector<std::size_t> cuts;
    for (std::size_t left = stream.size(); left > 0;) {
      const std::size_t n = std::min<std::size_t>(left, 1 + rng() % 24);
      cuts.push_back(n);
      left -= n;
    }
    CHECK(feed(cuts) == whole);
  }
}

GS_TEST_MAIN()
