// Shared-memory monitor: layout validation, ownership, robust-lock recovery, seqlock
// consistency across processes, staleness; and the process sysinfo it publishes.
//
// Cross-process tests fork() while the test process is single-threaded; children only
// run plain loops over the mapping and _exit() (they never return into the harness).
#include <fcntl.h>
#include <poll.h>
#include <sys/mman.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <functional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "gamesrv/clock.hpp"
#include "gamesrv/monitor.hpp"
#include "gamesrv/platform/shared_memory.hpp"
#include "gamesrv/platform/sysinfo.hpp"
#include "harness.hpp"

using namespace gamesrv;
using namespace std::chrono_literals;
namespace plat = gamesrv::platform;

namespace {

std::string uniqueName(const char* test) {
  return "t" + std::to_string(plat::currentProcessId()) + "-" + test;
}

// Removes a test segment however the test ends.
struct SegmentCleanup {
  std::string segment;
  ~SegmentCleanup() { ::shm_unlink(("/" + segment).c_str()); }
};

// A forked child running `body`; its exit code is body's return value (99 if it threw).
// The child may send bytes back through `send()`; the parent reads them in finish().
class Child {
 public:
  explicit Child(const std::function<int(Child&)>& body) {
    int toParent[2], toChild[2];
    if (::pipe(toParent) != 0 || ::pipe(toChild) != 0) throw std::runtime_error("pipe");
    std::fflush(stdout);
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork");
    if (pid_ == 0) {
      ::close(toParent[0]);
      ::close(toChild[1]);
      out_ = toParent[1];
      in_ = toChild[0];
      int code = 99;
      try {
        code = body(*this);
      } catch (...) {
      }
      ::_exit(code);
    }
    ::close(toParent[1]);
    ::close(toChild[0]);
    in_ = toParent[0];
    out_ = toChild[1];
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child() {
    if (pid_ > 0 && !reaped_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    closeFds();
  }

  pid_t pid() const { return pid_; }

  // Either side: one message.
  bool send(const void* data, std::size_t n) { return ::write(out_, data, n) == static_cast<ssize_t>(n); }
  // Either side: waits up to `timeout` for exactly n bytes.
  bool receive(void* data, std::size_t n, std::chrono::milliseconds timeout = 10s) {
    auto* p = static_cast<char*>(data);
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (n > 0) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      pollfd pfd{in_, POLLIN, 0};
      if (left.count() <= 0 || ::poll(&pfd, 1, static_cast<int>(left.count())) <= 0) return false;
      const ssize_t got = ::read(in_, p, n);
      if (got <= 0) return false;
      p += got;
      n -= static_cast<std::size_t>(got);
    }
    return true;
  }
  // Parent: closes our end toward the child (its receive() then fails: "you may go").
  void release() {
    if (out_ >= 0) ::close(out_);
    out_ = -1;
  }
  // Parent: waits for the child to exit (the pipe closing is the signal); -1 on timeout
  // (the child is killed) or abnormal termination.
  int finish(std::chrono::milliseconds timeout = 10s) {
    release();
    pollfd pfd{in_, POLLIN, 0};
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    char sink[256];
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0 || ::poll(&pfd, 1, static_cast<int>(left.count())) <= 0) {
        ::kill(pid_, SIGKILL);
        break;
      }
      if (::read(in_, sink, sizeof sink) <= 0) break;  // EOF: the child is gone
    }
    int status = 0;
    ::waitpid(pid_, &status, 0);
    reaped_ = true;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

