// PlayerPersistence: the World's players in a Storage (issue 15). It owns the store for one
// engine run: open() opens it and loads the saved players into the World (before the
// event thread runs); a periodic pool job writes the players the World marked dirty, in one
// transaction per flush (write-behind, every flushInterval); the engine's stop calls
// stopFlushing() and then close(), which makes a final flush after the last event was
// applied and closes the store. A `database` task runs its read-only SQL through query()
// (gamesrv/task_scheduler.hpp DatabaseExecutor), which first flushes what is dirty, so the
// SQL sees the World as it is.
//
// Flush rules
// - Flushes are serialized (flushMu_): rows taken later are never overwritten by rows
//   taken earlier.
// - A failed flush puts its rows back into the World's dirty set (World::markDirty): they
//   are written by the next flush, with whatever they hold by then. Nothing is lost; the
//   failure is counted (flushFailures) and its message kept (lastError).
// - Checkpoint hook for the journal: when PersistenceConfig::checkpoint is set, each flush
//   passes World::takeDirty()'s appliedSeq (the seq of the last event applied when the rows
//   were taken) to Storage::flush(rows, seq), so the rows and the processed watermark are
//   stored in one transaction. takeCheckpointWatermark-style access for other callers:
//   World::appliedSeq(). Off by default: without a journal, seqs restart in every process
//   and a stored watermark would mean nothing.
//
// Owner leases (issue 16; gamesrv/storage.hpp): this server writes as `owner`. A flush
// writes only rows this server owns or that are free (Storage::flushOwned) and renews its
// leases; a refused row (another server has the player now, or stored a newer version) is
// dropped from the dirty set, counted (flushRefusedNotOwner) and its reason kept
// (lastRefusal): retrying could only overwrite the newer owner. acquireForLogin() takes a
// player's lease before a login and loads the stored row into the World; close() releases
// every lease after the final flush.
//
// Thread safety: every public member is safe from any thread; open() and close() are
// called by the engine's start and stop transitions, which are serialized. Storage calls
// run on the calling thread: pool threads, the stopping thread, never the event thread.
#pragma once
#include <atomic>
#include <chrono>
#include <functional>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "gamesrv/histogram.hpp"
#include "gamesrv/storage.hpp"
#include "gamesrv/thread_pool.hpp"

namespace gamesrv {

class World;

struct PersistenceConfig {
  std::string backend;  // "sqlite" or "postgres"
  std::string dataDir;  // sqlite: required
  std::string url;      // postgres: required (postgres://...)
  std::chrono::milliseconds flushInterval{1000};
  std::size_t maxConnections = 4;  // the pool's maximum threads
  bool checkpoint = false;         // see "Checkpoint hook" above
  // With checkpoint: called (on the flushing thread) once a flush's rows and checkpoint
  // `seq` have committed, so the journal can drop what the store now holds.
  std::function<void(std::uint64_t seq)> onCheckpoint;
  std::string owner = "gamesrv";          // this server's name on the rows it holds
  std::chrono::milliseconds leaseLength{15000};  // a lease lasts this long past each grant or flush
};

struct PersistenceStats {
  std::string backend;   // "" while no store was ever opened
  std::string location;  // file path, or URL without password
  bool open = false;
  std::uint64_t loaded = 0;         // players loaded into the World, over every start
  std::uint64_t flushes = 0;        // flushes that wrote rows
  std::uint64_t rowsFlushed = 0;
  std::uint64_t flushFailures = 0;
  std::uint64_t flushRefusedNotOwner = 0;  // rows a flush did not write: another server owns them
  std::uint64_t leasesAcquired = 0;        // logins whose lease this server took
  std::uint64_t leasesHeldElsewhere = 0;   // acquires that found the lease held by another server
  std::uint64_t leaseRenewalFailures = 0;  // renewals (between flushes) that failed
  std::string lastRefusal;                 // why the last refused row was refused
  std::size_t dirty = 0;            // players waiting for the next flush
  std::string lastError;            // the last failed flush's message ("" after a success)
  int schemaVersion = 0;            // the store's schema version at open (0: none opened)
  std::uint64_t checkpointSeq = 0;  // the journal position the store holds (with a journal)
  HistogramSummary flushNs;         // each flush that wrote rows, take to commit
};

// Makes the store a backend name stands for; NotBuilt when this build has none.
StorageStatus makeStorageFor(const std::string& backend, std::unique_ptr<Storage>& out);

class PlayerPersistence {
 public:
  explicit PlayerPersistence(World& world);
  ~PlayerPersistence();  // close() (with its final flush) if still open
  PlayerPersistence(const PlayerPersistence&) = delete;
  PlayerPersistence& operator=(const PlayerPersistence&) = delete;

