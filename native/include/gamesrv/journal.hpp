// Journal: a durable, segmented, append-only log of event batches with group commit.
//
// append() hands over one batch (the caller's encoded events, opaque bytes here) and a
// completion. One committer thread ("gs-journal") writes every batch that has arrived since
// its last commit (plus, with a commit window, those arriving within it) with one gathered
// write and ONE data sync, then runs each batch's completion on that thread, in sequence
// order. A completion with status Ok means the batch is on disk; its events have the
// sequence numbers firstSeq .. firstSeq + eventCount - 1, which continue across restarts.
// A failed write or sync fails every batch of that commit (IoError, the OS error attached),
// assigns them no sequence numbers, and truncates the segment back to its last good record.
//
// Bounded: batches accepted but not yet completed hold at most maxPendingBytes of payload;
// beyond it append() refuses at once with Full (HTTP answers 429 JOURNAL_FULL: back-pressure).
//
// open() scans the directory's segments and validates every record (length, CRC32C,
// sequence continuity). A torn or corrupt tail of the last segment is cut (truncated) and
// reported; damage anywhere else refuses to open (Corrupt): acknowledged data would be lost.
// Format: gamesrv/journal_format.hpp and docs/JOURNAL.md.
//
// Thread safety: append(), replay(), deleteBefore(), stats() and lastSeq() are safe from any
// thread, concurrently. close() is idempotent; from any thread but a completion it returns
// once every accepted batch has completed (from a completion it only refuses new batches).
// The Journal must not be destroyed from a completion. Completions must not block for long:
// the next commit waits for them.
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

namespace gamesrv {

enum class JournalStatus : std::uint8_t {
  Ok,
  Full,             // pending bytes over the limit: nothing of the batch was taken
  TooLarge,         // one batch larger than maxPendingBytes (or the format's u32 length)
  Closed,           // close() was called
  IoError,          // write / sync / truncate failed (JournalCommit::error says which errno)
  InvalidArgument,  // eventCount == 0, bad options
  Corrupt,          // open(): a damaged record before the last segment's tail
};

// A stable code per status ("JOURNAL_FULL", "JOURNAL_IO_ERROR", ...), for the wire and logs.
const char* journalStatusCode(JournalStatus s) noexcept;

enum class JournalIoOp : std::uint8_t { Write, Sync };

struct JournalOptions {
  std::filesystem::path directory;                // created if missing
  std::uint64_t segmentBytes = 64ull << 20;       // roll to a new segment past this size
  std::uint64_t maxPendingBytes = 64ull << 20;    // payload accepted but not yet completed
  std::chrono::microseconds commitWindow{0};      // extra wait to gather batches (0: natural grouping)
  // Test hook: consulted after each write / sync of a commit has succeeded; an error it
  // returns is treated as that operation's failure (the bytes are on file: they must be cut).
  std::function<std::error_code(JournalIoOp)> faultForTesting;
};

struct JournalCommit {
  JournalStatus status = JournalStatus::Ok;
  std::uint64_t firstSeq = 0;  // 0 unless Ok
  std::uint32_t eventCount = 0;
  std::error_code error;       // the OS error when IoError
};
using JournalDone = std::function<void(const JournalCommit&)>;

struct JournalRecord {
  std::uint64_t firstSeq = 0;
  std::uint32_t eventCount = 0;
  std::uint64_t timestampNs = 0;
  std::span<const std::uint8_t> payload;  // valid during the visit only
  std::uint64_t lastSeq() const noexcept { return firstSeq + eventCount - 1; }
};

struct JournalOpenReport {
  std::uint64_t lastSeq = 0;   // the last durable event's sequence number (0: none yet)
  std::size_t segments = 0;
  std::uint64_t records = 0;
  std::uint64_t cutBytes = 0;  // bytes removed from the last segment's tail
  std::string cutSegment;      // its file name, when something was cut
  std::string cutReason;       // "short record", "bad crc", ... when something was cut
};

struct JournalStats {
  std::uint64_t commits = 0;        // commit rounds (each: one gathered write per segment touched)
  std::uint64_t syncs = 0;          // data syncs issued by commits
  std::uint64_t batches = 0;        // batches made durable
  std::uint64_t events = 0;
  std::uint64_t bytes = 0;          // record bytes written (headers + payloads)
  std::uint64_t failedBatches = 0;  // completed with IoError
  std::uint64_t refusedFull = 0;    // append() answered Full
  std::uint64_t pendingBytes = 0;
  std::uint64_t lastSeq = 0;
  std::uint64_t firstSeq = 0;       // first sequence number still on disk (segments may be deleted)
  std::size_t segments = 0;
  std::uint64_t diskBytes = 0;
};

class Journal {
 public:
  using Visitor = std::function<bool(const JournalRecord&)>;  // false stops the replay

  // Opens (or creates) the journal in options.directory and starts its committer.
  static JournalStatus open(JournalOptions options, std::unique_ptr<Journal>& out, JournalOpenReport& report,
                            std::string& error);
  ~Journal();  // close()
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;

  // Takes the batch or refuses it at once (then `done` is never called). When Ok, `done`
  // runs exactly once, on the committer thread.
  JournalStatus append(std::vector<std::uint8_t> payload, std::uint32_t eventCount, std::uint64_t timestampNs,
                       JournalDone done);
  // Commits every accepted batch, then stops the committer. Later appends answer Closed.
  void close();

  // Visits, in order, every durable record holding an event after `afterSeq` (a record that
  // straddles it is visited whole: skip its events <= afterSeq). Ok, Corrupt or IoError.
  JournalStatus replay(std::uint64_t afterSeq, const Visitor& visit, std::string& error) const;
  // Removes the segments whose every event is <= checkpointSeq (never the one being
  // written). Returns how many were removed; `ec` is the first removal error.
  std::size_t deleteBefore(std::uint64_t checkpointSeq, std::error_code& ec);

  JournalStats stats() const;
  std::uint64_t lastSeq() const;

 private:
  struct Impl;
  explicit Journal(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace gamesrv
