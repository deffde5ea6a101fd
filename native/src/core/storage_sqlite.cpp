// The SQLite backend of Storage (gamesrv/storage.hpp): one database file in the data
// directory, WAL, synchronous=NORMAL, busy_timeout, foreign keys on, BEGIN IMMEDIATE
// for every write transaction, and a small pool of connections (one per concurrent
// caller). Builds without SQLite (GAMESRV_HAVE_SQLITE=0: neither Debian's libsqlite3 nor
// the amalgamation the Windows lane builds) keep a stub whose open() says so. The read-only query is in
// storage_sqlite_query.cpp.
#include "gamesrv/storage.hpp"

#include "storage_internal.hpp"

#if GAMESRV_HAVE_SQLITE

#include "storage_sqlite.hpp"

#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <limits>
#include <mutex>
#include <utility>

namespace gamesrv {
namespace {

using storage_detail::errmsg;
using storage_detail::StmtGuard;

// Migration i (0-based) takes the schema from version i to i + 1. Never edit one that
// has shipped: add the next.
constexpr const char* kMigrations[] = {
    // 1: players and the checkpoint (with room for issue 16's owner lease).
    "CREATE TABLE players("
    "  id INTEGER PRIMARY KEY,"
    "  name TEXT NOT NULL,"
    "  x REAL NOT NULL,"
    "  y REAL NOT NULL,"
    "  hp INTEGER NOT NULL,"
    "  kills INTEGER NOT NULL,"
    "  online INTEGER NOT NULL DEFAULT 0,"
    "  version INTEGER NOT NULL DEFAULT 0,"
    "  updated_at INTEGER NOT NULL DEFAULT 0);"  // Unix ms
    "CREATE INDEX players_online ON players(online);"
    "CREATE TABLE checkpoint("
    "  id INTEGER PRIMARY KEY CHECK (id = 1),"
    "  seq INTEGER NOT NULL,"
    "  owner TEXT,"
    "  lease_until INTEGER,"
    "  updated_at INTEGER NOT NULL DEFAULT 0);"
    "INSERT INTO checkpoint(id, seq) VALUES (1, 0);",
    // 2: each player row's owner lease (issue 16): the server holding it (NULL: free) and
    // until when (Unix ms, by the clock of whoever wrote it).
    "ALTER TABLE players ADD COLUMN owner TEXT;"
    "ALTER TABLE players ADD COLUMN lease_until_ms INTEGER;"
    "CREATE INDEX players_owner ON players(owner);",
};
static_assert(std::size(kMigrations) == kStorageSchemaVersion, "one migration per schema version");

constexpr const char* kUpsertSql =
    "INSERT INTO players(id, name, x, y, hp, kills, online, version, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) "
    "ON CONFLICT(id) DO UPDATE SET name = excluded.name, x = excluded.x, y = excluded.y, hp = excluded.hp, "
    "kills = excluded.kills, online = excluded.online, version = excluded.version, updated_at = excluded.updated_at";
// flushOwned's row: written when the stored one is free or ?10's and not newer; owned by
// ?10 while online (lease until ?11), free once offline.
constexpr const char* kUpsertOwnedSql =
    "INSERT INTO players(id, name, x, y, hp, kills, online, version, updated_at, owner, lease_until_ms) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, CASE WHEN ?7 <> 0 THEN ?10 END, CASE WHEN ?7 <> 0 THEN ?11 END) "
    "ON CONFLICT(id) DO UPDATE SET name = excluded.name, x = excluded.x, y = excluded.y, hp = excluded.hp, "
    "kills = excluded.kills, online = excluded.online, version = excluded.version, updated_at = excluded.updated_at, "
    "owner = excluded.owner, lease_until_ms = excluded.lease_until_ms "
    "WHERE (players.owner IS NULL OR players.owner = ?10) AND players.version <= excluded.version";
// Only online rows: a lease taken for a login that never came (the session left first)
// runs out instead of being renewed for as long as this server runs.
constexpr const char* kRenewSql = "UPDATE players SET lease_until_ms = ?2 WHERE owner = ?1 AND online <> 0";
constexpr const char* kReleaseSql = "UPDATE players SET owner = NULL, lease_until_ms = NULL WHERE owner = ?1";
constexpr const char* kAcquireSql =
    "UPDATE players SET owner = ?2, lease_until_ms = ?3 WHERE id = ?1 AND "
    "(owner IS NULL OR owner = ?2 OR lease_until_ms IS NULL OR lease_until_ms <= ?4)";
constexpr const char* kRowSql =
    "SELECT id, name, x, y, hp, kills, online, version, updated_at, owner, lease_until_ms FROM players WHERE id = ?1";
constexpr const char* kCheckpointWriteSql = "UPDATE checkpoint SET seq = ?1, updated_at = ?2 WHERE id = 1";

std::int64_t unixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

StorageStatus sqlError(sqlite3* db, const std::string& what) {
  return StorageStatus::failure(StorageErrc::Sql, what + ": " + errmsg(db));
}

// The players row at a statement's current step (columns 0-8 in kRowSql's order).
PlayerRow rowAt(sqlite3_stmt* s) {
  PlayerRow r;
  r.id = sqlite3_column_int64(s, 0);
  const auto* name = reinterpret_cast<const char*>(sqlite3_column_text(s, 1));
  r.name.assign(name != nullptr ? name : "", static_cast<std::size_t>(sqlite3_column_bytes(s, 1)));
  r.x = sqlite3_column_double(s, 2);
  r.y = sqlite3_column_double(s, 3);
  r.hp = sqlite3_column_int64(s, 4);
  r.kills = sqlite3_column_int64(s, 5);
  r.online = sqlite3_column_int64(s, 6) != 0;
  r.version = sqlite3_column_int64(s, 7);
  r.updatedAtMs = sqlite3_column_int64(s, 8);
  return r;
}

// One connection; used by one thread at a time (the pool lends it out whole).
class Connection {
 public:
  explicit Connection(sqlite3* db) : db_(db) {}
  ~Connection() {
    sqlite3_finalize(upsert_);
    sqlite3_finalize(upsertOwned_);
    sqlite3_finalize(checkpointWrite_);
    sqlite3_close_v2(db_);
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  static StorageStatus open(const std::string& path, const StorageConfig& config, std::unique_ptr<Connection>& out) {
    sqlite3* db = nullptr;
    const int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                                   nullptr);
    auto conn = std::make_unique<Connection>(db);  // closes db on every path below
    if (rc != SQLITE_OK) return StorageStatus::failure(StorageErrc::OpenFailed, "cannot open " + path + ": " + errmsg(db));
    sqlite3_busy_timeout(db, static_cast<int>(config.busyTimeout.count()));
    // Defensive: no query can corrupt the file through writable_schema or the like.
    sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, nullptr);
    std::string mode;
    StorageStatus st = conn->queryText("PRAGMA journal_mode=WAL", mode);
    if (st.ok() && mode != "wal") {
      st = StorageStatus::failure(StorageErrc::OpenFailed, "cannot put " + path + " in WAL mode (journal_mode is " + mode + ")");
    }
    if (st.ok()) st = conn->exec("PRAGMA synchronous=NORMAL");
    if (st.ok()) st = conn->exec("PRAGMA foreign_keys=ON");
    if (!st.ok()) return StorageStatus::failure(StorageErrc::OpenFailed, "cannot set up " + path + ": " + st.message);
    out = std::move(conn);
    return StorageStatus::success();
  }

