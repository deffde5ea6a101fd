// Shared-memory monitor on POSIX: the segment file itself, and every case that needs a
// second process (robust-lock recovery, torn reads, dead and live writers).
//
// Cross-process tests fork() while the test process is single-threaded; children only
// run plain loops over the mapping and _exit() (they never return into the harness).
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <stdexcept>
#include <string>
#include <thread>

#include "monitor_test_support.hpp"

using namespace gamesrv;
using namespace montest;
using namespace std::chrono_literals;

namespace {

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

}  // namespace

TEST(segment_file_is_owner_only_and_sized) {
  const std::string name = uniqueName("mode");
  const std::string seg = monitorSegmentName(name);
  SegmentCleanup cleanup{seg};
  auto writer = mustCreate(name, 8);
  struct stat st {};
  CHECK(::stat(("/dev/shm/" + seg).c_str(), &st) == 0);
  CHECK_EQ(st.st_mode & 0777, 0600u);
  CHECK_EQ(static_cast<std::size_t>(st.st_size), kMonitorSegmentSize);
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

GS_TEST_MAIN()
