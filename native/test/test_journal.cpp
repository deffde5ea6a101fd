// The durable event journal (gamesrv/journal.hpp): CRC32C, the pinned format, round trips
// across reopen, group commit, segment roll and deletion, replay after a checkpoint, the
// pending-bytes bound, I/O errors and close. Recovery from damage: test_journal_recovery.
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include "gamesrv/crc32c.hpp"
#include "gamesrv/journal.hpp"
#include "gamesrv/journal_format.hpp"
#include "eventually.hpp"
#include "harness.hpp"
#include "journal_test_support.hpp"

using namespace gamesrv;
namespace fmt = gamesrv::journal_format;
namespace fs = std::filesystem;
using gstest::Completions;
using gstest::TempDir;
using gstest::optionsIn;
using gstest::recordBytes;

namespace {
std::span<const std::uint8_t> bytesOf(const char* s) { return {reinterpret_cast<const std::uint8_t*>(s), std::strlen(s)}; }
}  // namespace


TEST(crc32c_known_answers) {
  CHECK_EQ(crc32c(bytesOf("123456789")), 0xE3069283u);
  CHECK_EQ(crc32c({}), 0u);
  // RFC 3720 (iSCSI) B.4 vectors.
  std::vector<std::uint8_t> v(32, 0);
  CHECK_EQ(crc32c(v), 0x8A9136AAu);
  std::fill(v.begin(), v.end(), 0xFF);
  CHECK_EQ(crc32c(v), 0x62A8AB43u);
  for (std::size_t i = 0; i < 32; ++i) v[i] = static_cast<std::uint8_t>(i);
  CHECK_EQ(crc32c(v), 0x46DD794Eu);
  for (std::size_t i = 0; i < 32; ++i) v[i] = static_cast<std::uint8_t>(31 - i);
  CHECK_EQ(crc32c(v), 0x113FDB5Cu);
}

TEST(crc32c_hardware_table_and_pieces_agree) {
  std::mt19937_64 rng(gstest::seed("crc32c_hardware_table_and_pieces_agree"));
  std::vector<std::uint8_t> data(4099);
  for (auto& b : data) b = static_cast<std::uint8_t>(rng());
  for (std::size_t len : {0u, 1u, 7u, 8u, 9u, 63u, 64u, 1000u, 4099u}) {
    for (std::size_t off : {0u, 1u, 3u}) {
      if (off + len > data.size()) continue;
      const std::span<const std::uint8_t> s(data.data() + off, len);
      const std::uint32_t whole = crc32c(s);
      CHECK_EQ(whole, crc32cExtendPortableForTesting(0, s));
      const std::size_t cut = len / 3;
      CHECK_EQ(crc32cExtend(crc32cExtend(0, s.first(cut)), s.subspan(cut)), whole);
    }
  }
  std::printf("  crc32c uses hardware: %s\n", crc32cUsesHardware() ? "yes" : "no");
}

TEST(format_layout_is_pinned) {
  const auto seg = fmt::encodeSegmentHeader(0x0102030405060708ull);
  CHECK_EQ(fmt::kSegmentHeaderBytes, 24u);
  CHECK_EQ(fmt::kRecordHeaderBytes, 32u);
  CHECK(std::memcmp(seg.data(), "GSJOURNL", 8) == 0);
  CHECK_EQ(int(seg[8]), 1);  // version, little-endian
  CHECK_EQ(int(seg[16]), 0x08);
  CHECK_EQ(int(seg[23]), 0x01);
  CHECK(fmt::decodeSegmentHeader(seg) == std::optional<std::uint64_t>(0x0102030405060708ull));
  auto bad = seg;
  bad[20] ^= 1;
  CHECK(!fmt::decodeSegmentHeader(bad).has_value());

  const auto payload = bytesOf("abc");
  const auto rec = fmt::encodeRecordHeader(7, 2, 0x1122334455667788ull, payload);
  CHECK_EQ(int(rec[0]), 3);  // payloadBytes
  CHECK_EQ(int(rec[8]), 7);  // firstSeq
  CHECK_EQ(int(rec[16]), 2); // eventCount
  CHECK_EQ(int(rec[20]) + rec[21] + rec[22] + rec[23], 0);  // reserved
  CHECK_EQ(int(rec[24]), 0x88);
  std::vector<std::uint8_t> covered(rec.begin(), rec.begin() + 4);
  covered.insert(covered.end(), rec.begin() + 8, rec.end());
  covered.insert(covered.end(), payload.begin(), payload.end());
  const std::uint32_t crc = std::uint32_t{rec[4]} | std::uint32_t{rec[5]} << 8 | std::uint32_t{rec[6]} << 16 |
                            std::uint32_t{rec[7]} << 24;
  CHECK_EQ(crc, crc32c(covered));
  CHECK(fmt::recordCrcMatches(rec, payload));
  CHECK(!fmt::recordCrcMatches(rec, bytesOf("abd")));

  CHECK_EQ(fmt::segmentFileName(42), std::string("00000000000000000042.gsj"));
  CHECK(fmt::parseSegmentFileName("00000000000000000042.gsj") == std::optional<std::uint64_t>(42));
  CHECK(!fmt::parseSegmentFileName("0000000000000000042.gsj").has_value());
  CHECK(!fmt::parseSegmentFileName("00000000000000000042.log").has_value());
  CHECK(!fmt::parseSegmentFileName("9999999999999999999x.gsj").has_value());
  CHECK(!fmt::parseSegmentFileName("99999999999999999999.gsj").has_value());  // > 2^64 - 1
}