  sqlite3* db() const noexcept { return db_; }

  StorageStatus exec(const char* sql) {
    char* err = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) == SQLITE_OK) return StorageStatus::success();
    std::string message = err != nullptr ? err : errmsg(db_);
    sqlite3_free(err);
    return StorageStatus::failure(StorageErrc::Sql, message);
  }

  StorageStatus queryText(const char* sql, std::string& out) {
    StmtGuard g;
    if (sqlite3_prepare_v2(db_, sql, -1, &g.s, nullptr) != SQLITE_OK) return sqlError(db_, sql);
    const int rc = sqlite3_step(g.s);
    if (rc == SQLITE_ROW) {
      const unsigned char* t = sqlite3_column_text(g.s, 0);
      out = t != nullptr ? reinterpret_cast<const char*>(t) : "";
      return StorageStatus::success();
    }
    return sqlError(db_, sql);
  }

  StorageStatus queryInt(const char* sql, std::int64_t& out) {
    StmtGuard g;
    if (sqlite3_prepare_v2(db_, sql, -1, &g.s, nullptr) != SQLITE_OK) return sqlError(db_, sql);
    if (sqlite3_step(g.s) != SQLITE_ROW) return sqlError(db_, sql);
    out = sqlite3_column_int64(g.s, 0);
    return StorageStatus::success();
  }

  // Runs body() inside BEGIN IMMEDIATE ... COMMIT; rolls back when it or COMMIT fails.
  template <class Body>
  StorageStatus writeTransaction(Body&& body) {
    StorageStatus st = exec("BEGIN IMMEDIATE");
    if (!st.ok()) return StorageStatus::failure(StorageErrc::Sql, "BEGIN IMMEDIATE: " + st.message);
    st = body();
    if (st.ok()) st = exec("COMMIT");
    if (!st.ok() && sqlite3_get_autocommit(db_) == 0) exec("ROLLBACK");
    return st;
  }

  StorageStatus upsert(std::span<const PlayerRow> rows) {
    if (rows.empty()) return StorageStatus::success();
    if (upsert_ == nullptr && sqlite3_prepare_v3(db_, kUpsertSql, -1, SQLITE_PREPARE_PERSISTENT, &upsert_, nullptr) != SQLITE_OK) {
      return sqlError(db_, "preparing the player upsert");
    }
    for (const PlayerRow& r : rows) {
      sqlite3_bind_int64(upsert_, 1, r.id);
      sqlite3_bind_text(upsert_, 2, r.name.data(), static_cast<int>(r.name.size()), SQLITE_STATIC);
      sqlite3_bind_double(upsert_, 3, r.x);
      sqlite3_bind_double(upsert_, 4, r.y);
      sqlite3_bind_int64(upsert_, 5, r.hp);
      sqlite3_bind_int64(upsert_, 6, r.kills);
      sqlite3_bind_int(upsert_, 7, r.online ? 1 : 0);
      sqlite3_bind_int64(upsert_, 8, r.version);
      sqlite3_bind_int64(upsert_, 9, r.updatedAtMs);
      const int rc = sqlite3_step(upsert_);
      sqlite3_reset(upsert_);  // also lets go of the row's name (SQLITE_STATIC)
      if (rc != SQLITE_DONE) return sqlError(db_, "upserting player " + std::to_string(r.id));
    }
    return StorageStatus::success();
  }

  // The owned upsert of one row: `written` says whether the store took it.
  StorageStatus upsertOwned(const PlayerRow& r, const LeaseClaim& claim, std::int64_t leaseUntil, bool& written) {
    if (upsertOwned_ == nullptr &&
        sqlite3_prepare_v3(db_, kUpsertOwnedSql, -1, SQLITE_PREPARE_PERSISTENT, &upsertOwned_, nullptr) != SQLITE_OK) {
      return sqlError(db_, "preparing the owned player upsert");
    }
    sqlite3_bind_int64(upsertOwned_, 1, r.id);
    sqlite3_bind_text(upsertOwned_, 2, r.name.data(), static_cast<int>(r.name.size()), SQLITE_STATIC);
    sqlite3_bind_double(upsertOwned_, 3, r.x);
    sqlite3_bind_double(upsertOwned_, 4, r.y);
    sqlite3_bind_int64(upsertOwned_, 5, r.hp);
    sqlite3_bind_int64(upsertOwned_, 6, r.kills);
    sqlite3_bind_int(upsertOwned_, 7, r.online ? 1 : 0);
    sqlite3_bind_int64(upsertOwned_, 8, r.version);
    sqlite3_bind_int64(upsertOwned_, 9, r.updatedAtMs);
    sqlite3_bind_text(upsertOwned_, 10, claim.owner.data(), static_cast<int>(claim.owner.size()), SQLITE_STATIC);
    sqlite3_bind_int64(upsertOwned_, 11, leaseUntil);
    const int rc = sqlite3_step(upsertOwned_);
    sqlite3_reset(upsertOwned_);
    if (rc != SQLITE_DONE) return sqlError(db_, "upserting player " + std::to_string(r.id));
    written = sqlite3_changes(db_) == 1;
    return StorageStatus::success();
  }

  // Runs `sql` with ?1 = owner and, when given, ?2 = an integer; `changed` gets the rows it touched.
  StorageStatus ownerUpdate(const char* sql, const std::string& owner, std::optional<std::int64_t> second, std::size_t& changed) {
    StmtGuard g;
    if (sqlite3_prepare_v2(db_, sql, -1, &g.s, nullptr) != SQLITE_OK) return sqlError(db_, sql);
    sqlite3_bind_text(g.s, 1, owner.data(), static_cast<int>(owner.size()), SQLITE_STATIC);
    if (second) sqlite3_bind_int64(g.s, 2, *second);
    if (sqlite3_step(g.s) != SQLITE_DONE) return sqlError(db_, sql);
    changed = static_cast<std::size_t>(sqlite3_changes(db_));
    return StorageStatus::success();
  }

  // One id's acquire, inside the caller's write transaction.
  StorageStatus acquireOne(std::int64_t id, const LeaseClaim& claim, std::int64_t now, PlayerLease& out) {
    out = PlayerLease{};
    out.id = id;
    {
      StmtGuard g;
      if (sqlite3_prepare_v2(db_, kAcquireSql, -1, &g.s, nullptr) != SQLITE_OK) return sqlError(db_, "preparing the acquire");
      sqlite3_bind_int64(g.s, 1, id);
      sqlite3_bind_text(g.s, 2, claim.owner.data(), static_cast<int>(claim.owner.size()), SQLITE_STATIC);
      sqlite3_bind_int64(g.s, 3, now + claim.length.count());
      sqlite3_bind_int64(g.s, 4, now);
      if (sqlite3_step(g.s) != SQLITE_DONE) return sqlError(db_, "acquiring player " + std::to_string(id));
    }
    const bool took = sqlite3_changes(db_) == 1;
    StmtGuard g;
    if (sqlite3_prepare_v2(db_, kRowSql, -1, &g.s, nullptr) != SQLITE_OK) return sqlError(db_, "preparing the row read");
    sqlite3_bind_int64(g.s, 1, id);
    const int rc = sqlite3_step(g.s);
    if (rc == SQLITE_DONE) {  // not stored yet: nobody holds it
      out.acquired = true;
      return StorageStatus::success();
    }
    if (rc != SQLITE_ROW) return sqlError(db_, "reading player " + std::to_string(id));
    if (took) {
      out.acquired = true;
      out.row = rowAt(g.s);
    } else {
      const auto* owner = reinterpret_cast<const char*>(sqlite3_column_text(g.s, 9));
      out.heldBy = owner != nullptr ? owner : "";
      out.heldUntilMs = sqlite3_column_int64(g.s, 10);
    }
    return StorageStatus::success();
  }

  StorageStatus checkpoint(std::uint64_t seq) {
    if (seq > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
      return StorageStatus::failure(StorageErrc::Sql, "checkpoint seq " + std::to_string(seq) + " does not fit a 64-bit signed integer");
    }
    if (checkpointWrite_ == nullptr &&
        sqlite3_prepare_v3(db_, kCheckpointWriteSql, -1, SQLITE_PREPARE_PERSISTENT, &checkpointWrite_, nullptr) != SQLITE_OK) {
      return sqlError(db_, "preparing the checkpoint write");
    }
    sqlite3_bind_int64(checkpointWrite_, 1, static_cast<std::int64_t>(seq));
    sqlite3_bind_int64(checkpointWrite_, 2, unixMs());
    const int rc = sqlite3_step(checkpointWrite_);
    sqlite3_reset(checkpointWrite_);
    if (rc != SQLITE_DONE) return sqlError(db_, "writing the checkpoint");
    if (sqlite3_changes(db_) != 1) return StorageStatus::failure(StorageErrc::Sql, "the checkpoint row is missing");
    return StorageStatus::success();
  }

  StorageStatus migrate() {
    return writeTransaction([&]() -> StorageStatus {
      StorageStatus st = exec("CREATE TABLE IF NOT EXISTS schema_migrations(version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)");
      if (!st.ok()) return st;
      std::int64_t current = 0;
      st = queryInt("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", current);
      if (!st.ok()) return st;
      if (current > kStorageSchemaVersion) {
        return StorageStatus::failure(StorageErrc::OpenFailed, "the database's schema version " + std::to_string(current) +
                                                                   " is newer than this build's (" +
                                                                   std::to_string(kStorageSchemaVersion) + ")");
      }
      for (std::int64_t v = current + 1; v <= kStorageSchemaVersion; ++v) {
        st = exec(kMigrations[v - 1]);
        if (!st.ok()) return StorageStatus::failure(StorageErrc::OpenFailed, "migration " + std::to_string(v) + ": " + st.message);
        const std::string record = "INSERT INTO schema_migrations(version, applied_at) VALUES (" + std::to_string(v) +
                                   ", " + std::to_string(unixMs()) + ")";
        st = exec(record.c_str());
        if (!st.ok()) return st;
      }
      return StorageStatus::success();
    });
  }

 private:
  sqlite3* db_;
  sqlite3_stmt* upsert_ = nullptr;           // prepared on first use
  sqlite3_stmt* upsertOwned_ = nullptr;      // prepared on first use
  sqlite3_stmt* checkpointWrite_ = nullptr;  // prepared on first use
};

