// Storage: the backend-neutral interface of the persistent store (issue 15). Two backends
// implement it: SQLite (storage_sqlite*.cpp, the embedded default) and PostgreSQL
// (storage_postgres*.cpp, libpq, for many servers sharing players);
// native/test/test_storage.cpp is one contract suite run over every backend's factory.
//
// What a backend holds
// - `players`: one row per known player (PlayerRow), written behind in batches.
// - `checkpoint`: one row, the processed watermark `seq` of the journal, written in the
//   same transaction as a player flush (flush(rows, seq)); its `owner` / `lease_until`
//   columns are unused (the lease is per player row, below).
// - Owner leases (issue 16, schema version 2): a player row carries `owner` (a server's
//   name; NULL = free) and `lease_until_ms` (Unix ms by the store's clock). acquire() takes
//   free, own or expired rows for a server and returns them fresh; flushOwned() writes only
//   rows that server owns or that are free, at a version not below the stored one, and
//   renews the server's leases; release() frees every row of a server. So a late write by
//   a server that lost a player can never overwrite the state of the server that has it.
// - `schema_migrations`: the schema versions applied. open() applies the missing
//   migrations in one write transaction, so two servers opening one store at once
//   apply each migration once; opening again changes nothing.
//
// Errors: no call throws. Each returns a StorageStatus (or a result carrying one) with a
// stable code and the backend's own message (sqlite3_errmsg, PostgreSQL's primary error
// message), so a pool thread
// can hand a failure to whoever waits for it.
//
// Thread model: every call runs on the calling thread (the engine's pool threads, never
// the event thread). The store lends each call a connection of its own from a small
// pool sized by StorageConfig::maxConnections (the pool's thread count): concurrent
// callers never share a connection, an idle connection is reused, and a caller finding
// all of them lent waits (without polling) until one comes back or close() begins.
//
// Thread safety: every public member is safe from any thread. close() waits for the
// calls in flight (a query ends by its timeout at the latest) and is idempotent; calls
// after close() return StorageErrc::Closed.
#pragma once
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace gamesrv {

enum class StorageErrc : std::uint8_t {
  Ok,
  NotBuilt,        // this build has no such backend (e.g. SQLite on a Windows build without it)
  OpenFailed,      // the data directory or the database could not be opened or migrated
  Closed,          // open() not called, or close() has begun
  Sql,             // the database refused the statement (syntax, constraint, I/O, busy)
  ReadOnly,        // query(): a statement that could write, or that is not allowed
  MultipleStatements,  // query(): more than one statement in the text
  BadParams,       // query(): parameter count does not match the statement's
  Timeout,         // query(): ran past QueryOptions::timeout
  Cancelled,       // query(): QueryOptions::cancelled turned true
};
const char* toString(StorageErrc c) noexcept;

struct StorageStatus {
  StorageErrc code = StorageErrc::Ok;
  std::string message;  // empty when ok; else says what failed, with the backend's message
  bool ok() const noexcept { return code == StorageErrc::Ok; }
  static StorageStatus success() { return {}; }
  static StorageStatus failure(StorageErrc c, std::string m) { return {c, std::move(m)}; }
};

struct StorageConfig {
  // SQLite: the directory holding the database file; created (mode 0700 on POSIX) when
  // missing. Tests point it at a temporary directory.
  std::string dataDir;
  std::string fileName = "gamesrv.db";
  // PostgreSQL: a libpq connection URL, postgres://user[:password]@host[:port]/db[?param=..]
  // (or a `key=value` connection string); SQLite ignores it. PostgreSQL ignores dataDir.
  std::string url;
  std::size_t maxConnections = 4;  // at most this many calls run at once; size it to the pool
  // How long a write waits for another writer (SQLite busy_timeout, PostgreSQL lock_timeout).
  std::chrono::milliseconds busyTimeout{5000};
};

struct PlayerRow {
  std::int64_t id = 0;
  std::string name;
  double x = 0;
  double y = 0;
  std::int64_t hp = 0;
  std::int64_t kills = 0;
  bool online = false;
  std::int64_t version = 0;      // the writer's change counter for the row
  std::int64_t updatedAtMs = 0;  // Unix ms
  bool operator==(const PlayerRow&) const = default;
};

// Who writes: a server's name (the owner of the rows it holds) and how long a lease lasts
// from the moment the store grants or renews it.
struct LeaseClaim {
  std::string owner;  // never empty
  std::chrono::milliseconds length{15000};
};

// One player id's answer from acquire().
struct PlayerLease {
  std::int64_t id = 0;
  bool acquired = false;
  std::optional<PlayerRow> row;  // acquired and stored: the row as the store holds it now
  std::string heldBy;            // not acquired: the server holding the lease
  std::int64_t heldUntilMs = 0;  // not acquired: when that lease runs out, by the store's clock
};

struct AcquireResult {
  std::vector<PlayerLease> leases;  // one per id asked, in the order asked
  std::int64_t storeNowMs = 0;      // the store's clock at the acquire (heldUntilMs - this: time left)
};

// What flushOwned() did besides writing.
struct FlushOutcome {
  // Rows not written: held by another server, or stored at a newer version. Not retried.
  std::vector<std::int64_t> refused;
  std::size_t written = 0;
  std::size_t renewed = 0;  // leases of the claim's owner extended (rows it holds)
};

struct DbBlob {
  std::vector<std::uint8_t> bytes;
  bool operator==(const DbBlob&) const = default;
};
// One SQL value: NULL, integer, real, text or blob.
using DbValue = std::variant<std::monostate, std::int64_t, double, std::string, DbBlob>;

struct QueryOptions {
  std::size_t rowCap = 1000;  // rows kept; one more makes the result `truncated`
  std::chrono::milliseconds timeout{5000};
  // Optional: a query stops (StorageErrc::Cancelled) once this turns true, e.g. on
  // engine stop (TaskScheduler's `cancelled` flag). Checked as often as the timeout.
  const std::atomic<bool>* cancelled = nullptr;
};

struct QueryResult {
  StorageStatus status;
  std::vector<std::string> columns;
  std::vector<std::vector<DbValue>> rows;
  std::size_t rowCount = 0;  // rows.size()
  bool truncated = false;    // more rows than rowCap were available
  std::uint64_t latencyUs = 0;
};

class Storage {
 public:
  virtual ~Storage() = default;
  Storage() = default;
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  // Opens the store and applies the missing schema migrations. Calling it on an open
  // store fails (close() first).
  virtual StorageStatus open(const StorageConfig& config) = 0;
  virtual void close() = 0;

  virtual const char* backendName() const noexcept = 0;
  // Where the store is: a file path, or a URL without its password.
  virtual std::string location() const = 0;

  virtual StorageStatus schemaVersion(int& version) = 0;
  virtual StorageStatus loadPlayers(std::vector<PlayerRow>& out) = 0;
  // Inserts or replaces every row (by id) in one write transaction with one prepared
  // statement: all of them are stored or none.
  virtual StorageStatus upsertPlayers(std::span<const PlayerRow> rows) = 0;
  // upsertPlayers and, when `checkpointSeq` is set, the checkpoint, in one transaction.
  virtual StorageStatus flush(std::span<const PlayerRow> rows, std::optional<std::uint64_t> checkpointSeq) = 0;
  virtual StorageStatus writeCheckpoint(std::uint64_t seq) = 0;

  // Owner leases (see the top of this file), each one write transaction.
  // acquire: for each id, the row becomes claim.owner's (lease until the store's now +
  // claim.length) when it is free, already claim.owner's, or its lease has run out; the
  // answer says acquired (with the stored row, or none when the id is not stored yet) or
  // held by whom until when.
  virtual StorageStatus acquire(std::span<const std::int64_t> ids, const LeaseClaim& claim, AcquireResult& out) = 0;
  // flush() for a server that owns rows: a row is written only when the stored one is
  // free or claim.owner's and its version is not above the row's; a written row is
  // claim.owner's while online (leased for claim.length) and free once offline. Every row
  // claim.owner still holds online gets its lease renewed (an offline one it
  // acquired for a login that never came runs out). Refused rows are listed, not errors.
  virtual StorageStatus flushOwned(std::span<const PlayerRow> rows, std::optional<std::uint64_t> checkpointSeq,
                                   const LeaseClaim& claim, FlushOutcome& out) = 0;
  // Frees every row `owner` holds (a server's last act after its final flush).
  virtual StorageStatus release(const std::string& owner, std::size_t& released) = 0;
  virtual StorageStatus readCheckpoint(std::uint64_t& seq) = 0;

  // A read-only query for `database` tasks: one statement, `params` bound in order to
  // its ?-placeholders (`?NNN` numbers one; PostgreSQL also takes `$n`). Anything that
  // could write (INSERT, DELETE, DDL, PRAGMA, ATTACH, transaction control) is refused
  // with StorageErrc::ReadOnly: SQLite before it runs; PostgreSQL refuses statements
  // that are not a query before they run and runs the rest in a READ ONLY transaction,
  // whose refusal (e.g. a DELETE inside a WITH) carries the server's message.
  virtual QueryResult query(std::string_view sql, std::span<const DbValue> params, const QueryOptions& options) = 0;
};

// The schema version this build's migrations reach.
inline constexpr int kStorageSchemaVersion = 2;

// Whether this build has the SQLite backend (false: open() fails with NotBuilt).
bool sqliteStorageBuilt() noexcept;
std::unique_ptr<Storage> makeSqliteStorage();

// Whether this build has the PostgreSQL backend (libpq found at build time; never on
// Windows). False: open() fails with NotBuilt.
bool postgresStorageBuilt() noexcept;
std::unique_ptr<Storage> makePostgresStorage();

// The backend by its name: "sqlite" or "postgres" (a backend this build lacks still
// comes back, and its open() answers NotBuilt); nullptr for any other name.
std::unique_ptr<Storage> makeStorage(std::string_view backend);

}  // namespace gamesrv
