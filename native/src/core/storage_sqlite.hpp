// Pieces the SQLite backend's files share (native/src/core only; needs GAMESRV_HAVE_SQLITE).
#pragma once
#include <sqlite3.h>

#include <span>
#include <string>
#include <string_view>

#include "gamesrv/storage.hpp"

namespace gamesrv::storage_detail {

inline std::string errmsg(sqlite3* db) { return db != nullptr ? sqlite3_errmsg(db) : "out of memory"; }

struct StmtGuard {
  sqlite3_stmt* s = nullptr;
  StmtGuard() = default;
  StmtGuard(const StmtGuard&) = delete;
  StmtGuard& operator=(const StmtGuard&) = delete;
  ~StmtGuard() { sqlite3_finalize(s); }
};

// Runs `sql` on `db` as a read-only query for a `database` task and fills r's columns,
// rows and truncated flag; refuses anything that could write (StorageErrc::ReadOnly),
// more than one statement, or a parameter count that does not match. The caller has
// `db` to itself for the call: the authorizer and progress handler are the
// connection's, installed for the call and removed after.
StorageStatus runReadOnlyQuery(sqlite3* db, std::string_view sql, std::span<const DbValue> params,
                               const QueryOptions& options, QueryResult& r);

}  // namespace gamesrv::storage_detail