class SqliteStorage final : public Storage {
 public:
  ~SqliteStorage() override { close(); }

  StorageStatus open(const StorageConfig& config) override {
    {
      std::lock_guard lock(mu_);
      if (open_ || opening_) return StorageStatus::failure(StorageErrc::OpenFailed, "the store is already open");
      opening_ = true;
    }
    std::unique_ptr<Connection> first;
    const std::string path = (std::filesystem::path(config.dataDir) / config.fileName).string();
    StorageStatus st = storage_detail::prepareDataDir(config.dataDir);
    if (st.ok()) st = Connection::open(path, config, first);
    if (st.ok()) {
      st = first->migrate();
      if (!st.ok()) st = StorageStatus::failure(StorageErrc::OpenFailed, "migrating " + path + ": " + st.message);
    }
    std::lock_guard lock(mu_);
    opening_ = false;
    if (!st.ok()) return st;
    config_ = config;
    if (config_.maxConnections == 0) config_.maxConnections = 1;
    path_ = path;
    idle_.reserve(config_.maxConnections);  // giveBack() then never allocates
    idle_.push_back(std::move(first));
    count_ = 1;
    open_ = true;
    closing_ = false;
    return st;
  }

  void close() override {
    std::vector<std::unique_ptr<Connection>> closing;
    {
      std::unique_lock lock(mu_);
      if (!open_) return;
      closing_ = true;
      cv_.notify_all();
      cv_.wait(lock, [&] { return count_ == idle_.size(); });  // every lent connection is back
      closing.swap(idle_);
      count_ = 0;
      open_ = false;
      closing_ = false;
    }
    // The connections close here, outside the lock; the last one checkpoints the WAL.
  }

