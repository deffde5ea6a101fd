// Area-of-interest replication: players in a uniform grid over a square world, each
// changed cell serialized once per replication round into a shared immutable CELL block
// (docs/PROTOCOL.md, STATE), and per viewer (a session) the blocks of its 3x3
// neighbourhood it has not been sent yet plus the ids for a LEAVE.
//
// Cells: cell size = aoiRadius; cell (cx, cy) of (x, y) is floor((x - worldMin) / r),
// clamped to the last cell, so x == worldMax lies in the last cell, not one past it.
// Two players within r of each other (any norm: |dx| <= r and |dy| <= r) are at most one
// cell apart on each axis, so a 3x3 neighbourhood holds everyone within the radius.
// Cells are indexed by a dense table when the world has few of them (a 2,000-wide world
// at r = 100 has 400) and by a hash map otherwise (a 200,000-wide one would have 4e6);
// only cells that hold players, or were emptied in the latest round, exist.
//
// Life of a cell's block: every add/move/setHp/remove marks the cells it touches dirty;
// replicate() serializes each dirty cell once (its full content), stamps it with the
// round number as its version, and publishes it. A cell that became empty publishes one
// count = 0 block and is dropped at the next round if it is still empty. Versions are
// round numbers, so a cell dropped and created again never repeats a version a viewer
// still holds.
//
// Per viewer: for each cell of its neighbourhood it was sent, the block it was sent
// (a reference, not a copy) and the one before it. The block holds the ids the viewer
// was told about, so a LEAVE costs no bookkeeping of its own: when a cell leaves the
// neighbourhood, the LEAVE names the ids of the block the viewer holds for it. (Keeping
// ids per cell version in the grid instead would cost a history per cell; copying ids
// per viewer would cost a copy per send.) The block before lets invalidate() roll back
// the cells of a dropped STATE to what the client really has.
//
// Contract with the session's send queue (exact visibility depends on it):
// - a collect()'s LEAVE is written before its STATE, and LEAVE frames are never
//   dropped (a player who left a cell that leaves the 3x3 for a cell that enters it is
//   named in the LEAVE and placed again by the STATE);
// - a session has at most one unwritten STATE when collect() runs for it: if the
//   previous one is still queued, drop it (the new one supersedes it) and call
//   invalidate() before collect(). That collect() then resends every block of the 3x3.
//
// Thread safety: an AoiGrid is not synchronized. One thread (the replicating thread)
// calls add/move/setHp/remove/replicate. collect() only reads the grid: between two
// replicate() calls, several threads may collect for different viewers at once. A
// viewer is used by one collect() at a time; AoiViewer::invalidate() may be called from
// any thread. Published blocks are immutable and may be read and released anywhere.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <unordered_map>
#include <vector>

namespace gamesrv {

// One serialized CELL block: i32 cx, i32 cy, u16 count, count x ENTRY
// (ENTRY = u32 playerId, f32 x, f32 y, i32 hp), little-endian.
using CellBlock = std::shared_ptr<const std::vector<std::byte>>;

struct CellCoord {
  std::int32_t cx = 0;
  std::int32_t cy = 0;
  bool operator==(const CellCoord&) const = default;
};

struct AoiConfig {
  double worldMin = 0;
  double worldMax = 2000;
  double aoiRadius = 100;
};

enum class AoiStatus {
  Ok,
  UnknownPlayer,
  DuplicatePlayer,
  OutOfWorld,  // a coordinate is not finite or lies outside [worldMin, worldMax]
  CellFull,    // the cell already holds kMaxCellEntries players (a CELL count is a u16)
};

// What one replicate() did and cost.
struct ReplicationStats {
  std::uint64_t tick = 0;
  std::uint64_t round = 0;  // the version stamped on this round's blocks
  std::size_t cellsSerialized = 0;
  std::size_t bytesSerialized = 0;
  std::size_t cellsDropped = 0;  // emptied in the previous round and still empty
  std::uint64_t serializeNs = 0;  // wall time of the whole replicate()
};

// What collect() hands to one session: the blocks of a STATE and the ids of a LEAVE.
// Reused from call to call, so that steady-state collects allocate nothing.
struct AoiCollected {
  std::vector<CellBlock> cells;
  std::vector<std::uint32_t> leave;  // sorted, unique
};

// One session's view: which blocks it holds. Small (a few entries) and lazily grown.
class AoiViewer {
 public:
  AoiViewer() = default;
  AoiViewer(const AoiViewer&) = delete;
  AoiViewer& operator=(const AoiViewer&) = delete;

  // The session's latest STATE was dropped unwritten: roll back what it carried and
  // resend the whole 3x3 at the next collect(). Any thread.
  void invalidate() noexcept { invalid_.store(true, std::memory_order_release); }

  bool hasCell() const noexcept { return hasCell_; }
  CellCoord cell() const noexcept { return cell_; }
  std::size_t heldCells() const noexcept;

