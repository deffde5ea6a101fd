// What only the PostgreSQL backend has to show, beyond the contract (test_storage.cpp):
// two stores on one database, concurrent opens migrating once, the server's
// statement_timeout, PQcancel on the caller's flag and past the row cap, writes refused
// by the READ ONLY transaction with the server's message, placeholders and quoting, and
// a location without the password. Needs GAMESRV_TEST_DATABASE_URL (scripts/with-postgres.sh);
// without it (or without libpq) every case prints that PostgreSQL was NOT TESTED.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <latch>
#include <string>
#include <thread>
#include <vector>

#include "harness.hpp"
#include "storage_test_support.hpp"

using namespace gamesrv;
using gstest::TempDir;

namespace {

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// The config of a fresh schema, or nullopt (and a NOT TESTED line) when PostgreSQL is not
// under test in this run.
std::optional<StorageConfig> freshConfig() {
  const std::string why = gstest::postgresNotTestedReason();
  if (!why.empty()) {
    std::printf("  [postgres] NOT TESTED: %s\n", why.c_str());
    std::fflush(stdout);
    return std::nullopt;
  }
#if GAMESRV_HAVE_LIBPQ
  StorageConfig c;
  c.url = gstest::PgTestDatabase::get()->freshSchemaUrl();
  return c;
#else
  return std::nullopt;
#endif
}

std::unique_ptr<Storage> opened(const StorageConfig& config) {
  auto s = makePostgresStorage();
  const StorageStatus st = s->open(config);
  CHECK_MSG(st.ok(), st.message);
  return s;
}

std::int64_t countOf(Storage& s, const std::string& sql) {
  const QueryResult r = s.query(sql, {}, QueryOptions{});
  CHECK_MSG(r.status.ok(), r.status.message);
  CHECK_EQ(r.rows.size(), 1u);
  return std::get<std::int64_t>(r.rows[0][0]);
}

TEST(two_servers_share_one_database) {
  const auto config = freshConfig();
  if (!config) return;
  auto a = opened(*config);
  auto b = opened(*config);
  const auto rows = gstest::playerRows(1, 500, 21);
  StorageStatus st = a->flush(rows, 77);
  CHECK_MSG(st.ok(), st.message);
  std::vector<PlayerRow> seen;
  CHECK(b->loadPlayers(seen).ok());
  CHECK(seen == rows);  // name, position, hp, kills, online, version: all of it
  std::uint64_t seq = 0;
  CHECK(b->readCheckpoint(seq).ok());
  CHECK_EQ(seq, 77u);
  // And back: B moves a player, A reads the move.
  PlayerRow moved = rows[41];
  moved.x = -1234.5;
  moved.y = 0.1;
  moved.hp = 3;
  moved.kills += 1;
  moved.version += 1;
  CHECK(b->upsertPlayers(std::span<const PlayerRow>(&moved, 1)).ok());
  const std::vector<DbValue> id{std::int64_t{moved.id}};
  const QueryResult r = a->query("SELECT x, y, hp, kills FROM players WHERE id = ?", id, QueryOptions{});
  CHECK_MSG(r.status.ok(), r.status.message);
  CHECK_EQ(r.rowCount, 1u);
  CHECK(r.rows[0][0] == DbValue{moved.x});
  CHECK(r.rows[0][1] == DbValue{moved.y});
  CHECK(r.rows[0][2] == DbValue{moved.hp});
  CHECK(r.rows[0][3] == DbValue{moved.kills});
}

TEST(concurrent_opens_apply_each_migration_once) {
  const auto config = freshConfig();
  if (!config) return;
  constexpr int kServers = 6;
  std::vector<std::unique_ptr<Storage>> stores;
  for (int i = 0; i < kServers; ++i) stores.push_back(makePostgresStorage());
  std::vector<StorageStatus> results(kServers);
  std::latch go(kServers);
  std::vector<std::thread> threads;
  for (int i = 0; i < kServers; ++i) {
    threads.emplace_back([&, i] {
      go.arrive_and_wait();  // every open races the others into the empty schema
      results[static_cast<std::size_t>(i)] = stores[static_cast<std::size_t>(i)]->open(*config);
    });
  }
  for (auto& t : threads) t.join();
  for (const StorageStatus& st : results) CHECK_MSG(st.ok(), st.message);
  CHECK_EQ(countOf(*stores[0], "SELECT COUNT(*) FROM schema_migrations"), kStorageSchemaVersion);
  CHECK_EQ(countOf(*stores[0], "SELECT MAX(version) FROM schema_migrations"), kStorageSchemaVersion);
  CHECK_EQ(countOf(*stores[kServers - 1], "SELECT COUNT(*) FROM checkpoint"), 1);
}

TEST(the_servers_statement_timeout_ends_a_slow_query) {
  const auto config = freshConfig();
  if (!config) return;
  auto s = opened(*config);
  QueryOptions opt;
  opt.timeout = std::chrono::milliseconds(200);
  const auto t0 = std::chrono::steady_clock::now();
  const QueryResult r = s->query("SELECT pg_sleep(30)", {}, opt);
  const auto elapsed = std::chrono::steady_clock::now() - t0;
  CHECK_MSG(r.status.code == StorageErrc::Timeout, toString(r.status.code) << ": " << r.status.message);
  // The server's own statement_timeout, not the client's later PQcancel.
  CHECK_MSG(contains(r.status.message, "timed out after 200 ms") && contains(r.status.message, "statement timeout"),
            r.status.message);
  std::printf("    %s\n", r.status.message.c_str());
  CHECK(r.latencyUs >= 200'000);
  CHECK(elapsed < std::chrono::seconds(10));
  // The timeout was the transaction's (SET LOCAL): the next query has its own.
  CHECK_EQ(countOf(*s, "SELECT COUNT(*) FROM pg_sleep(0.3)"), 1);
}

TEST(the_cancel_flag_sends_pqcancel_to_a_running_query) {
  const auto config = freshConfig();
  if (!config) return;
  auto s = opened(*config);
  std::atomic<bool> cancelled{false};
  QueryOptions opt;
  opt.cancelled = &cancelled;
  opt.timeout = std::chrono::seconds(60);
  std::atomic<bool> started{false};
  std::thread canceller([&] {
    // Wait until the query is on the server, then cancel it.
    for (;;) {
      const QueryResult r = s->query("SELECT COUNT(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(60)' AND state = 'active'",
                                     {}, QueryOptions{});
      if (r.status.ok() && std::get<std::int64_t>(r.rows[0][0]) == 1) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));  // polling another process's state
    }
    started = true;
    cancelled = true;
  });
  const auto t0 = std::chrono::steady_clock::now();
  const QueryResult r = s->query("SELECT pg_sleep(60)", {}, opt);
  const auto elapsed = std::chrono::steady_clock::now() - t0;
  canceller.join();
  CHECK(started.load());
  CHECK_MSG(r.status.code == StorageErrc::Cancelled, toString(r.status.code) << ": " << r.status.message);
  CHECK(elapsed < std::chrono::seconds(30));
  cancelled = false;
  CHECK(s->query("SELECT 1", {}, opt).status.ok());  // the connection came back in a clean state
}