  const char* backendName() const noexcept override { return "sqlite"; }

  std::string location() const override {
    std::lock_guard lock(mu_);
    return path_;
  }

  StorageStatus schemaVersion(int& version) override {
    return withConnection([&](Connection& c) {
      std::int64_t v = 0;
      StorageStatus st = c.queryInt("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", v);
      if (st.ok()) version = static_cast<int>(v);
      return st;
    });
  }

  StorageStatus loadPlayers(std::vector<PlayerRow>& out) override {
    return withConnection([&](Connection& c) {
      StmtGuard g;
      if (sqlite3_prepare_v2(c.db(), "SELECT id, name, x, y, hp, kills, online, version, updated_at FROM players ORDER BY id",
                             -1, &g.s, nullptr) != SQLITE_OK) {
        return sqlError(c.db(), "loading players");
      }
      std::vector<PlayerRow> rows;
      int rc;
      while ((rc = sqlite3_step(g.s)) == SQLITE_ROW) rows.push_back(rowAt(g.s));
      if (rc != SQLITE_DONE) return sqlError(c.db(), "loading players");
      out = std::move(rows);
      return StorageStatus::success();
    });
  }

  StorageStatus upsertPlayers(std::span<const PlayerRow> rows) override { return flush(rows, std::nullopt); }

