// Shared-memory monitor: layout validation, ownership, staleness, and the process
// sysinfo it publishes. Cross-process cases (a dead lock holder, a dead or live writer
// in another process, torn reads across processes) need the platform's own way of
// starting a process: test_monitor_posix.cpp (fork) and test_monitor_win32.cpp.
#include <atomic>
#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "gamesrv/clock.hpp"
#include "gamesrv/platform/thread.hpp"
#include "monitor_test_support.hpp"

using namespace gamesrv;
using namespace montest;
using namespace std::chrono_literals;

TEST(server_names_are_validated) {
  CHECK(isValidServerName("a"));
  CHECK(isValidServerName("Game_Server-01"));
  CHECK(isValidServerName(std::string(48, 'x')));
  CHECK(!isValidServerName(""));
  CHECK(!isValidServerName(std::string(49, 'x')));
  CHECK(!isValidServerName("a/b"));
  CHECK(!isValidServerName("../etc"));
  CHECK(!isValidServerName("two words"));
  CHECK(!isValidServerName("caf\xc3\xa9"));
  CHECK(!isValidServerName(std::string("nul\0x", 5)));
  CHECK_EQ(monitorSegmentName("alpha"), std::string("gamesrv-alpha"));

  MonitorCreateResult c = MonitorWriter::create("no/slash", 10);
  CHECK(c.error == MonitorError::InvalidName);
  CHECK(c.writer == nullptr);
  CHECK(contains(c.detail, "no/slash"));
  MonitorOpenResult o = MonitorReader::open("");
  CHECK(o.error == MonitorError::InvalidName);
  CHECK(!o.reader.has_value());

  plat::SharedSegment seg;
  CHECK(plat::SharedSegment::acquireOwner("a/b", 64, seg).error == plat::ShmError::InvalidName);
  CHECK(plat::SharedSegment::open("", plat::ShmAccess::ReadOnly, seg).error == plat::ShmError::InvalidName);
}

TEST(create_open_read_roundtrip) {
  const std::string name = uniqueName("roundtrip");
  SegmentCleanup cleanup{monitorSegmentName(name)};
  const std::uint64_t before = unixMs();
  auto writer = mustCreate(name, 100);
  CHECK_EQ(writer->serverName(), name);
  CHECK_EQ(writer->segmentName(), monitorSegmentName(name));
  MonitorReader reader = mustOpen(name);

  MonitorSnapshot s = mustRead(reader);
  CHECK_EQ(s.status.maxPlayers, 100u);
  CHECK_EQ(s.status.playerCount, 0u);
  CHECK_EQ(s.status.pid, plat::currentProcessId());
  CHECK_EQ(s.status.heartbeat, 1u);
  CHECK_EQ(std::string(s.status.name()), name);
  CHECK(s.status.cpuCount >= 1);
  CHECK(s.status.startedAtUnixMs >= before);
  CHECK(s.running());
  CHECK(!s.paused());
  CHECK(!s.stale);
  CHECK(s.writer == Liveness::Unchecked);  // Fast mode makes no system call
  CHECK_EQ(s.sequence % 2, 0u);
  const std::uint64_t seq1 = s.sequence;

  MonitorWriteResult w = writer->update({12, 100, 37.5, 123456789, false});
  CHECK(w.error == MonitorError::None);
  CHECK(!w.recovered);
  CHECK_EQ(w.heartbeat, 2u);
  s = mustRead(reader, ReadMode::CheckWriter);
  CHECK_EQ(s.status.playerCount, 12u);
  CHECK_EQ(s.status.cpuPercent, 37.5);
  CHECK_EQ(s.status.residentBytes, 123456789u);
  CHECK_EQ(s.status.heartbeat, 2u);
  CHECK(s.writer == Liveness::Alive);
  CHECK(!s.stale);
  CHECK(s.sequence > seq1);
  CHECK(s.ageMs < 3000);

  CHECK(writer->setPlayerCount(13).error == MonitorError::None);
  s = mustRead(reader);
  CHECK_EQ(s.status.playerCount, 13u);
  CHECK_EQ(s.status.cpuPercent, 37.5);  // kept from the last full update
  CHECK_EQ(s.status.maxPlayers, 100u);
  CHECK_EQ(s.status.heartbeat, 3u);

  CHECK(writer->update({13, 200, 1.0, 1, true}).error == MonitorError::None);
  s = mustRead(reader);
  CHECK(s.paused());
  CHECK(s.running());
  CHECK_EQ(s.status.maxPlayers, 200u);

  // Stale after the threshold, even though the writer is alive.
  MonitorOpenResult strict = MonitorReader::open(name, MonitorReaderOptions{0});
  CHECK(strict.error == MonitorError::None);
  const std::uint64_t stamp = mustRead(*strict.reader).status.lastUpdateUnixMs;
  while (unixMs() <= stamp + 1) std::this_thread::sleep_for(1ms);  // let the wall clock move on
  CHECK(mustRead(*strict.reader).stale);
}