TEST(the_row_cap_cancels_a_huge_result_instead_of_reading_it) {
  const auto config = freshConfig();
  if (!config) return;
  auto s = opened(*config);
  QueryOptions opt;
  opt.rowCap = 10;
  opt.timeout = std::chrono::seconds(30);
  const auto t0 = std::chrono::steady_clock::now();
  // In the select list the series streams row by row (in FROM it would be materialized first).
  const QueryResult r = s->query("SELECT generate_series(1, 2000000000)::bigint AS g", {}, opt);
  const auto elapsed = std::chrono::steady_clock::now() - t0;
  CHECK_MSG(r.status.ok(), r.status.message);
  CHECK(r.truncated);
  CHECK_EQ(r.rowCount, 10u);
  CHECK(r.rows[9][0] == DbValue{std::int64_t{10}});
  CHECK(elapsed < std::chrono::seconds(20));  // 2e9 rows would take minutes, and the timeout is 30 s
  CHECK_EQ(countOf(*s, "SELECT 41 + 1"), 42);
}

TEST(a_write_inside_a_query_is_refused_by_the_read_only_transaction) {
  const auto config = freshConfig();
  if (!config) return;
  auto s = opened(*config);
  const auto rows = gstest::playerRows(1, 20, 22);
  CHECK(s->upsertPlayers(rows).ok());
  for (const char* sql : {"WITH gone AS (DELETE FROM players RETURNING id) SELECT COUNT(*) FROM gone",
                          "SELECT * FROM players FOR UPDATE",
                          "WITH up AS (UPDATE checkpoint SET seq = 9 RETURNING seq) SELECT seq FROM up"}) {
    const QueryResult r = s->query(sql, {}, QueryOptions{});
    CHECK_MSG(r.status.code == StorageErrc::ReadOnly, sql << " -> " << toString(r.status.code) << ": " << r.status.message);
    CHECK_MSG(contains(r.status.message, "read-only transaction"), r.status.message);  // the server's words
    std::printf("    %s -> %s\n", sql, r.status.message.c_str());
  }
  std::vector<PlayerRow> left;
  CHECK(s->loadPlayers(left).ok());
  CHECK(left == rows);
  std::uint64_t seq = 1;
  CHECK(s->readCheckpoint(seq).ok());
  CHECK_EQ(seq, 0u);
}

