// The "storage" benchmark suite (native part): the SQLite backend of Storage in a
// temporary directory, and the PostgreSQL backend when GAMESRV_BENCH_DATABASE_URL (else
// GAMESRV_TEST_DATABASE_URL) names a server (in a schema of its own, dropped after). A
// table on stderr; one JSON line on stdout (BENCHMARKS.md).
//
//   bench_storage [--quick]
//   bash scripts/with-postgres.sh build-native/plain/bench_storage --quick
//
// - player_flush_rows_per_sec: flushOwned() batches of 10,000 player upserts (the write a
//   server's flush makes: conditional on the owner lease and the version, with the
//   checkpoint and the lease renewal), each batch one transaction; the median of the rounds. The first
//   round inserts, the others update every row. Baseline, same run:
//   player_flush_rows_per_sec_one_per_txn, one row per transaction.
// - player_flush_rows_per_sec_postgres: the same on PostgreSQL (each flush: the chunked
//   `unnest` upsert and the checkpoint in one transaction), against
//   player_flush_rows_per_sec_postgres_one_per_txn in the same run.
// - db_point_query_storage_p99_us: `SELECT * FROM players WHERE id = ?` through
//   Storage::query() (read-only checks, row cap, timeout and all), called directly on this
//   thread: the storage level under the db_point_query_p99_us, which is measured
//   end to end through the Engine facade (bench/storage.bench.ts).
// - the journal's rows (journal_events_per_sec, journal_commit_p99_us,
//   recovery_ms_per_million_events, with their baselines): journal_benches.hpp.
// Exits 1 if the store cannot be opened or a call fails (the JSON line still carries
// what was measured), 2 on bad arguments.
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>
#include <system_error>
#include <vector>

#include "bench_support.hpp"
#include "gamesrv/storage.hpp"
#include "journal_benches.hpp"

#if GAMESRV_HAVE_LIBPQ
#include <libpq-fe.h>
#include <unistd.h>
#endif

namespace gsbench {
namespace {

struct Options {
  std::size_t batch = 10'000;
  int rounds = 5;
  std::size_t oneByOne = 2'000;
  std::size_t queries = 20'000;
  bool quick = false;
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--quick") {
      o.quick = true;
      o.rounds = 3;
      o.oneByOne = 500;
      o.queries = 5'000;
    } else {
      log("bench_storage: unknown argument '%s'\nusage: bench_storage [--quick]", a.c_str());
      std::exit(2);
    }
  }
  return o;
}

std::vector<gamesrv::PlayerRow> rows(std::size_t n, std::int64_t firstId, int round) {
  std::mt19937_64 rng(static_cast<std::uint64_t>(round) * 7919 + 1);
  std::uniform_real_distribution<double> pos(-5000, 5000);
  std::vector<gamesrv::PlayerRow> out(n);
  for (std::size_t i = 0; i < n; ++i) {
    gamesrv::PlayerRow& r = out[i];
    r.id = firstId + static_cast<std::int64_t>(i);
    r.name = "player-" + std::to_string(r.id);
    r.x = pos(rng);
    r.y = pos(rng);
    r.hp = static_cast<std::int64_t>(rng() % 101);
    r.kills = static_cast<std::int64_t>(rng() % 100);
    r.online = i % 2 == 0;
    r.version = round + 1;
    r.updatedAtMs = 1'700'000'000'000 + round;
  }
  return out;
}

// Batched flushes (the median of the rounds' rates) and the one-row-per-transaction
// baseline on `store`, as rows `name` and `name`_one_per_txn. False if a call failed.
bool measureFlushes(gamesrv::Storage& store, const Options& o, Report& report, const std::string& name) {
  std::vector<double> rates;
  bool ok = true;
  for (int round = 0; round < o.rounds && ok; ++round) {
    const auto batch = rows(o.batch, 1, round);
    const std::uint64_t t0 = nowNs();
    // The write a server's flush makes (PlayerPersistence): conditional on ownership and
    // version, with the checkpoint and the owner's lease renewal, in one transaction.
    gamesrv::FlushOutcome outcome;
    const gamesrv::StorageStatus st =
        store.flushOwned(batch, static_cast<std::uint64_t>(round + 1), gamesrv::LeaseClaim{"bench", std::chrono::seconds(60)}, outcome);
    const double secs = static_cast<double>(nowNs() - t0) / 1e9;
    if (!st.ok() || outcome.written != batch.size()) {
      log("flush failed: %s (%zu of %zu rows written)", st.message.c_str(), outcome.written, batch.size());
      ok = false;
      break;
    }
    rates.push_back(static_cast<double>(o.batch) / secs);
    log("  %s flush round %d (%s): %.0f rows/s (%.1f ms)", store.backendName(), round, round == 0 ? "insert" : "update",
        rates.back(), secs * 1e3);
  }
  const std::string baseline = name + "_one_per_txn";
  report.add(name, median(rates), "rows/s", baseline);

  double oneRate = std::nan("");
  const auto single = rows(o.oneByOne, 1, 100);
  const std::uint64_t t0 = nowNs();
  for (std::size_t i = 0; i < single.size() && ok; ++i) {
    const gamesrv::StorageStatus st = store.upsertPlayers(std::span<const gamesrv::PlayerRow>(&single[i], 1));
    if (!st.ok()) {
      log("one-row upsert failed: %s", st.message.c_str());
      ok = false;
    }
  }
  if (ok) oneRate = static_cast<double>(single.size()) / (static_cast<double>(nowNs() - t0) / 1e9);
  log("  %s one row per transaction: %.0f rows/s", store.backendName(), oneRate);
  report.add(baseline, oneRate, "rows/s");
  if (const auto ratio = report.ratio(*report.find(name))) log("  %s batched / one per transaction: %.1fx", store.backendName(), *ratio);
  return ok;
}

