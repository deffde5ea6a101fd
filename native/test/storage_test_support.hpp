// Shared pieces of the Storage tests: a temporary directory, the backends under contract,
// and player rows to store.
//
// PostgreSQL is under contract when the build has libpq and GAMESRV_TEST_DATABASE_URL
// names a server (scripts/with-postgres.sh starts one and sets it; .ci/run always does).
// Each test process then creates a database of its own (gs_test_<pid>_<random>, dropped at
// exit) and each store a fresh schema in it, put first in the search_path through the
// URL's `options`, so runs and cases never share state.
#pragma once
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <functional>
#include <memory>
#include <ostream>
#include <random>
#include <cctype>
#include <string>
#include <system_error>
#include <vector>

#include "gamesrv/storage.hpp"
#include "temp_dir.hpp"

#if GAMESRV_HAVE_LIBPQ
#include <libpq-fe.h>
#include <unistd.h>  // getpid
#endif

namespace gamesrv {
// For CHECK_EQ's message.
inline std::ostream& operator<<(std::ostream& os, StorageErrc c) { return os << toString(c); }
}  // namespace gamesrv

namespace gstest {

// One backend under the contract: how to make a store and configure it for a test (a
// fresh data directory for SQLite, a fresh schema for PostgreSQL).
struct StorageBackend {
  const char* name;
  std::function<std::unique_ptr<gamesrv::Storage>()> make;
  std::function<gamesrv::StorageConfig(const TempDir&)> config;
};

// The variable that names the PostgreSQL server the tests (and bench_storage) use.
inline constexpr const char* kTestDatabaseUrlVar = "GAMESRV_TEST_DATABASE_URL";

inline std::string testDatabaseUrl() {
  const char* v = std::getenv(kTestDatabaseUrlVar);
  return v != nullptr ? v : "";
}

// Why PostgreSQL is not under test in this run, or "" when it is.
inline std::string postgresNotTestedReason() {
  if (!gamesrv::postgresStorageBuilt()) return "this build has no libpq";
  if (testDatabaseUrl().empty()) {
    return std::string(kTestDatabaseUrlVar) + " is not set (run under scripts/with-postgres.sh)";
  }
  return "";
}

#if GAMESRV_HAVE_LIBPQ

inline std::string percentEncoded(const std::string& s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) != 0 || c == '-' || c == '.' || c == '_' || c == '~') {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    }
  }
  return out;
}

// The test process's own database on the server GAMESRV_TEST_DATABASE_URL names (made
// through that URL's database, dropped when the process exits), and fresh schemas in it.
class PgTestDatabase {
 public:
  // nullptr when PostgreSQL is not under test; aborts the run when the server cannot be
  // used, since a run that was asked to test PostgreSQL must not quietly skip it.
  static PgTestDatabase* get() {
    static PgTestDatabase* db = [] {
      const std::string url = testDatabaseUrl();
      return url.empty() ? nullptr : new PgTestDatabase(url);  // leaked: dropped by the atexit hook
    }();
    return db;
  }

  // A URL to a new, empty schema in the test database, with `password` in it if given.
  std::string freshSchemaUrl(const std::string& password = "") {
    const std::string schema = "s" + std::to_string(next_.fetch_add(1) + 1);
    exec(name_, "CREATE SCHEMA " + schema);
    return url(name_, password, "-c search_path=" + schema);
  }
  // A URL to a database that does not exist on the same server.
  std::string missingDatabaseUrl(const std::string& password = "") const { return url(name_ + "_missing", password, ""); }

  // Runs `sql` as the maintenance user in database `db` (the test database by default).
  void exec(const std::string& db, const std::string& sql) const {
    PGconn* c = PQconnectdb(url(db, "", "").c_str());
    if (PQstatus(c) != CONNECTION_OK) die("cannot connect to the test database " + db + ": " + PQerrorMessage(c));
    PGresult* r = PQexec(c, sql.c_str());
    const bool ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
    const std::string err = ok ? "" : PQerrorMessage(c);
    PQclear(r);
    PQfinish(c);
    if (!ok) die(sql + ": " + err);
  }
  const std::string& name() const { return name_; }