 private:
  friend class AoiGrid;
  struct Held {
    std::uint64_t version = 0;  // of `sent`; 0: a count = 0 block made for a vanished cell
    CellBlock sent;             // what the client has for the cell once the latest STATE is written; null: nothing
    std::uint64_t prevVersion = 0;
    CellBlock prev;             // what it had before; null: nothing
    std::uint64_t sentAt = 0;   // the collect() that sent `sent`
  };
  // The 3x3 around cell_, row by row: held_[(dy + 1) * 3 + (dx + 1)] is (cx + dx, cy + dy).
  Held held_[9];
  CellCoord cell_{};
  bool hasCell_ = false;
  std::uint64_t collects_ = 0;
  std::atomic<bool> invalid_{false};
};

class AoiGrid {
 public:
  static constexpr std::size_t kCellHeaderBytes = 10;  // i32 cx, i32 cy, u16 count
  static constexpr std::size_t kEntryBytes = 16;
  static constexpr std::size_t kMaxCellEntries = 65535;
  static constexpr std::size_t kDenseCellLimit = std::size_t{1} << 18;  // cells; 1 MiB of index

  // Throws std::invalid_argument unless worldMin < worldMax, aoiRadius > 0 (all finite)
  // and the grid has at most 2^31 - 1 cells a side.
  explicit AoiGrid(AoiConfig config);

  AoiStatus add(std::uint32_t id, double x, double y, std::int32_t hp);
  AoiStatus move(std::uint32_t id, double x, double y);
  // A move that acknowledges input `seq` of the session `tag` (non-zero): viewOf() reports
  // the latest such pair, so a STATE can tell a session which of its inputs it shows.
  AoiStatus move(std::uint32_t id, double x, double y, std::uint32_t tag, std::uint32_t seq);
  AoiStatus setHp(std::uint32_t id, std::int32_t hp);
  AoiStatus remove(std::uint32_t id);

  bool inWorld(double x, double y) const noexcept;
  CellCoord cellOf(double x, double y) const noexcept;  // clamped into the grid
  std::int32_t cellsPerSide() const noexcept { return side_; }
  bool denseIndex() const noexcept { return !dense_.empty(); }

  ReplicationStats replicate(std::uint64_t tick);

  // Fills `out` for a viewer whose player is in `playerCell` (see the header comment).
  void collect(AoiViewer& viewer, CellCoord playerCell, AoiCollected& out) const;

  // The latest published block of a cell (null if none) and its version (0 if none).
  CellBlock published(CellCoord at) const;
  std::uint64_t version(CellCoord at) const;
  // The cell a player is in; nullopt for a player the grid does not hold.
  std::optional<CellCoord> cellOfPlayer(std::uint32_t id) const;
  // The cell and the latest acknowledged input (tag 0: none) of a player, in one lookup.
  struct PlayerView {
    CellCoord cell;
    std::uint32_t ackTag = 0;
    std::uint32_t ackSeq = 0;
  };
  std::optional<PlayerView> viewOf(std::uint32_t id) const;
  std::size_t playerCount() const noexcept { return byId_.size(); }
  std::size_t liveCells() const noexcept { return cells_.size() - freeCells_.size(); }
  std::uint64_t round() const noexcept { return round_; }

  // Reading a block: its coordinates, entry count and the i-th entry's player id.
  static CellCoord blockCell(const std::vector<std::byte>& block) noexcept;
  static std::size_t blockCount(const std::vector<std::byte>& block) noexcept;
  static std::uint32_t blockId(const std::vector<std::byte>& block, std::size_t i) noexcept;

 private:
  static constexpr std::uint32_t kNone = 0xFFFFFFFFu;

  struct Cell {
    CellCoord at;
    std::vector<std::uint32_t> members;  // player slots; capacity kept across reuse
    CellBlock published;
    std::size_t publishedCount = 0;  // entries in `published`
    std::uint64_t version = 0;
    bool dirty = false;
    bool live = false;
  };
  struct Body {
    std::uint32_t id = 0;
    double x = 0;
    double y = 0;
    std::int32_t hp = 0;
    std::uint32_t cell = kNone;  // slot in cells_
    std::uint32_t index = 0;     // position in that cell's members
    std::uint32_t ackTag = 0;    // move(..., tag, seq): the latest acknowledged input
    std::uint32_t ackSeq = 0;
  };

  std::uint32_t findCell(CellCoord at) const;
  std::uint32_t obtainCell(CellCoord at);
  void dropCell(std::uint32_t slot);
  void markDirty(std::uint32_t slot);
  void unlink(std::uint32_t body);
  void link(std::uint32_t body, std::uint32_t cell);
  CellBlock serialize(const Cell& c) const;
  static CellBlock emptyBlock(CellCoord at);

  double worldMin_;
  double worldMax_;
  double radius_;
  std::int32_t side_;
  std::vector<std::uint32_t> dense_;  // cy * side + cx -> slot; empty when sparse
  std::unordered_map<std::uint64_t, std::uint32_t> sparse_;
  std::vector<Cell> cells_;
  std::vector<std::uint32_t> freeCells_;
  std::vector<Body> bodies_;
  std::vector<std::uint32_t> freeBodies_;
  std::unordered_map<std::uint32_t, std::uint32_t> byId_;  // player id -> slot in bodies_
  std::vector<std::uint32_t> dirty_;    // cell slots
  std::vector<std::uint32_t> emptied_;  // cell slots that published count = 0 last round
  std::uint64_t round_ = 0;
};

}  // namespace gamesrv
