// World: the game state that events change (docs/PROTOCOL.md gives each event's payload).
//
// Thread safety: the event-processor thread is the only writer of players (apply());
// loadPlayers() runs before that thread starts. Any thread may read. Readers take a
// shared lock and copy out, so they see a consistent state between two events and never
// hold the writer back for long.
//
// Dirty players (write-behind, gamesrv/persistence.hpp): apply() marks every player whose
// name, position, hp, kills or online flag it changed. takeDirty() (a pool thread) copies
// the dirty players out and clears the set under the exclusive lock, so the rows it returns
// and the watermark beside them are one state between two events; markDirty() puts ids
// back after a failed write.
#pragma once
#include <cstdint>
#include <deque>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include <span>
#include <unordered_set>

#include "gamesrv/game_event.hpp"
#include "gamesrv/platform/shared_mutex.hpp"
#include "gamesrv/storage.hpp"

namespace gamesrv {

struct Player {
  std::uint32_t id = 0;
  std::string name;
  bool online = false;
  double x = 0;
  double y = 0;
  std::int32_t hp = 100;
  std::uint64_t lastSeenMs = 0;  // Unix ms of the last event that touched the player
  std::uint64_t kills = 0;
  std::uint64_t version = 0;  // changes counted (persisted with the row)
};

// What takeDirty() returns: the dirty players' rows and the seq of the last event applied
// when they were taken (the processed watermark a flush may checkpoint).
struct DirtyPlayers {
  std::vector<PlayerRow> rows;
  std::uint64_t appliedSeq = 0;
};

// A World state's fingerprint (stateHash()): the seq of the last event applied and a hash of
// every player's name, online flag, position, hp, kills and last-seen time. Chat and change
// counters are left out: they are not saved, so a restarted World must hash as the journal
// rebuilds it.
struct WorldHash {
  std::uint64_t seq = 0;
  std::uint64_t hash = 0;
  bool operator==(const WorldHash&) const = default;
};

struct ChatLine {
  std::uint64_t seq = 0;
  std::uint32_t playerId = 0;
  std::string text;
  std::uint64_t atMs = 0;
};

struct WorldConfig {
  std::size_t chatLogCapacity = 256;
  std::size_t maxPlayers = 100000;
  double worldSize = 100000.0;  // |x|, |y| must stay within this
  std::int32_t maxHp = 100;
  std::int32_t maxDamage = 1000;
  std::size_t maxChatBytes = 512;
};

class World {
 public:
  explicit World(WorldConfig config = {});

  // Applies one event. Returns InvalidReason::None when applied, or why it was refused.
  InvalidReason apply(const GameEvent& e, std::uint64_t nowMs);

  std::optional<Player> player(std::uint32_t id) const;
  std::vector<Player> players() const;  // sorted by id
  // Up to `limit` players with an id above `after`, by id; copies only those under the
  // lock. `more` is set to whether players beyond the page exist.
  std::vector<Player> playersAfter(std::uint32_t after, std::size_t limit, bool& more) const;
  std::vector<ChatLine> chat(std::size_t limit) const;
  std::size_t onlineCount() const;
  std::size_t knownCount() const;

  // Adds saved players the World does not know yet, offline (a player already known here
  // is newer than its saved row). A loaded row that says online is marked dirty, so the
  // store learns it is offline now. Call before the event thread runs. Returns how many
  // were added; rows past maxPlayers are skipped.
  // keepOnline: as saved (a checkpoint the journal replays on); else every player offline.
  std::size_t loadPlayers(std::span<const PlayerRow> rows, bool keepOnline = false);
  // A login's fresh row from the store (its lease just taken, gamesrv/persistence.hpp):
  // replaces the World's copy, added when unknown, unless the player is online here (then
  // this World is the newer). The player's pending dirty mark goes: the stored row is newer
  // than what this World changed while the player was elsewhere. Any thread. Returns
  // whether the World took the row.
  bool refreshPlayer(const PlayerRow& row);
  // Moves the dirty players out (see the class comment).
  DirtyPlayers takeDirty();
  // Marks these players dirty again (a write that failed); unknown ids are ignored.
  void markDirty(std::span<const PlayerRow> rows);
  std::size_t dirtyCount() const;
  // The seq of the last event apply() saw (0 before the first).
  std::uint64_t appliedSeq() const;
  // FNV-1a 64 over the players in id order (docs/JOURNAL.md "World hashes" gives the bytes),
  // with appliedSeq(), under one shared lock: O(players).
  WorldHash stateHash() const;
  const WorldConfig& config() const noexcept { return config_; }

 private:
  void assignRow(Player& p, std::uint32_t id, const PlayerRow& r, bool online) const;

  const WorldConfig config_;
  mutable platform::SharedMutex mu_;  // not std::shared_mutex: see its header
  std::unordered_map<std::uint32_t, Player> players_;  // guarded by mu_
  std::set<std::uint32_t> ids_;                        // guarded by mu_: players_' keys, in order (pages)
  std::deque<ChatLine> chat_;                          // guarded by mu_
  std::uint64_t chatSeq_ = 0;                          // guarded by mu_
  std::size_t online_ = 0;                             // guarded by mu_
  std::unordered_set<std::uint32_t> dirty_;            // guarded by mu_ (exclusive to change)
  std::uint64_t appliedSeq_ = 0;                       // guarded by mu_
};

}  // namespace gamesrv
