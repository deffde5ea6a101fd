// AoiGrid, case by case: the cell mapping at the world's edges, the CELL block's bytes,
// dirty marking, what collect() hands a viewer and when, LEAVE, emptied cells, invalidate.
// test_aoi_visibility.cpp checks the visibility invariant on random worlds.
#include <cmath>
#include <limits>
#include <stdexcept>
#include <thread>

#include "aoi_test_support.hpp"
#include "gamesrv/aoi_grid.hpp"
#include "harness.hpp"

using namespace gamesrv;
using aoitest::Client;

namespace {
bool same(CellCoord a, CellCoord b) { return a == b; }

bool holds(const std::vector<CellBlock>& cells, const CellBlock& b) {
  for (const auto& c : cells)
    if (c.get() == b.get()) return true;
  return false;
}
}  // namespace

TEST(cells_cover_the_world_up_to_and_including_its_max_edge) {
  AoiGrid g({-1000, 1000, 100});
  CHECK_EQ(g.cellsPerSide(), 20);
  CHECK(g.denseIndex());
  CHECK(same(g.cellOf(-1000, -1000), {0, 0}));
  CHECK(same(g.cellOf(1000, 1000), {19, 19}));  // not one past the last cell
  CHECK(same(g.cellOf(999.999, -0.001), {19, 9}));
  CHECK(same(g.cellOf(-900, 0), {1, 10}));  // on a boundary: the upper cell
  CHECK(same(g.cellOf(std::nextafter(-900.0, -1e9), 0), {0, 10}));
  CHECK(g.inWorld(1000, -1000));
  CHECK(!g.inWorld(1000.001, 0));
  CHECK(!g.inWorld(0, -1000.001));
  CHECK(!g.inWorld(std::nan(""), 0));
  CHECK(!g.inWorld(0, std::numeric_limits<double>::infinity()));

  AoiGrid ragged({0, 250, 100});  // the last cell is half a cell wide
  CHECK_EQ(ragged.cellsPerSide(), 3);
  CHECK(same(ragged.cellOf(250, 200), {2, 2}));
  AoiGrid tiny({0, 50, 100});
  CHECK_EQ(tiny.cellsPerSide(), 1);
  CHECK(same(tiny.cellOf(50, 50), {0, 0}));
}

TEST(a_bad_config_is_refused) {
  const auto refused = [](AoiConfig c) {
    try {
      AoiGrid g(c);
    } catch (const std::invalid_argument&) {
      return true;
    }
    return false;
  };
  CHECK(refused({0, 0, 100}));
  CHECK(refused({10, 0, 100}));
  CHECK(refused({0, 100, 0}));
  CHECK(refused({0, 100, -1}));
  CHECK(refused({0, std::numeric_limits<double>::infinity(), 100}));
  CHECK(refused({0, 100, std::nan("")}));
  CHECK(refused({0, 1e300, 1e-300}));  // 1e600 cells a side
  CHECK(!refused({0, 100, 100}));
}

TEST(a_huge_world_indexes_its_cells_sparsely) {
  AoiGrid g({0, 200000, 100});
  CHECK_EQ(g.cellsPerSide(), 2000);
  CHECK(!g.denseIndex());
  CHECK(g.add(1, 0, 0, 100) == AoiStatus::Ok);
  CHECK(g.add(2, 200000, 200000, 100) == AoiStatus::Ok);
  CHECK(g.add(3, 199950, 199999, 100) == AoiStatus::Ok);
  CHECK_EQ(g.liveCells(), 2u);
  g.replicate(1);
  CHECK(same(g.cellOf(200000, 200000), {1999, 1999}));
  AoiViewer v;
  AoiCollected out;
  g.collect(v, {1999, 1999}, out);
  CHECK_EQ(out.cells.size(), 1u);
  CHECK_EQ(aoitest::decode(*out.cells[0]).entries.size(), 2u);
  g.collect(v, {0, 0}, out);
  CHECK_EQ(out.cells.size(), 1u);
  CHECK((out.leave == std::vector<std::uint32_t>{2, 3}));
}