#if GAMESRV_HAVE_LIBPQ
// Runs `sql` on the server `url` names; false (and a message) if it fails.
bool pgExec(const std::string& url, const std::string& sql) {
  PGconn* c = PQconnectdb(url.c_str());
  bool ok = PQstatus(c) == CONNECTION_OK;
  if (ok) {
    PGresult* r = PQexec(c, sql.c_str());
    ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
  }
  if (!ok) log("bench_storage: %s: %s", sql.c_str(), PQerrorMessage(c));
  PQfinish(c);
  return ok;
}

// The PostgreSQL rows, in a schema of this run's own; false if a call failed.
bool benchPostgres(const std::string& url, const Options& o, Report& report) {
  const std::string schema = "gs_bench_" + std::to_string(static_cast<long>(::getpid()));
  if (!pgExec(url, "CREATE SCHEMA " + schema)) return false;
  gamesrv::StorageConfig config;
  // The schema first in the search_path, through libpq's `options` (a URL may carry its own query).
  config.url = url + (url.find('?') == std::string::npos ? "?" : "&") + "options=-csearch_path%3D" + schema;
  auto store = gamesrv::makePostgresStorage();
  gamesrv::StorageStatus st = store->open(config);
  bool ok = st.ok();
  if (!ok) log("bench_storage: cannot open PostgreSQL: %s", st.message.c_str());
  if (ok) {
    log("== storage: PostgreSQL at %s (schema %s)", store->location().c_str(), schema.c_str());
    ok = measureFlushes(*store, o, report, "player_flush_rows_per_sec_postgres");
    const Row* row = report.find("player_flush_rows_per_sec_postgres");
    log("target: player_flush_rows_per_sec_postgres >= 50,000 rows/s: %s", row != nullptr && row->value >= 50'000 ? "met" : "NOT met");
  }
  store->close();
  pgExec(url, "SET client_min_messages = warning; DROP SCHEMA " + schema + " CASCADE");
  return ok;
}
#endif

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return std::nan("");
  std::sort(v.begin(), v.end());
  const auto idx = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(idx, v.size() - 1)];
}

}  // namespace
}  // namespace gsbench

int main(int argc, char** argv) {
  using namespace gsbench;
  const Options o = parse(argc, argv);
  Report report("storage");
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path dir = fs::temp_directory_path() / ("gamesrv-bench-storage-" + std::to_string(nowNs()));
  auto store = gamesrv::makeSqliteStorage();
  gamesrv::StorageConfig config;
  config.dataDir = dir.string();
  bool ok = true;
  auto finish = [&](int code) {
    store->close();
    fs::remove_all(dir, ec);
    std::printf("%s\n", report.json().c_str());
    std::fflush(stdout);
    return code;
  };
  gamesrv::StorageStatus st = store->open(config);
  if (!st.ok()) {
    log("bench_storage: cannot open the store: %s", st.message.c_str());
    return finish(1);
  }
  log("== storage: SQLite at %s; %d rounds of %llu-row flushes, %llu one-row transactions, %llu point queries",
      store->location().c_str(), o.rounds, static_cast<unsigned long long>(o.batch),
      static_cast<unsigned long long>(o.oneByOne), static_cast<unsigned long long>(o.queries));

  ok = measureFlushes(*store, o, report, "player_flush_rows_per_sec");

  std::vector<double> latencies;
  latencies.reserve(o.queries);
  std::mt19937_64 rng(42);
  std::vector<gamesrv::DbValue> params(1);
  const gamesrv::QueryOptions qopt;
  for (std::size_t i = 0; i < o.queries && ok; ++i) {
    params[0] = static_cast<std::int64_t>(1 + rng() % o.batch);
    const std::uint64_t t0 = nowNs();
    const gamesrv::QueryResult r = store->query("SELECT * FROM players WHERE id = ?", params, qopt);
    latencies.push_back(static_cast<double>(nowNs() - t0) / 1e3);
    if (!r.status.ok() || r.rowCount != 1) {
      log("point query failed: %s (rows %llu)", r.status.message.c_str(), static_cast<unsigned long long>(r.rowCount));
      ok = false;
    }
  }
  const double p99 = percentile(latencies, 0.99);
  log("  point query: p50 %.1f us, p99 %.1f us, max %.1f us", percentile(latencies, 0.5), p99, percentile(latencies, 1.0));
  report.add("db_point_query_storage_p99_us", p99, "us");

  const Row* flushRow = report.find("player_flush_rows_per_sec");
  log("target: player_flush_rows_per_sec >= 200,000 rows/s: %s", flushRow->value >= 200'000 ? "met" : "NOT met");

  const char* benchUrl = std::getenv("GAMESRV_BENCH_DATABASE_URL");
  const char* testUrl = std::getenv("GAMESRV_TEST_DATABASE_URL");
  const std::string pgUrl = benchUrl != nullptr && *benchUrl != '\0' ? benchUrl : (testUrl != nullptr ? testUrl : "");
  if (pgUrl.empty()) {
    log("PostgreSQL rows not measured: set GAMESRV_BENCH_DATABASE_URL (or run under scripts/with-postgres.sh)");
  } else {
#if GAMESRV_HAVE_LIBPQ
    if (!benchPostgres(pgUrl, o, report)) ok = false;
#else
    log("PostgreSQL rows not measured: this build has no libpq");
#endif
  }
  ok = addJournalRows(report, argv[0], o.quick) && ok;
  return finish(ok ? 0 : 1);
}
