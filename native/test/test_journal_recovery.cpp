// The journal's recovery (gamesrv/journal.hpp): open() after a crash or damage cuts a torn
// or corrupt tail of the last segment and reports it, keeps everything before it, and
// refuses to open when an earlier segment is damaged.
#include <cstring>

#include "gamesrv/journal.hpp"
#include "gamesrv/journal_format.hpp"
#include "harness.hpp"
#include "journal_test_support.hpp"

using namespace gamesrv;
namespace fmt = gamesrv::journal_format;
namespace fs = std::filesystem;
using gstest::Completions;
using gstest::TempDir;
using gstest::flipByte;
using gstest::optionsIn;
using gstest::recordBytes;

TEST(torn_tail_is_cut_and_nothing_before_it_is_lost) {
  TempDir dir("journal-torn");
  const JournalOptions o = optionsIn(dir);
  JournalOpenReport report;
  {
    auto j = gstest::openJournal(o, report);
    Completions done;
    for (int i = 0; i < 5; ++i) CHECK(j->append(gstest::payloadOf(i, 100), 4, i, done.callback(i)) == JournalStatus::Ok);
    CHECK(done.waitFor(5));
  }
  const auto files = gstest::segmentFiles(o.directory);
  CHECK_EQ(files.size(), 1u);
  const std::uint64_t full = fs::file_size(files[0]);
  CHECK_EQ(full, fmt::kSegmentHeaderBytes + 5 * recordBytes(100));
  fs::resize_file(files[0], full - 10);  // mid-payload of the fifth record
  {
    auto j = gstest::openJournal(o, report);
    CHECK_EQ(report.cutBytes, recordBytes(100) - 10);
    CHECK_EQ(report.lastSeq, 16u);
    CHECK_EQ(report.records, 4u);
    CHECK_EQ(report.cutSegment, files[0].filename().string());
    CHECK_MSG(report.cutReason.find("short record") == 0, report.cutReason);
    const auto recs = gstest::replayAll(*j);
    CHECK_EQ(recs.size(), 4u);
    for (int i = 0; i < 4; ++i) CHECK(recs[i].payload == gstest::payloadOf(i, 100));
    Completions done;
    CHECK(j->append(gstest::payloadOf(9, 3), 1, 9, done.callback(9)) == JournalStatus::Ok);
    CHECK(done.waitFor(1));
    CHECK_EQ(done.all()[0].commit.firstSeq, 17u);
  }
  // Torn inside a record header this time.
  const std::uint64_t now = fs::file_size(files[0]);
  fs::resize_file(files[0], now - recordBytes(3) + 10);
  auto j = gstest::openJournal(o, report);
  CHECK_EQ(report.cutBytes, 10u);
  CHECK_MSG(report.cutReason.find("short record header") == 0, report.cutReason);
  CHECK_EQ(report.lastSeq, 16u);
  j->close();
  // A clean reopen cuts nothing.
  j = gstest::openJournal(o, report);
  CHECK_EQ(report.cutBytes, 0u);
  CHECK_EQ(report.lastSeq, 16u);
}

TEST(bad_crc_in_the_middle_of_the_tail_cuts_from_that_record) {
  TempDir dir("journal-crc");
  const JournalOptions o = optionsIn(dir);
  JournalOpenReport report;
  {
    auto j = gstest::openJournal(o, report);
    Completions done;
    for (int i = 0; i < 5; ++i) CHECK(j->append(gstest::payloadOf(i, 64), 3, i, done.callback(i)) == JournalStatus::Ok);
    CHECK(done.waitFor(5));
  }
  const auto file = gstest::segmentFiles(o.directory).at(0);
  const std::uint64_t third = fmt::kSegmentHeaderBytes + 2 * recordBytes(64);
  flipByte(file, third + fmt::kRecordHeaderBytes + 20);  // a payload byte of the third record
  auto j = gstest::openJournal(o, report);
  CHECK_MSG(report.cutReason == "bad crc at offset " + std::to_string(third), report.cutReason);
  CHECK_EQ(report.cutBytes, 3 * recordBytes(64));
  CHECK_EQ(report.lastSeq, 6u);
  CHECK_EQ(fs::file_size(file), third);
  const auto recs = gstest::replayAll(*j);
  CHECK_EQ(recs.size(), 2u);
  CHECK(recs[1].payload == gstest::payloadOf(1, 64));
}

TEST(damage_before_the_last_segment_refuses_to_open) {
  TempDir dir("journal-damage");
  JournalOptions o = optionsIn(dir);
  o.segmentBytes = 256;
  JournalOpenReport report;
  {
    auto j = gstest::openJournal(o, report);
    Completions done;
    for (int i = 0; i < 3; ++i) CHECK(j->append(gstest::payloadOf(i, 100), 1, i, done.callback(i)) == JournalStatus::Ok);
    CHECK(done.waitFor(3));
  }
  const auto files = gstest::segmentFiles(o.directory);
  CHECK_EQ(files.size(), 3u);
  flipByte(files[0], fmt::kSegmentHeaderBytes + fmt::kRecordHeaderBytes + 1);
  std::unique_ptr<Journal> j;
  std::string error;
  CHECK(Journal::open(o, j, report, error) == JournalStatus::Corrupt);
  CHECK_MSG(error.find("bad crc") != std::string::npos, error);
  CHECK(j == nullptr);
  CHECK_EQ(fs::file_size(files[0]), fmt::kSegmentHeaderBytes + recordBytes(100));  // nothing was cut
}

TEST(a_torn_segment_header_on_the_last_segment_is_rewritten) {
  TempDir dir("journal-header");
  JournalOptions o = optionsIn(dir);
  JournalOpenReport report;
  {
    auto j = gstest::openJournal(o, report);
    Completions done;
    CHECK(j->append(gstest::payloadOf(1, 10), 4, 1, done.callback(1)) == JournalStatus::Ok);
    CHECK(done.waitFor(1));
  }
  // A crash while a roll was creating the next segment: its header only partly written.
  {
    std::ofstream f(o.directory / fmt::segmentFileName(5), std::ios::binary);
    f.write("GSJOU", 5);
  }
  auto j = gstest::openJournal(o, report);
  CHECK_EQ(report.cutReason, std::string("torn segment header"));
  CHECK_EQ(report.cutBytes, 5u);
  CHECK_EQ(report.lastSeq, 4u);
  CHECK_EQ(report.segments, 2u);
  Completions done;
  CHECK(j->append(gstest::payloadOf(2, 10), 1, 2, done.callback(2)) == JournalStatus::Ok);
  CHECK(done.waitFor(1));
  CHECK_EQ(done.all()[0].commit.firstSeq, 5u);
  CHECK_EQ(gstest::replayAll(*j).size(), 2u);
}

GS_TEST_MAIN()
