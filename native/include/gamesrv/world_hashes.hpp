// World hashes beside the journal, for `gamesrv replay --verify` (docs/JOURNAL.md "World
// hashes").
//
// In journal mode the engine records, at each checkpoint of its World (every flush period
// in which events were applied, the checkpoint on request, the start after the replay and
// the stop after the drain), the pair (seq, hash): the journal sequence number of the last
// event the World had applied and World::stateHash() of that state. Verifying a journal
// replays it from its first event into a fresh World and compares the hash at every
// recorded seq: the first mismatch is the first divergence between what the server did and
// what the journal says it did.
//
// File: <journal directory>/world-hashes.gsh, fixed 24-byte records, little-endian:
//   u64 seq | u64 hash | u32 crc32c of bytes [0,16) | u32 reserved (0)
// Records are appended in the order taken; seqs never decrease within one server run (a
// restart may record a seq again: the same state must give the same hash). A torn or
// corrupt tail (a crash during an append) is cut at open. The records are diagnostics, not
// data: they are written without a data sync (a crash may lose the last few), and those
// below the journal's first event are removed when a checkpoint deletes segments.
//
// Thread safety: WorldHashLog's members are safe from any thread.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "gamesrv/durable_events.hpp"
#include "gamesrv/platform/durable_file.hpp"
#include "gamesrv/world.hpp"

namespace gamesrv {

namespace world_hash_format {
inline constexpr const char* kFileName = "world-hashes.gsh";
inline constexpr std::size_t kRecordBytes = 24;
using RecordBytes = std::array<std::uint8_t, kRecordBytes>;
RecordBytes encode(const WorldHash& h) noexcept;
// The record, or nullopt when its CRC or reserved bytes are wrong.
std::optional<WorldHash> decode(std::span<const std::uint8_t, kRecordBytes> bytes) noexcept;
}  // namespace world_hash_format

struct WorldHashFile {
  std::vector<WorldHash> records;
  std::uint64_t cutBytes = 0;  // bytes after the last valid record (a torn or corrupt tail)
};
// Reads the records of `journalDir`'s hash file (none when it does not exist). Throws
// std::runtime_error when the file exists but cannot be read.
WorldHashFile readWorldHashes(const std::filesystem::path& journalDir);

class WorldHashLog {
 public:
  // Opens (creating) the file in `journalDir` and cuts a torn tail. Throws std::runtime_error.
  void open(const std::filesystem::path& journalDir);
  // Appends the record unless this run already recorded `h.seq` last and `force` is unset.
  // Returns false (counted in failures()) when the write failed; true otherwise.
  bool record(const WorldHash& h, bool force = false);
  // Removes the records below `firstSeq` (rewrites the file; a failure keeps it whole).
  void prune(std::uint64_t firstSeq);
  void close();
  std::uint64_t recorded() const;
  std::uint64_t failures() const;

 private:
  mutable std::mutex mu_;
  std::filesystem::path path_;   // guarded by mu_
  platform::DurableFile file_;   // guarded by mu_
  std::uint64_t size_ = 0;       // guarded by mu_
  std::optional<std::uint64_t> lastSeq_;  // guarded by mu_: this run's last record
  std::uint64_t recorded_ = 0;   // guarded by mu_
  std::uint64_t failures_ = 0;   // guarded by mu_
};

struct VerifyReport {
  ReplayReport replay;           // the events replayed, the journal's last seq
  JournalOpenReport opened;      // the open's recovery report (a cut tail)
  std::uint64_t recorded = 0;    // hash records in the file
  std::uint64_t checked = 0;     // records compared (every one unless a divergence stopped it)
  std::uint64_t hashCutBytes = 0;
  bool diverged = false;
  std::uint64_t divergedSeq = 0;  // the first record that did not match
  std::uint64_t expectedHash = 0; // what the server recorded there
  std::uint64_t actualHash = 0;   // what the replay computed there
  std::string problem;           // why it diverged, in words
};

// Replays <dataDir>/journal from its first event into a fresh World of `config` and compares
// every recorded hash. Throws std::runtime_error when the journal cannot be opened or read,
// or does not start at seq 1 (segments were deleted after a checkpoint: the World before
// them is not in the journal). Requires: no server runs on that directory.
VerifyReport verifyDataDir(const std::filesystem::path& dataDir, const WorldConfig& config);

// Reading a recording (`gamesrv replay --to`): up to `maxEvents` events after `afterSeq`,
// decoded and stamped (journalSeq, atMs), with the journal's last seq. Opens the journal as
// verifyDataDir() does (a torn tail is cut). Throws std::runtime_error as verifyDataDir().
struct JournalPage {
  std::vector<GameEvent> events;
  std::uint64_t firstSeq = 0;  // the journal's first event on disk (0: empty)
  std::uint64_t lastSeq = 0;   // the journal's last event
};
JournalPage readJournalPage(const std::filesystem::path& dataDir, std::uint64_t afterSeq, std::size_t maxEvents);

}  // namespace gamesrv
