// libFuzzer targets, one per client payload parser: scripts/fuzz.sh builds this file once
// per parser with -DGS_FUZZ_<NAME>. One target per parser rather than one that picks the
// parser from the first byte, because these parsers face players: each gets its own
// corpus and its own >= 1,000,000 executions, and a lane that reports executions per
// target shows that none was starved. The server-message parsers (which only ever read
// our own server's bytes, in the bots and tests) share fuzz_server_payloads.cpp.
//
// Beyond "no crash, no sanitizer report", every accepted payload must re-encode to exactly
// the bytes it was parsed from: the parser accepts nothing the encoder would not write.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "gamesrv/game_protocol.hpp"

using namespace gamesrv::game;

namespace {

template <class M>
void mustReencode(const M& m, Bytes payload) {
  std::string wire;
  if (!encode(wire, m)) __builtin_trap();
  if (wire.size() != kFrameHeaderBytes + payload.size()) __builtin_trap();
  if (!payload.empty() && std::memcmp(wire.data() + kFrameHeaderBytes, payload.data(), payload.size()) != 0)
    __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const Bytes payload(data, size);
#if defined(GS_FUZZ_HELLO)
  Hello m;
  if (parseHello(payload, m) == ErrorCode::None) mustReencode(m, payload);
#elif defined(GS_FUZZ_MOVE)
  Move m;
  const WorldBounds world{-1000.0, 1000.0};
  if (parseMove(payload, world, m) == ErrorCode::None) {
    if (!(m.x >= world.min && m.x <= world.max && m.y >= world.min && m.y <= world.max)) __builtin_trap();
    mustReencode(m, payload);
  }
#elif defined(GS_FUZZ_ATTACK)
  Attack m;
  if (parseAttack(payload, m) == ErrorCode::None) mustReencode(m, payload);
#elif defined(GS_FUZZ_CHAT)
  Chat m;
  if (parseChat(payload, m) == ErrorCode::None) {
    if (m.text.size() < kMinChatBytes || m.text.size() > kMaxChatBytes) __builtin_trap();
    mustReencode(m, payload);
  }
#elif defined(GS_FUZZ_PING)
  Ping m;
  if (parsePing(payload, m) == ErrorCode::None) mustReencode(m, payload);
#elif defined(GS_FUZZ_BYE)
  Bye m;
  if (parseBye(payload, m) == ErrorCode::None) mustReencode(m, payload);
#else
#error "build with -DGS_FUZZ_HELLO, _MOVE, _ATTACK, _CHAT, _PING or _BYE"
#endif
  return 0;
}
