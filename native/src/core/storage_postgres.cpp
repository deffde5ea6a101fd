// The PostgreSQL backend of Storage (gamesrv/storage.hpp), over libpq: a small pool of
// connections (one per concurrent caller, at most StorageConfig::maxConnections),
// prepared statements on each, batched upserts as one multi-row `unnest` statement per
// chunk (binary arrays) inside one transaction, and the same schema versions as the SQLite backend
// (schema_migrations; an advisory lock held by the migrating transaction makes two
// servers opening one database at once apply each migration once). Builds without
// libpq (Windows, or libpq-dev missing) keep a stub whose open() says so. The read-only
// query is in storage_postgres_query.cpp.
#include "gamesrv/storage.hpp"

#if GAMESRV_HAVE_LIBPQ

#include <algorithm>
#include <bit>
#include <charconv>
#include <condition_variable>
#include <cstring>
#include <limits>
#include <mutex>
#include <unordered_map>
#include <utility>

#include "storage_postgres.hpp"

namespace gamesrv {
namespace {

using storage_detail::PgResult;
using storage_detail::pgMessage;

// Migration i (0-based) takes the schema from version i to i + 1; the same versions,
// tables and columns as the SQLite backend's (storage_sqlite.cpp), in PostgreSQL's
// types. `online` stays an integer so that the chapter's `WHERE online = 1` reads the
// same on both. Never edit one that has shipped: add the next.
constexpr const char* kMigrations[] = {
    // 1: players and the checkpoint (with room for issue 16's owner lease).
    "CREATE TABLE players("
    "  id BIGINT PRIMARY KEY,"
    "  name TEXT NOT NULL,"
    "  x DOUBLE PRECISION NOT NULL,"
    "  y DOUBLE PRECISION NOT NULL,"
    "  hp BIGINT NOT NULL,"
    "  kills BIGINT NOT NULL,"
    "  online INTEGER NOT NULL DEFAULT 0,"
    "  version BIGINT NOT NULL DEFAULT 0,"
    "  updated_at BIGINT NOT NULL DEFAULT 0);"  // Unix ms
    "CREATE INDEX players_online ON players(online);"
    "CREATE TABLE checkpoint("
    "  id INTEGER PRIMARY KEY CHECK (id = 1),"
    "  seq BIGINT NOT NULL,"
    "  owner TEXT,"
    "  lease_until BIGINT,"
    "  updated_at BIGINT NOT NULL DEFAULT 0);"
    "INSERT INTO checkpoint(id, seq) VALUES (1, 0);",
};
static_assert(std::size(kMigrations) == kStorageSchemaVersion, "one migration per schema version");

// The key of the advisory lock the migrating transaction holds ("gamesrv1" in ASCII).
constexpr const char* kMigrationLockKey = "7449346926263234097";
// Rows per upsert statement: each is one set of nine array parameters (~0.7 MB at this
// size); a larger batch is several statements in the same transaction.
constexpr std::size_t kUpsertChunkRows = 10'000;
// The oldest server with everything used here (ON CONFLICT, single-row mode, SET LOCAL).
constexpr int kOldestServer = 100000;

// Element type OIDs from PostgreSQL's catalog (pg_type.dat): fixed since the types exist.
constexpr Oid kInt8 = 20;
constexpr Oid kInt4 = 23;
constexpr Oid kText = 25;
constexpr Oid kFloat8 = 701;

constexpr const char* kUpsertName = "gs_upsert_players";
constexpr const char* kUpsertSql =
    "INSERT INTO players(id, name, x, y, hp, kills, online, version, updated_at) "
    "SELECT * FROM unnest($1::bigint[], $2::text[], $3::float8[], $4::float8[], $5::bigint[], $6::bigint[], "
    "$7::integer[], $8::bigint[], $9::bigint[]) "
    "ON CONFLICT (id) DO UPDATE SET name = excluded.name, x = excluded.x, y = excluded.y, hp = excluded.hp, "
    "kills = excluded.kills, online = excluded.online, version = excluded.version, updated_at = excluded.updated_at";
constexpr const char* kCheckpointWriteName = "gs_checkpoint_write";
constexpr const char* kCheckpointWriteSql = "UPDATE checkpoint SET seq = $1, updated_at = $2 WHERE id = 1";
constexpr const char* kLoadName = "gs_load_players";
constexpr const char* kLoadSql = "SELECT id, name, x, y, hp, kills, online, version, updated_at FROM players ORDER BY id";

std::int64_t unixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

StorageStatus sqlError(const PGresult* r, PGconn* conn, const std::string& what) {
  return StorageStatus::failure(StorageErrc::Sql, what + ": " + pgMessage(r, conn));
}

// One upsert parameter in PostgreSQL's binary array format (array_recv): one dimension,
// no NULLs, elements in network byte order. Binary, not text: the server parses no
// numbers, and doubles travel bit for bit.
class BinaryArray {
 public:
  BinaryArray(Oid elementType, std::size_t count) {
    bytes_.reserve(20 + count * 12);
    put32(1);  // dimensions
    put32(0);  // no NULLs
    put32(elementType);
    put32(static_cast<std::uint32_t>(count));
    put32(1);  // lower bound
  }
  void putInt64(std::int64_t v) {
    put32(8);
    put64(static_cast<std::uint64_t>(v));
  }
  void putInt32(std::int32_t v) {
    put32(4);
    put32(static_cast<std::uint32_t>(v));
  }
  void putDouble(double v) {
    put32(8);
    put64(std::bit_cast<std::uint64_t>(v));
  }
  void putText(const std::string& s) {
    put32(static_cast<std::uint32_t>(s.size()));
    bytes_.append(s);
  }
  const std::string& bytes() const noexcept { return bytes_; }

