// The journal's rows of the "storage" benchmark suite (bench_storage.cpp calls
// addJournalRows): durable appends through the journal's group commit against a raw
// write + data-sync loop of the same bytes, in the same directory and run; and recovery,
// an Engine started in durability "journal" over 1,000,000 journaled events.
//
// Each producer thread appends 1,000-event batches of 32-byte events (32,000 bytes), keeping
// `inflight` batches awaiting their completion; the journal writes and syncs every batch that
// arrived during the previous commit at once. The baseline writes each batch with its own
// write + fdatasync (what a journal without group commit would do). Directory: beside the
// executable (the repository's disk; never a RAM disk). Medians of `reps` repetitions.
// Also reported: the time to reopen the journal written (every record validated) and replay
// it, per million events: the journal's share of recovery, without applying the events.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bench_support.hpp"
#include "gamesrv/durable_events.hpp"
#include "gamesrv/engine.hpp"
#include "gamesrv/journal.hpp"
#include "gamesrv/platform/durable_file.hpp"

namespace gsbench {
namespace journal_bench {
namespace fs = std::filesystem;

constexpr std::uint32_t kEventsPerBatch = 1000;
constexpr std::size_t kEventBytes = 32;
constexpr std::size_t kBatchBytes = kEventsPerBatch * kEventBytes;

struct JournalBenchOptions {
  unsigned threads = 4;
  unsigned batchesPerThread = 400;
  unsigned inflight = 8;
  unsigned reps = 3;
  std::uint64_t recoveryEvents = 1'000'000;
  fs::path dir;
};

inline double p99(std::vector<double> v) {
  if (v.empty()) return std::nan("");
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(static_cast<double>(v.size()) * 0.99))];
}

struct Run {
  double eventsPerSec = 0;
  double p99Us = 0;
  double batchesPerSync = 0;
  double reopenMsPerMillion = 0;  // open() (validates every record) + replay(0) visiting all
  bool ok = true;
};

inline std::vector<std::uint8_t> batchBytes(unsigned seed) {
  std::vector<std::uint8_t> b(kBatchBytes);
  for (std::size_t i = 0; i < b.size(); ++i) b[i] = static_cast<std::uint8_t>((seed * 31 + i) & 0xFF);
  return b;
}

inline Run rawLoop(const JournalBenchOptions& o) {
  Run r;
  const fs::path dir = o.dir / "raw";
  fs::create_directories(dir);
  gamesrv::platform::DurableFile f;
  if (auto ec = gamesrv::platform::DurableFile::open(dir / "raw.bin", true, f)) {
    log("raw: open failed: %s", ec.message().c_str());
    r.ok = false;
    return r;
  }
  const std::vector<std::uint8_t> batch = batchBytes(1);
  const std::span<const std::uint8_t> parts[] = {batch};
  const unsigned total = o.threads * o.batchesPerThread;
  std::vector<double> lat;
  lat.reserve(total);
  std::uint64_t offset = 0;
  const std::uint64_t t0 = nowNs();
  for (unsigned i = 0; i < total; ++i) {
    const std::uint64_t s = nowNs();
    std::error_code ec = f.writeAt(offset, parts);
    if (!ec) ec = f.syncData();
    if (ec) {
      log("raw: %s", ec.message().c_str());
      r.ok = false;
      break;
    }
    offset += batch.size();
    lat.push_back(static_cast<double>(nowNs() - s) / 1e3);
  }
  const double secs = static_cast<double>(nowNs() - t0) / 1e9;
  r.eventsPerSec = static_cast<double>(lat.size()) * kEventsPerBatch / secs;
  r.p99Us = p99(lat);
  f.close();
  fs::remove_all(dir);
  return r;
}

