// Journal internals shared by the committer (journal.cpp) and the scans of open() and
// replay() (journal_segments.cpp). Not a public header.
#pragma once
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "gamesrv/journal.hpp"
#include "gamesrv/platform/durable_file.hpp"

namespace gamesrv::journal_detail {

struct SegmentInfo {
  std::uint64_t firstSeq = 0;
  std::filesystem::path path;
  std::uint64_t size = 0;  // bytes known good (header + whole, synced records)
};

struct ScanResult {
  std::uint64_t validEnd = 0;  // offset after the last good record
  std::uint64_t nextSeq = 0;   // the sequence number the next record must carry
  std::uint64_t records = 0;
  std::string problem;         // empty: every byte up to the limit was good records
  std::error_code ioError;
  bool stopped = false;        // the visitor asked to stop
};

// Reads the records of an open segment whose header says `firstSeq`, from its header up to
// `limit` bytes, checking length, crc and continuity. Records holding an event after
// `afterSeq` are passed to `visit` when it is set.
ScanResult scanSegment(const platform::DurableFile& file, std::uint64_t limit, std::uint64_t firstSeq,
                       const Journal::Visitor* visit, std::uint64_t afterSeq);

// The segment header at offset 0: its firstSeq, or nullopt when missing or damaged.
std::optional<std::uint64_t> readSegmentHeader(const platform::DurableFile& file, std::error_code& ec);

// Creates (or resets) a segment file holding only its header, durably (file and directory).
std::error_code createSegment(const std::filesystem::path& dir, std::uint64_t firstSeq, platform::DurableFile& out,
                              std::filesystem::path& path);

// open()'s scan: validates every segment, cuts a damaged tail of the last one, creates the
// first segment of an empty journal. Fills `segments` and `nextSeq`.
JournalStatus recoverSegments(const std::filesystem::path& dir, std::vector<SegmentInfo>& segments,
                              std::uint64_t& nextSeq, JournalOpenReport& report, std::string& error);

}  // namespace gamesrv::journal_detail
