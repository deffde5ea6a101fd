// The PostgreSQL backend of Storage (gamesrv/storage.hpp), over libpq: a small pool of
// connections (one per concurrent caller, at most StorageConfig::maxConnections),
// prepared statements on each, batched upserts as one multi-row `unnest` statement per
// chunk (binary arrays) inside one transaction, and the same schema versions as the
// SQLite backend (schema_migrations; an advisory lock held by the migrating transaction
// makes two servers opening one database at once apply each migration once). Builds without
// libpq (Windows, or libpq-dev missing) keep a stub whose open() says so. The read-only
// query is in storage_postgres_query.cpp, the connection in storage_postgres_connection.cpp.
#include "gamesrv/storage.hpp"

#if GAMESRV_HAVE_LIBPQ

#include <condition_variable>
#include <mutex>
#include <utility>

#include "storage_postgres.hpp"

namespace gamesrv {
namespace {

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

using Connection = storage_detail::PgConnection;

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

  StorageStatus acquire(std::span<const std::int64_t> ids, const LeaseClaim& claim, AcquireResult& out) override {
    if (claim.owner.empty()) return StorageStatus::failure(StorageErrc::BadParams, "acquire: no owner name");
    return withConnection([&](Connection& c) { return c.writeTransaction([&] { return c.acquire(ids, claim, out); }); });
  }

  StorageStatus flushOwned(std::span<const PlayerRow> rows, std::optional<std::uint64_t> checkpointSeq,
                           const LeaseClaim& claim, FlushOutcome& out) override {
    if (claim.owner.empty()) return StorageStatus::failure(StorageErrc::BadParams, "flushOwned: no owner name");
    return withConnection([&](Connection& c) {
      FlushOutcome outcome;
      StorageStatus st = c.writeTransaction([&] {
        StorageStatus s = c.upsertOwned(rows, claim, outcome);
        if (s.ok()) s = c.ownerUpdate(true, claim, outcome.renewed);
        if (s.ok() && checkpointSeq) s = c.checkpoint(*checkpointSeq);
        return s;
      });
      if (st.ok()) out = std::move(outcome);
      return st;
    });
  }

  StorageStatus release(const std::string& owner, std::size_t& released) override {
    LeaseClaim claim{owner, {}};
    return withConnection([&](Connection& c) { return c.ownerUpdate(false, claim, released); });
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
    return StorageStatus::failure(StorageErrc::NotBuilt,
                                  "PostgreSQL backend not built (this build found no libpq; Windows builds never have it)");
  }
};

}  // namespace

bool postgresStorageBuilt() noexcept { return false; }
std::unique_ptr<Storage> makePostgresStorage() { return std::make_unique<PostgresNotBuilt>(); }

}  // namespace gamesrv

#endif