TEST(round_trip_across_reopen_continues_sequence_numbers) {
  TempDir dir("journal-roundtrip");
  const JournalOptions o = optionsIn(dir);
  JournalOpenReport report;
  {
    auto j = gstest::openJournal(o, report);
    CHECK_EQ(report.lastSeq, 0u);
    CHECK_EQ(report.segments, 1u);
    Completions done;
    CHECK(j->append(gstest::payloadOf(1, 100), 10, 1001, done.callback(1)) == JournalStatus::Ok);
    CHECK(j->append(gstest::payloadOf(2, 0), 1, 1002, done.callback(2)) == JournalStatus::Ok);
    CHECK(j->append(gstest::payloadOf(3, 5000), 5, 1003, done.callback(3)) == JournalStatus::Ok);
    CHECK(done.waitFor(3));
    const auto got = done.all();
    CHECK_EQ(got[0].tag, 1u);
    CHECK_EQ(got[0].commit.firstSeq, 1u);
    CHECK_EQ(got[1].commit.firstSeq, 11u);
    CHECK_EQ(got[2].commit.firstSeq, 12u);
    for (const auto& e : got) CHECK(e.commit.status == JournalStatus::Ok);
    CHECK_EQ(j->lastSeq(), 16u);
  }
  auto j = gstest::openJournal(o, report);
  CHECK_EQ(report.lastSeq, 16u);
  CHECK_EQ(report.records, 3u);
  CHECK_EQ(report.cutBytes, 0u);
  const auto recs = gstest::replayAll(*j);
  CHECK_EQ(recs.size(), 3u);
  CHECK_EQ(recs[1].firstSeq, 11u);
  CHECK_EQ(recs[1].eventCount, 1u);
  CHECK(recs[1].payload.empty());
  CHECK_EQ(recs[2].timestampNs, 1003u);
  CHECK(recs[2].payload == gstest::payloadOf(3, 5000));
  Completions done;
  CHECK(j->append(gstest::payloadOf(4, 10), 2, 1004, done.callback(4)) == JournalStatus::Ok);
  CHECK(done.waitFor(1));
  CHECK_EQ(done.all()[0].commit.firstSeq, 17u);
  const auto after = gstest::replayAll(*j, 16);
  CHECK_EQ(after.size(), 1u);
  CHECK_EQ(after[0].firstSeq, 17u);
}

