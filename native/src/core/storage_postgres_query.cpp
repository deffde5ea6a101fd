// The PostgreSQL backend's read-only query (Storage::query): a scanner that finds the
// first statement and rewrites `?` placeholders to `$n`, a first-keyword check, then the
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
constexpr int kHighestParam = 65535;                    // the wire protocol's limit

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

bool identChar(char c) {
  const auto u = static_cast<unsigned char>(c);
  return std::isalnum(u) != 0 || c == '_' || c == '$' || u >= 0x80;
}
bool tagStart(char c) {
  const auto u = static_cast<unsigned char>(c);
  return std::isalpha(u) != 0 || c == '_' || u >= 0x80;
}

enum class Lexeme : std::uint8_t { Other, Comment, Literal };

// If sql[i] starts a comment, a quoted string or identifier, or a dollar-quoted string,
// returns its end (one past; the end of the text when unterminated) and its kind;
// otherwise returns i.
std::size_t skipLexeme(std::string_view sql, std::size_t i, Lexeme& kind) {
  const std::size_t n = sql.size();
  const char c = sql[i];
  const char next = i + 1 < n ? sql[i + 1] : '\0';
  if (c == '-' && next == '-') {
    kind = Lexeme::Comment;
    const std::size_t e = sql.find('\n', i);
    return e == std::string_view::npos ? n : e;
  }
  if (c == '/' && next == '*') {  // PostgreSQL's block comments nest
    kind = Lexeme::Comment;
    int depth = 0;
    std::size_t j = i;
    while (j < n) {
      if (sql[j] == '/' && j + 1 < n && sql[j + 1] == '*') {
        ++depth;
        j += 2;
      } else if (sql[j] == '*' && j + 1 < n && sql[j + 1] == '/') {
        j += 2;
        if (--depth == 0) return j;
      } else {
        ++j;
      }
    }
    return n;
  }
  if (c == '\'' || c == '"') {
    kind = Lexeme::Literal;
    // E'...' takes backslash escapes; E must be a prefix, not the end of an identifier.
    const bool escapes = c == '\'' && i > 0 && (sql[i - 1] == 'E' || sql[i - 1] == 'e') && (i < 2 || !identChar(sql[i - 2]));
    std::size_t j = i + 1;
    while (j < n) {
      if (escapes && sql[j] == '\\') {
        j += 2;
      } else if (sql[j] == c) {
        if (j + 1 < n && sql[j + 1] == c) {
          j += 2;  // a doubled quote
        } else {
          return j + 1;
        }
      } else {
        ++j;
      }
    }
    return n;
  }
  if (c == '$' && (i == 0 || !identChar(sql[i - 1])) && (next == '$' || tagStart(next))) {
    std::size_t j = i + 1;
    while (j < n && sql[j] != '$' && identChar(sql[j])) ++j;
    if (j >= n || sql[j] != '$') return i;  // not a tag: $name is not SQL, let the server say so
    const std::string_view tag = sql.substr(i, j + 1 - i);
    const std::size_t close = sql.find(tag, j + 1);
    kind = Lexeme::Literal;
    return close == std::string_view::npos ? n : close + tag.size();
  }
  return i;
}

bool readNumber(std::string_view sql, std::size_t& i, int& value) {
  const std::size_t start = i;
  long long v = 0;
  while (i < sql.size() && std::isdigit(static_cast<unsigned char>(sql[i])) != 0) {
    if (v <= kHighestParam) v = v * 10 + (sql[i] - '0');
    ++i;
  }
  value = static_cast<int>(std::min<long long>(v, kHighestParam + 1));
  return i > start;
}

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

PgStatementText scanPgStatement(std::string_view sql) {
  PgStatementText out;
  int highest = 0;
  bool seen = false;  // a token of the first statement
  std::size_t i = 0;
  const std::size_t n = sql.size();
  while (i < n) {
    Lexeme kind = Lexeme::Other;
    const std::size_t end = skipLexeme(sql, i, kind);
    if (end != i) {
      if (kind != Lexeme::Comment) {
        if (!seen && out.firstWord.empty()) out.firstWord = "?";  // a statement opening with a literal
        seen = true;
      }
      out.text.append(sql.substr(i, end - i));
      i = end;
      continue;
    }
    const char c = sql[i];
    if (c == ';') {
      if (seen) break;
      ++i;  // empty statements before the first are skipped
      continue;
    }
    if (std::isspace(static_cast<unsigned char>(c)) != 0) {
      if (seen) out.text.push_back(c);
      ++i;
      continue;
    }
    if (!seen) {
      if (c == '(') {
        out.firstWord = "(";
      } else {
        std::size_t j = i;
        while (j < n && identChar(sql[j])) ++j;
        for (std::size_t k = i; k < j; ++k) out.firstWord.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(sql[k]))));
        if (out.firstWord.empty()) out.firstWord = std::string(1, c);
      }
      seen = true;
    }
    if ((c == '?' || c == '$') && (i == 0 || !identChar(sql[i - 1]))) {
      std::size_t j = i + 1;
      int number = 0;
      if (readNumber(sql, j, number)) {
        highest = std::max(highest, number);
      } else if (c == '?') {
        number = ++highest;
      } else {
        out.text.push_back(c);
        ++i;
        continue;
      }
      out.text += "$" + std::to_string(number);
      i = j;
      continue;
    }
    if (identChar(c)) {  // a whole word, so that a '$' or '?' inside one is not a placeholder
      std::size_t j = i;
      while (j < n && identChar(sql[j])) ++j;
      out.text.append(sql.substr(i, j - i));
      i = j;
      continue;
    }
    out.text.push_back(c);
    ++i;
  }
  out.paramCount = highest;
  if (!seen) {
    out.empty = true;
    return out;
  }
  // After the first statement's ';': only blanks, comments and more semicolons.
  for (; i < n;) {
    Lexeme kind = Lexeme::Other;
    const std::size_t end = skipLexeme(sql, i, kind);
    if (end != i && kind == Lexeme::Comment) {
      i = end;
    } else if (end == i && (sql[i] == ';' || std::isspace(static_cast<unsigned char>(sql[i])) != 0)) {
      ++i;
    } else {
      out.multiple = true;
      break;
    }
  }
  while (!out.text.empty() && std::isspace(static_cast<unsigned char>(out.text.back())) != 0) out.text.pop_back();
  return out;
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