  StorageStatus flush(std::span<const PlayerRow> rows, std::optional<std::uint64_t> checkpointSeq) override {
    return withConnection([&](Connection& c) {
      return c.writeTransaction([&] {
        StorageStatus st = c.upsert(rows);
        if (st.ok() && checkpointSeq) st = c.checkpoint(*checkpointSeq);
        return st;
      });
    });
  }

  StorageStatus writeCheckpoint(std::uint64_t seq) override { return flush({}, seq); }

  StorageStatus readCheckpoint(std::uint64_t& seq) override {
    return withConnection([&](Connection& c) {
      std::int64_t v = 0;
      StorageStatus st = c.queryInt("SELECT seq FROM checkpoint WHERE id = 1", v);
      if (st.ok()) seq = static_cast<std::uint64_t>(v);
      return st;
    });
  }

  StorageStatus acquire(std::span<const std::int64_t> ids, const LeaseClaim& claim, AcquireResult& out) override {
    if (claim.owner.empty()) return StorageStatus::failure(StorageErrc::BadParams, "acquire: no owner name");
    return withConnection([&](Connection& c) {
      AcquireResult result;
      result.storeNowMs = unixMs();
      result.leases.resize(ids.size());
      StorageStatus st = c.writeTransaction([&] {
        for (std::size_t i = 0; i < ids.size(); ++i) {
          StorageStatus one = c.acquireOne(ids[i], claim, result.storeNowMs, result.leases[i]);
          if (!one.ok()) return one;
        }
        return StorageStatus::success();
      });
      if (st.ok()) out = std::move(result);
      return st;
    });
  }