TEST(add_move_set_hp_and_remove_say_what_they_refused) {
  AoiGrid g({0, 1000, 100});
  CHECK(g.add(7, 10, 10, 100) == AoiStatus::Ok);
  CHECK(g.add(7, 20, 20, 100) == AoiStatus::DuplicatePlayer);
  CHECK(g.add(8, 1000.5, 10, 100) == AoiStatus::OutOfWorld);
  CHECK(g.add(8, std::nan(""), 10, 100) == AoiStatus::OutOfWorld);
  CHECK(g.move(9, 10, 10) == AoiStatus::UnknownPlayer);
  CHECK(g.move(7, -1, 10) == AoiStatus::OutOfWorld);
  CHECK(g.setHp(9, 1) == AoiStatus::UnknownPlayer);
  CHECK(g.remove(9) == AoiStatus::UnknownPlayer);
  CHECK(g.remove(7) == AoiStatus::Ok);
  CHECK(g.remove(7) == AoiStatus::UnknownPlayer);
  CHECK_EQ(g.playerCount(), 0u);
  CHECK(g.add(7, 20, 20, 100) == AoiStatus::Ok);  // an id can come back
  CHECK_EQ(g.playerCount(), 1u);
}

TEST(a_cell_block_is_the_protocols_bytes) {
  AoiGrid g({0, 2000, 100});
  CHECK(g.add(0x01020304u, 150.5, 250.25, -7) == AoiStatus::Ok);
  const ReplicationStats s = g.replicate(42);
  CHECK_EQ(s.tick, 42u);
  CHECK_EQ(s.cellsSerialized, 1u);
  CHECK_EQ(s.bytesSerialized, 26u);
  const CellBlock b = g.published({1, 2});
  CHECK(b != nullptr);
  const std::vector<int> expect = {1, 0, 0, 0, 2, 0, 0, 0, 1, 0,                 // cx, cy, count
                                   0x04, 0x03, 0x02, 0x01,                       // playerId
                                   0x00, 0x80, 0x16, 0x43, 0x00, 0x40, 0x7A, 0x43,  // f32 x, y
                                   0xF9, 0xFF, 0xFF, 0xFF};                      // hp
  std::vector<int> got;
  for (std::byte x : *b) got.push_back(std::to_integer<int>(x));
  CHECK(got == expect);
  CHECK(same(AoiGrid::blockCell(*b), {1, 2}));
  CHECK_EQ(AoiGrid::blockCount(*b), 1u);
  CHECK_EQ(AoiGrid::blockId(*b, 0), 0x01020304u);
}

TEST(each_change_dirties_its_cells_and_only_those_are_serialized) {
  AoiGrid g({0, 1000, 100});
  CHECK(g.add(1, 50, 50, 100) == AoiStatus::Ok);
  CHECK(g.add(2, 60, 60, 100) == AoiStatus::Ok);
  CHECK_EQ(g.replicate(1).cellsSerialized, 1u);
  const CellBlock first = g.published({0, 0});
  const std::uint64_t v1 = g.version({0, 0});

  CHECK_EQ(g.replicate(2).cellsSerialized, 0u);  // nothing changed
  CHECK(g.published({0, 0}) == first);
  CHECK_EQ(g.version({0, 0}), v1);

  CHECK(g.move(1, 55, 55) == AoiStatus::Ok);  // within its cell
  CHECK(g.move(1, 56, 56) == AoiStatus::Ok);  // twice in a round: serialized once
  ReplicationStats s = g.replicate(3);
  CHECK_EQ(s.cellsSerialized, 1u);
  CHECK(g.version({0, 0}) > v1);
  CHECK(g.published({0, 0}) != first);

  CHECK(g.move(1, 150, 50) == AoiStatus::Ok);  // across a boundary: both cells
  s = g.replicate(4);
  CHECK_EQ(s.cellsSerialized, 2u);
  CHECK_EQ(AoiGrid::blockCount(*g.published({0, 0})), 1u);
  CHECK_EQ(AoiGrid::blockCount(*g.published({1, 0})), 1u);

  CHECK(g.setHp(2, 100) == AoiStatus::Ok);  // unchanged hp: nothing to send
  CHECK_EQ(g.replicate(5).cellsSerialized, 0u);
  CHECK(g.setHp(2, 40) == AoiStatus::Ok);
  CHECK_EQ(g.replicate(6).cellsSerialized, 1u);
  CHECK_EQ(aoitest::decode(*g.published({0, 0})).entries.at(0).hp, 40);
}