inline Run journalRun(const JournalBenchOptions& o) {
  Run r;
  const fs::path dir = o.dir / "journal";
  gamesrv::JournalOptions jo;
  jo.directory = dir;
  std::unique_ptr<gamesrv::Journal> j;
  gamesrv::JournalOpenReport report;
  std::string error;
  if (gamesrv::Journal::open(jo, j, report, error) != gamesrv::JournalStatus::Ok) {
    log("journal: open failed: %s", error.c_str());
    r.ok = false;
    return r;
  }
  std::vector<std::vector<double>> lat(o.threads);
  std::atomic<bool> failed{false};
  const std::uint64_t t0 = nowNs();
  std::vector<std::thread> producers;
  for (unsigned t = 0; t < o.threads; ++t) {
    producers.emplace_back([&, t] {
      std::mutex mu;
      std::condition_variable cv;
      unsigned inflight = 0;  // guarded by mu
      std::vector<double>& mine = lat[t];
      mine.reserve(o.batchesPerThread);
      const std::vector<std::uint8_t> batch = batchBytes(t);
      for (unsigned i = 0; i < o.batchesPerThread; ++i) {
        {
          std::unique_lock lk(mu);
          cv.wait(lk, [&] { return inflight < o.inflight; });
          ++inflight;
        }
        const std::uint64_t s = nowNs();
        const auto st = j->append(batch, kEventsPerBatch, s, [&, s](const gamesrv::JournalCommit& c) {
          if (c.status != gamesrv::JournalStatus::Ok) failed = true;
          std::lock_guard lk(mu);
          mine.push_back(static_cast<double>(nowNs() - s) / 1e3);
          --inflight;
          cv.notify_one();
        });
        if (st != gamesrv::JournalStatus::Ok) {
          log("journal: append refused: %s", gamesrv::journalStatusCode(st));
          failed = true;
          std::lock_guard lk(mu);
          --inflight;
        }
      }
      std::unique_lock lk(mu);
      cv.wait(lk, [&] { return inflight == 0; });
    });
  }
  for (auto& p : producers) p.join();
  const double secs = static_cast<double>(nowNs() - t0) / 1e9;
  const gamesrv::JournalStats s = j->stats();
  j->close();
  std::vector<double> all;
  for (const auto& v : lat) all.insert(all.end(), v.begin(), v.end());
  r.eventsPerSec = static_cast<double>(s.events) / secs;
  r.p99Us = p99(all);
  r.batchesPerSync = s.syncs == 0 ? 0 : static_cast<double>(s.batches) / static_cast<double>(s.syncs);
  r.ok = !failed && s.batches == std::uint64_t{o.threads} * o.batchesPerThread;
  j.reset();
  const std::uint64_t o0 = nowNs();
  std::uint64_t replayed = 0;
  if (gamesrv::Journal::open(jo, j, report, error) != gamesrv::JournalStatus::Ok ||
      j->replay(0, [&](const gamesrv::JournalRecord& rec) { replayed += rec.eventCount; return true; }, error) !=
          gamesrv::JournalStatus::Ok) {
    log("journal: reopen / replay failed: %s", error.c_str());
    r.ok = false;
  }
  r.reopenMsPerMillion = static_cast<double>(nowNs() - o0) / 1e6 / (static_cast<double>(replayed) / 1e6);
  r.ok = r.ok && replayed == s.events && report.lastSeq == s.events;
  j.reset();
  fs::remove_all(dir);
  return r;
}

// recovery_ms_per_million_events: `events` MOVE events of 1,000 players (1,000-event
// records) written to a journal, then an Engine started in durability "journal" on it: the
// replay (decode + World::apply of every event) the start reports, per million events.
inline Run recoveryRun(const JournalBenchOptions& o) {
  Run r;
  const fs::path dataDir = o.dir / "recovery";
  fs::remove_all(dataDir);
  {
    gamesrv::JournalOptions jo;
    jo.directory = gamesrv::journalDirectory(dataDir);
    std::unique_ptr<gamesrv::Journal> j;
    gamesrv::JournalOpenReport report;
    std::string error;
    if (gamesrv::Journal::open(jo, j, report, error) != gamesrv::JournalStatus::Ok) {
      log("recovery: open failed: %s", error.c_str());
      r.ok = false;
      return r;
    }
    std::atomic<std::uint64_t> done{0};
    std::vector<gamesrv::GameEvent> batch(kEventsPerBatch);
    for (std::uint32_t i = 0; i < kEventsPerBatch; ++i) {
      batch[i].type = gamesrv::EventType::PlayerLogin;
      batch[i].playerId = i + 1;
      batch[i].text = "p" + std::to_string(i + 1);
    }
    const std::uint64_t records = (o.recoveryEvents + kEventsPerBatch - 1) / kEventsPerBatch;
    for (std::uint64_t rec = 0; rec < records; ++rec) {
      if (rec == 1) {
        for (std::uint32_t i = 0; i < kEventsPerBatch; ++i) {
          batch[i].type = gamesrv::EventType::PlayerMove;
          batch[i].text.clear();
        }
      }
      for (std::uint32_t i = 0; rec > 0 && i < kEventsPerBatch; ++i) {
        batch[i].text = std::to_string((rec * 7 + i) % 1000) + "," + std::to_string((rec + i * 3) % 1000);
      }
      auto st = j->append(gamesrv::encodeJournalEvents(batch), kEventsPerBatch, 1'700'000'000'000'000'000ull + rec,
                          [&](const gamesrv::JournalCommit&) { done.fetch_add(1); });
      while (st == gamesrv::JournalStatus::Full) {
        std::this_thread::yield();  // the pending-bytes bound: wait for the committer
        st = j->append(gamesrv::encodeJournalEvents(batch), kEventsPerBatch, 1'700'000'000'000'000'000ull + rec,
                       [&](const gamesrv::JournalCommit&) { done.fetch_add(1); });
      }
    }
    j->close();
    r.ok = done.load() == records;
  }
  gamesrv::Engine engine;
  gamesrv::EngineConfig c;
  c.io.serverName = "gs-bench-recovery";
  c.io.iocp = false;
  c.io.pipe = false;
  c.io.monitor = false;
  c.dataDir = dataDir.string();
  c.durability = gamesrv::Durability::Journal;
  const std::uint64_t t0 = nowNs();
  const gamesrv::TransitionResult tr = engine.start(c);
  const double startMs = static_cast<double>(nowNs() - t0) / 1e6;
  if (tr.error != gamesrv::TransitionError::None) {
    log("recovery: start failed: %s", tr.detail.c_str());
    r.ok = false;
    return r;
  }
  const gamesrv::EngineSnapshot s = engine.snapshot();
  const double events = static_cast<double>(s.durable.replayed.events);
  r.reopenMsPerMillion = static_cast<double>(s.durable.replayed.durationUs) / 1e3 / (events / 1e6);
  r.eventsPerSec = events;
  r.ok = r.ok && s.durable.replayed.events == (o.recoveryEvents + kEventsPerBatch - 1) / kEventsPerBatch * kEventsPerBatch &&
         s.playersKnown == kEventsPerBatch;
  log("  recovery: %.0f events replayed in %.0f ms (whole start %.0f ms): %.0f ms per million events", events,
      static_cast<double>(s.durable.replayed.durationUs) / 1e3, startMs, r.reopenMsPerMillion);
  engine.stop(std::chrono::seconds(30));
  fs::remove_all(dataDir);
  return r;
}

}  // namespace journal_bench