  StorageStatus flushOwned(std::span<const PlayerRow> rows, std::optional<std::uint64_t> checkpointSeq,
                           const LeaseClaim& claim, FlushOutcome& out) override {
    if (claim.owner.empty()) return StorageStatus::failure(StorageErrc::BadParams, "flushOwned: no owner name");
    return withConnection([&](Connection& c) {
      FlushOutcome outcome;
      const std::int64_t leaseUntil = unixMs() + claim.length.count();
      StorageStatus st = c.writeTransaction([&] {
        for (const PlayerRow& r : rows) {
          bool written = false;
          StorageStatus one = c.upsertOwned(r, claim, leaseUntil, written);
          if (!one.ok()) return one;
          if (written) ++outcome.written;
          else outcome.refused.push_back(r.id);
        }
        StorageStatus renew = c.ownerUpdate(kRenewSql, claim.owner, leaseUntil, outcome.renewed);
        if (renew.ok() && checkpointSeq) renew = c.checkpoint(*checkpointSeq);
        return renew;
      });
      if (st.ok()) out = std::move(outcome);
      return st;
    });
  }

  StorageStatus release(const std::string& owner, std::size_t& released) override {
    return withConnection([&](Connection& c) {
      return c.writeTransaction([&] { return c.ownerUpdate(kReleaseSql, owner, std::nullopt, released); });
    });
  }