TEST(placeholders_are_found_outside_quotes_and_comments) {
  const auto config = freshConfig();
  if (!config) return;
  auto s = opened(*config);
  const std::vector<DbValue> params{std::string("it's"), std::int64_t{5}};
  const QueryResult r = s->query(
      "SELECT '?' AS q, ? AS a, $$ ? $1 $$ AS d, \"?\".c AS i, E'\\' ?' AS e /* ? */ -- ?\n"
      " , ?2 + 1 AS b FROM (SELECT 7 AS c) AS \"?\"",
      params, QueryOptions{});
  CHECK_MSG(r.status.ok(), r.status.message);
  CHECK_EQ(r.rowCount, 1u);
  const std::vector<std::string> columns{"q", "a", "d", "i", "e", "b"};
  CHECK(r.columns == columns);
  CHECK(r.rows[0][0] == DbValue{std::string("?")});
  CHECK(r.rows[0][1] == DbValue{std::string("it's")});
  CHECK(r.rows[0][2] == DbValue{std::string(" ? $1 ")});
  CHECK(r.rows[0][3] == DbValue{std::int64_t{7}});
  CHECK(r.rows[0][4] == DbValue{std::string("' ?")});
  CHECK(r.rows[0][5] == DbValue{std::int64_t{6}});
  // PostgreSQL's own $n work too, and a semicolon inside a string is not a second statement.
  const QueryResult dollar = s->query("SELECT $1::bigint * 2, ';' AS semi;", std::vector<DbValue>{std::int64_t{21}}, QueryOptions{});
  CHECK_MSG(dollar.status.ok(), dollar.status.message);
  CHECK(dollar.rows[0][0] == DbValue{std::int64_t{42}});
  // Numeric, real, boolean, bytea and NULL come back typed.
  const QueryResult typed = s->query("SELECT 10::numeric, 1.5::real, 12345678901234567890::numeric, true, '\\x00ff'::bytea, NULL",
                                      std::vector<DbValue>{}, QueryOptions{});
  CHECK_MSG(typed.status.ok(), typed.status.message);
  CHECK(typed.rows[0][0] == DbValue{std::int64_t{10}});
  CHECK(typed.rows[0][1] == DbValue{1.5});
  CHECK(typed.rows[0][2] == DbValue{12345678901234567890.0});
  CHECK(typed.rows[0][3] == DbValue{std::int64_t{1}});
  CHECK((typed.rows[0][4] == DbValue{DbBlob{{0, 255}}}));
  CHECK(std::holds_alternative<std::monostate>(typed.rows[0][5]));
}

TEST(the_location_and_messages_never_carry_the_password) {
  const std::string why = gstest::postgresNotTestedReason();
  if (!why.empty()) {
    std::printf("  [postgres] NOT TESTED: %s\n", why.c_str());
    return;
  }
#if GAMESRV_HAVE_LIBPQ
  // The test cluster trusts local connections, so a password is sent but not checked.
  StorageConfig config;
  config.url = gstest::PgTestDatabase::get()->freshSchemaUrl("hunter2-secret");
  auto s = opened(config);
  const std::string where = s->location();
  std::printf("    location: %s\n", where.c_str());
  CHECK(where.rfind("postgres://", 0) == 0);
  CHECK(contains(where, gstest::PgTestDatabase::get()->name()));
  CHECK(!contains(where, "hunter2"));
  CHECK_EQ(std::string(s->backendName()), std::string("postgres"));
  StorageConfig missing;
  missing.url = gstest::PgTestDatabase::get()->missingDatabaseUrl("hunter2-secret");
  auto m = makePostgresStorage();
  const StorageStatus st = m->open(missing);
  CHECK_EQ(st.code, StorageErrc::OpenFailed);
  CHECK_MSG(!contains(st.message, "hunter2"), st.message);
  StorageConfig none;
  CHECK_EQ(makePostgresStorage()->open(none).code, StorageErrc::OpenFailed);
#endif
}

}  // namespace

GS_TEST_MAIN()
