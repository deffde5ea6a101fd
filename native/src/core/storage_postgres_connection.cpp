// The PostgreSQL backend's connection (storage_detail::PgConnection): connecting and
// setting up, the schema migrations, the batched upsert in PostgreSQL's binary array
// format, the checkpoint and loading the players.
#include "gamesrv/storage.hpp"

#if GAMESRV_HAVE_LIBPQ

#include <algorithm>
#include <bit>
#include <charconv>
#include <chrono>
#include <cstring>
#include <limits>
#include <unordered_map>
#include <utility>

#include "storage_postgres.hpp"

namespace gamesrv::storage_detail {
namespace {

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
    // 2: each player row's owner lease (issue 16): the server holding it (NULL: free) and
    // until when (Unix ms by this server's clock: every lease is timed by one clock).
    "ALTER TABLE players ADD COLUMN owner TEXT;"
    "ALTER TABLE players ADD COLUMN lease_until_ms BIGINT;"
    "CREATE INDEX players_owner ON players(owner);",
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
// The database server's clock in Unix ms: leases are granted and compared by it alone.
#define GS_PG_NOW_MS "(extract(epoch from clock_timestamp()) * 1000)::bigint"
// flushOwned's rows: written when the stored one is free or $10's and not newer; owned
// by $10 while online (lease for $11 ms), free once offline. RETURNING: the ids written.
constexpr const char* kUpsertOwnedName = "gs_upsert_players_owned";
constexpr const char* kUpsertOwnedSql =
    "INSERT INTO players(id, name, x, y, hp, kills, online, version, updated_at, owner, lease_until_ms) "
    "SELECT u.*, CASE WHEN u.online <> 0 THEN $10::text END, CASE WHEN u.online <> 0 THEN " GS_PG_NOW_MS " + $11::bigint END "
    "FROM unnest($1::bigint[], $2::text[], $3::float8[], $4::float8[], $5::bigint[], $6::bigint[], "
    "$7::integer[], $8::bigint[], $9::bigint[]) AS u(id, name, x, y, hp, kills, online, version, updated_at) "
    "ON CONFLICT (id) DO UPDATE SET name = excluded.name, x = excluded.x, y = excluded.y, hp = excluded.hp, "
    "kills = excluded.kills, online = excluded.online, version = excluded.version, updated_at = excluded.updated_at, "
    "owner = excluded.owner, lease_until_ms = excluded.lease_until_ms "
    "WHERE (players.owner IS NULL OR players.owner = $10) AND players.version <= excluded.version "
    "RETURNING id";
// Only online rows: a lease taken for a login that never came runs out (see storage_sqlite.cpp).
constexpr const char* kRenewSql = "UPDATE players SET lease_until_ms = " GS_PG_NOW_MS " + $2::bigint WHERE owner = $1 AND online <> 0";
constexpr const char* kReleaseSql = "UPDATE players SET owner = NULL, lease_until_ms = NULL WHERE owner = $1";
// Takes the ids that are free, $2's or expired; returns them as stored now.
constexpr const char* kAcquireSql =
    "UPDATE players SET owner = $2, lease_until_ms = " GS_PG_NOW_MS " + $3::bigint "
    "WHERE id = ANY($1::bigint[]) AND (owner IS NULL OR owner = $2 OR lease_until_ms IS NULL OR lease_until_ms <= " GS_PG_NOW_MS ") "
    "RETURNING id, name, x, y, hp, kills, online, version, updated_at";
// After kAcquireSql in the same transaction: the ids still held by others, and the clock.
constexpr const char* kHeldSql =
    "SELECT id, owner, lease_until_ms, " GS_PG_NOW_MS " FROM players WHERE id = ANY($1::bigint[]) AND owner IS DISTINCT FROM $2";
constexpr const char* kNowSql = "SELECT " GS_PG_NOW_MS;
#undef GS_PG_NOW_MS
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

// The players row in result row i (columns 0-8 in kLoadSql's order).
bool parseRow(const PGresult* r, int i, PlayerRow& p) {
  std::int64_t online = 0;
  const bool ok = parseInt(PQgetvalue(r, i, 0), p.id) && parseDouble(PQgetvalue(r, i, 2), p.x) &&
                  parseDouble(PQgetvalue(r, i, 3), p.y) && parseInt(PQgetvalue(r, i, 4), p.hp) &&
                  parseInt(PQgetvalue(r, i, 5), p.kills) && parseInt(PQgetvalue(r, i, 6), online) &&
                  parseInt(PQgetvalue(r, i, 7), p.version) && parseInt(PQgetvalue(r, i, 8), p.updatedAtMs);
  if (!ok) return false;
  p.name.assign(PQgetvalue(r, i, 1), static_cast<std::size_t>(PQgetlength(r, i, 1)));
  p.online = online != 0;
  return true;
}

// `{1,2,3}`: ids as a PostgreSQL array literal.
std::string idArray(std::span<const std::int64_t> ids) {
  std::string out = "{";
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (i != 0) out.push_back(',');
    out += std::to_string(ids[i]);
  }
  out.push_back('}');
  return out;
}

}  // namespace