 private:
  void closeFds() {
    if (in_ >= 0) ::close(in_);
    if (out_ >= 0) ::close(out_);
    in_ = out_ = -1;
  }
  pid_t pid_ = -1;
  bool reaped_ = false;
  int in_ = -1;
  int out_ = -1;
};

std::unique_ptr<MonitorWriter> mustCreate(const std::string& name, std::uint32_t maxPlayers) {
  MonitorCreateResult r = MonitorWriter::create(name, maxPlayers);
  CHECK_MSG(r.error == MonitorError::None, toString(r.error) << ": " << r.detail);
  CHECK(r.writer != nullptr);
  return std::move(r.writer);
}

MonitorReader mustOpen(const std::string& name) {
  MonitorOpenResult r = MonitorReader::open(name);
  CHECK_MSG(r.error == MonitorError::None, toString(r.error) << ": " << r.detail);
  return std::move(*r.reader);
}

MonitorSnapshot mustRead(const MonitorReader& reader, ReadMode mode = ReadMode::Fast) {
  MonitorReadResult r = reader.read(mode);
  CHECK_MSG(r.error == MonitorError::None, toString(r.error));
  return r.snapshot;
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

}  // namespace

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
  struct stat st {};
  CHECK(::stat(("/dev/shm/" + seg).c_str(), &st) == 0);
  CHECK_EQ(st.st_mode & 0777, 0600u);
  CHECK_EQ(static_cast<std::size_t>(st.st_size), kMonitorSegmentSize);

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

TEST(dead_lock_holder_is_recovered) {
  const std::string name = uniqueName("robust");
  SegmentCleanup cleanup{monitorSegmentName(name)};
  auto writer = mustCreate(name, 8);
  MonitorReader reader = mustOpen(name);
  Child child([&](Child&) {
    writer->abandonLockForTesting(false);
    return 0;  // exits holding the lock
  });
  CHECK_EQ(child.finish(), 0);
  MonitorWriteResult r = writer->update({3, 8, 0, 0, false});
  CHECK(r.error == MonitorError::None);
  CHECK(r.recovered);
  CHECK_EQ(writer->recoveries(), 1u);
  CHECK_EQ(mustRead(reader).status.playerCount, 3u);
  r = writer->setPlayerCount(4);
  CHECK(r.error == MonitorError::None);
  CHECK(!r.recovered);
  CHECK_EQ(mustRead(reader).status.playerCount, 4u);
}

TEST(writer_killed_mid_write_does_not_wedge_readers) {
  const std::string name = uniqueName("midwrite");
  SegmentCleanup cleanup{monitorSegmentName(name)};
  auto writer = mustCreate(name, 8);
  CHECK(writer->setPlayerCount(2).error == MonitorError::None);
  MonitorReader reader = mustOpen(name);
  Child child([&](Child&) {
    writer->abandonLockForTesting(true);  // seq left odd, half a status written
    return 0;
  });
  CHECK_EQ(child.finish(), 0);
  CHECK(reader.read().error == MonitorError::Busy);  // bounded: reports, never spins forever
  MonitorWriteResult r = writer->setPlayerCount(7);
  CHECK(r.recovered);
  MonitorSnapshot s = mustRead(reader);
  CHECK_EQ(s.status.playerCount, 7u);
  CHECK_EQ(s.status.maxPlayers, 8u);
  CHECK_EQ(s.sequence % 2, 0u);
}

namespace {
struct TornReport {
  std::uint64_t reads = 0, torn = 0, busy = 0, distinct = 0;
};
}  // namespace

TEST(reader_in_another_process_sees_no_torn_reads) {
  const std::string name = uniqueName("torn");
  SegmentCleanup cleanup{monitorSegmentName(name)};
  auto writer = mustCreate(name, 7);
  Child child([&](Child& self) {
    MonitorOpenResult o = MonitorReader::open(name);
    if (o.error != MonitorError::None) return 2;
    const char ready = 'r';
    self.send(&ready, 1);
    TornReport rep;
    std::uint64_t lastHeartbeat = 0;
    const auto giveUp = std::chrono::steady_clock::now() + 10s;
    for (;;) {
      if (std::chrono::steady_clock::now() > giveUp) return 4;
      SharedStatus s;
      const MonitorError e = o.reader->readStatus(s);
      if (e == MonitorError::Busy) {
        ++rep.busy;
        continue;
      }
      if (e != MonitorError::None) return 3;
      ++rep.reads;
      if (!(s.flags & kStatusRunning)) break;  // the writer's final, stopping write
      if (s.heartbeat != lastHeartbeat) ++rep.distinct;
      if (s.heartbeat < lastHeartbeat) ++rep.torn;  // time never runs backwards
      lastHeartbeat = s.heartbeat;
      if (s.heartbeat >= 2) {
        const bool consistent = s.playerCount == s.heartbeat % 1000 && s.maxPlayers == s.playerCount + 7 &&
                                s.cpuPercent == static_cast<double>(s.heartbeat) &&
                                s.residentBytes == s.heartbeat * 3 && s.name() == name;
        if (!consistent) ++rep.torn;
      }
    }
    self.send(&rep, sizeof rep);
    return rep.torn == 0 ? 0 : 1;
  });
  char ready = 0;
  CHECK(child.receive(&ready, 1));
  std::uint64_t heartbeat = 1;  // create() published heartbeat 1
  const auto end = std::chrono::steady_clock::now() + 1s;
  while (std::chrono::steady_clock::now() < end) {
    for (int i = 0; i < 256; ++i) {
      const std::uint64_t hb = heartbeat + 1;
      const auto players = static_cast<std::uint32_t>(hb % 1000);
      const MonitorWriteResult r = writer->update({players, players + 7, static_cast<double>(hb), hb * 3, false});
      CHECK(r.error == MonitorError::None);
      CHECK_EQ(r.heartbeat, hb);
      heartbeat = hb;
    }
  }
  CHECK(writer->stop().error == MonitorError::None);
  TornReport rep;
  CHECK(child.receive(&rep, sizeof rep));
  const int code = child.finish();
  std::printf("  writes=%llu reads=%llu distinct=%llu busy=%llu torn=%llu\n", static_cast<unsigned long long>(heartbeat),
              static_cast<unsigned long long>(rep.reads), static_cast<unsigned long long>(rep.distinct),
              static_cast<unsigned long long>(rep.busy), static_cast<unsigned long long>(rep.torn));
  CHECK_EQ(code, 0);
  CHECK_EQ(rep.torn, 0u);
  CHECK(rep.reads > 1000);
  CHECK(rep.distinct >= 20);  // the reader really raced the writer (few if the cores are busy)
}

TEST(dead_writer_is_detected_and_taken_over) {
  const std::string name = uniqueName("dead");
  SegmentCleanup cleanup{monitorSegmentName(name)};
  Child child([&](Child&) {
    MonitorCreateResult c = MonitorWriter::create(name, 50);
    if (c.error != MonitorError::None) return 2;
    c.writer->setPlayerCount(9);
    ::_exit(0);  // dies without stop(): the segment stays behind
    return 0;
  });
  const pid_t childPid = child.pid();
  CHECK_EQ(child.finish(), 0);

  MonitorReader reader = mustOpen(name);
  MonitorSnapshot s = mustRead(reader, ReadMode::CheckWriter);
  CHECK_EQ(s.status.pid, static_cast<std::uint32_t>(childPid));
  CHECK_EQ(s.status.playerCount, 9u);
  CHECK(s.running());  // it never said goodbye...
  CHECK(s.writer == Liveness::Dead);  // ...but it is gone
  CHECK(s.stale);
  CHECK(!plat::processAlive(static_cast<std::uint32_t>(childPid)));

  MonitorCreateResult c = MonitorWriter::create(name, 60);
  CHECK_MSG(c.error == MonitorError::None, c.detail);
  CHECK(c.tookOver);
  CHECK(!c.recovered);
  s = mustRead(reader, ReadMode::CheckWriter);  // same segment, new owner
  CHECK_EQ(s.status.pid, plat::currentProcessId());
  CHECK_EQ(s.status.maxPlayers, 60u);
  CHECK_EQ(s.status.playerCount, 0u);
  CHECK(s.writer == Liveness::Alive);
  CHECK(!s.stale);
}

TEST(writer_dead_holding_the_lock_is_taken_over) {
  const std::string name = uniqueName("deadlocked");
  SegmentCleanup cleanup{monitorSegmentName(name)};
  Child child([&](Child&) {
    MonitorCreateResult c = MonitorWriter::create(name, 50);
    if (c.error != MonitorError::None) return 2;
    c.writer->abandonLockForTesting(true);
    ::_exit(0);
    return 0;
  });
  CHECK_EQ(child.finish(), 0);
  MonitorCreateResult c = MonitorWriter::create(name, 70);
  CHECK_MSG(c.error == MonitorError::None, c.detail);
  CHECK(c.tookOver);
  CHECK(c.recovered);
  CHECK_EQ(c.writer->recoveries(), 1u);
  MonitorReader reader = mustOpen(name);
  CHECK_EQ(mustRead(reader).status.maxPlayers, 70u);
}

TEST(live_writer_in_another_process_refuses_a_second) {
  const std::string name = uniqueName("live");
  SegmentCleanup cleanup{monitorSegmentName(name)};
  Child child([&](Child& self) {
    MonitorCreateResult c = MonitorWriter::create(name, 50);
    if (c.error != MonitorError::None) return 2;
    const char ready = 'r';
    self.send(&ready, 1);
    char go;
    self.receive(&go, 1);  // fails when the parent releases us
    c.writer.reset();      // clean stop: running = 0, unlink
    return 0;
  });
  char ready = 0;
  CHECK(child.receive(&ready, 1));
  MonitorCreateResult c = MonitorWriter::create(name, 8);
  CHECK(c.error == MonitorError::AlreadyRunning);
  CHECK_MSG(contains(c.detail, "pid " + std::to_string(child.pid())), c.detail);
  MonitorReader reader = mustOpen(name);
  CHECK(mustRead(reader, ReadMode::CheckWriter).writer == Liveness::Alive);
  CHECK_EQ(child.finish(), 0);
  MonitorSnapshot s = mustRead(reader, ReadMode::CheckWriter);
  CHECK(!s.running());
  CHECK(s.writer == Liveness::Dead);
  CHECK(MonitorReader::open(name).error == MonitorError::NotFound);
}

TEST(sysinfo_measures_cpu_and_memory) {
  CHECK(plat::cpuCount() >= 1);
  CHECK(plat::processAlive(plat::currentProcessId()));
  plat::CpuSampler sampler;
  std::this_thread::sleep_for(200ms);  // an idle interval to compare against
  const plat::CpuSampler::Sample idle = sampler.sample();
  std::atomic<bool> stop{false};
  std::thread burner([&] {
    volatile std::uint64_t x = 0;
    while (!stop.load(std::memory_order_relaxed)) x = x + 1;
  });
  std::this_thread::sleep_for(200ms);
  stop = true;
  burner.join();
  const plat::CpuSampler::Sample busy = sampler.sample();
  std::printf("  idle=%.1f%% busy=%.1f%% (of one core; %u cores)\n", idle.percent, busy.percent, busy.cores);
  CHECK(busy.wallNs >= 150'000'000u);
  CHECK(busy.cpuNs > 50'000'000u);
  CHECK(busy.percent > 25.0);
  CHECK(busy.percent > idle.percent + 20.0);
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
