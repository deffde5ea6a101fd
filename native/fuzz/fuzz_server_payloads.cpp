// libFuzzer target for the server-message parsers (what the bots and tests run on the
// server's bytes): the first input byte picks the type, the rest is the payload. One
// target for the ten of them (see fuzz_payload.cpp for why the client parsers get one
// each). Every accepted payload must re-encode to exactly the bytes it was parsed from.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <variant>

#include "gamesrv/game_protocol.hpp"

using namespace gamesrv::game;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const auto type = static_cast<std::uint8_t>(0x81 + data[0] % 10);
  const Bytes payload(data + 1, size - 1);
  ServerMessage m;
  if (parseServerMessage(type, payload, m) != ErrorCode::None) return 0;
  std::string wire;
  if (!std::visit([&](const auto& msg) { return encode(wire, msg); }, m)) __builtin_trap();
  if (wire.size() != kFrameHeaderBytes + payload.size() || static_cast<std::uint8_t>(wire[4]) != type) __builtin_trap();
  if (!payload.empty() && std::memcmp(wire.data() + kFrameHeaderBytes, payload.data(), payload.size()) != 0)
    __builtin_trap();
  return 0;
}