// The first commit's sync is held until every thread has appended, so at least one later
// commit must carry many batches: fewer syncs than batches is then certain, not likely.
TEST(group_commit_from_many_threads_completes_each_batch_once_in_one_order) {
  TempDir dir("journal-group");
  JournalOptions o = optionsIn(dir);
  constexpr int kThreads = 8, kPerThread = 150;
  std::mutex mu;
  std::condition_variable cv;
  int appended = 0;
  bool held = false;
  o.faultForTesting = [&](JournalIoOp op) -> std::error_code {
    if (op != JournalIoOp::Sync) return {};
    std::unique_lock lk(mu);
    if (!held) {
      held = true;
      cv.wait_for(lk, std::chrono::seconds(20), [&] { return appended == kThreads * kPerThread; });
    }
    return {};
  };
  JournalOpenReport report;
  auto j = gstest::openJournal(o, report);
  Completions done;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const std::uint64_t tag = static_cast<std::uint64_t>(t) * 1000 + i;
        const auto st = j->append(gstest::payloadOf(tag, 32 + (tag % 7)), 1 + (tag % 3), tag, done.callback(tag));
        CHECK(st == JournalStatus::Ok);
        std::lock_guard lk(mu);
        ++appended;
        cv.notify_all();
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(done.waitFor(kThreads * kPerThread));
  const auto got = done.all();
  CHECK_EQ(got.size(), std::size_t(kThreads * kPerThread));
  std::set<std::uint64_t> tags;
  std::map<std::uint64_t, std::uint64_t> seqOfTag;
  std::uint64_t nextSeq = 1;
  std::vector<std::uint64_t> lastSeqOfThread(kThreads, 0);
  for (const auto& e : got) {
    CHECK(e.commit.status == JournalStatus::Ok);
    CHECK(tags.insert(e.tag).second);          // exactly once
    CHECK_EQ(e.commit.firstSeq, nextSeq);      // completions run in sequence order, no gap
    nextSeq += e.commit.eventCount;
    const std::size_t t = e.tag / 1000;
    CHECK(e.commit.firstSeq > lastSeqOfThread[t]);  // one thread's batches keep its order
    lastSeqOfThread[t] = e.commit.firstSeq;
    seqOfTag[e.commit.firstSeq] = e.tag;
  }
  const JournalStats s = j->stats();
  std::printf("  %llu batches, %llu commits, %llu syncs\n", static_cast<unsigned long long>(s.batches),
              static_cast<unsigned long long>(s.commits), static_cast<unsigned long long>(s.syncs));
  CHECK_EQ(s.batches, std::uint64_t(kThreads * kPerThread));
  CHECK(s.syncs < s.batches / 10);
  CHECK_EQ(s.pendingBytes, 0u);
  CHECK_EQ(s.lastSeq, nextSeq - 1);
  // The file holds the same order: each record is the batch whose completion had its seq.
  const auto recs = gstest::replayAll(*j);
  CHECK_EQ(recs.size(), got.size());
  for (const auto& r : recs) {
    const std::uint64_t tag = seqOfTag.at(r.firstSeq);
    CHECK(r.payload == gstest::payloadOf(tag, 32 + (tag % 7)));
    CHECK_EQ(r.timestampNs, tag);
  }
}




TEST(segments_roll_at_the_size_limit_and_delete_before_removes_whole_ones) {
  TempDir dir("journal-roll");
  JournalOptions o = optionsIn(dir);
  o.segmentBytes = 256;  // header 24 + one 132-byte record; a second would pass 256
  JournalOpenReport report;
  {
    auto j = gstest::openJournal(o, report);
    Completions done;
    for (int i = 0; i < 6; ++i) {
      CHECK(j->append(gstest::payloadOf(i, 100), 10, i, done.callback(i)) == JournalStatus::Ok);
      CHECK(done.waitFor(i + 1));  // one commit each, so each roll happens between commits
    }
    CHECK_EQ(j->stats().segments, 6u);
    const auto names = gstest::segmentFiles(o.directory);
    CHECK_EQ(names.size(), 6u);
    CHECK_EQ(names[1].filename().string(), fmt::segmentFileName(11));
    std::error_code ec;
    CHECK_EQ(j->deleteBefore(25, ec), 2u);  // 1..10 and 11..20 are behind 25; 21..30 is not
    CHECK(!ec);
    CHECK_EQ(gstest::segmentFiles(o.directory).size(), 4u);
    const auto recs = gstest::replayAll(*j, 25);
    CHECK_EQ(recs.size(), 4u);
    CHECK_EQ(recs[0].firstSeq, 21u);  // straddles the checkpoint: visited whole
    CHECK_EQ(recs[3].firstSeq, 51u);
    CHECK_EQ(j->deleteBefore(1000, ec), 3u);  // never the segment being written
    CHECK_EQ(gstest::segmentFiles(o.directory).size(), 1u);
    CHECK_EQ(j->stats().firstSeq, 51u);
  }
  auto j = gstest::openJournal(o, report);
  CHECK_EQ(report.lastSeq, 60u);
  CHECK_EQ(report.segments, 1u);
  Completions done;
  // A commit of several batches crosses a roll: one write and one sync per segment touched.
  for (int i = 0; i < 3; ++i) CHECK(j->append(gstest::payloadOf(i, 100), 1, i, done.callback(i)) == JournalStatus::Ok);
  CHECK(done.waitFor(3));
  for (const auto& e : done.all()) CHECK(e.commit.status == JournalStatus::Ok);
  CHECK_EQ(gstest::segmentFiles(o.directory).size(), 4u);
  CHECK_EQ(gstest::replayAll(*j, 60).size(), 3u);
}