 private:
  explicit PgTestDatabase(const std::string& base) {
    char* err = nullptr;
    PQconninfoOption* opts = PQconninfoParse(base.c_str(), &err);
    if (opts == nullptr) die(std::string(kTestDatabaseUrlVar) + " does not parse: " + (err != nullptr ? err : "?"));
    for (PQconninfoOption* o = opts; o->keyword != nullptr; ++o) {
      if (o->val == nullptr) continue;
      const std::string k = o->keyword;
      if (k == "user") user_ = o->val;
      else if (k == "password") password_ = o->val;
      else if (k == "host") host_ = o->val;
      else if (k == "port") port_ = o->val;
      else if (k == "dbname") maintenance_ = o->val;
    }
    PQconninfoFree(opts);
    std::random_device rd;
    name_ = "gs_test_" + std::to_string(static_cast<unsigned long>(::getpid())) + "_" + std::to_string(rd() % 1'000'000);
    exec(maintenance_.empty() ? "postgres" : maintenance_, "CREATE DATABASE " + name_);
    std::atexit([] { get()->drop(); });
    std::printf("  (PostgreSQL: test database %s on %s:%s)\n", name_.c_str(), host_.c_str(), port_.c_str());
  }

  void drop() const {
    exec(maintenance_.empty() ? "postgres" : maintenance_, "DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
  }

  std::string url(const std::string& db, const std::string& password, const std::string& options) const {
    std::string u = "postgres://" + percentEncoded(user_);
    const std::string& pw = password.empty() ? password_ : password;
    if (!pw.empty()) u += ":" + percentEncoded(pw);
    u += "@" + percentEncoded(host_.empty() ? "localhost" : host_);
    if (!port_.empty()) u += ":" + port_;
    u += "/" + percentEncoded(db);
    if (!options.empty()) u += "?options=" + percentEncoded(options);
    return u;
  }

  [[noreturn]] static void die(const std::string& what) {
    std::fprintf(stderr, "PostgreSQL test setup failed: %s\n", what.c_str());
    std::exit(1);
  }

  std::string user_, password_, host_, port_, maintenance_, name_;
  std::atomic<int> next_{0};
};

#endif  // GAMESRV_HAVE_LIBPQ

inline std::vector<StorageBackend> storageBackends() {
  std::vector<StorageBackend> out;
  if (gamesrv::sqliteStorageBuilt()) {
    out.push_back({"sqlite", [] { return gamesrv::makeSqliteStorage(); }, [](const TempDir& dir) {
                     gamesrv::StorageConfig c;
                     c.dataDir = (dir.path() / "data").string();  // missing: open() creates it
                     return c;
                   }});
  }
#if GAMESRV_HAVE_LIBPQ
  if (PgTestDatabase::get() != nullptr) {
    out.push_back({"postgres", [] { return gamesrv::makePostgresStorage(); }, [](const TempDir& dir) {
                     gamesrv::StorageConfig c;
                     c.dataDir = (dir.path() / "data").string();  // PostgreSQL ignores it
                     c.url = PgTestDatabase::get()->freshSchemaUrl();
                     return c;
                   }});
  }
#endif
  return out;
}

inline bool isPostgres(const StorageBackend& b) { return std::string(b.name) == "postgres"; }

inline gamesrv::PlayerRow playerRow(std::int64_t id, std::mt19937_64& rng) {
  std::uniform_real_distribution<double> pos(-5000.0, 5000.0);
  gamesrv::PlayerRow r;
  r.id = id;
  r.name = "player-" + std::to_string(id) + (id % 7 == 0 ? " \xc3\xa9t\xc3\xa9 \xe2\x9a\x94" : "");
  r.x = pos(rng);
  r.y = pos(rng);
  r.hp = static_cast<std::int64_t>(rng() % 101);
  r.kills = static_cast<std::int64_t>(rng() % 1000);
  r.online = id % 3 == 0;
  r.version = 1;
  r.updatedAtMs = 1'700'000'000'000 + id;
  return r;
}

inline std::vector<gamesrv::PlayerRow> playerRows(std::int64_t firstId, std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<gamesrv::PlayerRow> rows;
  rows.reserve(n);
  for (std::size_t i = 0; i < n; ++i) rows.push_back(playerRow(firstId + static_cast<std::int64_t>(i), rng));
  return rows;
}

}  // namespace gstest