TEST(collect_sends_new_and_changed_cells_once_and_shares_the_bytes) {
  AoiGrid g({0, 1000, 100});
  std::uint32_t id = 1;
  for (int cy = 4; cy <= 6; ++cy)
    for (int cx = 4; cx <= 6; ++cx) CHECK(g.add(id++, cx * 100 + 50, cy * 100 + 50, 100) == AoiStatus::Ok);
  CHECK(g.add(100, 550, 850, 100) == AoiStatus::Ok);  // (5, 8): outside the 3x3 of (5, 5)
  g.replicate(1);

  AoiViewer a, b;
  AoiCollected outA, outB;
  g.collect(a, {5, 5}, outA);
  g.collect(b, {5, 5}, outB);
  CHECK_EQ(outA.cells.size(), 9u);
  CHECK(outA.leave.empty());
  for (int cy = 4; cy <= 6; ++cy)
    for (int cx = 4; cx <= 6; ++cx) {
      CHECK(holds(outA.cells, g.published({cx, cy})));  // the grid's block itself: no copy
      CHECK(holds(outB.cells, g.published({cx, cy})));
    }
  CHECK(!holds(outA.cells, g.published({5, 8})));
  CHECK(a.hasCell() && same(a.cell(), {5, 5}));
  CHECK_EQ(a.heldCells(), 9u);

  g.collect(a, {5, 5}, outA);  // nothing new
  CHECK(outA.cells.empty());
  CHECK(outA.leave.empty());

  CHECK(g.move(9, 660, 660) == AoiStatus::Ok);  // player 9 is in (6, 6)
  g.replicate(2);
  g.collect(a, {5, 5}, outA);
  CHECK_EQ(outA.cells.size(), 1u);
  CHECK(outA.cells[0] == g.published({6, 6}));

  // One cell right: column 7 is new (only (7, 5)... none hold players), column 4 leaves.
  CHECK(g.add(200, 750, 450, 100) == AoiStatus::Ok);
  g.replicate(3);
  g.collect(a, {6, 5}, outA);
  CHECK_EQ(outA.cells.size(), 1u);
  CHECK(outA.cells[0] == g.published({7, 4}));
  CHECK((outA.leave == std::vector<std::uint32_t>{1, 4, 7}));  // column cx = 4
  CHECK_EQ(a.heldCells(), 7u);  // six kept, one new; empty cells are not held

  a.invalidate();
  g.collect(a, {6, 5}, outA);
  CHECK_EQ(outA.cells.size(), 7u);  // every non-empty cell of the 3x3 again
  g.collect(a, {6, 5}, outA);
  CHECK(outA.cells.empty());
}