TEST(replay_starts_after_a_checkpoint_and_stops_when_asked) {
  TempDir dir("journal-replay");
  JournalOpenReport report;
  auto j = gstest::openJournal(optionsIn(dir), report);
  Completions done;
  for (int i = 0; i < 10; ++i) CHECK(j->append(gstest::payloadOf(i, 8), 5, i, done.callback(i)) == JournalStatus::Ok);
  CHECK(done.waitFor(10));
  CHECK_EQ(gstest::replayAll(*j, 50).size(), 0u);
  CHECK_EQ(gstest::replayAll(*j, 49).size(), 1u);
  const auto from = gstest::replayAll(*j, 20);  // records 21..25 onwards
  CHECK_EQ(from.size(), 6u);
  CHECK_EQ(from[0].firstSeq, 21u);
  std::size_t visited = 0;
  std::string error;
  CHECK(j->replay(0, [&](const JournalRecord&) { return ++visited < 3; }, error) == JournalStatus::Ok);
  CHECK_EQ(visited, 3u);
}

// Holds the committer inside its first write until released: what it took stays pending.
struct Gate {
  std::mutex mu;
  std::condition_variable cv;
  bool entered = false;
  bool open = false;
  std::error_code hold() {
    std::unique_lock lk(mu);
    if (!entered) {
      entered = true;
      cv.notify_all();
      cv.wait_for(lk, std::chrono::seconds(20), [&] { return open; });
    }
    return {};
  }
  bool waitEntered() {
    std::unique_lock lk(mu);
    return cv.wait_for(lk, std::chrono::seconds(20), [&] { return entered; });
  }
  void release() {
    std::lock_guard lk(mu);
    open = true;
    cv.notify_all();
  }
};

TEST(append_is_refused_at_once_when_pending_bytes_are_full) {
  TempDir dir("journal-full");
  JournalOptions o = optionsIn(dir);
  o.maxPendingBytes = 1000;
  Gate gate;
  o.faultForTesting = [&](JournalIoOp op) { return op == JournalIoOp::Write ? gate.hold() : std::error_code{}; };
  JournalOpenReport report;
  auto j = gstest::openJournal(o, report);
  Completions done;
  CHECK(j->append(gstest::payloadOf(0, 1001), 1, 0, done.callback(0)) == JournalStatus::TooLarge);
  CHECK(j->append(gstest::payloadOf(0, 10), 0, 0, done.callback(0)) == JournalStatus::InvalidArgument);
  CHECK(j->append(gstest::payloadOf(1, 600), 1, 0, done.callback(1)) == JournalStatus::Ok);
  CHECK(gate.waitEntered());  // batch 1 is being committed: its bytes still count
  CHECK(j->append(gstest::payloadOf(2, 300), 1, 0, done.callback(2)) == JournalStatus::Ok);
  CHECK(j->append(gstest::payloadOf(3, 200), 1, 0, done.callback(3)) == JournalStatus::Full);
  CHECK(j->append(gstest::payloadOf(4, 100), 1, 0, done.callback(4)) == JournalStatus::Ok);  // exactly 1000
  CHECK_EQ(j->stats().pendingBytes, 1000u);
  CHECK_EQ(j->stats().refusedFull, 1u);
  CHECK_EQ(std::string(journalStatusCode(JournalStatus::Full)), std::string("JOURNAL_FULL"));
  gate.release();
  CHECK(done.waitFor(3));
  CHECK(gstest::eventually([&] { return j->stats().pendingBytes == 0; }));
  CHECK(j->append(gstest::payloadOf(5, 900), 1, 0, done.callback(5)) == JournalStatus::Ok);
  CHECK(done.waitFor(4));
  std::set<std::uint64_t> tags;
  for (const auto& e : done.all()) tags.insert(e.tag);
  CHECK(tags == (std::set<std::uint64_t>{1, 2, 4, 5}));  // the refused ones never complete
}

