// Writes the seed corpus of every fuzz target (native/fuzz/corpus/<target>/) from the
// codec's own encoders: a few valid messages of each kind and the malformed classes the
// server answers with ERROR. Run by `scripts/fuzz.sh --make-corpus`; the output is
// committed so the lane needs no generator step.
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <cstdlib>

#include "gamesrv/game_protocol.hpp"

using namespace gamesrv::game;
namespace fs = std::filesystem;

namespace {

fs::path root;

void put(const std::string& target, const std::string& name, const std::string& bytes) {
  const fs::path dir = root / target;
  fs::create_directories(dir);
  std::ofstream(dir / name, std::ios::binary) << bytes;
}

template <class M>
std::string frame(const M& m) {
  std::string f;
  if (!encode(f, m)) std::abort();
  return f;
}
template <class M>
std::string payload(const M& m) {
  return frame(m).substr(kFrameHeaderBytes);
}
std::string le32(std::uint32_t v) {
  std::string s;
  for (int i = 0; i < 4; ++i) s += static_cast<char>(v >> (8 * i));
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_corpus <corpus dir>\n");
    return 2;
  }
  root = argv[1];
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();

  put("fuzz_hello", "valid", payload(Hello{kProtocolVersion, "v1.1234.1700000000.c2lnbmF0dXJl"}));
  put("fuzz_hello", "empty-ticket", payload(Hello{kProtocolVersion, ""}));
  put("fuzz_hello", "bad-version", payload(Hello{2, "t"}));
  put("fuzz_hello", "bad-ticket-byte", payload(Hello{kProtocolVersion, "a b\x01"}));
  put("fuzz_hello", "ticket-len-over", payload(Hello{kProtocolVersion, "abc"}).substr(0, 5));
  put("fuzz_hello", "short", std::string("\x01", 1));

  put("fuzz_move", "valid", payload(Move{12.5, -300.25, 7}));
  put("fuzz_move", "edge", payload(Move{-1000.0, 1000.0, 0xFFFFFFFFu}));
  put("fuzz_move", "nan", payload(Move{nan, 0, 1}));
  put("fuzz_move", "inf", payload(Move{0, -inf, 1}));
  put("fuzz_move", "outside", payload(Move{1000.5, 0, 1}));
  put("fuzz_move", "short", payload(Move{1, 2, 3}).substr(0, 19));

  put("fuzz_attack", "valid", payload(Attack{42}));
  put("fuzz_attack", "long", payload(Attack{42}) + "x");
  put("fuzz_attack", "empty", "");

  put("fuzz_chat", "ascii", payload(Chat{"hello there"}));
  put("fuzz_chat", "utf8", payload(Chat{"h\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x8E\xAE"}));
  put("fuzz_chat", "max", payload(Chat{std::string(kMaxChatBytes, 'z')}));
  put("fuzz_chat", "too-long", payload(Chat{std::string(kMaxChatBytes + 1, 'z')}));
  put("fuzz_chat", "empty", payload(Chat{""}));
  put("fuzz_chat", "overlong", payload(Chat{"\xC0\xAF"}));
  put("fuzz_chat", "surrogate", payload(Chat{"\xED\xA0\x80"}));
  put("fuzz_chat", "above-max", payload(Chat{"\xF4\x90\x80\x80"}));
  put("fuzz_chat", "len-mismatch", payload(Chat{"abc"}).substr(0, 4));

  put("fuzz_ping", "valid", payload(Ping{0x0102030405060708ull}));
  put("fuzz_ping", "short", payload(Ping{1}).substr(0, 7));
  put("fuzz_bye", "valid", "");
  put("fuzz_bye", "extra", "x");

  // Frame streams: every message, several in a row, and the framing errors.
  std::string all;
  for (const std::string& f : {frame(Hello{kProtocolVersion, "tkt"}), frame(Move{1, 2, 3}), frame(Attack{4}),
                               frame(Chat{"hi"}), frame(Ping{5}), frame(Bye{})})
    all += f;
  put("fuzz_frames", "session", all);
  put("fuzz_frames", "hello", frame(Hello{kProtocolVersion, "tkt"}));
  put("fuzz_frames", "move-nan", frame(Move{nan, 0, 1}));
  put("fuzz_frames", "chat-bad-utf8", frame(Chat{"\xFF"}));
  put("fuzz_frames", "zero-length", le32(0));
  put("fuzz_frames", "too-long", le32(kMaxClientFrame + 1) + "\x04");
  put("fuzz_frames", "unknown-type", le32(1) + "\x07");
  put("fuzz_frames", "split", frame(Move{1, 2, 3}).substr(0, 9));
  put("fuzz_frames", "server-welcome", frame(Welcome{1, 2, 60, 20, -1000, 1000, 100}));

  State st;
  st.header = {100, 7, 2};
  st.entries = {{1, 1.5f, 2.5f, 100}, {2, -3.0f, 4.0f, 50}};
  st.cells = {{0, 0, 0, 2}, {1, -1, 2, 0}};
  put("fuzz_frames", "server-state", frame(st));

  // fuzz_server_payloads: a selector byte (type - 0x81), then the payload.
  auto server = [](const char* name, std::uint8_t type, const std::string& p) {
    put("fuzz_server_payloads", name, std::string(1, static_cast<char>(type - 0x81)) + p);
  };
  server("welcome", 0x81, payload(Welcome{1, 2, 60, 20, -1000, 1000, 100}));
  server("state", 0x82, payload(st));
  server("state-empty", 0x82, payload(State{}));
  server("leave", 0x83, payload(Leave{{1, 2, 3}}));
  server("chat", 0x84, payload(ServerChat{9, "gg"}));
  server("hit", 0x85, payload(Hit{1, 2, 10, 90}));
  server("death", 0x86, payload(Death{1, 2}));
  server("pong", 0x87, payload(Pong{5, 6}));
  server("notice", 0x88, payload(Notice{"draining"}));
  server("kick", 0x89, payload(Kick{KickReason::TooSlow, "slow"}));
  server("error", 0x8A, payload(ServerError{ErrorCode::BadUtf8, "bad"}));
  server("state-count-over", 0x82, payload(st).substr(0, 20));
  return 0;
}