// The journal rows, added to `report`. `self` is argv[0] (the directory beside it holds the
// files). False if a run failed (its rows are still added with what was measured).
inline bool addJournalRows(Report& report, const char* self, bool quick) {
  using namespace journal_bench;
  JournalBenchOptions o;
  o.dir = fs::absolute(fs::path(self)).parent_path() / "journal-bench-tmp";
  if (quick) {
    o.batchesPerThread = 60;
    o.reps = 1;
  }
  log("== journal: %u threads x %u batches of %u x %zu-byte events, %u in flight each, %u reps, in %s", o.threads,
      o.batchesPerThread, kEventsPerBatch, kEventBytes, o.inflight, o.reps, o.dir.string().c_str());
  std::vector<double> jEps, jP99, rEps, rP99, perSync, reopen;
  bool ok = true;
  for (unsigned rep = 0; rep < o.reps; ++rep) {
    const Run raw = rawLoop(o);
    const Run jr = journalRun(o);
    ok = ok && raw.ok && jr.ok;
    rEps.push_back(raw.eventsPerSec);
    rP99.push_back(raw.p99Us);
    jEps.push_back(jr.eventsPerSec);
    jP99.push_back(jr.p99Us);
    perSync.push_back(jr.batchesPerSync);
    reopen.push_back(jr.reopenMsPerMillion);
    log("  rep %u: journal %.3g events/s (p99 %.0f us, %.1f batches/sync; reopen+replay %.0f ms/M events) | raw %.3g "
        "events/s (p99 %.0f us)",
        rep + 1, jr.eventsPerSec, jr.p99Us, jr.batchesPerSync, jr.reopenMsPerMillion, raw.eventsPerSec, raw.p99Us);
  }
  const Run recovery = recoveryRun(o);
  ok = ok && recovery.ok;
  std::error_code ec;
  fs::remove_all(o.dir, ec);
  report.add("journal_events_per_sec", median(jEps), "events/s", std::string("raw_write_fdatasync_events_per_sec"));
  report.add("raw_write_fdatasync_events_per_sec", median(rEps), "events/s");
  report.add("journal_commit_p99_us", median(jP99), "us", std::string("raw_write_fdatasync_p99_us"));
  report.add("raw_write_fdatasync_p99_us", median(rP99), "us");
  report.add("journal_batches_per_sync", median(perSync), "batches");
  report.add("recovery_ms_per_million_events", recovery.reopenMsPerMillion, "ms",
             std::string("journal_open_replay_ms_per_million_events"));
  report.add("journal_open_replay_ms_per_million_events", median(reopen), "ms");
  log("journal events/s: %s | raw: %s", listOf(jEps).c_str(), listOf(rEps).c_str());
  return ok;
}

}  // namespace gsbench
