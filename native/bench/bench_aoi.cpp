// The "aoi" benchmark suite: area-of-interest replication's cost per tick, without sockets.
// Progress on stderr; one JSON line on stdout (BENCHMARKS.md's row format).
//
//   bench_aoi [--quick] [--ticks=N] [--players=N] [--seed=N]
//
// 2,000 players in a 2,000 x 2,000 world, AOI radius 100 (400 cells), 60 Hz ticks; each
// player moves every 6th tick (10 Hz), a random step of up to 10 units per axis (100
// units/s). Each tick: replicate() (serialize the changed cells once), then collect() for
// 2,000 viewers (one per player) and hand each viewer's blocks to its session (a move
// into a per-session vector: what the replicating thread does before the I/O threads
// write). Timed: replicate + collect + hand-off, as this thread's CPU time (the figure
// the issue sets a target for: p99 <= 2,000 us; on a shared machine, wall time also
// counts the time other processes held the core) and as wall time. Not timed: applying
// the moves (the event thread's work, reported apart) and releasing the blocks (the I/O
// threads' work).
//
// Baseline, in the same ticks: a server without shared blocks, which serializes each
// viewer's whole 3x3 into a buffer of its own every tick.
#include <algorithm>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "bench_support.hpp"
#include "gamesrv/aoi_grid.hpp"
#include "gamesrv/platform/thread.hpp"
#include "gamesrv/wire.hpp"

namespace gsbench {
namespace {

using gamesrv::AoiCollected;
using gamesrv::AoiGrid;
using gamesrv::AoiStatus;
using gamesrv::AoiViewer;
using gamesrv::CellBlock;
using gamesrv::CellCoord;

struct Options {
  int ticks = 600;
  int warmup = 60;
  std::uint32_t players = 2000;
  std::uint64_t seed = 14;
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--quick") {
      o.ticks = 120;
      o.warmup = 12;
    } else if (a.rfind("--ticks=", 0) == 0) {
      o.ticks = std::max(1, std::atoi(a.c_str() + 8));
    } else if (a.rfind("--players=", 0) == 0) {
      o.players = static_cast<std::uint32_t>(std::max(1, std::atoi(a.c_str() + 10)));
    } else if (a.rfind("--seed=", 0) == 0) {
      o.seed = std::strtoull(a.c_str() + 7, nullptr, 10);
    } else {
      log("usage: bench_aoi [--quick] [--ticks=N] [--players=N] [--seed=N]");
      std::exit(2);
    }
  }
  return o;
}

double percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const std::size_t i = std::min(v.size() - 1, static_cast<std::size_t>(q * static_cast<double>(v.size())));
  return v[i];
}

struct Body {
  double x, y;
};

// The baseline: per viewer, its own copy of every entry of its 3x3, every tick.
class PerSessionCopies {
 public:
  PerSessionCopies(const AoiGrid& grid, std::size_t viewers) : grid_(grid), out_(viewers) {
    const auto side = static_cast<std::size_t>(grid.cellsPerSide());
    cells_.resize(side * side);
  }

  std::size_t tick(const std::vector<Body>& bodies) {
    for (auto& c : cells_) c.clear();
    const auto side = static_cast<std::size_t>(grid_.cellsPerSide());
    for (std::uint32_t i = 0; i < bodies.size(); ++i) {
      const CellCoord c = grid_.cellOf(bodies[i].x, bodies[i].y);
      cells_[static_cast<std::size_t>(c.cy) * side + c.cx].push_back(i);
    }
    std::size_t bytes = 0;
    for (std::uint32_t v = 0; v < out_.size(); ++v) {
      std::vector<std::byte>& buf = out_[v];
      buf.clear();
      const CellCoord at = grid_.cellOf(bodies[v].x, bodies[v].y);
      for (int dy = -1; dy <= 1; ++dy) {
        for (int dx = -1; dx <= 1; ++dx) {
          const int cx = at.cx + dx, cy = at.cy + dy;
          if (cx < 0 || cy < 0 || cx >= grid_.cellsPerSide() || cy >= grid_.cellsPerSide()) continue;
          const auto& members = cells_[static_cast<std::size_t>(cy) * side + cx];
          const std::size_t off = buf.size();
          buf.resize(off + AoiGrid::kCellHeaderBytes + AoiGrid::kEntryBytes * members.size());
          std::byte* p = buf.data() + off;
          gamesrv::wire::putI32(p, cx);
          gamesrv::wire::putI32(p + 4, cy);
          gamesrv::wire::putU16(p + 8, static_cast<std::uint16_t>(members.size()));
          p += AoiGrid::kCellHeaderBytes;
          for (const std::uint32_t m : members) {
            gamesrv::wire::putU32(p, m + 1);
            gamesrv::wire::putF32(p + 4, static_cast<float>(bodies[m].x));
            gamesrv::wire::putF32(p + 8, static_cast<float>(bodies[m].y));
            gamesrv::wire::putI32(p + 12, 100);
            p += AoiGrid::kEntryBytes;
          }
        }
      }
      bytes += buf.size();
    }
    return bytes;
  }