TEST(an_emptied_cell_is_sent_empty_once_then_dropped) {
  AoiGrid g({0, 1000, 100});
  CHECK(g.add(1, 550, 550, 100) == AoiStatus::Ok);
  CHECK(g.add(2, 450, 550, 100) == AoiStatus::Ok);
  g.replicate(1);
  AoiViewer seen, missed;
  AoiCollected out;
  Client cSeen, cMissed;
  g.collect(seen, {5, 5}, out);
  cSeen.applyState(out.cells);
  g.collect(missed, {5, 5}, out);
  cMissed.applyState(out.cells);
  CHECK((cSeen.ids() == std::set<std::uint32_t>{1, 2}));

  CHECK(g.remove(1) == AoiStatus::Ok);
  ReplicationStats s = g.replicate(2);
  CHECK_EQ(s.cellsSerialized, 1u);
  CHECK_EQ(AoiGrid::blockCount(*g.published({5, 5})), 0u);
  g.collect(seen, {5, 5}, out);
  CHECK_EQ(out.cells.size(), 1u);
  cSeen.applyState(out.cells);
  CHECK((cSeen.ids() == std::set<std::uint32_t>{2}));
  const std::size_t live = g.liveCells();

  s = g.replicate(3);  // `missed` skipped round 2
  CHECK_EQ(s.cellsDropped, 1u);
  CHECK_EQ(g.liveCells(), live - 1);
  CHECK(g.published({5, 5}) == nullptr);
  g.collect(missed, {5, 5}, out);
  CHECK_EQ(out.cells.size(), 1u);  // a count = 0 block made for it
  cMissed.applyState(out.cells);
  CHECK((cMissed.ids() == std::set<std::uint32_t>{2}));
  g.collect(seen, {5, 5}, out);
  CHECK(out.cells.empty());
  CHECK_EQ(seen.heldCells(), 1u);

  AoiViewer fresh;
  g.collect(fresh, {5, 5}, out);
  CHECK_EQ(out.cells.size(), 1u);  // (4, 5) only: nothing to say about an empty cell
}

TEST(leave_names_every_player_of_a_cell_that_left_and_the_state_places_them_again) {
  AoiGrid g({0, 1000, 100});
  CHECK(g.add(1, 450, 550, 100) == AoiStatus::Ok);  // (4, 5)
  CHECK(g.add(2, 420, 520, 100) == AoiStatus::Ok);  // (4, 5), stays
  g.replicate(1);
  AoiViewer v;
  AoiCollected out;
  g.collect(v, {5, 5}, out);
  Client client;
  client.applyState(out.cells);

  CHECK(g.move(1, 650, 550) == AoiStatus::Ok);  // into (6, 5) while the viewer steps to (6, 5)
  g.replicate(2);
  g.collect(v, {6, 5}, out);
  CHECK((out.leave == std::vector<std::uint32_t>{1, 2}));  // what the client has for (4, 5)
  CHECK_EQ(out.cells.size(), 1u);
  client.applyLeave(out.leave);  // LEAVE first (the contract in aoi_grid.hpp)
  client.applyState(out.cells);
  CHECK((client.ids() == std::set<std::uint32_t>{1}));
  CHECK((client.players().at(1).cell == CellCoord{6, 5}));
}

// The ghost this guards against: a LEAVE that trusted a dropped STATE to place player 1
// elsewhere would leave the client holding it in a cell it no longer sees.
TEST(a_dropped_state_after_its_leave_leaves_no_ghost) {
  AoiGrid g({0, 1000, 100});
  CHECK(g.add(1, 450, 550, 100) == AoiStatus::Ok);  // (4, 5)
  g.replicate(1);
  AoiViewer v;
  AoiCollected out;
  Client client;
  g.collect(v, {5, 5}, out);
  client.applyState(out.cells);

  CHECK(g.move(1, 650, 550) == AoiStatus::Ok);  // (6, 5), as the viewer steps there
  g.replicate(2);
  g.collect(v, {6, 5}, out);
  client.applyLeave(out.leave);
  v.invalidate();  // its STATE is dropped unwritten

  CHECK(g.move(1, 850, 550) == AoiStatus::Ok);  // (8, 5): out of sight
  g.replicate(3);
  g.collect(v, {6, 5}, out);
  client.applyLeave(out.leave);
  client.applyState(out.cells);
  CHECK(client.ids().empty());
}