// A failed commit: every batch in it fails with the OS error and takes no sequence number,
// the file is cut back to the last good record, and the journal goes on.
void checkFailedCommit(JournalIoOp failing) {
  TempDir dir("journal-io");
  JournalOptions o = optionsIn(dir);
  Gate gate;
  std::atomic<int> writes{0};
  o.faultForTesting = [&](JournalIoOp op) -> std::error_code {
    if (op == JournalIoOp::Write && writes++ == 0) return gate.hold();  // commit 1: hold while B, C, D arrive
    if (op == failing && writes.load() == 2) return std::make_error_code(std::errc::no_space_on_device);  // commit 2
    return {};
  };
  JournalOpenReport report;
  auto j = gstest::openJournal(o, report);
  const fs::path file = gstest::segmentFiles(o.directory).at(0);
  Completions done;
  CHECK(j->append(gstest::payloadOf(1, 50), 2, 1, done.callback(1)) == JournalStatus::Ok);
  CHECK(gate.waitEntered());
  for (std::uint64_t t = 2; t <= 4; ++t) CHECK(j->append(gstest::payloadOf(t, 70), 3, t, done.callback(t)) == JournalStatus::Ok);
  gate.release();
  CHECK(done.waitFor(4));
  auto got = done.all();
  CHECK(got[0].commit.status == JournalStatus::Ok);
  for (std::size_t k = 1; k < 4; ++k) {
    CHECK(got[k].commit.status == JournalStatus::IoError);
    CHECK(got[k].commit.error == std::make_error_code(std::errc::no_space_on_device));
    CHECK_EQ(got[k].commit.firstSeq, 0u);
  }
  CHECK_EQ(fs::file_size(file), fmt::kSegmentHeaderBytes + recordBytes(50));
  CHECK_EQ(j->lastSeq(), 2u);
  CHECK_EQ(j->stats().failedBatches, 3u);
  CHECK(j->append(gstest::payloadOf(5, 10), 1, 5, done.callback(5)) == JournalStatus::Ok);
  CHECK(done.waitFor(5));
  got = done.all();
  CHECK(got[4].commit.status == JournalStatus::Ok);
  CHECK_EQ(got[4].commit.firstSeq, 3u);
  j->close();
  j = gstest::openJournal(o, report);
  CHECK_EQ(report.cutBytes, 0u);
  CHECK_EQ(report.lastSeq, 3u);
  const auto recs = gstest::replayAll(*j);
  CHECK_EQ(recs.size(), 2u);
  CHECK(recs[1].payload == gstest::payloadOf(5, 10));
}

TEST(a_failed_write_fails_the_whole_commit_and_cuts_the_file_back) { checkFailedCommit(JournalIoOp::Write); }
TEST(a_failed_sync_fails_the_whole_commit_and_cuts_the_file_back) { checkFailedCommit(JournalIoOp::Sync); }

TEST(close_commits_what_was_accepted_and_refuses_what_comes_after) {
  TempDir dir("journal-close");
  JournalOpenReport report;
  auto j = gstest::openJournal(optionsIn(dir), report);
  Completions done;
  for (int i = 0; i < 200; ++i) CHECK(j->append(gstest::payloadOf(i, 40), 1, i, done.callback(i)) == JournalStatus::Ok);
  j->close();
  CHECK_EQ(done.all().size(), 200u);  // close() returned after every completion ran
  for (const auto& e : done.all()) CHECK(e.commit.status == JournalStatus::Ok);
  CHECK(j->append(gstest::payloadOf(0, 1), 1, 0, done.callback(0)) == JournalStatus::Closed);
  j->close();  // idempotent
  j = gstest::openJournal(optionsIn(dir), report);
  CHECK_EQ(report.lastSeq, 200u);
}


TEST(close_from_a_completion_refuses_new_batches_without_waiting_for_itself) {
  TempDir dir("journal-close-inside");
  JournalOpenReport report;
  auto j = gstest::openJournal(optionsIn(dir), report);
  Completions done;
  std::atomic<int> afterClose{-1};
  Journal* raw = j.get();
  CHECK(j->append(gstest::payloadOf(1, 8), 1, 1, [&, raw](const JournalCommit&) {
    raw->close();
    afterClose = static_cast<int>(raw->append(gstest::payloadOf(2, 8), 1, 2, done.callback(2)));
  }) == JournalStatus::Ok);
  j->close();  // joins the committer, which has left after the commit above
  CHECK_EQ(afterClose.load(), static_cast<int>(JournalStatus::Closed));
  CHECK(done.all().empty());
}

GS_TEST_MAIN()
