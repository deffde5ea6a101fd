// The PostgreSQL backend's read-only query (Storage::query): the scanner's first
// statement (storage_postgres_scan.cpp), a first-keyword check, then the
// statement in a READ ONLY transaction with statement_timeout, rows streamed one at a
// time (single-row mode) up to the row cap, and PQcancel at the deadline, on the
// caller's cancel flag, or once the cap is passed.
#include "gamesrv/storage.hpp"

#if GAMESRV_HAVE_LIBPQ

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cstring>
#include <string>
#include <vector>

#include "gamesrv/platform/socket_wait.hpp"
#include "storage_postgres.hpp"

namespace gamesrv::storage_detail {
namespace {

// Type OIDs from PostgreSQL's catalog (pg_type.dat): fixed since the types exist.
constexpr Oid kBoolOid = 16;
constexpr Oid kByteaOid = 17;
constexpr Oid kInt8Oid = 20;
constexpr Oid kInt2Oid = 21;
constexpr Oid kInt4Oid = 23;
constexpr Oid kOidOid = 26;
constexpr Oid kFloat4Oid = 700;
constexpr Oid kFloat8Oid = 701;
constexpr Oid kNumericOid = 1700;

constexpr const char* kQueryCanceled = "57014";          // statement_timeout, or a cancel request
constexpr const char* kReadOnlyTransaction = "25006";   // read_only_sql_transaction

// How often a query in flight looks at the caller's cancel flag (the flag has no way to
// wake a waiter). Without a flag the wait lasts until the deadline.
constexpr std::chrono::milliseconds kCancelFlagPeriod{20};
// The server's statement_timeout ends a slow statement with its own message; the client
// sends PQcancel itself only this much later (a server or network that does not answer).
constexpr std::chrono::milliseconds kClientDeadlineSlack{250};
// How long after PQcancel the server gets to end the statement before the connection
// is given up (it is then closed, not lent again).
constexpr std::chrono::milliseconds kCancelGrace{5000};

// First keywords of PostgreSQL's statements (its grammar's `stmt`) that are not a query:
// refused before they are sent, because a READ ONLY transaction alone does not stop
// COMMIT, SET, COPY TO, LISTEN or VACUUM. A query (SELECT, WITH, VALUES, TABLE, SHOW,
// EXPLAIN, a parenthesised SELECT) goes to the server, whose READ ONLY transaction
// refuses any write inside it; so does a first word the grammar does not know, for the
// server's syntax error.
constexpr const char* kRefusedStatements[] = {
    "ABORT",    "ALTER",    "ANALYSE",  "ANALYZE", "BEGIN",   "CALL",     "CHECKPOINT", "CLOSE",   "CLUSTER",
    "COMMENT",  "COMMIT",   "COPY",     "CREATE",  "DEALLOCATE", "DECLARE", "DELETE",   "DISCARD", "DO",
    "DROP",     "END",      "EXECUTE",  "FETCH",   "GRANT",   "IMPORT",   "INSERT",     "LISTEN",  "LOAD",
    "LOCK",     "MERGE",    "MOVE",     "NOTIFY",  "PREPARE", "REASSIGN", "REFRESH",    "REINDEX", "RELEASE",
    "RESET",    "REVOKE",   "ROLLBACK", "SAVEPOINT", "SECURITY", "SET",   "START",      "TRUNCATE", "UNLISTEN",
    "UPDATE",   "VACUUM",
};

std::string hexBytes(const char* text, std::size_t len, bool& ok) {
  auto nibble = [](char h) -> int {
    if (h >= '0' && h <= '9') return h - '0';
    if (h >= 'a' && h <= 'f') return h - 'a' + 10;
    if (h >= 'A' && h <= 'F') return h - 'A' + 10;
    return -1;
  };
  std::string out;
  ok = len >= 2 && text[0] == '\\' && text[1] == 'x' && len % 2 == 0;
  for (std::size_t i = 2; ok && i < len; i += 2) {
    const int hi = nibble(text[i]);
    const int lo = nibble(text[i + 1]);
    if (hi < 0 || lo < 0) ok = false;
    else out.push_back(static_cast<char>(hi * 16 + lo));
  }
  return out;
}

// One value of a text-format result, typed by its column's type.
DbValue pgValue(Oid type, const char* text, std::size_t len) {
  const char* end = text + len;
  switch (type) {
    case kBoolOid: return std::int64_t{len > 0 && text[0] == 't' ? 1 : 0};  // as SQLite has them: 0 and 1
    case kInt2Oid:
    case kInt4Oid:
    case kInt8Oid:
    case kOidOid:
    case kNumericOid: {
      std::int64_t v = 0;
      const auto [p, ec] = std::from_chars(text, end, v);
      if (ec == std::errc() && p == end) return v;
      if (type != kNumericOid) break;
      [[fallthrough]];  // a numeric with a fraction, or beyond 64 bits: a double
    }
    case kFloat4Oid:
    case kFloat8Oid: {
      double d = 0;
      const auto [p, ec] = std::from_chars(text, end, d);
      if (ec == std::errc() && p == end) return d;
      break;
    }
    case kByteaOid: {
      bool ok = false;
      std::string bytes = hexBytes(text, len, ok);
      if (ok) return DbBlob{std::vector<std::uint8_t>(bytes.begin(), bytes.end())};
      break;
    }
    default: break;
  }
  return std::string(text, len);
}

bool isRefused(const std::string& firstWord) {
  return std::any_of(std::begin(kRefusedStatements), std::end(kRefusedStatements),
                     [&](const char* w) { return firstWord == w; });
}

// The parameters as libpq takes them: text for numbers and strings (strings typed
// `unknown`, so the server infers their type from where they stand), binary for blobs.
struct BoundParams {
  std::vector<std::string> storage;
  std::vector<const char*> values;
  std::vector<int> lengths;
  std::vector<int> formats;
  std::vector<Oid> types;

