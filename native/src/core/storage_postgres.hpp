// Pieces the PostgreSQL backend's files share (native/src/core only; needs GAMESRV_HAVE_LIBPQ).
#pragma once
#include <libpq-fe.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "gamesrv/storage.hpp"

namespace gamesrv::storage_detail {

// Owns one PGresult.
struct PgResult {
  PGresult* r = nullptr;
  PgResult() = default;
  explicit PgResult(PGresult* res) : r(res) {}
  PgResult(const PgResult&) = delete;
  PgResult& operator=(const PgResult&) = delete;
  ~PgResult() { PQclear(r); }
  ExecStatusType status() const { return PQresultStatus(r); }
};

// One connection with its prepared statements (storage_postgres_connection.cpp). Not
// thread-safe: the pool lends it to one caller at a time, whole.
class PgConnection {
 public:
  explicit PgConnection(PGconn* conn) : conn_(conn) {}
  ~PgConnection() {
    PQfreeCancel(cancel_);
    PQfinish(conn_);
  }
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;

  static StorageStatus open(const StorageConfig& config, const std::string& where, std::unique_ptr<PgConnection>& out);

  PGconn* conn() const noexcept { return conn_; }
  PGcancel* cancel() const noexcept { return cancel_; }
  // Whether the connection can be lent again: alive and outside any transaction.
  bool reusable();

  StorageStatus exec(const char* sql);

  StorageStatus queryInt(const char* sql, std::int64_t& out);

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
  StorageStatus prepared(const char* name, const char* sql, int params, bool& done);

  StorageStatus upsert(std::span<const PlayerRow> rows);
  // The owned upsert (Storage::flushOwned's rows): refused rows go to out.refused.
  StorageStatus upsertOwned(std::span<const PlayerRow> rows, const LeaseClaim& claim, FlushOutcome& out);
  // renew: extends claim.owner's leases by claim.length; else frees every row it holds.
  StorageStatus ownerUpdate(bool renew, const LeaseClaim& claim, std::size_t& changed);
  // Storage::acquire, inside the caller's transaction.
  StorageStatus acquire(std::span<const std::int64_t> ids, const LeaseClaim& claim, AcquireResult& out);

  StorageStatus checkpoint(std::uint64_t seq);

  StorageStatus load(std::vector<PlayerRow>& out);

  StorageStatus migrate();

 private:
  StorageStatus upsertRows(std::span<const PlayerRow> rows, const LeaseClaim* claim, FlushOutcome* out);
  StorageStatus upsertChunk(std::span<const PlayerRow> rows, const LeaseClaim* claim, FlushOutcome* out);

  PGconn* conn_;
  PGcancel* cancel_ = nullptr;
  bool upsertPrepared_ = false;
  bool upsertOwnedPrepared_ = false;
  bool checkpointPrepared_ = false;
  bool loadPrepared_ = false;
};

// The server's primary message for a failed result (or the connection's message when
// there is no result), without libpq's "ERROR:  " prefix and trailing newline.
std::string pgMessage(const PGresult* r, PGconn* conn);
// The five-character SQLSTATE of a failed result, or "" when it has none.
std::string pgSqlState(const PGresult* r);

// One statement of query text as the scanner saw it (quotes, comments and dollar
// quoting respected): `?` and `?NNN` placeholders rewritten to `$n` (`?` takes one more
// than the highest number so far, as in SQLite; `$n` is kept).
struct PgStatementText {
  std::string text;        // the first statement, placeholders rewritten, no trailing ';'
  int paramCount = 0;      // the highest placeholder number
  std::string firstWord;   // upper-case first keyword ("(" for a parenthesised query)
  bool empty = false;      // no statement at all (blanks, comments, semicolons)
  bool multiple = false;   // something other than blanks, comments and ';' after the first
};
PgStatementText scanPgStatement(std::string_view sql);

// Runs `sql` as a `database` task's read-only query on `conn` (lent to the caller alone,
// idle, outside a transaction) and fills r's columns, rows and truncated flag. The
// statement runs in a READ ONLY transaction with statement_timeout set, which is rolled
// back whatever happens; `cancel` (the connection's) interrupts it at the deadline, when
// options.cancelled turns, or once rowCap + 1 rows have arrived.
StorageStatus runPgReadOnlyQuery(PGconn* conn, PGcancel* cancel, std::string_view sql, std::span<const DbValue> params,
                                 const QueryOptions& options, QueryResult& r);

}  // namespace gamesrv::storage_detail