TEST(segment_is_owner_only_and_claimed_once) {
  const std::string name = uniqueName("owner");
  const std::string seg = monitorSegmentName(name);
  SegmentCleanup cleanup{seg};
  auto writer = mustCreate(name, 8);

  MonitorCreateResult again = MonitorWriter::create(name, 8);
  CHECK(again.error == MonitorError::AlreadyRunning);
  CHECK_MSG(contains(again.detail, "pid " + std::to_string(plat::currentProcessId())), again.detail);
  CHECK(contains(again.detail, name));

  plat::SharedSegment other;
  CHECK(plat::SharedSegment::acquireOwner(seg, kMonitorSegmentSize, other).error == plat::ShmError::AlreadyOwned);
  plat::SharedSegment ro;
  CHECK(plat::SharedSegment::open(seg, plat::ShmAccess::ReadOnly, ro).error == plat::ShmError::None);
  CHECK(!ro.owner());
  CHECK(ro.ownerAlive() == std::optional<bool>(true));
  CHECK(!ro.unlink());  // only the owner removes the name
  writer.reset();
  CHECK(ro.ownerAlive() == std::optional<bool>(false));
}

TEST(layout_mismatch_is_a_clear_error) {
  const std::string name = uniqueName("layout");
  const std::string seg = monitorSegmentName(name);
  SegmentCleanup cleanup{seg};
  auto writer = mustCreate(name, 8);
  MonitorReader reader = mustOpen(name);
  plat::SharedSegment raw;
  CHECK(plat::SharedSegment::open(seg, plat::ShmAccess::ReadWrite, raw).error == plat::ShmError::None);
  auto* bytes = static_cast<unsigned char*>(raw.data());
  // Plain writes are fine here: nothing else touches the segment while a test step runs.
  auto poke = [&](std::size_t off, const auto& v) { std::memcpy(bytes + off, &v, sizeof v); };
  const MonitorHeader good = [&] { MonitorHeader h; std::memcpy(&h, bytes, sizeof h); return h; }();

  poke(offsetof(MonitorHeader, layoutVersion), std::uint16_t{99});
  MonitorOpenResult o = MonitorReader::open(name);
  CHECK(o.error == MonitorError::LayoutMismatch);
  CHECK_MSG(contains(o.detail, "version 99"), o.detail);
  CHECK(reader.read().error == MonitorError::LayoutMismatch);  // an open reader notices too
  poke(0, good);
  CHECK(reader.read().error == MonitorError::None);

  poke(offsetof(MonitorHeader, statusSize), std::uint32_t{100});
  o = MonitorReader::open(name);
  CHECK(o.error == MonitorError::LayoutMismatch);
  CHECK_MSG(contains(o.detail, "sizes"), o.detail);
  poke(0, good);

  poke(offsetof(MonitorHeader, magic), std::uint32_t{0x58585858});
  o = MonitorReader::open(name);
  CHECK(o.error == MonitorError::LayoutMismatch);
  CHECK_MSG(contains(o.detail, "not a gamesrv status segment"), o.detail);
  poke(offsetof(MonitorHeader, magic), std::uint32_t{0});
  CHECK(MonitorReader::open(name).error == MonitorError::NotReady);
  poke(0, good);

  poke(offsetof(MonitorHeader, lockOffset), std::uint32_t{4096});
  CHECK(MonitorReader::open(name).error == MonitorError::LayoutMismatch);
  poke(0, good);
  CHECK(MonitorReader::open(name).error == MonitorError::None);
}

TEST(wrong_size_segment_is_rejected_then_replaced) {
  const std::string name = uniqueName("size");
  const std::string seg = monitorSegmentName(name);
  SegmentCleanup cleanup{seg};
  {
    // A segment of another size with our magic and version (a future or corrupt layout).
    plat::SharedSegment odd;
    CHECK(plat::SharedSegment::acquireOwner(seg, 100, odd).error == plat::ShmError::None);
    const MonitorHeader h{kMonitorMagic, kMonitorLayoutVersion, 64, 128, 1, 0, 64, 192, 64, 256, {}};
    std::memcpy(odd.data(), &h, 64);
    MonitorOpenResult o = MonitorReader::open(name);
    CHECK(o.error == MonitorError::LayoutMismatch);
    CHECK_MSG(contains(o.detail, "100"), o.detail);
    CHECK(MonitorWriter::create(name, 8).error == MonitorError::AlreadyRunning);  // still owned
  }
  // Its owner is gone: the next server replaces it.
  MonitorCreateResult c = MonitorWriter::create(name, 8);
  CHECK_MSG(c.error == MonitorError::None, c.detail);
  MonitorReader reader = mustOpen(name);
  CHECK_EQ(mustRead(reader).status.maxPlayers, 8u);
}