  explicit BoundParams(std::span<const DbValue> params) {
    storage.resize(params.size());
    values.resize(params.size(), nullptr);
    lengths.resize(params.size(), 0);
    formats.resize(params.size(), 0);
    types.resize(params.size(), 0);
    for (std::size_t i = 0; i < params.size(); ++i) {
      const DbValue& v = params[i];
      std::string& s = storage[i];
      if (const auto* n = std::get_if<std::int64_t>(&v)) {
        s = std::to_string(*n);
        types[i] = kInt8Oid;
      } else if (const auto* d = std::get_if<double>(&v)) {
        char buf[64];
        const auto [p, ec] = std::to_chars(buf, buf + sizeof buf, *d);  // shortest text that reads back exactly
        s.assign(buf, ec == std::errc() ? p : buf);
        types[i] = kFloat8Oid;
      } else if (const auto* t = std::get_if<std::string>(&v)) {
        s = *t;
      } else if (const auto* b = std::get_if<DbBlob>(&v)) {
        s.assign(b->bytes.begin(), b->bytes.end());
        formats[i] = 1;
        types[i] = kByteaOid;
      } else {
        continue;  // NULL
      }
      lengths[i] = static_cast<int>(s.size());
    }
    for (std::size_t i = 0; i < params.size(); ++i) {
      if (!std::holds_alternative<std::monostate>(params[i])) values[i] = storage[i].data();
    }
  }
};

}  // namespace

std::string pgMessage(const PGresult* r, PGconn* conn) {
  const char* primary = r != nullptr ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : nullptr;
  std::string m = primary != nullptr ? primary : (conn != nullptr ? PQerrorMessage(conn) : "out of memory");
  while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
  return m.empty() ? "unknown PostgreSQL error" : m;
}

std::string pgSqlState(const PGresult* r) {
  const char* s = r != nullptr ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
  return s != nullptr ? s : "";
}

StorageStatus runPgReadOnlyQuery(PGconn* conn, PGcancel* cancel, std::string_view sql, std::span<const DbValue> params,
                                 const QueryOptions& options, QueryResult& r) {
  using Clock = std::chrono::steady_clock;
  const PgStatementText stmt = scanPgStatement(sql);
  if (stmt.empty) return StorageStatus::failure(StorageErrc::Sql, "empty query: no SQL statement to run");
  if (stmt.multiple) {
    return StorageStatus::failure(StorageErrc::MultipleStatements,
                                  "only one SQL statement per query; found more after \"" + stmt.text + "\"");
  }
  if (isRefused(stmt.firstWord)) {
    return StorageStatus::failure(StorageErrc::ReadOnly, "read-only query refused: " + stmt.firstWord +
                                                             " is not allowed (database tasks may only read)");
  }
  if (static_cast<std::size_t>(stmt.paramCount) != params.size()) {
    return StorageStatus::failure(StorageErrc::BadParams, "the query takes " + std::to_string(stmt.paramCount) +
                                                              " parameter(s), " + std::to_string(params.size()) + " given");
  }
  const BoundParams bound(params);
  const auto timeoutMs = std::max<std::int64_t>(1, options.timeout.count());
  const auto deadline = Clock::now() + options.timeout + kClientDeadlineSlack;
  const std::string begin = "BEGIN TRANSACTION READ ONLY; SET LOCAL statement_timeout = " + std::to_string(timeoutMs);
  {
    const PgResult b(PQexec(conn, begin.c_str()));
    if (b.status() != PGRES_COMMAND_OK) {
      return StorageStatus::failure(StorageErrc::Sql, "starting the read-only transaction: " + pgMessage(b.r, conn));
    }
  }
  bool abandoned = false;  // the server did not answer: no ROLLBACK (the connection is dropped)
  struct Rollback {
    PGconn* conn;
    const bool& abandoned;
    ~Rollback() {
      if (!abandoned) PQclear(PQexec(conn, "ROLLBACK"));  // a read-only transaction: nothing to keep
    }
  } rollback{conn, abandoned};

  if (PQsendQueryParams(conn, stmt.text.c_str(), static_cast<int>(params.size()), bound.types.data(), bound.values.data(),
                        bound.lengths.data(), bound.formats.data(), 0) == 0) {
    return StorageStatus::failure(StorageErrc::Sql, pgMessage(nullptr, conn));
  }
  PQsetSingleRowMode(conn);

  enum class Stop : std::uint8_t { None, Deadline, Cancelled, RowCap };
  Stop stop = Stop::None;
  Clock::time_point giveUp{};
  auto sendCancel = [&](Stop why) {
    stop = why;
    giveUp = Clock::now() + kCancelGrace;
    char err[256];
    PQcancel(cancel, err, sizeof err);  // a failed request still ends at giveUp
  };
  std::string errorState;
  std::string errorMessage;
  for (;;) {
    while (PQisBusy(conn) != 0) {
      const auto now = Clock::now();
      std::chrono::milliseconds wait{-1};
      if (stop == Stop::None) {
        if (options.cancelled != nullptr && options.cancelled->load(std::memory_order_relaxed)) {
          sendCancel(Stop::Cancelled);
          continue;
        }
        if (now >= deadline) {
          sendCancel(Stop::Deadline);
          continue;
        }
        wait = std::chrono::ceil<std::chrono::milliseconds>(deadline - now);
        if (options.cancelled != nullptr) wait = std::min(wait, kCancelFlagPeriod);
      } else {
        if (now >= giveUp) {
          abandoned = true;
          break;
        }
        wait = std::chrono::ceil<std::chrono::milliseconds>(giveUp - now);
      }
      int err = 0;
      if (platform::waitSocketReadable(PQsocket(conn), wait, err) == platform::SocketWait::Failed) {
        abandoned = true;
        errorMessage = "waiting for the server: " + std::string(std::strerror(err));
        break;
      }
      if (PQconsumeInput(conn) == 0) break;  // the connection failed: PQgetResult says how
    }
    if (abandoned) break;
    const PgResult res(PQgetResult(conn));
    if (res.r == nullptr) break;
    switch (res.status()) {
      case PGRES_SINGLE_TUPLE:
      case PGRES_TUPLES_OK: {
        const int fields = PQnfields(res.r);
        if (r.columns.empty()) {
          for (int f = 0; f < fields; ++f) r.columns.emplace_back(PQfname(res.r, f));
        }
        for (int row = 0; row < PQntuples(res.r); ++row) {
          if (r.rows.size() >= options.rowCap) {
            r.truncated = true;
            if (stop == Stop::None) sendCancel(Stop::RowCap);
            break;
          }
          std::vector<DbValue> values;
          values.reserve(static_cast<std::size_t>(fields));
          for (int f = 0; f < fields; ++f) {
            if (PQgetisnull(res.r, row, f) != 0) {
              values.emplace_back(std::monostate{});
            } else {
              values.push_back(pgValue(PQftype(res.r, f), PQgetvalue(res.r, row, f),
                                       static_cast<std::size_t>(PQgetlength(res.r, row, f))));
            }
          }
          r.rows.push_back(std::move(values));
        }
        break;
      }
      case PGRES_COMMAND_OK: break;
      default:
        if (errorMessage.empty()) {
          errorState = pgSqlState(res.r);
          errorMessage = pgMessage(res.r, conn);
        }
        break;
    }
  }
  if (abandoned && errorMessage.empty() && stop == Stop::None) errorMessage = "the server did not answer";
  const std::string timedOut = "query timed out after " + std::to_string(options.timeout.count()) + " ms";
  switch (stop) {
    case Stop::Cancelled: return StorageStatus::failure(StorageErrc::Cancelled, "query cancelled");
    case Stop::Deadline: return StorageStatus::failure(StorageErrc::Timeout, timedOut);
    case Stop::RowCap:
      if (errorMessage.empty() || errorState == kQueryCanceled) return StorageStatus::success();
      break;
    case Stop::None: break;
  }
  if (errorMessage.empty()) {
    if (abandoned) return StorageStatus::failure(StorageErrc::Sql, "the server did not end the statement after a cancel request");
    return StorageStatus::success();
  }
  if (errorState == kQueryCanceled) {
    if (errorMessage.find("statement timeout") != std::string::npos) {
      return StorageStatus::failure(StorageErrc::Timeout, timedOut + " (server: " + errorMessage + ")");
    }
    return StorageStatus::failure(StorageErrc::Cancelled, "query cancelled (server: " + errorMessage + ")");
  }
  if (errorState == kReadOnlyTransaction) {
    return StorageStatus::failure(StorageErrc::ReadOnly, "read-only query refused by the server: " + errorMessage);
  }
  return StorageStatus::failure(StorageErrc::Sql, errorMessage);
}

}  // namespace gamesrv::storage_detail

#endif  // GAMESRV_HAVE_LIBPQ