TEST(invalidate_rolls_back_a_dropped_state_so_leave_names_what_the_client_has) {
  AoiGrid g({0, 1000, 100});
  CHECK(g.add(1, 450, 550, 100) == AoiStatus::Ok);  // (4, 5)
  g.replicate(1);
  AoiViewer v;
  AoiCollected out;
  Client client;
  g.collect(v, {5, 5}, out);
  client.applyState(out.cells);
  CHECK((client.ids() == std::set<std::uint32_t>{1}));

  CHECK(g.move(1, 350, 550) == AoiStatus::Ok);  // to (3, 5), out of sight
  g.replicate(2);
  g.collect(v, {5, 5}, out);
  CHECK_EQ(out.cells.size(), 1u);  // (4, 5) now empty: this STATE is dropped unwritten
  v.invalidate();

  g.replicate(3);
  g.collect(v, {6, 5}, out);  // (4, 5) leaves the 3x3
  client.applyLeave(out.leave);
  client.applyState(out.cells);
  CHECK((out.leave == std::vector<std::uint32_t>{1}));
  CHECK(client.ids().empty());
}

TEST(a_cell_holds_at_most_what_a_u16_count_can_say) {
  AoiGrid g({0, 200, 100});
  for (std::uint32_t i = 0; i < AoiGrid::kMaxCellEntries; ++i) CHECK(g.add(i, 50, 50, 1) == AoiStatus::Ok);
  CHECK(g.add(70000, 60, 60, 1) == AoiStatus::CellFull);
  CHECK(g.add(70001, 150, 50, 1) == AoiStatus::Ok);
  CHECK(g.move(70001, 60, 60) == AoiStatus::CellFull);
  CHECK(g.move(70001, 160, 60) == AoiStatus::Ok);
  g.replicate(1);
  CHECK_EQ(AoiGrid::blockCount(*g.published({0, 0})), AoiGrid::kMaxCellEntries);
  CHECK_EQ(g.published({0, 0})->size(), 10 + 16 * AoiGrid::kMaxCellEntries);
}

// The thread-safety claims of the header, for the sanitizer lanes: collect() for different
// viewers from several threads between two replicate() calls, and invalidate() from
// another thread than the collecting one.
TEST(viewers_collect_from_several_threads_and_invalidate_from_any) {
  AoiGrid g({0, 1000, 100});
  for (std::uint32_t i = 0; i < 200; ++i) CHECK(g.add(i, (i * 37) % 1000, (i * 91) % 1000, 100) == AoiStatus::Ok);
  constexpr int kThreads = 3, kViewers = 20, kRounds = 50;
  std::vector<AoiViewer> viewers(kThreads * kViewers);
  for (int round = 1; round <= kRounds; ++round) {
    for (std::uint32_t i = round % 5; i < 200; i += 5)
      CHECK(g.move(i, (i * 37 + round * 13) % 1000, (i * 91 + round * 7) % 1000) == AoiStatus::Ok);
    g.replicate(static_cast<std::uint64_t>(round));
    std::vector<std::size_t> sent(kThreads, 0);
    {
      std::vector<std::jthread> threads;
      for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
          AoiCollected out;
          for (int v = 0; v < kViewers; ++v) {
            g.collect(viewers[t * kViewers + v], {(v + round) % 10, v % 10}, out);
            sent[t] += out.cells.size();
          }
        });
      }
      std::jthread invalidator([&] {
        for (auto& v : viewers) v.invalidate();
      });
    }
    for (int t = 0; t < kThreads; ++t) CHECK(sent[t] > 0);
  }
  // After a last invalidate, every viewer is resent its whole (non-empty) 3x3.
  for (auto& v : viewers) v.invalidate();
  AoiCollected out;
  g.collect(viewers[0], viewers[0].cell(), out);
  CHECK_EQ(out.cells.size(), viewers[0].heldCells());
}

GS_TEST_MAIN()