  QueryResult query(std::string_view sql, std::span<const DbValue> params, const QueryOptions& options) override {
    const auto t0 = std::chrono::steady_clock::now();
    QueryResult r;
    r.status = withConnection([&](Connection& c) { return storage_detail::runReadOnlyQuery(c.db(), sql, params, options, r); });
    if (!r.status.ok()) {
      r.columns.clear();
      r.rows.clear();
      r.truncated = false;
    }
    r.rowCount = r.rows.size();
    r.latencyUs = static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0).count());
    return r;
  }

 private:
  // Lends the caller a connection for body(connection) and takes it back after.
  template <class Body>
  StorageStatus withConnection(Body&& body) {
    std::unique_ptr<Connection> conn;
    std::string path;
    StorageConfig config;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return !open_ || closing_ || !idle_.empty() || count_ < config_.maxConnections; });
      if (!open_ || closing_) return StorageStatus::failure(StorageErrc::Closed, "the store is not open");
      if (!idle_.empty()) {
        conn = std::move(idle_.back());
        idle_.pop_back();
      } else {
        ++count_;  // a connection being opened counts, so close() waits for it
        path = path_;
        config = config_;
      }
    }
    if (!conn) {
      StorageStatus st = Connection::open(path, config, conn);
      if (!st.ok()) {
        std::lock_guard lock(mu_);
        --count_;
        cv_.notify_all();
        return st;
      }
    }
    // Given back however body() ends (even by bad_alloc), or close() would wait forever.
    struct GiveBack {
      SqliteStorage& self;
      std::unique_ptr<Connection>& conn;
      ~GiveBack() { self.giveBack(std::move(conn)); }
    } giveBack{*this, conn};
    return body(*conn);
  }

  void giveBack(std::unique_ptr<Connection> conn) noexcept {
    // A connection left inside a transaction is not lent again.
    if (sqlite3_get_autocommit(conn->db()) == 0 && !conn->exec("ROLLBACK").ok()) conn.reset();
    std::lock_guard lock(mu_);
    if (conn) {
      idle_.push_back(std::move(conn));  // within the capacity open() reserved
    } else {
      --count_;
    }
    cv_.notify_all();
  }

  mutable std::mutex mu_;
  std::condition_variable cv_;  // a connection came back, or close() began
  bool open_ = false;           // guarded by mu_
  bool opening_ = false;        // guarded by mu_
  bool closing_ = false;        // guarded by mu_
  std::size_t count_ = 0;       // guarded by mu_: connections that exist (idle, lent or being opened)
  std::vector<std::unique_ptr<Connection>> idle_;  // guarded by mu_
  StorageConfig config_;        // guarded by mu_
  std::string path_;            // guarded by mu_
};

}  // namespace

bool sqliteStorageBuilt() noexcept { return true; }
std::unique_ptr<Storage> makeSqliteStorage() { return std::make_unique<SqliteStorage>(); }

}  // namespace gamesrv

#else  // !GAMESRV_HAVE_SQLITE

namespace gamesrv {
namespace {

class SqliteNotBuilt final : public Storage {
 public:
  StorageStatus open(const StorageConfig&) override { return notBuilt(); }
  void close() override {}
  const char* backendName() const noexcept override { return "sqlite"; }
  std::string location() const override { return {}; }
  StorageStatus schemaVersion(int&) override { return notBuilt(); }
  StorageStatus loadPlayers(std::vector<PlayerRow>&) override { return notBuilt(); }
  StorageStatus upsertPlayers(std::span<const PlayerRow>) override { return notBuilt(); }
  StorageStatus flush(std::span<const PlayerRow>, std::optional<std::uint64_t>) override { return notBuilt(); }
  StorageStatus writeCheckpoint(std::uint64_t) override { return notBuilt(); }
  StorageStatus readCheckpoint(std::uint64_t&) override { return notBuilt(); }
  StorageStatus acquire(std::span<const std::int64_t>, const LeaseClaim&, AcquireResult&) override { return notBuilt(); }
  StorageStatus flushOwned(std::span<const PlayerRow>, std::optional<std::uint64_t>, const LeaseClaim&, FlushOutcome&) override {
    return notBuilt();
  }
  StorageStatus release(const std::string&, std::size_t&) override { return notBuilt(); }
  QueryResult query(std::string_view, std::span<const DbValue>, const QueryOptions&) override {
    QueryResult r;
    r.status = notBuilt();
    return r;
  }

 private:
  static StorageStatus notBuilt() {
    return StorageStatus::failure(StorageErrc::NotBuilt, "SQLite backend not built (this build found no SQLite library)");
  }
};

}  // namespace

bool sqliteStorageBuilt() noexcept { return false; }
std::unique_ptr<Storage> makeSqliteStorage() { return std::make_unique<SqliteNotBuilt>(); }

}  // namespace gamesrv

#endif