TEST(clean_stop_marks_stopped_and_unlinks) {
  const std::string name = uniqueName("stop");
  SegmentCleanup cleanup{monitorSegmentName(name)};
  auto writer = mustCreate(name, 8);
  MonitorReader reader = mustOpen(name);
  CHECK(writer->setPlayerCount(5).error == MonitorError::None);
  CHECK(writer->stop().error == MonitorError::None);
  MonitorSnapshot s = mustRead(reader);
  CHECK(!s.running());
  CHECK_EQ(s.status.playerCount, 5u);
  MonitorOpenResult o = MonitorReader::open(name);
  CHECK(o.error == MonitorError::NotFound);
  CHECK_MSG(contains(o.detail, name), o.detail);
  CHECK(writer->stop().error == MonitorError::None);  // idempotent
  CHECK(writer->setPlayerCount(6).error == MonitorError::Stopped);
  CHECK_EQ(mustRead(reader).status.playerCount, 5u);

  // The name is free again at once, and the destructor unlinks like stop().
  {
    auto second = mustCreate(name, 9);
    CHECK(MonitorReader::open(name).error == MonitorError::None);
  }
  CHECK(MonitorReader::open(name).error == MonitorError::NotFound);
  writer.reset();
  CHECK(MonitorReader::open(name).error == MonitorError::NotFound);
}

TEST(sysinfo_measures_cpu_and_memory) {
  CHECK(plat::cpuCount() >= 1);
  CHECK(plat::processAlive(plat::currentProcessId()));
  plat::CpuSampler sampler;
  std::this_thread::sleep_for(100ms);  // an idle interval to compare against
  const plat::CpuSampler::Sample idle = sampler.sample();
  // A burner that uses 100 ms of CPU, however long a busy machine takes to give it that
  // (a burner timed by the wall clock got under a quarter of a core at load average 20).
  constexpr std::uint64_t kBurnNs = 100'000'000;
  std::thread burner([] {
    const std::uint64_t t0 = gamesrv::platform::currentThreadCpuNs();
    volatile std::uint64_t x = 0;
    while (gamesrv::platform::currentThreadCpuNs() - t0 < kBurnNs) x = x + 1;
  });
  burner.join();
  const plat::CpuSampler::Sample busy = sampler.sample();
  std::printf("  idle=%.1f%% busy=%.1f%% (of one core; %u cores), busy cpu %.1f ms over %.1f ms\n", idle.percent, busy.percent,
              busy.cores, busy.cpuNs / 1e6, busy.wallNs / 1e6);
  CHECK_MSG(busy.cpuNs >= kBurnNs * 9 / 10, "cpu " << busy.cpuNs);  // the clocks' granularity aside
  CHECK(busy.cpuNs > idle.cpuNs + kBurnNs * 8 / 10);
  CHECK(busy.wallNs >= busy.cpuNs / busy.cores);
  const double expected = 100.0 * static_cast<double>(busy.cpuNs) / static_cast<double>(busy.wallNs);
  CHECK_MSG(busy.percent > expected - 1.0 && busy.percent < expected + 1.0, busy.percent << " vs " << expected);
  CHECK(busy.percent <= 100.0 * busy.cores + 10.0);
  CHECK(busy.percentOfHost <= 110.0);
  CHECK_EQ(busy.cores, plat::cpuCount());

  const std::optional<std::uint64_t> rss0 = plat::residentBytes();
  CHECK(rss0.has_value());
  CHECK(*rss0 > 0);
  std::vector<char> block(64u << 20);
  for (std::size_t i = 0; i < block.size(); i += 4096) block[i] = static_cast<char>(i);
  const std::optional<std::uint64_t> rss1 = plat::residentBytes();
  CHECK(rss1.has_value());
  CHECK_MSG(*rss1 >= *rss0 + (32u << 20), "rss " << *rss0 << " -> " << *rss1);
  CHECK(block[4096] == static_cast<char>(4096));

  const std::optional<plat::SystemMemory> mem = plat::systemMemory();
  CHECK(mem.has_value());
  CHECK(mem->totalBytes > 0);
  CHECK(mem->availableBytes <= mem->totalBytes);
}

GS_TEST_MAIN()
