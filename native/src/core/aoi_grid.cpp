#include "gamesrv/aoi_grid.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "gamesrv/clock.hpp"
#include "gamesrv/wire.hpp"

namespace gamesrv {
namespace {

std::uint64_t sparseKey(CellCoord at) noexcept {
  return (std::uint64_t{static_cast<std::uint32_t>(at.cx)} << 32) | static_cast<std::uint32_t>(at.cy);
}

}  // namespace

AoiGrid::AoiGrid(AoiConfig config)
    : worldMin_(config.worldMin), worldMax_(config.worldMax), radius_(config.aoiRadius), side_(1) {
  if (!std::isfinite(worldMin_) || !std::isfinite(worldMax_) || !(worldMin_ < worldMax_))
    throw std::invalid_argument("aoi grid: worldMin must be below worldMax, both finite");
  if (!std::isfinite(radius_) || !(radius_ > 0)) throw std::invalid_argument("aoi grid: aoiRadius must be > 0");
  const double side = std::ceil((worldMax_ - worldMin_) / radius_);
  if (!(side <= static_cast<double>(std::numeric_limits<std::int32_t>::max())))
    throw std::invalid_argument("aoi grid: more than 2^31 - 1 cells a side");
  side_ = std::max<std::int32_t>(1, static_cast<std::int32_t>(side));
  const std::uint64_t cells = std::uint64_t(side_) * std::uint64_t(side_);
  if (cells <= kDenseCellLimit) dense_.assign(static_cast<std::size_t>(cells), kNone);
}

bool AoiGrid::inWorld(double x, double y) const noexcept {
  // Written so that NaN fails every comparison and is refused.
  return x >= worldMin_ && x <= worldMax_ && y >= worldMin_ && y <= worldMax_;
}

CellCoord AoiGrid::cellOf(double x, double y) const noexcept {
  const auto axis = [this](double v) -> std::int32_t {
    const double f = std::floor((v - worldMin_) / radius_);
    if (!(f >= 0)) return 0;
    if (f >= static_cast<double>(side_)) return side_ - 1;  // v == worldMax: the last cell
    return static_cast<std::int32_t>(f);
  };
  return CellCoord{axis(x), axis(y)};
}

std::uint32_t AoiGrid::findCell(CellCoord at) const {
  if (at.cx < 0 || at.cy < 0 || at.cx >= side_ || at.cy >= side_) return kNone;
  if (!dense_.empty()) return dense_[static_cast<std::size_t>(at.cy) * static_cast<std::size_t>(side_) + at.cx];
  const auto it = sparse_.find(sparseKey(at));
  return it == sparse_.end() ? kNone : it->second;
}

std::uint32_t AoiGrid::obtainCell(CellCoord at) {
  std::uint32_t slot = findCell(at);
  if (slot != kNone) return slot;
  if (!freeCells_.empty()) {
    slot = freeCells_.back();
    freeCells_.pop_back();
  } else {
    slot = static_cast<std::uint32_t>(cells_.size());
    cells_.emplace_back();
  }
  Cell& c = cells_[slot];
  c.at = at;
  c.live = true;
  c.dirty = false;
  c.version = 0;
  c.published.reset();
  c.publishedCount = 0;
  if (!dense_.empty())
    dense_[static_cast<std::size_t>(at.cy) * static_cast<std::size_t>(side_) + at.cx] = slot;
  else
    sparse_.emplace(sparseKey(at), slot);
  return slot;
}

void AoiGrid::dropCell(std::uint32_t slot) {
  Cell& c = cells_[slot];
  if (!dense_.empty())
    dense_[static_cast<std::size_t>(c.at.cy) * static_cast<std::size_t>(side_) + c.at.cx] = kNone;
  else
    sparse_.erase(sparseKey(c.at));
  c.live = false;
  c.published.reset();
  c.version = 0;
  c.members.clear();  // keeps its capacity for the slot's next cell
  freeCells_.push_back(slot);
}

void AoiGrid::markDirty(std::uint32_t slot) {
  Cell& c = cells_[slot];
  if (c.dirty) return;
  c.dirty = true;
  dirty_.push_back(slot);
}

void AoiGrid::unlink(std::uint32_t body) {
  Body& b = bodies_[body];
  Cell& c = cells_[b.cell];
  const std::uint32_t last = c.members.back();
  c.members[b.index] = last;
  bodies_[last].index = b.index;
  c.members.pop_back();
  markDirty(b.cell);
  b.cell = kNone;
}

void AoiGrid::link(std::uint32_t body, std::uint32_t cell) {
  Body& b = bodies_[body];
  Cell& c = cells_[cell];
  b.cell = cell;
  b.index = static_cast<std::uint32_t>(c.members.size());
  c.members.push_back(body);
  markDirty(cell);
}

AoiStatus AoiGrid::add(std::uint32_t id, double x, double y, std::int32_t hp) {
  if (!inWorld(x, y)) return AoiStatus::OutOfWorld;
  if (byId_.count(id) != 0) return AoiStatus::DuplicatePlayer;
  const CellCoord at = cellOf(x, y);
  const std::uint32_t existing = findCell(at);
  if (existing != kNone && cells_[existing].members.size() >= kMaxCellEntries) return AoiStatus::CellFull;
  std::uint32_t body;
  if (!freeBodies_.empty()) {
    body = freeBodies_.back();
    freeBodies_.pop_back();
  } else {
    body = static_cast<std::uint32_t>(bodies_.size());
    bodies_.emplace_back();
  }
  bodies_[body] = Body{id, x, y, hp, kNone, 0, 0, 0};
  byId_.emplace(id, body);
  link(body, obtainCell(at));
  return AoiStatus::Ok;
}

AoiStatus AoiGrid::move(std::uint32_t id, double x, double y) {
  const auto it = byId_.find(id);
  if (it == byId_.end()) return AoiStatus::UnknownPlayer;
  if (!inWorld(x, y)) return AoiStatus::OutOfWorld;
  const std::uint32_t body = it->second;
  const CellCoord at = cellOf(x, y);
  if (cells_[bodies_[body].cell].at == at) {
    bodies_[body].x = x;
    bodies_[body].y = y;
    markDirty(bodies_[body].cell);
    return AoiStatus::Ok;
  }
  const std::uint32_t existing = findCell(at);
  if (existing != kNone && cells_[existing].members.size() >= kMaxCellEntries) return AoiStatus::CellFull;
  unlink(body);
  bodies_[body].x = x;
  bodies_[body].y = y;
  link(body, obtainCell(at));
  return AoiStatus::Ok;
}

AoiStatus AoiGrid::move(std::uint32_t id, double x, double y, std::uint32_t tag, std::uint32_t seq) {
  const AoiStatus st = move(id, x, y);
  if (st == AoiStatus::Ok && tag != 0) {
    Body& b = bodies_[byId_.find(id)->second];
    b.ackTag = tag;
    b.ackSeq = seq;
  }
  return st;
}

AoiStatus AoiGrid::setHp(std::uint32_t id, std::int32_t hp) {
  const auto it = byId_.find(id);
  if (it == byId_.end()) return AoiStatus::UnknownPlayer;
  Body& b = bodies_[it->second];
  if (b.hp != hp) {
    b.hp = hp;
    markDirty(b.cell);
  }
  return AoiStatus::Ok;
}

AoiStatus AoiGrid::remove(std::uint32_t id) {
  const auto it = byId_.find(id);
  if (it == byId_.end()) return AoiStatus::UnknownPlayer;
  unlink(it->second);
  freeBodies_.push_back(it->second);
  byId_.erase(it);
  return AoiStatus::Ok;
}

CellBlock AoiGrid::serialize(const Cell& c) const {
  auto block = std::make_shared<std::vector<std::byte>>(kCellHeaderBytes + kEntryBytes * c.members.size());
  std::byte* p = block->data();
  wire::putI32(p, c.at.cx);
  wire::putI32(p + 4, c.at.cy);
  wire::putU16(p + 8, static_cast<std::uint16_t>(c.members.size()));
  p += kCellHeaderBytes;
  for (const std::uint32_t slot : c.members) {
    const Body& b = bodies_[slot];
    wire::putU32(p, b.id);
    wire::putF32(p + 4, static_cast<float>(b.x));
    wire::putF32(p + 8, static_cast<float>(b.y));
    wire::putI32(p + 12, b.hp);
    p += kEntryBytes;
  }
  return block;
}

CellBlock AoiGrid::emptyBlock(CellCoord at) {
  auto block = std::make_shared<std::vector<std::byte>>(kCellHeaderBytes);
  wire::putI32(block->data(), at.cx);
  wire::putI32(block->data() + 4, at.cy);
  wire::putU16(block->data() + 8, 0);
  return block;
}

ReplicationStats AoiGrid::replicate(std::uint64_t tick) {
  const std::uint64_t t0 = nowNs();
  ReplicationStats s;
  s.tick = tick;
  s.round = ++round_;
  // Cells that published count = 0 last round have had it collected by every viewer.
  for (const std::uint32_t slot : emptied_) {
    const Cell& c = cells_[slot];
    if (c.live && !c.dirty && c.members.empty()) {
      dropCell(slot);
      ++s.cellsDropped;
    }
  }
  emptied_.clear();
  for (const std::uint32_t slot : dirty_) {
    Cell& c = cells_[slot];
    c.dirty = false;
    c.published = serialize(c);
    c.publishedCount = c.members.size();
    c.version = round_;
    ++s.cellsSerialized;
    s.bytesSerialized += c.published->size();
    if (c.members.empty()) emptied_.push_back(slot);
  }
  dirty_.clear();
  s.serializeNs = nowNs() - t0;
  return s;
}

std::size_t AoiViewer::heldCells() const noexcept {
  std::size_t n = 0;
  for (const Held& h : held_) n += h.sent ? 1 : 0;
  return n;
}

void AoiGrid::collect(AoiViewer& v, CellCoord at, AoiCollected& out) const {
  using Held = AoiViewer::Held;
  out.cells.clear();
  out.leave.clear();
  Held* held = v.held_;

  const bool resend = v.invalid_.exchange(false, std::memory_order_acq_rel);
  if (resend && v.collects_ != 0) {
    // The previous collect's STATE was never written: the client still has `prev` there.
    for (int k = 0; k < 9; ++k) {
      Held& h = held[k];
      if (!h.sent || h.sentAt != v.collects_) continue;
      h.sent = std::move(h.prev);
      h.version = h.prevVersion;
      h.prev.reset();
      h.prevVersion = 0;
    }
  }
  const std::uint64_t now = ++v.collects_;

  // From here on `held` is exactly what the client has (the send-queue contract).
  if (v.hasCell_ && !(v.cell_ == at)) {
    Held moved[9];
    for (int k = 0; k < 9; ++k) {
      if (!held[k].sent) continue;
      const std::int64_t cx = std::int64_t{v.cell_.cx} + k % 3 - 1 - at.cx;
      const std::int64_t cy = std::int64_t{v.cell_.cy} + k / 3 - 1 - at.cy;
      if (cx >= -1 && cx <= 1 && cy >= -1 && cy <= 1) {
        moved[(cy + 1) * 3 + (cx + 1)] = std::move(held[k]);
        continue;
      }
      const std::vector<std::byte>& block = *held[k].sent;
      for (std::size_t e = 0, n = blockCount(block); e < n; ++e) out.leave.push_back(blockId(block, e));
    }
    for (int k = 0; k < 9; ++k) held[k] = std::move(moved[k]);
  }
  v.cell_ = at;
  v.hasCell_ = true;

  for (int k = 0; k < 9; ++k) {
    const std::int64_t cx = std::int64_t{at.cx} + k % 3 - 1;
    const std::int64_t cy = std::int64_t{at.cy} + k / 3 - 1;
    if (cx < 0 || cy < 0 || cx >= side_ || cy >= side_) continue;
    const CellCoord c{static_cast<std::int32_t>(cx), static_cast<std::int32_t>(cy)};
    Held& h = held[k];
    const std::uint32_t slot = findCell(c);
    const Cell* cell = slot == kNone ? nullptr : &cells_[slot];
    if (cell != nullptr && cell->published) {
      if (!h.sent) {
        if (cell->publishedCount == 0) continue;  // nothing there, nothing known
        h.sent = cell->published;
        h.version = cell->version;
        h.sentAt = now;
        out.cells.push_back(h.sent);
      } else if (h.version != cell->version) {
        h.prev = std::move(h.sent);
        h.prevVersion = h.version;
        h.sent = cell->published;
        h.version = cell->version;
        h.sentAt = now;
        out.cells.push_back(h.sent);
      } else if (resend) {
        out.cells.push_back(h.sent);
      }
    } else if (h.sent) {
      // The cell is gone (dropped before this viewer collected its count = 0 block,
      // or not published yet since it came back).
      if (blockCount(*h.sent) == 0) {
        h = Held{};
        continue;
      }
      h.prev = std::move(h.sent);
      h.prevVersion = h.version;
      h.sent = emptyBlock(c);
      h.version = 0;
      h.sentAt = now;
      out.cells.push_back(h.sent);
    }
  }
  // Sorted and unique for the reader; an exact `held` never lists an id twice, but a
  // sorted LEAVE costs little and is easy to check.
  std::sort(out.leave.begin(), out.leave.end());
  out.leave.erase(std::unique(out.leave.begin(), out.leave.end()), out.leave.end());
}

CellBlock AoiGrid::published(CellCoord at) const {
  const std::uint32_t slot = findCell(at);
  return slot == kNone ? nullptr : cells_[slot].published;
}

std::uint64_t AoiGrid::version(CellCoord at) const {
  const std::uint32_t slot = findCell(at);
  return slot == kNone ? 0 : cells_[slot].version;
}

CellCoord AoiGrid::blockCell(const std::vector<std::byte>& block) noexcept {
  return CellCoord{wire::getI32(block.data()), wire::getI32(block.data() + 4)};
}

std::size_t AoiGrid::blockCount(const std::vector<std::byte>& block) noexcept {
  return wire::getU16(block.data() + 8);
}

std::uint32_t AoiGrid::blockId(const std::vector<std::byte>& block, std::size_t i) noexcept {
  return wire::getU32(block.data() + kCellHeaderBytes + kEntryBytes * i);
}

std::optional<CellCoord> AoiGrid::cellOfPlayer(std::uint32_t id) const {
  const auto it = byId_.find(id);
  if (it == byId_.end()) return std::nullopt;
  const Body& b = bodies_[it->second];
  if (b.cell == kNone) return std::nullopt;
  return cells_[b.cell].at;
}

std::optional<AoiGrid::PlayerView> AoiGrid::viewOf(std::uint32_t id) const {
  const auto it = byId_.find(id);
  if (it == byId_.end()) return std::nullopt;
  const Body& b = bodies_[it->second];
  if (b.cell == kNone) return std::nullopt;
  return PlayerView{cells_[b.cell].at, b.ackTag, b.ackSeq};
}

}  // namespace gamesrv