StorageStatus PgConnection::open(const StorageConfig& config, const std::string& where, std::unique_ptr<PgConnection>& out) {
  // Earlier keywords are defaults the URL may override; later ones override the URL.
  const char* keys[] = {"connect_timeout", "fallback_application_name", "dbname", "client_encoding", nullptr};
  const char* values[] = {"10", "gamesrv", config.url.c_str(), "UTF8", nullptr};
  auto conn = std::make_unique<PgConnection>(PQconnectdbParams(keys, values, 1));
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

bool PgConnection::reusable() {
  if (PQstatus(conn_) != CONNECTION_OK) return false;
  PGTransactionStatusType t = PQtransactionStatus(conn_);
  if (t == PQTRANS_INTRANS || t == PQTRANS_INERROR) {
    exec("ROLLBACK");
    t = PQtransactionStatus(conn_);
  }
  return t == PQTRANS_IDLE;
}

StorageStatus PgConnection::exec(const char* sql) {
  const PgResult r(PQexec(conn_, sql));
  if (r.status() == PGRES_COMMAND_OK || r.status() == PGRES_TUPLES_OK) return StorageStatus::success();
  return StorageStatus::failure(StorageErrc::Sql, pgMessage(r.r, conn_));
}

StorageStatus PgConnection::queryInt(const char* sql, std::int64_t& out) {
  const PgResult r(PQexec(conn_, sql));
  if (r.status() != PGRES_TUPLES_OK || PQntuples(r.r) != 1 || PQnfields(r.r) < 1) return sqlError(r.r, conn_, sql);
  if (!parseInt(PQgetvalue(r.r, 0, 0), out)) {
    return StorageStatus::failure(StorageErrc::Sql, std::string(sql) + ": not an integer: " + PQgetvalue(r.r, 0, 0));
  }
  return StorageStatus::success();
}

StorageStatus PgConnection::prepared(const char* name, const char* sql, int params, bool& done) {
  if (done) return StorageStatus::success();
  const PgResult r(PQprepare(conn_, name, sql, params, nullptr));
  if (r.status() != PGRES_COMMAND_OK) return sqlError(r.r, conn_, std::string("preparing ") + name);
  done = true;
  return StorageStatus::success();
}

StorageStatus PgConnection::upsert(std::span<const PlayerRow> rows) { return upsertRows(rows, nullptr, nullptr); }

StorageStatus PgConnection::upsertOwned(std::span<const PlayerRow> rows, const LeaseClaim& claim, FlushOutcome& out) {
  return upsertRows(rows, &claim, &out);
}

StorageStatus PgConnection::upsertRows(std::span<const PlayerRow> rows, const LeaseClaim* claim, FlushOutcome* out) {
  if (rows.empty()) return StorageStatus::success();
  StorageStatus st = claim != nullptr ? prepared(kUpsertOwnedName, kUpsertOwnedSql, 11, upsertOwnedPrepared_)
                                      : prepared(kUpsertName, kUpsertSql, 9, upsertPrepared_);
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
    st = upsertChunk(batch.subspan(at, std::min(kUpsertChunkRows, batch.size() - at)), claim, out);
    if (!st.ok()) return st;
  }
  return StorageStatus::success();
}

StorageStatus PgConnection::ownerUpdate(bool renew, const LeaseClaim& claim, std::size_t& changed) {
  const std::string lease = std::to_string(claim.length.count());
  const char* values[] = {claim.owner.c_str(), lease.c_str()};
  const PgResult r(PQexecParams(conn_, renew ? kRenewSql : kReleaseSql, renew ? 2 : 1, nullptr, values, nullptr, nullptr, 0));
  if (r.status() != PGRES_COMMAND_OK) return sqlError(r.r, conn_, renew ? "renewing leases" : "releasing leases");
  std::int64_t n = 0;
  parseInt(PQcmdTuples(r.r), n);
  changed = static_cast<std::size_t>(n);
  return StorageStatus::success();
}