 private:
  void put32(std::uint32_t v) {
    for (int shift = 24; shift >= 0; shift -= 8) bytes_.push_back(static_cast<char>((v >> shift) & 0xff));
  }
  void put64(std::uint64_t v) {
    put32(static_cast<std::uint32_t>(v >> 32));
    put32(static_cast<std::uint32_t>(v));
  }
  std::string bytes_;
};

bool parseInt(const char* text, std::int64_t& v) {
  const char* end = text + std::strlen(text);
  const auto [p, ec] = std::from_chars(text, end, v);
  return ec == std::errc() && p == end;
}
bool parseDouble(const char* text, double& v) {
  const char* end = text + std::strlen(text);
  const auto [p, ec] = std::from_chars(text, end, v);
  return ec == std::errc() && p == end;
}

// `postgres://user@host:port/db` from a URL or connection string, without its password
// (an unparsable one gives only what it is, never the text: it may hold the password).
std::string describeUrl(const std::string& url) {
  char* err = nullptr;
  PQconninfoOption* opts = PQconninfoParse(url.c_str(), &err);
  PQfreemem(err);
  if (opts == nullptr) return "postgres://(unparsable URL)";
  std::string user, host, port, db;
  for (PQconninfoOption* o = opts; o->keyword != nullptr; ++o) {
    if (o->val == nullptr) continue;
    const std::string k = o->keyword;
    if (k == "user") user = o->val;
    else if (k == "host") host = o->val;
    else if (k == "hostaddr" && host.empty()) host = o->val;
    else if (k == "port") port = o->val;
    else if (k == "dbname") db = o->val;
  }
  PQconninfoFree(opts);
  return "postgres://" + (user.empty() ? "" : user + "@") + host + (port.empty() ? "" : ":" + port) + "/" + db;
}

// One connection; used by one thread at a time (the pool lends it out whole).
class Connection {
 public:
  explicit Connection(PGconn* conn) : conn_(conn) {}
  ~Connection() {
    PQfreeCancel(cancel_);
    PQfinish(conn_);
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  static StorageStatus open(const StorageConfig& config, const std::string& where, std::unique_ptr<Connection>& out) {
    // Earlier keywords are defaults the URL may override; later ones override the URL.
    const char* keys[] = {"connect_timeout", "fallback_application_name", "dbname", "client_encoding", nullptr};
    const char* values[] = {"10", "gamesrv", config.url.c_str(), "UTF8", nullptr};
    auto conn = std::make_unique<Connection>(PQconnectdbParams(keys, values, 1));
    if (conn->conn_ == nullptr || PQstatus(conn->conn_) != CONNECTION_OK) {
      return StorageStatus::failure(StorageErrc::OpenFailed, "cannot connect to " + where + ": " + pgMessage(nullptr, conn->conn_));
    }
    if (PQserverVersion(conn->conn_) < kOldestServer) {
      return StorageStatus::failure(StorageErrc::OpenFailed, where + " runs PostgreSQL " + std::to_string(PQserverVersion(conn->conn_)) +
                                                                 "; gamesrv needs 10 or newer");
    }
    // Floats as text that reads back exactly; how long a write waits for a row lock; no
    // NOTICEs (libpq would print them on stderr).
    const std::string setup = "SET extra_float_digits = 3; SET client_min_messages = warning; SET lock_timeout = " +
                              std::to_string(config.busyTimeout.count());
    StorageStatus st = conn->exec(setup.c_str());
    if (st.ok()) {
      conn->cancel_ = PQgetCancel(conn->conn_);
      if (conn->cancel_ == nullptr) st = StorageStatus::failure(StorageErrc::OpenFailed, "no cancel handle for the connection");
    }
    if (!st.ok()) return StorageStatus::failure(StorageErrc::OpenFailed, "cannot set up the connection to " + where + ": " + st.message);
    out = std::move(conn);
    return StorageStatus::success();
  }

  PGconn* conn() const noexcept { return conn_; }
  PGcancel* cancel() const noexcept { return cancel_; }
  // Whether the connection can be lent again: alive and outside any transaction.
  bool reusable() {
    if (PQstatus(conn_) != CONNECTION_OK) return false;
    PGTransactionStatusType t = PQtransactionStatus(conn_);
    if (t == PQTRANS_INTRANS || t == PQTRANS_INERROR) {
      exec("ROLLBACK");
      t = PQtransactionStatus(conn_);
    }
    return t == PQTRANS_IDLE;
  }

  StorageStatus exec(const char* sql) {
    const PgResult r(PQexec(conn_, sql));
    if (r.status() == PGRES_COMMAND_OK || r.status() == PGRES_TUPLES_OK) return StorageStatus::success();
    return StorageStatus::failure(StorageErrc::Sql, pgMessage(r.r, conn_));
  }

  StorageStatus queryInt(const char* sql, std::int64_t& out) {
    const PgResult r(PQexec(conn_, sql));
    if (r.status() != PGRES_TUPLES_OK || PQntuples(r.r) != 1 || PQnfields(r.r) < 1) return sqlError(r.r, conn_, sql);
    if (!parseInt(PQgetvalue(r.r, 0, 0), out)) {
      return StorageStatus::failure(StorageErrc::Sql, std::string(sql) + ": not an integer: " + PQgetvalue(r.r, 0, 0));
    }
    return StorageStatus::success();
  }

  // Runs body() inside BEGIN ... COMMIT; rolls back when it or COMMIT fails.
  template <class Body>
  StorageStatus writeTransaction(Body&& body) {
    StorageStatus st = exec("BEGIN");
    if (!st.ok()) return StorageStatus::failure(StorageErrc::Sql, "BEGIN: " + st.message);
    st = body();
    if (st.ok()) {
      st = exec("COMMIT");
      if (!st.ok()) st = StorageStatus::failure(StorageErrc::Sql, "COMMIT: " + st.message);
    }
    if (!st.ok() && PQtransactionStatus(conn_) != PQTRANS_IDLE) exec("ROLLBACK");
    return st;
  }

  // Prepares `sql` under `name` on this connection the first time it is used.
  StorageStatus prepared(const char* name, const char* sql, int params, bool& done) {
    if (done) return StorageStatus::success();
    const PgResult r(PQprepare(conn_, name, sql, params, nullptr));
    if (r.status() != PGRES_COMMAND_OK) return sqlError(r.r, conn_, std::string("preparing ") + name);
    done = true;
    return StorageStatus::success();
  }

  StorageStatus upsert(std::span<const PlayerRow> rows) {
    if (rows.empty()) return StorageStatus::success();
    StorageStatus st = prepared(kUpsertName, kUpsertSql, 9, upsertPrepared_);
    if (!st.ok()) return st;
    // ON CONFLICT cannot touch one row twice in a statement: a player given twice
    // keeps its last row, as one upsert after another would leave it.
    std::vector<PlayerRow> unique;
    std::span<const PlayerRow> batch = rows;
    {
      std::unordered_map<std::int64_t, std::size_t> last;
      last.reserve(rows.size());
      for (std::size_t i = 0; i < rows.size(); ++i) last[rows[i].id] = i;
      if (last.size() != rows.size()) {
        unique.reserve(last.size());
        for (std::size_t i = 0; i < rows.size(); ++i)
          if (last[rows[i].id] == i) unique.push_back(rows[i]);
        batch = unique;
      }
    }
    for (std::size_t at = 0; at < batch.size(); at += kUpsertChunkRows) {
      st = upsertChunk(batch.subspan(at, std::min(kUpsertChunkRows, batch.size() - at)));
      if (!st.ok()) return st;
    }
    return StorageStatus::success();
  }

  StorageStatus checkpoint(std::uint64_t seq) {
    if (seq > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
      return StorageStatus::failure(StorageErrc::Sql, "checkpoint seq " + std::to_string(seq) + " does not fit a 64-bit signed integer");
    }
    StorageStatus st = prepared(kCheckpointWriteName, kCheckpointWriteSql, 2, checkpointPrepared_);
    if (!st.ok()) return st;
    const std::string seqText = std::to_string(seq);
    const std::string now = std::to_string(unixMs());
    const char* values[] = {seqText.c_str(), now.c_str()};
    const PgResult r(PQexecPrepared(conn_, kCheckpointWriteName, 2, values, nullptr, nullptr, 0));
    if (r.status() != PGRES_COMMAND_OK) return sqlError(r.r, conn_, "writing the checkpoint");
    if (std::string(PQcmdTuples(r.r)) != "1") return StorageStatus::failure(StorageErrc::Sql, "the checkpoint row is missing");
    return StorageStatus::success();
  }

  StorageStatus load(std::vector<PlayerRow>& out) {
    StorageStatus st = prepared(kLoadName, kLoadSql, 0, loadPrepared_);
    if (!st.ok()) return st;
    const PgResult r(PQexecPrepared(conn_, kLoadName, 0, nullptr, nullptr, nullptr, 0));
    if (r.status() != PGRES_TUPLES_OK || PQnfields(r.r) != 9) return sqlError(r.r, conn_, "loading players");
    const int n = PQntuples(r.r);
    std::vector<PlayerRow> rows(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) {
      PlayerRow& p = rows[static_cast<std::size_t>(i)];
      std::int64_t online = 0;
      const bool ok = parseInt(PQgetvalue(r.r, i, 0), p.id) && parseDouble(PQgetvalue(r.r, i, 2), p.x) &&
                      parseDouble(PQgetvalue(r.r, i, 3), p.y) && parseInt(PQgetvalue(r.r, i, 4), p.hp) &&
                      parseInt(PQgetvalue(r.r, i, 5), p.kills) && parseInt(PQgetvalue(r.r, i, 6), online) &&
                      parseInt(PQgetvalue(r.r, i, 7), p.version) && parseInt(PQgetvalue(r.r, i, 8), p.updatedAtMs);
      if (!ok) return StorageStatus::failure(StorageErrc::Sql, "loading players: row " + std::to_string(i) + " does not parse");
      p.name.assign(PQgetvalue(r.r, i, 1), static_cast<std::size_t>(PQgetlength(r.r, i, 1)));
      p.online = online != 0;
    }
    out = std::move(rows);
    return StorageStatus::success();
  }

  StorageStatus migrate() {
    return writeTransaction([&]() -> StorageStatus {
      StorageStatus st = exec((std::string("SELECT pg_advisory_xact_lock(") + kMigrationLockKey + ")").c_str());
      if (st.ok()) st = exec("CREATE TABLE IF NOT EXISTS schema_migrations(version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)");
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
  StorageStatus upsertChunk(std::span<const PlayerRow> rows) {
    const std::size_t n = rows.size();
    BinaryArray ids(kInt8, n), names(kText, n), xs(kFloat8, n), ys(kFloat8, n), hps(kInt8, n), kills(kInt8, n),
        online(kInt4, n), versions(kInt8, n), updated(kInt8, n);
    for (const PlayerRow& r : rows) {
      ids.putInt64(r.id);
      names.putText(r.name);
      xs.putDouble(r.x);
      ys.putDouble(r.y);
      hps.putInt64(r.hp);
      kills.putInt64(r.kills);
      online.putInt32(r.online ? 1 : 0);
      versions.putInt64(r.version);
      updated.putInt64(r.updatedAtMs);
    }
    const BinaryArray* arrays[] = {&ids, &names, &xs, &ys, &hps, &kills, &online, &versions, &updated};
    const char* values[9];
    int lengths[9];
    int formats[9];
    for (int i = 0; i < 9; ++i) {
      values[i] = arrays[i]->bytes().data();
      lengths[i] = static_cast<int>(arrays[i]->bytes().size());
      formats[i] = 1;
    }
    const PgResult r(PQexecPrepared(conn_, kUpsertName, 9, values, lengths, formats, 0));
    if (r.status() != PGRES_COMMAND_OK) return sqlError(r.r, conn_, "upserting " + std::to_string(rows.size()) + " players");
    return StorageStatus::success();
  }

  PGconn* conn_;
  PGcancel* cancel_ = nullptr;
  bool upsertPrepared_ = false;
  bool checkpointPrepared_ = false;
  bool loadPrepared_ = false;
};

class PostgresStorage final : public Storage {
 public:
  ~PostgresStorage() override { close(); }

  StorageStatus open(const StorageConfig& config) override {
    {
      std::lock_guard lock(mu_);
      if (open_ || opening_) return StorageStatus::failure(StorageErrc::OpenFailed, "the store is already open");
      opening_ = true;
    }
    const std::string where = describeUrl(config.url);
    std::unique_ptr<Connection> first;
    StorageStatus st = config.url.empty() ? StorageStatus::failure(StorageErrc::OpenFailed, "no PostgreSQL URL given (postgres://user@host:port/db)")
                                          : Connection::open(config, where, first);
    if (st.ok()) {
      st = first->migrate();
      if (!st.ok()) st = StorageStatus::failure(StorageErrc::OpenFailed, "migrating " + where + ": " + st.message);
    }
    std::lock_guard lock(mu_);
    opening_ = false;
    if (!st.ok()) return st;
    config_ = config;
    if (config_.maxConnections == 0) config_.maxConnections = 1;
    // What the connection reached (libpq's defaults filled in), still without a password.
    PGconn* c = first->conn();
    location_ = std::string("postgres://") + PQuser(c) + "@" + PQhost(c) + ":" + PQport(c) + "/" + PQdb(c);
    where_ = where;
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
    // The connections close here, outside the lock.
  }

  const char* backendName() const noexcept override { return "postgres"; }

  std::string location() const override {
    std::lock_guard lock(mu_);
    return location_;
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
    return withConnection([&](Connection& c) { return c.load(out); });
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

  QueryResult query(std::string_view sql, std::span<const DbValue> params, const QueryOptions& options) override {
    const auto t0 = std::chrono::steady_clock::now();
    QueryResult r;
    r.status = withConnection(
        [&](Connection& c) { return storage_detail::runPgReadOnlyQuery(c.conn(), c.cancel(), sql, params, options, r); });
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
    StorageConfig config;
    std::string where;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return !open_ || closing_ || !idle_.empty() || count_ < config_.maxConnections; });
      if (!open_ || closing_) return StorageStatus::failure(StorageErrc::Closed, "the store is not open");
      if (!idle_.empty()) {
        conn = std::move(idle_.back());
        idle_.pop_back();
      } else {
        ++count_;  // a connection being opened counts, so close() waits for it
        config = config_;
        where = where_;
      }
    }
    if (!conn) {
      StorageStatus st = Connection::open(config, where, conn);
      if (!st.ok()) {
        std::lock_guard lock(mu_);
        --count_;
        cv_.notify_all();
        return st;
      }
    }
    // Given back however body() ends (even by bad_alloc), or close() would wait forever.
    struct GiveBack {
      PostgresStorage& self;
      std::unique_ptr<Connection>& conn;
      ~GiveBack() { self.giveBack(std::move(conn)); }
    } giveBack{*this, conn};
    return body(*conn);
  }

  void giveBack(std::unique_ptr<Connection> conn) noexcept {
    // A broken connection, or one the server left in a transaction, is closed, not lent
    // again; the next caller opens a fresh one (a restarted server heals this way).
    if (!conn->reusable()) conn.reset();
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
  std::string location_;        // guarded by mu_: where the first connection went
  std::string where_;           // guarded by mu_: the URL without its password, for messages
};

}  // namespace

bool postgresStorageBuilt() noexcept { return true; }
std::unique_ptr<Storage> makePostgresStorage() { return std::make_unique<PostgresStorage>(); }

}  // namespace gamesrv

#else  // !GAMESRV_HAVE_LIBPQ

namespace gamesrv {
namespace {

class PostgresNotBuilt final : public Storage {
 public:
  StorageStatus open(const StorageConfig&) override { return notBuilt(); }
  void close() override {}
  const char* backendName() const noexcept override { return "postgres"; }
  std::string location() const override { return {}; }
  StorageStatus schemaVersion(int&) override { return notBuilt(); }
  StorageStatus loadPlayers(std::vector<PlayerRow>&) override { return notBuilt(); }
  StorageStatus upsertPlayers(std::span<const PlayerRow>) override { return notBuilt(); }
  StorageStatus flush(std::span<const PlayerRow>, std::optional<std::uint64_t>) override { return notBuilt(); }
  StorageStatus writeCheckpoint(std::uint64_t) override { return notBuilt(); }
  StorageStatus readCheckpoint(std::uint64_t&) override { return notBuilt(); }
  QueryResult query(std::string_view, std::span<const DbValue>, const QueryOptions&) override {
    QueryResult r;
    r.status = notBuilt();
    return r;
  }

 private:
  static StorageStatus notBuilt() {
    return StorageStatus::failure(StorageErrc::NotBuilt,
                                  "PostgreSQL backend not built (this build found no libpq; Windows builds never have it)");
  }
};

}  // namespace

bool postgresStorageBuilt() noexcept { return false; }
std::unique_ptr<Storage> makePostgresStorage() { return std::make_unique<PostgresNotBuilt>(); }

}  // namespace gamesrv

#endif
