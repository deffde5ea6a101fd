// A client of the AOI replication, written from the protocol's rules rather than from
// AoiGrid: it decodes CELL blocks and applies STATE and LEAVE as a game client would.
//   CELL (cx, cy): forget every player last placed in (cx, cy), then place the block's
//   entries there (a player listed in a block now belongs to that cell).
//   LEAVE: forget those ids.
#pragma once
#include <cstdint>
#include <map>
#include <set>
#include <vector>

#include "gamesrv/aoi_grid.hpp"
#include "gamesrv/wire.hpp"
#include "harness.hpp"

namespace aoitest {

struct Entry {
  std::uint32_t id = 0;
  float x = 0;
  float y = 0;
  std::int32_t hp = 0;
};

struct Block {
  gamesrv::CellCoord at;
  std::vector<Entry> entries;
};

inline Block decode(const std::vector<std::byte>& b) {
  CHECK(b.size() >= 10);
  Block out;
  out.at = {gamesrv::wire::getI32(b.data()), gamesrv::wire::getI32(b.data() + 4)};
  const std::size_t n = gamesrv::wire::getU16(b.data() + 8);
  CHECK_EQ(b.size(), 10 + 16 * n);
  for (std::size_t i = 0; i < n; ++i) {
    const std::byte* p = b.data() + 10 + 16 * i;
    out.entries.push_back(Entry{gamesrv::wire::getU32(p), gamesrv::wire::getF32(p + 4), gamesrv::wire::getF32(p + 8),
                                gamesrv::wire::getI32(p + 12)});
  }
  return out;
}

struct Seen {
  gamesrv::CellCoord cell;
  Entry entry;
};

class Client {
 public:
  void applyCell(const std::vector<std::byte>& bytes) {
    const Block b = decode(bytes);
    for (auto it = players_.begin(); it != players_.end();) {
      if (it->second.cell == b.at)
        it = players_.erase(it);
      else
        ++it;
    }
    for (const Entry& e : b.entries) players_[e.id] = Seen{b.at, e};
  }
  void applyState(const std::vector<gamesrv::CellBlock>& cells) {
    for (const auto& c : cells) applyCell(*c);
  }
  void applyLeave(const std::vector<std::uint32_t>& ids) {
    for (const std::uint32_t id : ids) players_.erase(id);
  }
  std::set<std::uint32_t> ids() const {
    std::set<std::uint32_t> s;
    for (const auto& [id, seen] : players_) s.insert(id);
    return s;
  }
  const std::map<std::uint32_t, Seen>& players() const { return players_; }

 private:
  std::map<std::uint32_t, Seen> players_;
};

}  // namespace aoitest