StorageStatus PgConnection::acquire(std::span<const std::int64_t> ids, const LeaseClaim& claim, AcquireResult& out) {
  AcquireResult result;
  result.leases.resize(ids.size());
  std::unordered_multimap<std::int64_t, std::size_t> at;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    result.leases[i].id = ids[i];
    result.leases[i].acquired = true;  // unless held, below (an id not stored is free)
    at.emplace(ids[i], i);
  }
  const std::string array = idArray(ids);
  const std::string lease = std::to_string(claim.length.count());
  {
    const char* values[] = {array.c_str(), claim.owner.c_str(), lease.c_str()};
    const PgResult r(PQexecParams(conn_, kAcquireSql, 3, nullptr, values, nullptr, nullptr, 0));
    if (r.status() != PGRES_TUPLES_OK || PQnfields(r.r) != 9) return sqlError(r.r, conn_, "acquiring players");
    for (int i = 0; i < PQntuples(r.r); ++i) {
      PlayerRow row;
      if (!parseRow(r.r, i, row)) return StorageStatus::failure(StorageErrc::Sql, "acquiring players: a row does not parse");
      for (auto [it, end] = at.equal_range(row.id); it != end; ++it) result.leases[it->second].row = row;
    }
  }
  {
    const char* values[] = {array.c_str(), claim.owner.c_str()};
    const PgResult r(PQexecParams(conn_, kHeldSql, 2, nullptr, values, nullptr, nullptr, 0));
    if (r.status() != PGRES_TUPLES_OK || PQnfields(r.r) != 4) return sqlError(r.r, conn_, "reading held leases");
    for (int i = 0; i < PQntuples(r.r); ++i) {
      std::int64_t id = 0, until = 0;
      if (!parseInt(PQgetvalue(r.r, i, 0), id)) continue;
      if (PQgetisnull(r.r, i, 2) == 0) parseInt(PQgetvalue(r.r, i, 2), until);
      for (auto [it, end] = at.equal_range(id); it != end; ++it) {
        PlayerLease& l = result.leases[it->second];
        l.acquired = false;
        l.row.reset();
        l.heldBy.assign(PQgetvalue(r.r, i, 1), static_cast<std::size_t>(PQgetlength(r.r, i, 1)));
        l.heldUntilMs = until;
      }
    }
  }
  StorageStatus st = queryInt(kNowSql, result.storeNowMs);
  if (st.ok()) out = std::move(result);
  return st;
}

StorageStatus PgConnection::checkpoint(std::uint64_t seq) {
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

StorageStatus PgConnection::load(std::vector<PlayerRow>& out) {
  StorageStatus st = prepared(kLoadName, kLoadSql, 0, loadPrepared_);
  if (!st.ok()) return st;
  const PgResult r(PQexecPrepared(conn_, kLoadName, 0, nullptr, nullptr, nullptr, 0));
  if (r.status() != PGRES_TUPLES_OK || PQnfields(r.r) != 9) return sqlError(r.r, conn_, "loading players");
  const int n = PQntuples(r.r);
  std::vector<PlayerRow> rows(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    if (!parseRow(r.r, i, rows[static_cast<std::size_t>(i)])) {
      return StorageStatus::failure(StorageErrc::Sql, "loading players: row " + std::to_string(i) + " does not parse");
    }
  }
  out = std::move(rows);
  return StorageStatus::success();
}

StorageStatus PgConnection::migrate() {
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

StorageStatus PgConnection::upsertChunk(std::span<const PlayerRow> rows, const LeaseClaim* claim, FlushOutcome* out) {
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
  const char* values[11];
  int lengths[11];
  int formats[11];
  for (int i = 0; i < 9; ++i) {
    values[i] = arrays[i]->bytes().data();
    lengths[i] = static_cast<int>(arrays[i]->bytes().size());
    formats[i] = 1;
  }
  const std::string lease = claim != nullptr ? std::to_string(claim->length.count()) : std::string();
  if (claim != nullptr) {  // the owner and the lease length, as text
    values[9] = claim->owner.c_str();
    values[10] = lease.c_str();
    lengths[9] = lengths[10] = 0;
    formats[9] = formats[10] = 0;
  }
  const PgResult r(PQexecPrepared(conn_, claim != nullptr ? kUpsertOwnedName : kUpsertName, claim != nullptr ? 11 : 9,
                                  values, lengths, formats, 0));
  const ExecStatusType expected = claim != nullptr ? PGRES_TUPLES_OK : PGRES_COMMAND_OK;
  if (r.status() != expected) return sqlError(r.r, conn_, "upserting " + std::to_string(rows.size()) + " players");
  if (out != nullptr) {
    std::unordered_map<std::int64_t, bool> written;
    written.reserve(static_cast<std::size_t>(PQntuples(r.r)));
    for (int i = 0; i < PQntuples(r.r); ++i) {
      std::int64_t id = 0;
      if (parseInt(PQgetvalue(r.r, i, 0), id)) written[id] = true;
    }
    for (const PlayerRow& row : rows) {
      if (written.count(row.id) != 0) ++out->written;
      else out->refused.push_back(row.id);
    }
  }
  return StorageStatus::success();
}

}  // namespace gamesrv::storage_detail

#endif  // GAMESRV_HAVE_LIBPQ
