// World hashes (gamesrv/world_hashes.hpp): the hash covers exactly the saved state, the
// record format is pinned, a torn append is cut at open, pruning keeps the records a
// verify still needs, and verifyDataDir finds the first divergence.
#include <filesystem>
#include <fstream>
#include <latch>
#include <memory>

#include "gamesrv/world_hashes.hpp"
#include "harness.hpp"
#include "world_test_support.hpp"
#include "temp_dir.hpp"

using namespace gamesrv;
using gstest::ev;

namespace {
std::uint64_t fileSize(const std::filesystem::path& p) { return std::filesystem::file_size(p); }
}  // namespace

TEST(state_hash_covers_saved_state_not_chat) {
  World a;
  World b;
  CHECK(a.stateHash() == b.stateHash());
  for (World* w : {&a, &b}) {
    CHECK(w->apply(ev(EventType::PlayerLogin, 1, "alice"), 10) == InvalidReason::None);
    CHECK(w->apply(ev(EventType::PlayerLogin, 2, "bob"), 10) == InvalidReason::None);
  }
  CHECK(a.stateHash() == b.stateHash());
  const WorldHash before = a.stateHash();
  CHECK(a.apply(ev(EventType::PlayerChat, 1, "hi"), 10) == InvalidReason::None);  // same time: only the chat log changes
  CHECK_EQ(a.stateHash().hash, before.hash);  // chat is not saved: a restarted World has none
  CHECK(a.apply(ev(EventType::PlayerMove, 2, "3,4"), 12) == InvalidReason::None);
  CHECK(b.apply(ev(EventType::PlayerMove, 2, "3,4.5"), 12) == InvalidReason::None);
  CHECK(a.stateHash().hash != b.stateHash().hash);
  // The same state reached by loading the saved rows hashes the same.
  World c;
  const std::vector<PlayerRow> rows = a.takeDirty().rows;  // every player changed: all of them, as saved
  c.loadPlayers(rows, true);
  CHECK_EQ(c.stateHash().hash, a.stateHash().hash);
}

TEST(record_format_is_pinned) {
  const WorldHash h{0x0102030405060708ull, 0x1112131415161718ull};
  const auto b = world_hash_format::encode(h);
  CHECK_EQ(b.size(), 24u);
  CHECK_EQ(static_cast<int>(b[0]), 0x08);  // little-endian seq
  CHECK_EQ(static_cast<int>(b[8]), 0x18);  // then the hash
  CHECK_EQ(static_cast<int>(b[20]), 0);    // reserved
  CHECK(world_hash_format::decode(b) == h);
  auto bad = b;
  bad[9] ^= 1;
  CHECK(!world_hash_format::decode(bad).has_value());
}

TEST(torn_append_is_cut_at_open_and_appends_stay_aligned) {
  gstest::TempDir dir("hashes");
  const auto file = dir.path() / world_hash_format::kFileName;
  {
    WorldHashLog log;
    log.open(dir.path());
    CHECK(log.record({1, 11}));
    CHECK(log.record({1, 11}));  // the same seq again: skipped
    CHECK(log.record({1, 11}, true));
    CHECK(log.record({2, 22}));
    CHECK_EQ(log.recorded(), 3u);
  }
  CHECK_EQ(fileSize(file), 72u);
  {
    std::ofstream out(file, std::ios::binary | std::ios::app);
    out.write("torn", 4);
  }
  WorldHashFile read = readWorldHashes(dir.path());
  CHECK_EQ(read.records.size(), 3u);
  CHECK_EQ(read.cutBytes, 4u);
  WorldHashLog log;
  log.open(dir.path());
  CHECK_EQ(fileSize(file), 72u);
  CHECK(log.record({3, 33}));
  read = readWorldHashes(dir.path());
  CHECK_EQ(read.records.size(), 4u);
  CHECK(read.records.back() == (WorldHash{3, 33}));
  CHECK_EQ(read.cutBytes, 0u);
}

TEST(prune_keeps_the_state_before_the_first_kept_event) {
  gstest::TempDir dir("hashes-prune");
  WorldHashLog log;
  log.open(dir.path());
  for (std::uint64_t s : {0u, 10u, 20u, 30u}) CHECK(log.record({s, s * 7}));
  log.prune(21);  // the journal's first event is 21: the World at 20 is where it starts
  WorldHashFile read = readWorldHashes(dir.path());
  CHECK_EQ(read.records.size(), 2u);
  CHECK_EQ(read.records.front().seq, 20u);
  CHECK(log.record({40, 1}));  // appends after the rewrite
  CHECK_EQ(readWorldHashes(dir.path()).records.size(), 3u);
  CHECK_EQ(log.failures(), 0u);
}

TEST(verify_finds_the_first_divergence) {
  gstest::TempDir dir("hashes-verify");
  {
    JournalOptions o;
    o.directory = journalDirectory(dir.path());
    std::unique_ptr<Journal> j;
    JournalOpenReport report;
    std::string error;
    CHECK(Journal::open(o, j, report, error) == JournalStatus::Ok);
    World live;
    WorldHashLog log;
    log.open(o.directory);
    log.record(live.stateHash(), true);
    std::vector<GameEvent> batch = {ev(EventType::PlayerLogin, 1, "a"), ev(EventType::PlayerLogin, 2, "b")};
    std::uint64_t seq = 1;
    for (int round = 0; round < 3; ++round) {
      if (round > 0) batch = {ev(EventType::PlayerMove, 1, std::to_string(round) + ",0")};
      std::latch done(1);
      CHECK(j->append(encodeJournalEvents(batch), static_cast<std::uint32_t>(batch.size()), 5'000'000,
                      [&](const JournalCommit& c) {
                        CHECK(c.status == JournalStatus::Ok);
                        done.count_down();
                      }) == JournalStatus::Ok);
      done.wait();
      for (GameEvent& e : batch) {
        e.journalSeq = seq++;
        live.apply(e, 5);
      }
      WorldHash h = live.stateHash();
      if (round == 2) h.hash ^= 1;  // what a server that applied something else would record
      log.record(h);
    }
    j->close();
  }
  const VerifyReport v = verifyDataDir(dir.path(), WorldConfig{});
  CHECK_EQ(v.recorded, 4u);
  CHECK(v.diverged);
  CHECK_EQ(v.divergedSeq, 4u);
  CHECK_EQ(v.checked, 4u);
  CHECK(v.actualHash != v.expectedHash);
}

GS_TEST_MAIN()
