// DurableEvents: the `durability: journal` input path. Every batch from every source (HTTP,
// the pipe, game sessions) is handed here instead of straight to the EventProcessor:
//
//   1. reserve room for it in the event queue (so a batch the journal has made durable can
//      never be refused afterwards: nothing acknowledged is ever dropped);
//   2. encode it (docs/JOURNAL.md "Event payload") and append it to the Journal;
//   3. when its commit completes (on the journal's committer thread, in sequence order),
//      move it into the reserved room, stamped with its journal sequence numbers and its
//      accepted time, and only then run the caller's completion (the acknowledgement).
//
// A refused batch (queue full, journal full, closed) is left untouched in the caller's
// vector and no completion runs. A failed commit (IoError) gives the room back, applies
// nothing and completes with the error.
//
// replay() visits every journaled event after a sequence number, decoded, for the World to
// apply before the event thread starts.
//
// Thread safety: submit() and stats() are safe from any thread, concurrently with each
// other. open(), replay(), close() and checkpoint() are serialized by the caller (the
// Engine's transitions). close() returns once every accepted batch has completed.
#pragma once
#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "gamesrv/event_processor.hpp"
#include "gamesrv/game_event.hpp"
#include "gamesrv/journal.hpp"
#include "gamesrv/world.hpp"

namespace gamesrv {

enum class Durability : std::uint8_t {
  None,     // an event is acknowledged once queued; a crash loses what was not yet applied
  Journal,  // an event is acknowledged once its journal commit (write + data sync) completed
};
const char* toString(Durability d) noexcept;  // "none", "journal"
std::optional<Durability> parseDurability(std::string_view s) noexcept;

// The journal's directory inside a data directory: <dataDir>/journal.
std::filesystem::path journalDirectory(const std::filesystem::path& dataDir);

// The journal payload of a batch (docs/JOURNAL.md "Event payload"): one place for both ways.
std::vector<std::uint8_t> encodeJournalEvents(std::span<const GameEvent> batch);
// Appends `count` events to `out`; false (out unchanged) if the payload is not exactly that.
bool decodeJournalEvents(std::span<const std::uint8_t> payload, std::uint32_t count, std::vector<GameEvent>& out);

struct DurableResult {
  EnqueueStatus status = EnqueueStatus::Ok;      // QueueFull / NotAccepting / Empty as enqueue()
  JournalStatus journal = JournalStatus::Ok;     // Full, TooLarge, Closed, IoError: the journal's word
  std::uint64_t firstSeq = 0;                    // journal sequence numbers, when Ok
  std::uint64_t lastSeq = 0;
  std::size_t accepted = 0;
  std::size_t available = 0;                     // free queue room when the batch was taken
  std::error_code error;                         // the OS error of an IoError
  bool ok() const noexcept { return status == EnqueueStatus::Ok && journal == JournalStatus::Ok; }
};
using DurableDone = std::function<void(const DurableResult&)>;

struct ReplayReport {
  std::uint64_t afterSeq = 0;  // events after this one were replayed
  std::uint64_t records = 0;
  std::uint64_t events = 0;    // events handed to the World
  std::uint64_t lastSeq = 0;   // the journal's last durable sequence number
  std::uint64_t durationUs = 0;
};

struct DurableStats {
  Durability mode = Durability::None;
  JournalStats journal;
  JournalOpenReport opened;     // the last open's recovery report (cut tail, ...)
  ReplayReport replayed;        // the last start's replay
  std::uint64_t appliedSeq = 0; // the last journaled event the World applied
  std::uint64_t refusedFull = 0;    // batches refused: journal pending bytes over its limit
  std::uint64_t failedBatches = 0;  // commits that failed (IoError): nothing applied
  std::uint64_t commitP99Us = 0;    // append -> commit completed, p99 over the process
  std::uint64_t worldHashes = 0;    // World hashes recorded beside the journal (Engine::snapshot fills it)
  std::uint64_t worldHashFailures = 0;  // writes of those that failed (the hash is lost, not the data)
};

// Visits every event of `journal` after `afterSeq`, decoded and stamped (journalSeq, atMs).
// Ok, or Corrupt / IoError with `error` set (a payload that does not decode is Corrupt).
JournalStatus replayJournalEvents(const Journal& journal, std::uint64_t afterSeq,
                                  const std::function<void(const GameEvent&)>& apply, ReplayReport& report,
                                  std::string& error);

// Opens <dataDir>/journal as a start would (a torn tail is cut and reported in `opened`), to
// read it without an engine. Throws std::runtime_error with a readable reason when there is
// no journal there or it cannot be opened. Requires: no server runs on that directory.
std::unique_ptr<Journal> openDataDirJournal(const std::filesystem::path& dataDir, JournalOpenReport& opened);

// Rebuilds `world` from <dataDir>/journal alone, without an engine (`gamesrv replay`, the
// crash test's reference): opens the journal as a start would (a torn tail is cut and
// reported in `opened`) and applies every event with the journal's timestamps. Throws
// std::runtime_error when there is no journal there or it cannot be read.
// Requires: no server runs on that directory.
ReplayReport replayDataDir(const std::filesystem::path& dataDir, World& world, JournalOpenReport& opened);

class DurableEvents {
 public:
  explicit DurableEvents(EventProcessor& events);
  ~DurableEvents();  // close()
  DurableEvents(const DurableEvents&) = delete;
  DurableEvents& operator=(const DurableEvents&) = delete;

