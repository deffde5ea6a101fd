// The Storage contract (gamesrv/storage.hpp), run over every backend this build has
// (storage_test_support.hpp: storageBackends()). Each case prints the backend it runs on;
// when PostgreSQL is not under test (no libpq, or GAMESRV_TEST_DATABASE_URL unset) every
// case says so, and so do the PostgreSQL-only cases at the end.
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <latch>
#include <string>
#include <thread>
#include <vector>

#include "harness.hpp"
#include "storage_test_support.hpp"

using namespace gamesrv;
using gstest::StorageBackend;
using gstest::TempDir;

namespace {

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

void sayPostgresNotTested() {
  const std::string why = gstest::postgresNotTestedReason();
  if (!why.empty()) std::printf("  [postgres] NOT TESTED: %s\n", why.c_str());
  std::fflush(stdout);
}

TEST(backends_are_made_by_name) {
  for (const char* name : {"sqlite", "postgres"}) {
    auto store = makeStorage(name);
    CHECK(store != nullptr);
    CHECK_EQ(std::string(store->backendName()), std::string(name));
  }
  CHECK(makeStorage("simulated") == nullptr);
  CHECK(makeStorage("") == nullptr);
}

#if GAMESRV_HAVE_SQLITE || GAMESRV_HAVE_LIBPQ

// Runs body(backend) once for every backend under contract.
template <class Body>
void forEachBackend(Body&& body) {
  const auto backends = gstest::storageBackends();
  if (sqliteStorageBuilt()) CHECK(!backends.empty());
  for (const StorageBackend& b : backends) {
    std::printf("  [%s]\n", b.name);
    std::fflush(stdout);
    body(b);
  }
  sayPostgresNotTested();
}

struct Opened {
  TempDir dir;
  StorageConfig config;
  std::unique_ptr<Storage> store;
};

std::unique_ptr<Opened> openFresh(const StorageBackend& b) {
  auto o = std::make_unique<Opened>();
  o->config = b.config(o->dir);
  o->store = b.make();
  const StorageStatus st = o->store->open(o->config);
  CHECK_MSG(st.ok(), st.message);
  return o;
}

std::int64_t countOf(Storage& s, const std::string& sql) {
  const QueryResult r = s.query(sql, {}, QueryOptions{});
  CHECK_MSG(r.status.ok(), r.status.message);
  CHECK_EQ(r.rows.size(), 1u);
  const auto* n = std::get_if<std::int64_t>(&r.rows[0][0]);
  CHECK(n != nullptr);
  return *n;
}

std::vector<PlayerRow> loadAll(Storage& s) {
  std::vector<PlayerRow> rows;
  const StorageStatus st = s.loadPlayers(rows);
  CHECK_MSG(st.ok(), st.message);
  return rows;
}

TEST(migrations_apply_once_and_reopening_keeps_the_version) {
  forEachBackend([](const StorageBackend& b) {
    auto o = openFresh(b);
    int version = 0;
    CHECK(o->store->schemaVersion(version).ok());
    CHECK_EQ(version, kStorageSchemaVersion);
    o->store->close();
    for (int reopen = 0; reopen < 2; ++reopen) {
      auto again = b.make();
      const StorageStatus st = again->open(o->config);
      CHECK_MSG(st.ok(), st.message);
      version = 0;
      CHECK(again->schemaVersion(version).ok());
      CHECK_EQ(version, kStorageSchemaVersion);
      CHECK_EQ(countOf(*again, "SELECT COUNT(*) FROM schema_migrations"), kStorageSchemaVersion);
      CHECK_EQ(countOf(*again, "SELECT COUNT(*) FROM checkpoint"), 1);
      again->close();
    }
  });
}

TEST(ten_thousand_players_round_trip_through_one_upsert_and_a_reopen) {
  forEachBackend([](const StorageBackend& b) {
    auto o = openFresh(b);
    const auto rows = gstest::playerRows(1, 10'000, 15);
    StorageStatus st = o->store->upsertPlayers(rows);
    CHECK_MSG(st.ok(), st.message);
    o->store->close();
    auto again = b.make();
    st = again->open(o->config);
    CHECK_MSG(st.ok(), st.message);
    const auto loaded = loadAll(*again);
    CHECK_EQ(loaded.size(), rows.size());
    for (std::size_t i = 0; i < rows.size(); ++i) {
      CHECK_MSG(loaded[i] == rows[i], "row " << i << " (id " << rows[i].id << ") differs: name '" << loaded[i].name
                                             << "' x " << loaded[i].x << " hp " << loaded[i].hp << " kills "
                                             << loaded[i].kills);
    }
  });
}

TEST(upsert_replaces_known_players_and_adds_new_ones) {
  forEachBackend([](const StorageBackend& b) {
    auto o = openFresh(b);
    auto rows = gstest::playerRows(1, 3, 1);
    CHECK(o->store->upsertPlayers(rows).ok());
    rows[1].name = "renamed";
    rows[1].x = 12.5;
    rows[1].y = -3.25;
    rows[1].hp = 7;
    rows[1].kills = 99;
    rows[1].online = !rows[1].online;
    rows[1].version = 2;
    auto added = gstest::playerRows(10, 1, 2);
    const std::vector<PlayerRow> batch{rows[1], added[0]};
    CHECK(o->store->upsertPlayers(batch).ok());
    const auto loaded = loadAll(*o->store);
    CHECK_EQ(loaded.size(), 4u);
    CHECK(loaded[0] == rows[0]);
    CHECK(loaded[1] == rows[1]);
    CHECK(loaded[2] == rows[2]);
    CHECK(loaded[3] == added[0]);
    CHECK(o->store->upsertPlayers({}).ok());
  });
}

TEST(checkpoint_is_written_with_the_flush_and_survives_a_reopen) {
  forEachBackend([](const StorageBackend& b) {
    auto o = openFresh(b);
    std::uint64_t seq = 99;
    CHECK(o->store->readCheckpoint(seq).ok());
    CHECK_EQ(seq, 0u);
    const auto rows = gstest::playerRows(1, 100, 3);
    StorageStatus st = o->store->flush(rows, 42);
    CHECK_MSG(st.ok(), st.message);
    CHECK(o->store->readCheckpoint(seq).ok());
    CHECK_EQ(seq, 42u);
    CHECK_EQ(loadAll(*o->store).size(), 100u);
    // Without a seq the checkpoint stays.
    CHECK(o->store->flush(gstest::playerRows(200, 1, 4), std::nullopt).ok());
    CHECK(o->store->readCheckpoint(seq).ok());
    CHECK_EQ(seq, 42u);
    o->store->close();
    auto again = b.make();
    CHECK(again->open(o->config).ok());
    CHECK(again->readCheckpoint(seq).ok());
    CHECK_EQ(seq, 42u);
    CHECK_EQ(loadAll(*again).size(), 101u);
    CHECK(again->writeCheckpoint(1'000'000'007).ok());
    CHECK(again->readCheckpoint(seq).ok());
    CHECK_EQ(seq, 1'000'000'007u);
    const StorageStatus tooBig = again->writeCheckpoint(~std::uint64_t{0});
    CHECK(!tooBig.ok());
    CHECK(again->readCheckpoint(seq).ok());
    CHECK_EQ(seq, 1'000'000'007u);
  });
}

TEST(the_chapters_query_returns_the_online_players) {
  forEachBackend([](const StorageBackend& b) {
    auto o = openFresh(b);
    const auto rows = gstest::playerRows(1, 20, 5);  // every third is online
    CHECK(o->store->upsertPlayers(rows).ok());
    const QueryResult r = o->store->query("SELECT * FROM players WHERE online = 1", {}, QueryOptions{});
    CHECK_MSG(r.status.ok(), r.status.message);
    const std::vector<std::string> columns{"id",     "name",    "x",          "y",     "hp",          "kills",
                                           "online", "version", "updated_at", "owner", "lease_until_ms"};  // + schema 2
    CHECK(r.columns == columns);
    std::vector<std::int64_t> expected;
    for (const PlayerRow& p : rows)
      if (p.online) expected.push_back(p.id);
    CHECK_EQ(r.rowCount, expected.size());
    CHECK_EQ(r.rows.size(), expected.size());
    CHECK(!r.truncated);
    std::vector<std::int64_t> got;
    for (const auto& row : r.rows) {
      const std::int64_t id = std::get<std::int64_t>(row[0]);
      got.push_back(id);
      const PlayerRow& p = rows[static_cast<std::size_t>(id - 1)];
      CHECK(std::get<std::string>(row[1]) == p.name);
      CHECK_EQ(std::get<double>(row[2]), p.x);
      CHECK_EQ(std::get<std::int64_t>(row[4]), p.hp);
      CHECK_EQ(std::get<std::int64_t>(row[6]), 1);
    }
    std::sort(got.begin(), got.end());
    CHECK(got == expected);
  });
}

TEST(write_statements_are_refused_with_a_clear_message_and_change_nothing) {
  forEachBackend([](const StorageBackend& b) {
    auto o = openFresh(b);
    const auto rows = gstest::playerRows(1, 10, 6);
    CHECK(o->store->upsertPlayers(rows).ok());
    struct Write {
      const char* sql;
      const char* names;  // the message says what was refused
    };
    const std::vector<Write> sqliteWrites{
        {"DELETE FROM players", "DELETE"},
        {"INSERT INTO players(id, name, x, y, hp, kills) VALUES (99, 'x', 0, 0, 1, 0)", "INSERT"},
        {"UPDATE players SET hp = 0", "UPDATE"},
        {"WITH doomed AS (SELECT id FROM players) DELETE FROM players WHERE id IN doomed", "DELETE"},
        {"PRAGMA writable_schema=1", "PRAGMA writable_schema"},
        {"PRAGMA journal_mode=DELETE", "PRAGMA journal_mode"},
        {"ATTACH DATABASE ':memory:' AS other", "ATTACH"},
        {"CREATE TABLE t(x)", "CREATE"},
        {"DROP TABLE players", "DROP"},
        {"BEGIN", "BEGIN"},
        {"VACUUM", ""},
    };
    // PostgreSQL: statements that are not a query are refused by their first word before
    // they run; a write inside a query (a WITH, EXPLAIN ANALYZE) by the READ ONLY
    // transaction, with the server's message.
    const std::vector<Write> postgresWrites{
        {"DELETE FROM players", "DELETE"},
        {"INSERT INTO players(id, name, x, y, hp, kills) VALUES (99, 'x', 0, 0, 1, 0)", "INSERT"},
        {"UPDATE players SET hp = 0", "UPDATE"},
        {"WITH doomed AS (DELETE FROM players RETURNING id) SELECT count(*) FROM doomed", "in a read-only transaction"},
        {"EXPLAIN ANALYZE DELETE FROM players", "in a read-only transaction"},
        {"CREATE TABLE t(x integer)", "CREATE"},
        {"DROP TABLE players", "DROP"},
        {"BEGIN", "BEGIN"},
        {"COMMIT", "COMMIT"},
        {"SET statement_timeout = 0", "SET"},
        {"COPY players TO STDOUT", "COPY"},
        {"VACUUM", "VACUUM"},
        {"  /* a comment first */ truncate players", "TRUNCATE"},
    };
    for (const auto& w : gstest::isPostgres(b) ? postgresWrites : sqliteWrites) {
      const QueryResult r = o->store->query(w.sql, {}, QueryOptions{});
      CHECK_MSG(r.status.code == StorageErrc::ReadOnly, w.sql << " -> " << toString(r.status.code) << ": " << r.status.message);
      CHECK_MSG(contains(r.status.message, "read-only") && contains(r.status.message, w.names),
                w.sql << " -> " << r.status.message);
      CHECK(r.rows.empty());
      CHECK(r.columns.empty());
      std::printf("    %s -> %s\n", w.sql, r.status.message.c_str());
    }
    CHECK(loadAll(*o->store) == rows);
    if (!gstest::isPostgres(b)) {
      const QueryResult attached = o->store->query("SELECT name FROM other.sqlite_master", {}, QueryOptions{});
      CHECK_EQ(attached.status.code, StorageErrc::Sql);
      CHECK_MSG(contains(attached.status.message, "other"), attached.status.message);
    }
    // Still a working store: the refused BEGIN left no transaction open.
    CHECK(o->store->upsertPlayers(gstest::playerRows(50, 1, 7)).ok());
    CHECK_EQ(countOf(*o->store, "SELECT COUNT(*) FROM players"), 11);
  });
}

TEST(only_one_statement_per_query) {
  forEachBackend([](const StorageBackend& b) {
    auto o = openFresh(b);
    CHECK(o->store->upsertPlayers(gstest::playerRows(1, 5, 8)).ok());
    for (const char* sql : {"SELECT 1; SELECT 2", "SELECT * FROM players; DELETE FROM players", "SELECT 1; garbage"}) {
      const QueryResult r = o->store->query(sql, {}, QueryOptions{});
      CHECK_MSG(r.status.code == StorageErrc::MultipleStatements, sql << " -> " << r.status.message);
      CHECK_MSG(contains(r.status.message, "one SQL statement"), r.status.message);
    }
    CHECK_EQ(countOf(*o->store, "SELECT COUNT(*) FROM players"), 5);
    for (const char* sql : {"SELECT 1;", "SELECT 1; -- the end", "  SELECT 1 ;; /* and a comment */ "}) {
      const QueryResult r = o->store->query(sql, {}, QueryOptions{});
      CHECK_MSG(r.status.ok(), sql << " -> " << r.status.message);
      CHECK_EQ(r.rowCount, 1u);
    }
    const QueryResult empty = o->store->query("  -- nothing", {}, QueryOptions{});
    CHECK_EQ(empty.status.code, StorageErrc::Sql);
    CHECK_MSG(contains(empty.status.message, "empty"), empty.status.message);
  });
}

TEST(row_cap_truncates_and_says_so) {
  forEachBackend([](const StorageBackend& b) {
    auto o = openFresh(b);
    CHECK(o->store->upsertPlayers(gstest::playerRows(1, 50, 9)).ok());
    QueryOptions opt;
    for (const auto& [cap, truncated] : {std::pair<std::size_t, bool>{10, true}, {49, true}, {50, false}, {1000, false}}) {
      opt.rowCap = cap;
      const QueryResult r = o->store->query("SELECT id FROM players ORDER BY id", {}, opt);
      CHECK_MSG(r.status.ok(), r.status.message);
      CHECK_EQ(r.truncated, truncated);
      CHECK_EQ(r.rowCount, std::min<std::size_t>(cap, 50));
      CHECK_EQ(r.rows.size(), r.rowCount);
      CHECK_EQ(std::get<std::int64_t>(r.rows.back()[0]), static_cast<std::int64_t>(r.rowCount));
    }
  });
}

TEST(a_slow_recursive_cte_hits_the_timeout_with_a_clear_error) {
  forEachBackend([](const StorageBackend& b) {
    auto o = openFresh(b);
    QueryOptions opt;
    opt.timeout = std::chrono::milliseconds(100);
    const auto t0 = std::chrono::steady_clock::now();
    const QueryResult r = o->store->query(
        "WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c) SELECT count(*) FROM c", {}, opt);
    const auto elapsed = std::chrono::steady_clock::now() - t0;
    CHECK_MSG(r.status.code == StorageErrc::Timeout, toString(r.status.code) << ": " << r.status.message);
    CHECK_MSG(contains(r.status.message, "timed out after 100 ms"), r.status.message);
    CHECK(r.rows.empty());
    CHECK(r.latencyUs >= 100'000);
    // Ended by the timeout, not by running out: well before 100x the limit on a loaded machine.
    CHECK(elapsed < std::chrono::seconds(10));
    CHECK_EQ(countOf(*o->store, "SELECT 1"), 1);  // the connection is usable again
  });
}

TEST(a_cancelled_flag_stops_a_query) {
  forEachBackend([](const StorageBackend& b) {
    auto o = openFresh(b);
    std::atomic<bool> cancelled{true};
    QueryOptions opt;
    opt.cancelled = &cancelled;
    const QueryResult r = o->store->query(
        "WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c) SELECT count(*) FROM c", {}, opt);
    CHECK_EQ(r.status.code, StorageErrc::Cancelled);
    cancelled = false;
    CHECK(o->store->query("SELECT 1", {}, opt).status.ok());
  });
}

TEST(params_bind_in_order) {
  forEachBackend([](const StorageBackend& b) {
    auto o = openFresh(b);
    const auto rows = gstest::playerRows(1, 10, 10);
    CHECK(o->store->upsertPlayers(rows).ok());
    const std::vector<DbValue> params{std::int64_t{-9'007'199'254'740'993}, 2.5, std::string("h\xc3\xa9llo"),
                                      std::monostate{}, DbBlob{{0, 1, 255}}};
    const bool pg = gstest::isPostgres(b);
    const QueryResult r = o->store->query(pg ? "SELECT ?, ?, ?, ?, ?, ?4::text IS NULL AS t4" : "SELECT ?, ?, ?, ?, ?, typeof(?4) AS t4",
                                          params, QueryOptions{});
    CHECK_MSG(r.status.ok(), r.status.message);
    CHECK_EQ(r.rows.size(), 1u);
    const auto& row = r.rows[0];
    CHECK(row[0] == params[0]);
    CHECK(row[1] == params[1]);
    CHECK(row[2] == params[2]);
    CHECK(std::holds_alternative<std::monostate>(row[3]));
    CHECK(row[4] == params[4]);
    if (pg) {
      CHECK(row[5] == DbValue{std::int64_t{1}});  // a boolean reads as 0 or 1, as in SQLite
    } else {
      CHECK(std::get<std::string>(row[5]) == "null");
    }
    CHECK_EQ(r.columns[5], std::string("t4"));

    const std::vector<DbValue> id{std::int64_t{7}};
    const QueryResult one = o->store->query("SELECT name, kills FROM players WHERE id = ?", id, QueryOptions{});
    CHECK_MSG(one.status.ok(), one.status.message);
    CHECK_EQ(one.rowCount, 1u);
    CHECK(std::get<std::string>(one.rows[0][0]) == rows[6].name);
    CHECK_EQ(std::get<std::int64_t>(one.rows[0][1]), rows[6].kills);

    const QueryResult missing = o->store->query("SELECT name FROM players WHERE id = ? AND hp > ?", id, QueryOptions{});
    CHECK_EQ(missing.status.code, StorageErrc::BadParams);
    CHECK_MSG(contains(missing.status.message, "2 parameter(s), 1 given"), missing.status.message);
  });
}

TEST(sql_errors_carry_the_databases_message) {
  forEachBackend([](const StorageBackend& b) {
    auto o = openFresh(b);
    const QueryResult syntax = o->store->query("SELEC * FROM players", {}, QueryOptions{});
    CHECK_EQ(syntax.status.code, StorageErrc::Sql);
    CHECK_MSG(contains(syntax.status.message, "syntax error") && contains(syntax.status.message, "SELEC"),
              syntax.status.message);
    const QueryResult table = o->store->query("SELECT * FROM nope", {}, QueryOptions{});
    CHECK_EQ(table.status.code, StorageErrc::Sql);
    const char* noTable = gstest::isPostgres(b) ? "relation \"nope\" does not exist" : "no such table: nope";
    CHECK_MSG(contains(table.status.message, noTable), table.status.message);
  });
}

TEST(threads_write_and_read_at_once_each_on_its_own_connection) {
  forEachBackend([](const StorageBackend& b) {
    auto o = openFresh(b);
    o->store->close();
    o->config.maxConnections = 4;
    CHECK(o->store->open(o->config).ok());
    constexpr int kWriters = 2;
    constexpr int kBatches = 20;
    constexpr std::size_t kBatch = 100;
    std::atomic<int> writersLeft{kWriters};
    std::atomic<int> failures{0};
    std::atomic<std::uint64_t> reads{0};
    std::vector<std::thread> threads;
    for (int w = 0; w < kWriters; ++w) {
      threads.emplace_back([&, w] {
        for (int i = 0; i < kBatches; ++i) {
          const auto rows = gstest::playerRows(1 + (w * kBatches + i) * static_cast<std::int64_t>(kBatch), kBatch,
                                               static_cast<std::uint64_t>(w * 100 + i));
          if (!o->store->flush(rows, static_cast<std::uint64_t>(w * kBatches + i)).ok()) ++failures;
        }
        --writersLeft;
      });
    }
    for (int rdr = 0; rdr < 2; ++rdr) {
      threads.emplace_back([&] {
        std::int64_t last = 0;
        // Reads run while the writers write; each sees a committed, growing table.
        while (writersLeft.load() > 0) {
          const QueryResult r = o->store->query("SELECT COUNT(*) FROM players", {}, QueryOptions{});
          if (!r.status.ok() || r.rows.size() != 1) {
            ++failures;
            return;
          }
          const std::int64_t n = std::get<std::int64_t>(r.rows[0][0]);
          if (n < last || n % static_cast<std::int64_t>(kBatch) != 0) ++failures;  // batches are atomic
          last = n;
          ++reads;
        }
      });
    }
    for (auto& t : threads) t.join();
    CHECK_EQ(failures.load(), 0);
    CHECK(reads.load() > 0);
    CHECK_EQ(countOf(*o->store, "SELECT COUNT(*) FROM players"), kWriters * kBatches * static_cast<std::int64_t>(kBatch));
    std::uint64_t seq = 0;
    CHECK(o->store->readCheckpoint(seq).ok());
    CHECK(seq < static_cast<std::uint64_t>(kWriters * kBatches));
  });
}

TEST(calls_after_close_are_refused_and_close_is_idempotent) {
  forEachBackend([](const StorageBackend& b) {
    auto o = openFresh(b);
    const StorageStatus twice = o->store->open(o->config);
    CHECK_EQ(twice.code, StorageErrc::OpenFailed);
    CHECK_MSG(contains(twice.message, "already open"), twice.message);
    o->store->close();
    o->store->close();
    std::vector<PlayerRow> rows;
    CHECK_EQ(o->store->loadPlayers(rows).code, StorageErrc::Closed);
    CHECK_EQ(o->store->upsertPlayers(gstest::playerRows(1, 1, 1)).code, StorageErrc::Closed);
    CHECK_EQ(o->store->query("SELECT 1", {}, QueryOptions{}).status.code, StorageErrc::Closed);
    CHECK(o->store->open(o->config).ok());  // and it opens again
    CHECK_EQ(countOf(*o->store, "SELECT 1"), 1);
  });
}

TEST(a_store_that_cannot_be_opened_fails_and_says_where) {
  forEachBackend([](const StorageBackend& b) {
    TempDir dir;
    StorageConfig config = b.config(dir);
    std::string where = config.dataDir;
    if (gstest::isPostgres(b)) {
#if GAMESRV_HAVE_LIBPQ
      config.url = gstest::PgTestDatabase::get()->missingDatabaseUrl();
      where = gstest::PgTestDatabase::get()->name() + "_missing";
#endif
    } else {
      std::ofstream(config.dataDir) << "not a directory";  // a data directory that is a file
    }
    auto store = b.make();
    const StorageStatus st = store->open(config);
    CHECK_EQ(st.code, StorageErrc::OpenFailed);
    CHECK_MSG(contains(st.message, where), st.message);
    std::printf("    %s\n", st.message.c_str());
    CHECK_EQ(store->query("SELECT 1", {}, QueryOptions{}).status.code, StorageErrc::Closed);
  });
}

#endif  // GAMESRV_HAVE_SQLITE || GAMESRV_HAVE_LIBPQ

#if !GAMESRV_HAVE_SQLITE

TEST(sqlite_backend_not_built_says_so) {
  CHECK(!sqliteStorageBuilt());
  auto store = makeSqliteStorage();
  const StorageStatus st = store->open(StorageConfig{});
  CHECK_EQ(st.code, StorageErrc::NotBuilt);
  CHECK_MSG(st.message.find("SQLite backend not built") != std::string::npos, st.message);
  CHECK_EQ(store->query("SELECT 1", {}, QueryOptions{}).status.code, StorageErrc::NotBuilt);
}

#endif

#if !GAMESRV_HAVE_LIBPQ

TEST(postgres_backend_not_built_says_so) {
  CHECK(!postgresStorageBuilt());
  auto store = makePostgresStorage();
  StorageConfig config;
  config.url = "postgres://nobody@127.0.0.1:1/none";
  const StorageStatus st = store->open(config);
  CHECK_EQ(st.code, StorageErrc::NotBuilt);
  CHECK_MSG(st.message.find("PostgreSQL backend not built") != std::string::npos, st.message);
  CHECK_EQ(store->query("SELECT 1", {}, QueryOptions{}).status.code, StorageErrc::NotBuilt);
  sayPostgresNotTested();
}

#endif

}  // namespace

GS_TEST_MAIN()
