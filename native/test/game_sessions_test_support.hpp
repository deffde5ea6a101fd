// Shared by test_game_sessions.cpp (the portable core, no sockets) and
// test_game_listener.cpp (the TCP listener): a handler that echoes every frame
// and records what happened, and frame encoding/decoding helpers.
#pragma once
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "gamesrv/game_sessions.hpp"
#include "harness.hpp"

namespace gstest {

using gamesrv::GameCloseInfo;
using gamesrv::GameCloseKind;

inline constexpr std::uint8_t kHello = 0x01;  // the handler marks a session live on it

inline std::vector<std::byte> bytesOf(std::string_view s) {
  std::vector<std::byte> v(s.size());
  std::memcpy(v.data(), s.data(), s.size());
  return v;
}

// u32 length (type + payload), type, payload.
inline std::vector<std::byte> encodeFrame(std::uint8_t type, std::string_view payload) {
  std::vector<std::byte> v(5 + payload.size());
  const auto len = static_cast<std::uint32_t>(1 + payload.size());
  for (int i = 0; i < 4; ++i) v[i] = std::byte((len >> (8 * i)) & 0xff);
  v[4] = std::byte(type);
  std::memcpy(v.data() + 5, payload.data(), payload.size());
  return v;
}

struct Frame {
  std::uint8_t type = 0;
  std::string payload;
  // ERROR: u16 code; KICK: u8 reason.
  std::uint16_t errorCode() const { return static_cast<std::uint8_t>(payload[0]) | static_cast<std::uint8_t>(payload[1]) << 8; }
  std::uint8_t kickReason() const { return static_cast<std::uint8_t>(payload[0]); }
};

class EchoHandler final : public gamesrv::GameSessionHandler {
 public:
  gamesrv::GameSessions* sessions = nullptr;  // set before the first connection

  bool onOpen(std::uint32_t id, const std::string& remote) override {
    std::lock_guard lock(mu_);
    opened_.push_back(id);
    remotes_[id] = remote;
    changed_.notify_all();
    return refuseAll_ ? false : true;
  }
  void onFrame(gamesrv::GameSession& s, std::uint8_t type, std::span<const std::byte> payload) override {
    const std::uint32_t id = s.id;
    if (type == kHello) sessions->markLive(id);
    sessions->send(id, gamesrv::GameFrame::copyOf(type, payload), false);
    std::lock_guard lock(mu_);
    ++frames_;
  }
  void onClose(std::uint32_t id, GameCloseInfo why) override {
    std::lock_guard lock(mu_);
    closeCount_[id] += 1;
    closed_[id] = why;
    changed_.notify_all();
  }
  void onStateDropped(std::uint32_t) override {
    std::lock_guard lock(mu_);
    ++droppedCalls_;
  }

  void refuseAll(bool on) {
    std::lock_guard lock(mu_);
    refuseAll_ = on;
  }
  std::vector<std::uint32_t> opened() const {
    std::lock_guard lock(mu_);
    return opened_;
  }
  std::optional<GameCloseInfo> closedWith(std::uint32_t id) const {
    std::lock_guard lock(mu_);
    const auto it = closed_.find(id);
    return it == closed_.end() ? std::nullopt : std::optional(it->second);
  }
  // Waits (bounded) until `n` sessions were opened; returns the n-th id (0: timed out).
  std::uint32_t waitOpened(std::size_t n, std::chrono::milliseconds limit = std::chrono::seconds(10)) {
    std::unique_lock lock(mu_);
    changed_.wait_for(lock, limit, [&] { return opened_.size() >= n; });
    return opened_.size() >= n ? opened_[n - 1] : 0;
  }
  std::optional<GameCloseInfo> waitClosed(std::uint32_t id, std::chrono::milliseconds limit = std::chrono::seconds(10)) {
    std::unique_lock lock(mu_);
    changed_.wait_for(lock, limit, [&] { return closed_.count(id) > 0; });
    const auto it = closed_.find(id);
    return it == closed_.end() ? std::nullopt : std::optional(it->second);
  }
  bool waitClosedCount(std::size_t n, std::chrono::milliseconds limit = std::chrono::seconds(20)) {
    std::unique_lock lock(mu_);
    return changed_.wait_for(lock, limit, [&] { return closed_.size() >= n; });
  }
  // Every closed session was closed exactly once.
  bool closedOnce() const {
    std::lock_guard lock(mu_);
    for (const auto& [id, n] : closeCount_)
      if (n != 1) return false;
    return true;
  }
  std::size_t droppedCalls() const {
    std::lock_guard lock(mu_);
    return droppedCalls_;
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable changed_;
  bool refuseAll_ = false;
  std::vector<std::uint32_t> opened_;
  std::map<std::uint32_t, std::string> remotes_;
  std::map<std::uint32_t, int> closeCount_;
  std::map<std::uint32_t, GameCloseInfo> closed_;
  std::size_t frames_ = 0;
  std::size_t droppedCalls_ = 0;
};

}  // namespace gstest
