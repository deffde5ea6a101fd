// libFuzzer target: the frame splitter over arbitrary bytes, then each complete frame's
// payload through the parser its type selects, in both directions (the server's splitter
// and client parsers; a client's, as the bots run them). Run by scripts/fuzz.sh.
#include <cstddef>
#include <cstdint>

#include "gamesrv/game_protocol.hpp"

using namespace gamesrv::game;

namespace {

void splitAll(Bytes in, std::uint32_t maxLength, bool server) {
  const WorldBounds world{-1000.0, 1000.0};
  for (;;) {
    const FrameSplit s = splitFrame(in, maxLength);
    if (s.status == FrameSplit::Status::Error) {
      if (s.error != ErrorCode::BadFrame && s.error != ErrorCode::FrameTooLong) __builtin_trap();
      return;
    }
    if (s.status == FrameSplit::Status::NeedMore) {
      if (s.frameBytes <= in.size() && in.size() >= kLengthBytes) __builtin_trap();  // it had the bytes
      return;
    }
    if (s.frameBytes > in.size() || s.payload.size() + kFrameHeaderBytes != s.frameBytes) __builtin_trap();
    if (server) {
      ServerMessage m;
      (void)parseServerMessage(s.type, s.payload, m);
    } else {
      ClientMessage m;
      (void)parseClientMessage(s.type, s.payload, world, m);
    }
    in = in.subspan(s.frameBytes);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  splitAll(Bytes(data, size), kMaxClientFrame, false);
  splitAll(Bytes(data, size), kMaxServerFrame, true);
  return 0;
}
