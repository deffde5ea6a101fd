#include "gamesrv/world.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <mutex>
#include <shared_mutex>  // std::shared_lock

#include "gamesrv/storage.hpp"

namespace gamesrv {

World::World(WorldConfig config) : config_(config) {}

namespace {
PlayerRow rowOf(const Player& p) {
  PlayerRow r;
  r.id = p.id;
  r.name = p.name;
  r.x = p.x;
  r.y = p.y;
  r.hp = p.hp;
  r.kills = static_cast<std::int64_t>(p.kills);
  r.online = p.online;
  r.version = static_cast<std::int64_t>(p.version);
  r.updatedAtMs = static_cast<std::int64_t>(p.lastSeenMs);
  return r;
}
}  // namespace

InvalidReason World::apply(const GameEvent& e, std::uint64_t nowMs) {
  std::unique_lock lock(mu_);
  appliedSeq_ = e.journalSeq != 0 ? e.journalSeq : e.seq;  // the journal's number, when journaled
  // Requires: mu_ held exclusively.
  const auto changed = [this](Player& changedPlayer) {
    ++changedPlayer.version;
    dirty_.insert(changedPlayer.id);
  };
  auto it = players_.find(e.playerId);
  Player* p = it == players_.end() ? nullptr : &it->second;
  switch (e.type) {
    case EventType::PlayerLogin: {
      if (p && p->online) return InvalidReason::AlreadyOnline;
      if (!p) {
        if (players_.size() >= config_.maxPlayers) return InvalidReason::WorldFull;
        p = &players_[e.playerId];
        ids_.insert(e.playerId);
        p->id = e.playerId;
        p->hp = config_.maxHp;
      }
      if (!e.text.empty()) p->name = e.text;
      if (p->name.empty()) p->name = "player-" + std::to_string(e.playerId);
      p->online = true;
      p->lastSeenMs = nowMs;
      ++online_;
      changed(*p);
      return InvalidReason::None;
    }
    case EventType::PlayerLogout: {
      if (!p || !p->online) return InvalidReason::NotOnline;
      p->online = false;
      p->lastSeenMs = nowMs;
      --online_;
      changed(*p);
      return InvalidReason::None;
    }
    case EventType::PlayerMove: {
      if (!p || !p->online) return InvalidReason::AttackerOffline;
      double x = e.num1, y = e.num2;  // a session's MOVE: numbers, checked by its parser
      const bool parsed = e.session != 0 ? std::isfinite(x) && std::isfinite(y) : parseCoordinatePair(e.text, x, y);
      if (!parsed || std::fabs(x) > config_.worldSize || std::fabs(y) > config_.worldSize) {
        return InvalidReason::BadCoordinates;
      }
      p->x = x;
      p->y = y;
      p->lastSeenMs = nowMs;
      changed(*p);
      return InvalidReason::None;
    }
    case EventType::PlayerAttack: {
      if (!p || !p->online) return InvalidReason::AttackerOffline;
      const double target = e.num1, damage = e.num2;
      if (!std::isfinite(target) || target < 0 || target > 4294967295.0 || target != std::floor(target)) {
        return InvalidReason::UnknownTarget;
      }
      const auto tid = static_cast<std::uint32_t>(target);
      if (!std::isfinite(damage) || damage < 0 || damage > config_.maxDamage || damage != std::floor(damage) ||
          tid == e.playerId) {
        return InvalidReason::BadAttack;
      }
      auto t = players_.find(tid);
      if (t == players_.end()) return InvalidReason::UnknownTarget;
      Player& victim = t->second;
      if (!victim.online) return InvalidReason::TargetOffline;
      const auto before = victim.hp;
      victim.hp = std::max<std::int32_t>(0, victim.hp - static_cast<std::int32_t>(damage));
      if (victim.hp != before) changed(victim);
      if (before > 0 && victim.hp == 0) {
        ++p->kills;
        changed(*p);
      }
      p->lastSeenMs = nowMs;
      return InvalidReason::None;
    }
    case EventType::PlayerChat: {
      if (!p || !p->online) return InvalidReason::AttackerOffline;
      if (e.text.empty() || e.text.size() > config_.maxChatBytes) return InvalidReason::BadChat;
      chat_.push_back(ChatLine{++chatSeq_, e.playerId, e.text, nowMs});
      while (chat_.size() > config_.chatLogCapacity) chat_.pop_front();
      p->lastSeenMs = nowMs;
      return InvalidReason::None;
    }
  }
  return InvalidReason::None;
}

std::optional<Player> World::player(std::uint32_t id) const {
  std::shared_lock lock(mu_);
  auto it = players_.find(id);
  if (it == players_.end()) return std::nullopt;
  return it->second;
}

std::vector<Player> World::players() const {
  std::vector<Player> out;
  {
    std::shared_lock lock(mu_);
    out.reserve(players_.size());
    for (const auto& [id, p] : players_) out.push_back(p);
  }
  std::sort(out.begin(), out.end(), [](const Player& a, const Player& b) { return a.id < b.id; });
  return out;
}

std::vector<Player> World::playersAfter(std::uint32_t after, std::size_t limit, bool& more) const {
  std::vector<Player> out;
  std::shared_lock lock(mu_);
  auto it = ids_.upper_bound(after);
  out.reserve(std::min<std::size_t>(limit, 1024));
  for (; it != ids_.end() && out.size() < limit; ++it) out.push_back(players_.at(*it));
  more = it != ids_.end();
  return out;
}

std::vector<ChatLine> World::chat(std::size_t limit) const {
  std::shared_lock lock(mu_);
  const std::size_t n = std::min(limit, chat_.size());
  return std::vector<ChatLine>(chat_.end() - static_cast<std::ptrdiff_t>(n), chat_.end());
}

std::size_t World::onlineCount() const {
  std::shared_lock lock(mu_);
  return online_;
}

std::size_t World::knownCount() const {
  std::shared_lock lock(mu_);
  return players_.size();
}

// A saved row as the World holds it (hp clamped to the World's range, negatives as 0).
void World::assignRow(Player& p, std::uint32_t id, const PlayerRow& r, bool online) const {
  p.id = id;
  p.name = r.name;
  p.online = online;
  p.x = r.x;
  p.y = r.y;
  p.hp = static_cast<std::int32_t>(std::clamp<std::int64_t>(r.hp, 0, config_.maxHp));
  p.kills = r.kills > 0 ? static_cast<std::uint64_t>(r.kills) : 0;
  p.version = r.version > 0 ? static_cast<std::uint64_t>(r.version) : 0;
  p.lastSeenMs = r.updatedAtMs > 0 ? static_cast<std::uint64_t>(r.updatedAtMs) : 0;
}

std::size_t World::loadPlayers(std::span<const PlayerRow> rows, bool keepOnline) {
  std::unique_lock lock(mu_);
  std::size_t added = 0;
  for (const PlayerRow& r : rows) {
    if (r.id <= 0 || r.id > 4294967295LL) continue;
    const auto id = static_cast<std::uint32_t>(r.id);
    if (players_.count(id) != 0) continue;
    if (players_.size() >= config_.maxPlayers) break;
    Player& p = players_[id];
    ids_.insert(id);
    assignRow(p, id, r, keepOnline && r.online);
    if (r.online && !keepOnline) dirty_.insert(id);  // saved by a server that did not stop cleanly
    ++added;
  }
  return added;
}

bool World::refreshPlayer(const PlayerRow& r) {
  if (r.id <= 0 || r.id > 4294967295LL) return false;
  const auto id = static_cast<std::uint32_t>(r.id);
  std::unique_lock lock(mu_);
  auto it = players_.find(id);
  if (it == players_.end()) {
    if (players_.size() >= config_.maxPlayers) return false;
    it = players_.emplace(id, Player{}).first;
    ids_.insert(id);
  } else if (it->second.online) {
    return false;
  }
  assignRow(it->second, id, r, false);
  dirty_.erase(id);
  return true;
}

DirtyPlayers World::takeDirty() {
  DirtyPlayers out;
  std::unique_lock lock(mu_);
  out.appliedSeq = appliedSeq_;
  out.rows.reserve(dirty_.size());
  for (const std::uint32_t id : dirty_) {
    if (auto it = players_.find(id); it != players_.end()) out.rows.push_back(rowOf(it->second));
  }
  dirty_.clear();
  return out;
}

void World::markDirty(std::span<const PlayerRow> rows) {
  std::unique_lock lock(mu_);
  for (const PlayerRow& r : rows) {
    const auto id = static_cast<std::uint32_t>(r.id);
    if (r.id > 0 && players_.count(id) != 0) dirty_.insert(id);
  }
}

std::size_t World::dirtyCount() const {
  std::shared_lock lock(mu_);
  return dirty_.size();
}

std::uint64_t World::appliedSeq() const {
  std::shared_lock lock(mu_);
  return appliedSeq_;
}

namespace {
// FNV-1a, 64 bits: each value fed as its little-endian bytes.
class Fnv1a64 {
 public:
  void bytes(const void* data, std::size_t n) noexcept {
    const auto* p = static_cast<const unsigned char*>(data);
    for (std::size_t i = 0; i < n; ++i) {
      h_ ^= p[i];
      h_ *= 0x100000001b3ull;
    }
  }
  void u64(std::uint64_t v) noexcept {
    for (int i = 0; i < 8; ++i) {
      h_ ^= static_cast<unsigned char>(v >> (8 * i));
      h_ *= 0x100000001b3ull;
    }
  }
  void f64(double v) noexcept { u64(std::bit_cast<std::uint64_t>(v == 0 ? 0.0 : v)); }  // -0 hashes as 0
  std::uint64_t value() const noexcept { return h_; }

 private:
  std::uint64_t h_ = 0xcbf29ce484222325ull;
};
}  // namespace

WorldHash World::stateHash() const {
  Fnv1a64 h;
  std::shared_lock lock(mu_);
  for (const std::uint32_t id : ids_) {
    const Player& p = players_.at(id);
    h.u64(p.id);
    h.u64(p.name.size());
    h.bytes(p.name.data(), p.name.size());
    h.u64(p.online ? 1 : 0);
    h.f64(p.x);
    h.f64(p.y);
    h.u64(static_cast<std::uint64_t>(static_cast<std::int64_t>(p.hp)));
    h.u64(p.kills);
    h.u64(p.lastSeenMs);
  }
  return WorldHash{appliedSeq_, h.value()};
}

}  // namespace gamesrv
