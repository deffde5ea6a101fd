#include "gamesrv/persistence.hpp"

#include <algorithm>

#include <stdexcept>
#include <utility>

#include "gamesrv/clock.hpp"
#include "gamesrv/world.hpp"

namespace gamesrv {

StorageStatus makeStorageFor(const std::string& backend, std::unique_ptr<Storage>& out) {
  const bool built = backend == "sqlite" ? sqliteStorageBuilt() : backend == "postgres" ? postgresStorageBuilt() : false;
  if (backend != "sqlite" && backend != "postgres") {
    return StorageStatus::failure(StorageErrc::NotBuilt, "unknown storage backend \"" + backend + "\"");
  }
  if (!built) {
    return StorageStatus::failure(StorageErrc::NotBuilt, backend == "sqlite" ? "this build has no SQLite backend"
                                                                             : "this build has no PostgreSQL backend (libpq)");
  }
  out = makeStorage(backend);
  return StorageStatus::success();
}

PlayerPersistence::PlayerPersistence(World& world) : world_(world) {}

PlayerPersistence::~PlayerPersistence() {
  stopFlushing();
  close();
}

std::shared_ptr<Storage> PlayerPersistence::store() const {
  std::lock_guard lock(mu_);
  return store_;
}

bool PlayerPersistence::isOpen() const { return store() != nullptr; }

void PlayerPersistence::open(const PersistenceConfig& config) {
  if (isOpen()) throw std::runtime_error("storage: already open");
  if (config.backend == "sqlite" && config.dataDir.empty()) {
    throw std::runtime_error("database \"sqlite\" needs a data directory (dataDir, --data-dir)");
  }
  if (config.backend == "postgres" && config.url.empty()) {
    throw std::runtime_error("database \"postgres\" needs databaseUrl (--database-url or GAMESRV_DATABASE_URL)");
  }

  std::unique_ptr<Storage> made;
  if (StorageStatus st = makeStorageFor(config.backend, made); !st.ok()) {
    throw std::runtime_error("storage " + config.backend + ": " + st.message);
  }
  adopt(std::move(made), config);
}

void PlayerPersistence::openForTesting(std::unique_ptr<Storage> store, const PersistenceConfig& config) {
  if (isOpen()) throw std::runtime_error("storage: already open");
  adopt(std::move(store), config);
}

void PlayerPersistence::adopt(std::unique_ptr<Storage> made, const PersistenceConfig& config) {
  StorageConfig sc;
  sc.dataDir = config.dataDir;
  sc.url = config.url;
  sc.maxConnections = config.maxConnections > 0 ? config.maxConnections : 1;
  if (StorageStatus st = made->open(sc); !st.ok()) {
    throw std::runtime_error("storage " + config.backend + ": " + st.message);
  }
  std::vector<PlayerRow> rows;
  if (StorageStatus st = made->loadPlayers(rows); !st.ok()) {
    made->close();
    throw std::runtime_error("storage " + config.backend + ": loading players failed: " + st.message);
  }
  std::uint64_t checkpoint = 0;
  if (config.checkpoint) {
    if (StorageStatus st = made->readCheckpoint(checkpoint); !st.ok()) {
      made->close();
      throw std::runtime_error("storage " + config.backend + ": reading the checkpoint failed: " + st.message);
    }
  }
  checkpointAtOpen_.store(checkpoint, std::memory_order_release);
  checkpointSeq_.store(checkpoint, std::memory_order_relaxed);
  int version = 0;
  if (made->schemaVersion(version).ok()) schemaVersion_.store(version, std::memory_order_relaxed);
  // Under a checkpoint the players are the World as of that event, online flags included:
  // the journal replays what followed onto exactly that.
  loaded_.fetch_add(world_.loadPlayers(rows, config.checkpoint), std::memory_order_relaxed);
  std::lock_guard lock(mu_);
  config_ = config;
  backend_ = made->backendName();
  location_ = made->location();
  store_ = std::move(made);
}

void PlayerPersistence::startFlushing(ThreadPool& pool) {
  std::lock_guard lock(mu_);
  if (!store_ || flushGroup_) return;
  flushGroup_ = std::make_unique<CleanupGroup>(pool);
  const auto every = config_.flushInterval.count() > 0 ? config_.flushInterval : std::chrono::milliseconds(1000);
  // A failure is counted and kept in lastError; the next firing retries.
  pool.schedulePeriodic(every, every, [this] { static_cast<void>(flush()); }, flushGroup_.get());
  // The leases of the online players, three times a lease: whatever flushMs is, a lease is
  // renewed before it runs out (a flush that writes rows renews them too).
  const auto renewEvery = std::max<std::chrono::milliseconds>(config_.leaseLength / 3, std::chrono::milliseconds(1));
  pool.schedulePeriodic(renewEvery, renewEvery, [this] { static_cast<void>(renewLeases()); }, flushGroup_.get());
}

void PlayerPersistence::stopFlushing() {
  std::unique_ptr<CleanupGroup> group;
  {
    std::lock_guard lock(mu_);
    group = std::move(flushGroup_);
  }
  if (group) group->cancelPending();  // cancels the timer, waits for a flush in flight
}

StorageStatus PlayerPersistence::flush() {
  std::size_t rows = 0;
  return write(false, rows);
}

StorageStatus PlayerPersistence::checkpointNow(std::size_t& rows) { return write(true, rows); }

StorageStatus PlayerPersistence::write(bool checkpointAlone, std::size_t& rows) {
  rows = 0;
  std::lock_guard serial(flushMu_);
  std::shared_ptr<Storage> st;
  bool checkpoint;
  std::function<void(std::uint64_t)> onCheckpoint;
  {
    std::lock_guard lock(mu_);
    st = store_;
    checkpoint = config_.checkpoint;
    onCheckpoint = config_.onCheckpoint;
  }
  if (!st) return StorageStatus::failure(StorageErrc::Closed, "no store is open");
  LeaseClaim claim;
  {
    std::lock_guard lock(mu_);
    claim = {config_.owner, config_.leaseLength};
  }
  if (!checkpointAlone && world_.dirtyCount() == 0) return StorageStatus::success();
  const std::uint64_t t0 = nowNs();
  // The rows and the applied position together, under the World's lock.
  DirtyPlayers dirty = world_.takeDirty();
  std::optional<std::uint64_t> seq;
  // Never below the checkpoint the store already holds (no event applied since the start).
  if (checkpoint) seq = std::max(dirty.appliedSeq, checkpointAtOpen_.load(std::memory_order_acquire));
  // Nothing changed: a flush writes nothing; a checkpoint on request moves the position alone.
  if (dirty.rows.empty() && !(checkpointAlone && seq)) return StorageStatus::success();
  FlushOutcome outcome;
  StorageStatus result = st->flushOwned(dirty.rows, seq, claim, outcome);
  if (!result.ok()) {
    world_.markDirty(dirty.rows);
    flushFailures_.fetch_add(1, std::memory_order_relaxed);
    std::lock_guard lock(mu_);
    lastError_ = std::string(toString(result.code)) + ": " + result.message;
    return result;
  }
  if (!dirty.rows.empty()) {
    flushNs_.record(nowNs() - t0);
    flushes_.fetch_add(1, std::memory_order_relaxed);
    rowsFlushed_.fetch_add(dirty.rows.size(), std::memory_order_relaxed);
  }
  rows = outcome.written;
  if (seq) checkpointSeq_.store(*seq, std::memory_order_relaxed);
  if (seq && onCheckpoint) onCheckpoint(*seq);
  std::lock_guard lock(mu_);
  lastError_.clear();
  if (!outcome.refused.empty()) {
    // Not put back: another server holds these players now, and its state is the newer one.
    flushRefused_.fetch_add(outcome.refused.size(), std::memory_order_relaxed);
    lastRefusal_ = std::to_string(outcome.refused.size()) + " row(s) not written, first player " +
                   std::to_string(outcome.refused.front()) + ": owned by another server or stored at a newer version";
  }
  return result;
}

StorageStatus PlayerPersistence::close() {
  stopFlushing();
  if (!isOpen()) return StorageStatus::success();
  StorageStatus last = flush();
  std::shared_ptr<Storage> st;
  std::string owner;
  {
    std::lock_guard lock(mu_);
    st = std::move(store_);
    owner = config_.owner;
  }
  // Only after the final flush: another server may take these players from here on.
  std::size_t released = 0;
  if (st && last.ok()) {
    if (StorageStatus r = st->release(owner, released); !r.ok()) {
      std::lock_guard lock(mu_);
      lastError_ = std::string("releasing the leases: ") + toString(r.code) + ": " + r.message;
      last = r;
    }
  }
  if (st) st->close();  // waits for queries in flight
  return last;
}

StorageStatus PlayerPersistence::renewLeases() {
  std::lock_guard serial(flushMu_);
  std::shared_ptr<Storage> st = store();
  const LeaseClaim c = claim();
  if (!st) return StorageStatus::failure(StorageErrc::Closed, "no store is open");
  FlushOutcome outcome;
  StorageStatus result = st->flushOwned({}, std::nullopt, c, outcome);
  if (!result.ok()) {
    leaseRenewalFailures_.fetch_add(1, std::memory_order_relaxed);
    std::lock_guard lock(mu_);
    lastError_ = std::string("renewing the leases: ") + toString(result.code) + ": " + result.message;
  }
  return result;
}

LeaseClaim PlayerPersistence::claim() const {
  std::lock_guard lock(mu_);
  if (!store_) return {};
  return {config_.owner, config_.leaseLength};
}

StorageStatus PlayerPersistence::acquireForLogin(std::int64_t id, PlayerLease& lease, std::int64_t& storeNowMs) {
  std::shared_ptr<Storage> st = store();
  const LeaseClaim c = claim();
  if (!st) return StorageStatus::failure(StorageErrc::Closed, "no store is open");
  AcquireResult r;
  const std::int64_t ids[] = {id};
  if (StorageStatus s = st->acquire(ids, c, r); !s.ok()) return s;
  if (r.leases.size() != 1) return StorageStatus::failure(StorageErrc::Sql, "acquire answered no lease");
  lease = std::move(r.leases.front());
  storeNowMs = r.storeNowMs;
  if (!lease.acquired) {
    leasesHeldElsewhere_.fetch_add(1, std::memory_order_relaxed);
    return StorageStatus::success();
  }
  leasesAcquired_.fetch_add(1, std::memory_order_relaxed);
  if (lease.row) world_.refreshPlayer(*lease.row);
  return StorageStatus::success();
}

StorageStatus PlayerPersistence::flushAsForTesting(std::span<const PlayerRow> rows, const std::string& owner,
                                                   FlushOutcome& out) {
  std::shared_ptr<Storage> st = store();
  if (!st) return StorageStatus::failure(StorageErrc::Closed, "no store is open");
  return st->flushOwned(rows, std::nullopt, LeaseClaim{owner, claim().length}, out);
}

QueryResult PlayerPersistence::query(std::string_view sql, std::span<const DbValue> params, const QueryOptions& options) {
  std::shared_ptr<Storage> st = store();
  if (!st) {
    QueryResult r;
    r.status = StorageStatus::failure(StorageErrc::Closed, "the database is closed (engine stopped)");
    return r;
  }
  if (StorageStatus f = flush(); !f.ok()) {
    QueryResult r;
    r.status = StorageStatus::failure(f.code, "writing the dirty players before the query failed: " + f.message);
    return r;
  }
  return st->query(sql, params, options);
}

PersistenceStats PlayerPersistence::stats() const {
  PersistenceStats s;
  {
    std::lock_guard lock(mu_);
    s.backend = backend_;
    s.location = location_;
    s.open = store_ != nullptr;
    s.lastError = lastError_;
    s.lastRefusal = lastRefusal_;
  }
  s.loaded = loaded_.load(std::memory_order_relaxed);
  s.flushes = flushes_.load(std::memory_order_relaxed);
  s.rowsFlushed = rowsFlushed_.load(std::memory_order_relaxed);
  s.flushFailures = flushFailures_.load(std::memory_order_relaxed);
  s.flushRefusedNotOwner = flushRefused_.load(std::memory_order_relaxed);
  s.leasesAcquired = leasesAcquired_.load(std::memory_order_relaxed);
  s.leasesHeldElsewhere = leasesHeldElsewhere_.load(std::memory_order_relaxed);
  s.leaseRenewalFailures = leaseRenewalFailures_.load(std::memory_order_relaxed);
  s.dirty = world_.dirtyCount();
  s.schemaVersion = schemaVersion_.load(std::memory_order_relaxed);
  s.checkpointSeq = checkpointSeq_.load(std::memory_order_relaxed);
  s.flushNs = flushNs_.summary();
  return s;
}

}  // namespace gamesrv