  // Opens <dataDir>/journal. Throws std::runtime_error with a readable reason (the open's
  // error, or a corrupt journal). Requires: closed.
  void open(const std::filesystem::path& dataDir);
  // Replays every event after max(checkpointSeq, the last event this process already
  // applied from the same directory) into `apply`. Call after open(), before the event
  // thread runs. Throws std::runtime_error on a corrupt journal.
  ReplayReport replay(std::uint64_t checkpointSeq, const std::function<void(const GameEvent&)>& apply);
  // Journal mode for this run: set by open(), kept through close() (a batch offered after
  // close() is refused, never taken without the journal), cleared by useNone().
  bool active() const noexcept { return active_.load(std::memory_order_acquire); }
  void useNone() noexcept { active_.store(false, std::memory_order_release); }

  // See the file comment. `done` may be empty (a source that needs no acknowledgement).
  DurableResult submit(std::vector<GameEvent>& batch, DurableDone done);
  // Refuses new batches, commits and delivers every accepted one, closes the journal.
  void close();
  // A storage checkpoint committed the World up to `seq`: segments wholly at or below it go.
  std::size_t checkpoint(std::uint64_t seq, std::error_code& ec);
  // The event thread reports each journaled event it applied.
  void noteApplied(std::uint64_t journalSeq) noexcept { appliedSeq_.store(journalSeq, std::memory_order_release); }
  std::uint64_t appliedSeq() const noexcept { return appliedSeq_.load(std::memory_order_acquire); }

  DurableStats stats() const;

  // Test hook: the options of the next open() (limits, commit window, injected faults); the
  // directory is always <dataDir>/journal.
  void setOptionsForTesting(JournalOptions options);

 private:
  struct Shared;
  EventProcessor& events_;
  std::atomic<bool> active_{false};
  std::atomic<std::uint64_t> appliedSeq_{0};
  mutable std::mutex mu_;
  std::shared_ptr<Journal> journal_;            // guarded by mu_
  std::filesystem::path directory_;             // guarded by mu_: the last opened journal
  std::uint64_t deliveredSeq_ = 0;              // guarded by mu_: last seq of that journal in the World
  JournalOpenReport opened_;                    // guarded by mu_
  ReplayReport replayed_;                       // guarded by mu_
  JournalOptions options_;                      // guarded by mu_
  JournalStats lastJournalStats_;               // guarded by mu_: kept after close
  const std::shared_ptr<Shared> shared_;        // counters the completions write
};

}  // namespace gamesrv
