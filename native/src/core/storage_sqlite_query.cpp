// The SQLite backend's read-only query (Storage::query): an authorizer that allows only
// reading, sqlite3_stmt_readonly, one statement, bound parameters, a row cap, and a
// progress handler for the timeout and the cancel flag.
#include "gamesrv/storage.hpp"

#if GAMESRV_HAVE_SQLITE

#include <chrono>
#include <cstring>
#include <limits>
#include <string>

#include "storage_sqlite.hpp"

namespace gamesrv::storage_detail {
namespace {


struct Authorization {
  std::string refused;  // the first action refused, for the message
};

std::string describeAction(int action, const char* a, const char* b) {
  auto s = [](const char* p) { return std::string(p != nullptr ? p : ""); };
  // CREATE asks to write the schema table before it names itself.
  const bool schemaTable = a != nullptr && std::strncmp(a, "sqlite_", 7) == 0;
  if (schemaTable && (action == SQLITE_INSERT || action == SQLITE_UPDATE || action == SQLITE_DELETE)) {
    return "changing the schema (CREATE, DROP, ALTER; " + s(a) + ")";
  }
  switch (action) {
    case SQLITE_INSERT: return "INSERT into " + s(a);
    case SQLITE_UPDATE: return "UPDATE of " + s(a);
    case SQLITE_DELETE: return "DELETE from " + s(a);
    case SQLITE_PRAGMA: return "PRAGMA " + s(a) + (b != nullptr ? "=" + s(b) : "");
    case SQLITE_ATTACH: return "ATTACH";
    case SQLITE_DETACH: return "DETACH";
    case SQLITE_TRANSACTION: return s(a) + " (transaction control)";
    case SQLITE_SAVEPOINT: return "SAVEPOINT";
    case SQLITE_ANALYZE: return "ANALYZE";
    case SQLITE_REINDEX: return "REINDEX";
    case SQLITE_ALTER_TABLE: return "ALTER TABLE";
    case SQLITE_CREATE_TABLE: case SQLITE_CREATE_INDEX: case SQLITE_CREATE_VIEW: case SQLITE_CREATE_TRIGGER:
    case SQLITE_CREATE_VTABLE: case SQLITE_CREATE_TEMP_TABLE: case SQLITE_CREATE_TEMP_INDEX:
    case SQLITE_CREATE_TEMP_VIEW: case SQLITE_CREATE_TEMP_TRIGGER:
      return "CREATE " + s(a);
    case SQLITE_DROP_TABLE: case SQLITE_DROP_INDEX: case SQLITE_DROP_VIEW: case SQLITE_DROP_TRIGGER:
    case SQLITE_DROP_VTABLE: case SQLITE_DROP_TEMP_TABLE: case SQLITE_DROP_TEMP_INDEX:
    case SQLITE_DROP_TEMP_VIEW: case SQLITE_DROP_TEMP_TRIGGER:
      return "DROP " + s(a);
    default: return "operation " + std::to_string(action);
  }
}

// A whitelist: reading tables, calling functions, SELECT and WITH RECURSIVE; nothing else.
int authorizeReadOnly(void* ctx, int action, const char* a, const char* b, const char*, const char*) {
  switch (action) {
    case SQLITE_SELECT:
    case SQLITE_READ:
    case SQLITE_FUNCTION:
    case SQLITE_RECURSIVE:
      return SQLITE_OK;
    default: {
      auto* auth = static_cast<Authorization*>(ctx);
      if (auth->refused.empty()) auth->refused = describeAction(action, a, b);
      return SQLITE_DENY;
    }
  }
}

struct Progress {
  std::chrono::steady_clock::time_point deadline;
  const std::atomic<bool>* cancelled = nullptr;
  bool timedOut = false;
  bool wasCancelled = false;
};

int onProgress(void* ctx) {
  auto* p = static_cast<Progress*>(ctx);
  if (p->cancelled != nullptr && p->cancelled->load(std::memory_order_relaxed)) {
    p->wasCancelled = true;
    return 1;
  }
  if (std::chrono::steady_clock::now() >= p->deadline) {
    p->timedOut = true;
    return 1;
  }
  return 0;
}

// SQLite VM steps between two looks at the clock: ~tens of microseconds of work.
constexpr int kProgressSteps = 1000;

std::string_view trimmed(std::string_view s) {
  while (!s.empty() && std::strchr(" \t\r\n;", s.front()) != nullptr) s.remove_prefix(1);
  return s;
}

bool bindParam(sqlite3_stmt* s, int index, const DbValue& v) {
  int rc = SQLITE_OK;
  if (std::holds_alternative<std::monostate>(v)) {
    rc = sqlite3_bind_null(s, index);
  } else if (const auto* i = std::get_if<std::int64_t>(&v)) {
    rc = sqlite3_bind_int64(s, index, *i);
  } else if (const auto* d = std::get_if<double>(&v)) {
    rc = sqlite3_bind_double(s, index, *d);
  } else if (const auto* t = std::get_if<std::string>(&v)) {
    rc = sqlite3_bind_text64(s, index, t->data(), t->size(), SQLITE_STATIC, SQLITE_UTF8);
  } else if (const auto* b = std::get_if<DbBlob>(&v)) {
    rc = sqlite3_bind_blob64(s, index, b->bytes.data(), b->bytes.size(), SQLITE_STATIC);
  }
  return rc == SQLITE_OK;
}

DbValue columnValue(sqlite3_stmt* s, int i) {
  switch (sqlite3_column_type(s, i)) {
    case SQLITE_INTEGER: return sqlite3_column_int64(s, i);
    case SQLITE_FLOAT: return sqlite3_column_double(s, i);
    case SQLITE_TEXT: {
      const auto* t = reinterpret_cast<const char*>(sqlite3_column_text(s, i));
      return std::string(t != nullptr ? t : "", static_cast<std::size_t>(sqlite3_column_bytes(s, i)));
    }
    case SQLITE_BLOB: {
      const auto* p = static_cast<const std::uint8_t*>(sqlite3_column_blob(s, i));
      const auto n = static_cast<std::size_t>(sqlite3_column_bytes(s, i));
      return DbBlob{std::vector<std::uint8_t>(p, p + n)};
    }
    default: return std::monostate{};
  }
}

}  // namespace

StorageStatus runReadOnlyQuery(sqlite3* db, std::string_view sql, std::span<const DbValue> params,
                               const QueryOptions& options, QueryResult& r) {
  Authorization auth;
  Progress progress{std::chrono::steady_clock::now() + options.timeout, options.cancelled};
  sqlite3_set_authorizer(db, authorizeReadOnly, &auth);
  sqlite3_progress_handler(db, kProgressSteps, onProgress, &progress);
  struct Restore {
    sqlite3* db;
    ~Restore() {
      sqlite3_progress_handler(db, 0, nullptr, nullptr);
      sqlite3_set_authorizer(db, nullptr, nullptr);
    }
  } restore{db};

  if (sql.size() > static_cast<std::size_t>(std::numeric_limits<int>::max())) {
    return StorageStatus::failure(StorageErrc::Sql, "query text too long");
  }
  const char* tail = nullptr;
  StmtGuard stmt;
  int rc = sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()), 0, &stmt.s, &tail);
  if (rc != SQLITE_OK) {
    if (!auth.refused.empty()) {
      return StorageStatus::failure(StorageErrc::ReadOnly, "read-only query refused: " + auth.refused +
                                                               " is not allowed (database tasks may only read)");
    }
    return StorageStatus::failure(StorageErrc::Sql, errmsg(db));
  }
  if (stmt.s == nullptr) return StorageStatus::failure(StorageErrc::Sql, "empty query: no SQL statement to run");
  // Anything after the first statement but blanks, comments and semicolons is a second one.
  const std::string_view rest = trimmed(std::string_view(tail, static_cast<std::size_t>(sql.data() + sql.size() - tail)));
  if (!rest.empty()) {
    StmtGuard next;
    auth.refused.clear();
    rc = sqlite3_prepare_v3(db, rest.data(), static_cast<int>(rest.size()), 0, &next.s, nullptr);
    if (rc != SQLITE_OK || next.s != nullptr) {
      return StorageStatus::failure(StorageErrc::MultipleStatements,
                                    "only one SQL statement per query; found more after \"" +
                                        std::string(sql.substr(0, static_cast<std::size_t>(tail - sql.data()))) + "\"");
    }
  }
  if (sqlite3_stmt_readonly(stmt.s) == 0) {
    return StorageStatus::failure(StorageErrc::ReadOnly,
                                  "read-only query refused: the statement would write (database tasks may only read)");
  }
  const int expected = sqlite3_bind_parameter_count(stmt.s);
  if (static_cast<std::size_t>(expected) != params.size()) {
    return StorageStatus::failure(StorageErrc::BadParams, "the query takes " + std::to_string(expected) +
                                                              " parameter(s), " + std::to_string(params.size()) + " given");
  }
  for (std::size_t i = 0; i < params.size(); ++i) {
    if (!bindParam(stmt.s, static_cast<int>(i + 1), params[i])) {
      return StorageStatus::failure(StorageErrc::BadParams, "binding parameter " + std::to_string(i + 1) + ": " + errmsg(db));
    }
  }
  const int columns = sqlite3_column_count(stmt.s);
  for (int i = 0; i < columns; ++i) {
    const char* name = sqlite3_column_name(stmt.s, i);
    r.columns.emplace_back(name != nullptr ? name : "");
  }
  while ((rc = sqlite3_step(stmt.s)) == SQLITE_ROW) {
    if (r.rows.size() >= options.rowCap) {
      r.truncated = true;
      return StorageStatus::success();
    }
    std::vector<DbValue> row;
    row.reserve(static_cast<std::size_t>(columns));
    for (int i = 0; i < columns; ++i) row.push_back(columnValue(stmt.s, i));
    r.rows.push_back(std::move(row));
  }
  if (rc == SQLITE_DONE) return StorageStatus::success();
  if (progress.timedOut) {
    return StorageStatus::failure(StorageErrc::Timeout,
                                  "query timed out after " + std::to_string(options.timeout.count()) + " ms");
  }
  if (progress.wasCancelled) return StorageStatus::failure(StorageErrc::Cancelled, "query cancelled");
  return StorageStatus::failure(StorageErrc::Sql, errmsg(db));
}

}  // namespace gamesrv::storage_detail

#endif  // GAMESRV_HAVE_SQLITE