 private:
  const AoiGrid& grid_;
  std::vector<std::vector<std::uint32_t>> cells_;
  std::vector<std::vector<std::byte>> out_;
};

double us(std::uint64_t ns) { return static_cast<double>(ns) / 1000.0; }

}  // namespace
}  // namespace gsbench

int main(int argc, char** argv) {
  using namespace gsbench;
  const Options o = parse(argc, argv);
  constexpr double kWorld = 2000, kRadius = 100, kStep = 10, kTickHz = 60;
  AoiGrid grid({0, kWorld, kRadius});
  std::mt19937_64 rng(o.seed);
  std::uniform_real_distribution<double> anywhere(0, kWorld), step(-kStep, kStep);
  std::vector<Body> bodies(o.players);
  for (std::uint32_t i = 0; i < o.players; ++i) {
    bodies[i] = {anywhere(rng), anywhere(rng)};
    if (grid.add(i + 1, bodies[i].x, bodies[i].y, 100) != AoiStatus::Ok) return 1;
  }
  std::vector<AoiViewer> viewers(o.players);
  std::vector<std::vector<CellBlock>> sessions(o.players);  // what each session's queue received
  AoiCollected out;
  PerSessionCopies naive(grid, o.players);

  log("== aoi: %u players, %.0f x %.0f world, radius %.0f (%d cells a side), moves at 10 Hz, %d ticks at %.0f Hz "
      "(+%d warm-up), seed %llu",
      o.players, kWorld, kWorld, kRadius, grid.cellsPerSide(), o.ticks, kTickHz, o.warmup,
      static_cast<unsigned long long>(o.seed));
  using gamesrv::platform::currentThreadCpuNs;
  std::vector<double> tickUs, tickCpuUs, serializeUs, collectUs, movesUs, naiveUs, naiveCpuUs;
  double cells = 0, serialized = 0, handed = 0, naiveBytes = 0, leaves = 0;
  for (int t = 0; t < o.warmup + o.ticks; ++t) {
    const bool measured = t >= o.warmup;
    const std::uint64_t m0 = nowNs();
    for (std::uint32_t i = static_cast<std::uint32_t>(t % 6); i < o.players; i += 6) {
      Body& b = bodies[i];
      b.x = std::clamp(b.x + step(rng), 0.0, kWorld);
      b.y = std::clamp(b.y + step(rng), 0.0, kWorld);
      if (grid.move(i + 1, b.x, b.y) != AoiStatus::Ok) return 1;
    }
    const std::uint64_t c0 = currentThreadCpuNs();
    const std::uint64_t t0 = nowNs();
    const gamesrv::ReplicationStats s = grid.replicate(static_cast<std::uint64_t>(t));
    const std::uint64_t cMid = currentThreadCpuNs();
    std::size_t bytes = 0, left = 0;
    for (std::uint32_t v = 0; v < o.players; ++v) {
      grid.collect(viewers[v], grid.cellOf(bodies[v].x, bodies[v].y), out);
      for (const CellBlock& c : out.cells) bytes += c->size();
      left += out.leave.size();
      std::swap(sessions[v], out.cells);  // the hand-off: the session now owns the refs
    }
    const std::uint64_t t2 = nowNs();
    const std::uint64_t c1 = currentThreadCpuNs();
    for (auto& q : sessions) q.clear();  // written and released by the I/O threads
    const std::uint64_t nc0 = currentThreadCpuNs();
    const std::uint64_t n0 = nowNs();
    const std::size_t nb = naive.tick(bodies);
    const std::uint64_t n1 = nowNs();
    const std::uint64_t nc1 = currentThreadCpuNs();
    if (!measured) continue;
    movesUs.push_back(us(t0 - m0));
    serializeUs.push_back(us(cMid - c0));
    collectUs.push_back(us(c1 - cMid));
    tickUs.push_back(us(t2 - t0));
    tickCpuUs.push_back(us(c1 - c0));
    naiveUs.push_back(us(n1 - n0));
    naiveCpuUs.push_back(us(nc1 - nc0));
    cells += static_cast<double>(s.cellsSerialized);
    serialized += static_cast<double>(s.bytesSerialized);
    handed += static_cast<double>(bytes);
    naiveBytes += static_cast<double>(nb);
    leaves += static_cast<double>(left);
  }
  const double n = o.ticks, perSec = kTickHz / n;
  log("  tick (replicate + collect + hand-off), CPU time: p50 %.0f us, p99 %.0f us, max %.0f us (target p99 <= 2000)",
      percentile(tickCpuUs, 0.5), percentile(tickCpuUs, 0.99), percentile(tickCpuUs, 1.0));
  log("  the same, wall time: p50 %.0f us, p99 %.0f us, max %.0f us", percentile(tickUs, 0.5),
      percentile(tickUs, 0.99), percentile(tickUs, 1.0));
  log("  CPU time: replicate p50 %.0f us p99 %.0f us; collect x%u p50 %.0f us p99 %.0f us; moves (wall, not in the "
      "tick) p99 %.0f us",
      percentile(serializeUs, 0.5), percentile(serializeUs, 0.99), o.players, percentile(collectUs, 0.5),
      percentile(collectUs, 0.99), percentile(movesUs, 0.99));
  log("  per tick: %.0f cells serialized (%.0f bytes), %.0f bytes of blocks handed to sessions, %.1f LEAVE ids",
      cells / n, serialized / n, handed / n, leaves / n);
  log("  baseline (a copy of the 3x3 per session per tick): CPU p50 %.0f us, p99 %.0f us; wall p50 %.0f us, p99 %.0f "
      "us; %.0f bytes per tick",
      percentile(naiveCpuUs, 0.5), percentile(naiveCpuUs, 0.99), percentile(naiveUs, 0.5), percentile(naiveUs, 0.99),
      naiveBytes / n);

  Report report("aoi");
  report.add("aoi_tick_cpu_p50_us", percentile(tickCpuUs, 0.5), "us", std::string("naive_tick_cpu_p50_us"));
  report.add("aoi_tick_cpu_p99_us", percentile(tickCpuUs, 0.99), "us", std::string("naive_tick_cpu_p99_us"));
  report.add("aoi_tick_wall_p50_us", percentile(tickUs, 0.5), "us", std::string("naive_tick_wall_p50_us"));
  report.add("aoi_tick_wall_p99_us", percentile(tickUs, 0.99), "us", std::string("naive_tick_wall_p99_us"));
  report.add("aoi_replicate_cpu_p99_us", percentile(serializeUs, 0.99), "us");
  report.add("aoi_collect_cpu_p99_us", percentile(collectUs, 0.99), "us");
  report.add("aoi_cells_serialized_per_tick", cells / n, "cells");
  report.add("aoi_bytes_serialized_per_sec", serialized * perSec, "B/s");
  report.add("aoi_bytes_to_sessions_per_sec", handed * perSec, "B/s", std::string("naive_bytes_per_sec"));
  report.add("naive_tick_cpu_p50_us", percentile(naiveCpuUs, 0.5), "us");
  report.add("naive_tick_cpu_p99_us", percentile(naiveCpuUs, 0.99), "us");
  report.add("naive_tick_wall_p50_us", percentile(naiveUs, 0.5), "us");
  report.add("naive_tick_wall_p99_us", percentile(naiveUs, 0.99), "us");
  report.add("naive_bytes_per_sec", naiveBytes * perSec, "B/s");
  std::printf("%s\n", report.json().c_str());
  return 0;
}
