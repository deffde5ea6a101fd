// The "storage" benchmark suite (native part): the SQLite backend of Storage in a
// temporary directory. A table on stderr; one JSON line on stdout (BENCHMARKS.md).
//
//   bench_storage [--quick]
//
// - player_flush_rows_per_sec: flush() batches of 10,000 player upserts, each batch one
//   transaction with its checkpoint (write-behind); the median of the rounds. The first
//   round inserts, the others update every row. Baseline, same run:
//   player_flush_rows_per_sec_one_per_txn, one row per transaction.
// - db_point_query_p99_us: `SELECT * FROM players WHERE id = ?` through Storage::query()
//   (read-only checks, row cap, timeout and all), called directly on this thread; the
//   figure through the Engine facade comes when the store is wired in.
// - the journal's rows (journal_events_per_sec, journal_commit_p99_us,
//   recovery_ms_per_million_events, with their baselines): journal_benches.hpp.
// Exits 1 if the store cannot be opened or a call fails (the JSON line still carries
// what was measured), 2 on bad arguments.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>
#include <system_error>
#include <vector>

#include "bench_support.hpp"
#include "gamesrv/storage.hpp"
#include "journal_benches.hpp"

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

  std::vector<double> rates;
  for (int round = 0; round < o.rounds && ok; ++round) {
    const auto batch = rows(o.batch, 1, round);
    const std::uint64_t t0 = nowNs();
    st = store->flush(batch, static_cast<std::uint64_t>(round + 1));
    const double secs = static_cast<double>(nowNs() - t0) / 1e9;
    if (!st.ok()) {
      log("flush failed: %s", st.message.c_str());
      ok = false;
      break;
    }
    rates.push_back(static_cast<double>(o.batch) / secs);
    log("  flush round %d (%s): %.0f rows/s (%.1f ms)", round, round == 0 ? "insert" : "update", rates.back(), secs * 1e3);
  }
  report.add("player_flush_rows_per_sec", median(rates), "rows/s", std::string("player_flush_rows_per_sec_one_per_txn"));

  double oneRate = std::nan("");
  {
    const auto single = rows(o.oneByOne, 1, 100);
    const std::uint64_t t0 = nowNs();
    for (std::size_t i = 0; i < single.size() && ok; ++i) {
      st = store->upsertPlayers(std::span<const gamesrv::PlayerRow>(&single[i], 1));
      if (!st.ok()) {
        log("one-row upsert failed: %s", st.message.c_str());
        ok = false;
      }
    }
    if (ok) oneRate = static_cast<double>(single.size()) / (static_cast<double>(nowNs() - t0) / 1e9);
    log("  one row per transaction: %.0f rows/s", oneRate);
  }
  report.add("player_flush_rows_per_sec_one_per_txn", oneRate, "rows/s");

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
  report.add("db_point_query_p99_us", p99, "us");

  const Row* flushRow = report.find("player_flush_rows_per_sec");
  if (const auto ratio = report.ratio(*flushRow)) log("batched / one per transaction: %.1fx", *ratio);
  log("target: player_flush_rows_per_sec >= 200,000 rows/s: %s", median(rates) >= 200'000 ? "met" : "NOT met");
  ok = addJournalRows(report, argv[0], o.quick) && ok;
  return finish(ok ? 0 : 1);
}