  // Checks the config, opens the store and loads the saved players into the World.
  // Throws std::runtime_error with a readable reason (and leaves nothing open).
  void open(const PersistenceConfig& config);
  // With checkpoint: the checkpoint the store held when open() loaded the players (the
  // journal replays what follows it, onto players loaded as saved, online flags too).
  std::uint64_t checkpointAtOpen() const noexcept { return checkpointAtOpen_.load(std::memory_order_acquire); }
  // open() with a store made by the test (e.g. one whose writes fail); config.backend is
  // not used to make one.
  void openForTesting(std::unique_ptr<Storage> store, const PersistenceConfig& config);
  // Whether a store is open (between open() and close()).
  bool isOpen() const;

  // Arms the periodic flush on `pool` (one firing at a time; a slow flush skips the next).
  void startFlushing(ThreadPool& pool);
  // Cancels the periodic flush and waits for one in flight. Call before the pool shuts down.
  void stopFlushing();

  // Writes the dirty players now. Ok (and no write) when nothing is dirty; Closed when
  // no store is open.
  StorageStatus flush();
  // A flush on request (POST /v1/storage/checkpoint): the dirty players, and with a journal
  // the checkpoint even when none is dirty (the store then holds every event applied so
  // far). `rows` gets the players written.
  StorageStatus checkpointNow(std::size_t& rows);
  // The final flush, then releases this server's leases and closes the store. Idempotent.
  // Returns the final flush's status.
  StorageStatus close();

  // Takes player `id`'s lease for this server (a login). Acquired: the stored row, if
  // any, replaces the World's copy unless the player is online here (World::refreshPlayer).
  // Held elsewhere: `lease` says by whom until when (store clock; storeNowMs beside it).
  // Closed when no store is open. Runs on the calling thread (a pool thread).
  StorageStatus acquireForLogin(std::int64_t id, PlayerLease& lease, std::int64_t& storeNowMs);
  // Extends the leases of this server's online players (a pool timer every leaseLength / 3,
  // armed by startFlushing(); a flush that writes rows renews them as well).
  StorageStatus renewLeases();
  // The owner name and lease length this store writes with ("" / 0 when none is open).
  LeaseClaim claim() const;
  // Writes `rows` as `owner` through the open store's flushOwned, as a server of that name
  // would (a late flush from a server that lost its players); the outcome says what was refused.
  StorageStatus flushAsForTesting(std::span<const PlayerRow> rows, const std::string& owner, FlushOutcome& out);

  // A `database` task's query: flushes the dirty players first (so the SQL sees them),
  // then runs the read-only statement. Closed when no store is open.
  QueryResult query(std::string_view sql, std::span<const DbValue> params, const QueryOptions& options);

  PersistenceStats stats() const;

 private:
  // flush() and checkpointNow(): the dirty rows (and the checkpoint); with checkpointAlone,
  // the checkpoint is written even when no row is dirty.
  StorageStatus write(bool checkpointAlone, std::size_t& rows);
  std::shared_ptr<Storage> store() const;
  void adopt(std::unique_ptr<Storage> made, const PersistenceConfig& config);

  World& world_;
  mutable std::mutex mu_;          // guards the fields below marked so
  std::shared_ptr<Storage> store_;  // guarded by mu_
  PersistenceConfig config_;        // guarded by mu_
  std::string backend_;             // guarded by mu_
  std::string location_;            // guarded by mu_
  std::string lastError_;           // guarded by mu_
  std::string lastRefusal_;         // guarded by mu_
  std::unique_ptr<CleanupGroup> flushGroup_;  // guarded by mu_: the periodic flush's timer

  std::mutex flushMu_;  // serializes flushes; lock order: flushMu_ -> mu_ -> World's lock
  std::atomic<std::uint64_t> loaded_{0};
  std::atomic<std::uint64_t> checkpointAtOpen_{0};
  std::atomic<std::uint64_t> checkpointSeq_{0};  // the last checkpoint stored (or read at open)
  std::atomic<int> schemaVersion_{0};
  std::atomic<std::uint64_t> flushes_{0};
  std::atomic<std::uint64_t> rowsFlushed_{0};
  std::atomic<std::uint64_t> flushFailures_{0};
  std::atomic<std::uint64_t> flushRefused_{0};
  std::atomic<std::uint64_t> leasesAcquired_{0};
  std::atomic<std::uint64_t> leasesHeldElsewhere_{0};
  std::atomic<std::uint64_t> leaseRenewalFailures_{0};
  Histogram flushNs_;
};

}  // namespace gamesrv
