// Monitor: the server's status published in a named shared-memory segment (seed 4.3.2),
// read by other processes (`gamesrv monitor`) without ever blocking the server.
//
// Segment "gamesrv-<serverName>" (POSIX: /dev/shm/gamesrv-<serverName>, mode 0600),
// kSegmentSize = 256 bytes, little-endian, every field naturally aligned:
//
//   offset size  field
//   ------ ----  ---------------------------------------------------------------------
//   header (MonitorHeader, 64 bytes)
//        0    4  magic            0x56525347: the bytes "GSRV"
//        4    2  layoutVersion    kLayoutVersion (1)
//        6    2  headerSize       64
//        8    4  statusSize       128
//       12    4  ownerPid         pid of the writer that last claimed the segment
//       16    8  seq              seqlock sequence; odd while a write is in progress
//       24    4  statusOffset     64
//       28    4  lockOffset       192
//       32    4  lockSize         64
//       36    4  segmentSize      256
//       40   24  reserved         zero
//   status (SharedStatus, 128 bytes)
//       64    4  playerCount
//       68    4  maxPlayers
//       72    8  cpuPercent       f64, process CPU over the last interval; 100 = one core
//       80    8  residentBytes    writer's RSS
//       88    4  pid              writer's pid
//       92    4  flags            bit0 running, bit1 paused, others zero
//       96    8  lastUpdateUnixMs wall clock of the last write
//      104    8  heartbeat        +1 on every write
//      112   64  serverName       NUL-padded; at most 48 characters are used
//      176    8  startedAtUnixMs  when this writer claimed the segment
//      184    4  cpuCount         logical CPUs the writer may use
//      188    4  reserved         zero
//   writer lock (opaque, 64 bytes)
//      192   64  process-shared robust mutex (pthread_mutex_t on POSIX; on Win32 the
//                name tag and holder pid of a named mutex beside the mapping)
//
// Bytes 0..15 keep their meaning in every layout version, so any build can tell an
// incompatible segment from garbage and name its owner.
//
// Protocol. Writers serialize on the robust mutex (a writer that died holding it is
// recovered, not waited for), then do a seqlock write: seq -> odd, fields, seq -> even.
// Readers never take the mutex: they copy the words between two reads of seq and retry
// if seq was odd or moved. Every word is accessed atomically (release stores, acquire
// loads; plain moves on x86), so the protocol is data-race free.
//
// Ownership of the name (one live server per name) belongs to the platform layer
// (SharedSegment::acquireOwner): the claim dies with its process, so a crashed server's
// segment is taken over by the next one, and a live one is refused.
#pragma once
#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "gamesrv/platform/shared_memory.hpp"

namespace gamesrv {

static_assert(std::endian::native == std::endian::little,
              "the monitor segment layout is little-endian; a big-endian port needs a new layout version");

inline constexpr std::uint32_t kMonitorMagic = 0x56525347u;  // "GSRV" in memory order
inline constexpr std::uint16_t kMonitorLayoutVersion = 1;
inline constexpr std::uint32_t kStatusRunning = 1u << 0;
inline constexpr std::uint32_t kStatusPaused = 1u << 1;
inline constexpr std::size_t kServerNameMax = 48;

struct MonitorHeader {
  std::uint32_t magic;
  std::uint16_t layoutVersion;
  std::uint16_t headerSize;
  std::uint32_t statusSize;
  std::uint32_t ownerPid;
  std::uint64_t seq;
  std::uint32_t statusOffset;
  std::uint32_t lockOffset;
  std::uint32_t lockSize;
  std::uint32_t segmentSize;
  std::uint8_t reserved[24];
};

struct SharedStatus {
  std::uint32_t playerCount;
  std::uint32_t maxPlayers;
  double cpuPercent;
  std::uint64_t residentBytes;
  std::uint32_t pid;
  std::uint32_t flags;
  std::uint64_t lastUpdateUnixMs;
  std::uint64_t heartbeat;
  char serverName[64];
  std::uint64_t startedAtUnixMs;
  std::uint32_t cpuCount;
  std::uint32_t reserved;

  std::string_view name() const noexcept {
    const void* nul = std::memchr(serverName, '\0', sizeof serverName);
    return {serverName, nul ? static_cast<std::size_t>(static_cast<const char*>(nul) - serverName) : sizeof serverName};
  }
};

inline constexpr std::size_t kMonitorHeaderOffset = 0;
inline constexpr std::size_t kMonitorStatusOffset = 64;
inline constexpr std::size_t kMonitorLockOffset = 192;
inline constexpr std::size_t kMonitorLockSize = platform::kProcessMutexStorageSize;
inline constexpr std::size_t kMonitorSegmentSize = 256;

static_assert(sizeof(double) == 8 && std::numeric_limits<double>::is_iec559);
static_assert(sizeof(MonitorHeader) == 64 && alignof(MonitorHeader) == 8);
static_assert(offsetof(MonitorHeader, magic) == 0 && offsetof(MonitorHeader, layoutVersion) == 4);
static_assert(offsetof(MonitorHeader, headerSize) == 6 && offsetof(MonitorHeader, statusSize) == 8);
static_assert(offsetof(MonitorHeader, ownerPid) == 12 && offsetof(MonitorHeader, seq) == 16);
static_assert(offsetof(MonitorHeader, statusOffset) == 24 && offsetof(MonitorHeader, lockOffset) == 28);
static_assert(offsetof(MonitorHeader, lockSize) == 32 && offsetof(MonitorHeader, segmentSize) == 36);
static_assert(offsetof(MonitorHeader, reserved) == 40);
static_assert(sizeof(SharedStatus) == 128 && alignof(SharedStatus) == 8);
static_assert(offsetof(SharedStatus, playerCount) == 0 && offsetof(SharedStatus, maxPlayers) == 4);
static_assert(offsetof(SharedStatus, cpuPercent) == 8 && offsetof(SharedStatus, residentBytes) == 16);
static_assert(offsetof(SharedStatus, pid) == 24 && offsetof(SharedStatus, flags) == 28);
static_assert(offsetof(SharedStatus, lastUpdateUnixMs) == 32 && offsetof(SharedStatus, heartbeat) == 40);
static_assert(offsetof(SharedStatus, serverName) == 48 && offsetof(SharedStatus, startedAtUnixMs) == 112);
static_assert(offsetof(SharedStatus, cpuCount) == 120 && offsetof(SharedStatus, reserved) == 124);
static_assert(kMonitorStatusOffset == sizeof(MonitorHeader));
static_assert(kMonitorLockOffset == kMonitorStatusOffset + sizeof(SharedStatus));
static_assert(kMonitorLockOffset % platform::kProcessMutexStorageAlign == 0);
static_assert(kMonitorSegmentSize == kMonitorLockOffset + kMonitorLockSize);

enum class MonitorError {
  None,
  InvalidName,       // not [A-Za-z0-9_-]{1,48}
  NotFound,          // no server of that name publishes status
  AlreadyRunning,    // create(): a live server already owns the name
  LayoutMismatch,    // not our magic, another layout version, or wrong sizes
  NotReady,          // the writer is still initializing the segment
  Busy,              // a read kept colliding with writes (bounded retries); try again
  PermissionDenied,  // the segment belongs to another user
  Stopped,           // writer: stop() already ran
  LockFailed,        // writer: the process-shared mutex is unusable
  System,
};
const char* toString(MonitorError e) noexcept;

// [A-Za-z0-9_-]{1,48}
bool isValidServerName(std::string_view name) noexcept;
// "gamesrv-<name>": the portable segment name.
std::string monitorSegmentName(std::string_view serverName);

struct MonitorUpdate {
  std::uint32_t playerCount = 0;
  std::uint32_t maxPlayers = 0;
  double cpuPercent = 0;
  std::uint64_t residentBytes = 0;
  bool paused = false;
};

struct MonitorWriteResult {
  MonitorError error = MonitorError::None;  // None, Stopped or LockFailed
  bool recovered = false;  // this write took the lock from a writer that died holding it
  std::uint64_t heartbeat = 0;  // the heartbeat this write published
};

class MonitorWriter;

struct MonitorCreateResult {
  MonitorError error = MonitorError::None;
  std::string detail;
  std::unique_ptr<MonitorWriter> writer;
  bool tookOver = false;   // an abandoned segment of this layout size (dead writer) was claimed in place
  bool recovered = false;  // ...and its writer died holding the lock
};

// The server side. Thread safety: update(), setPlayerCount() and stop() are safe from
// any thread (they serialize on the process-shared mutex, which also serializes against
// any other process that writes the same segment). Destroy it only when no call is in
// flight; the destructor stops (running = 0) and unlinks, like stop().
class MonitorWriter {
 public:
  static MonitorCreateResult create(std::string_view serverName, std::uint32_t maxPlayers);

  MonitorWriter(const MonitorWriter&) = delete;
  MonitorWriter& operator=(const MonitorWriter&) = delete;
  ~MonitorWriter();

  // Publishes every mutable field, stamps lastUpdateUnixMs and bumps the heartbeat.
  // Costs a lock, a clock read and a 128-byte copy: cheap enough per player change.
  MonitorWriteResult update(const MonitorUpdate& u);
  // Publishes a new player count, keeping the other fields of the last update.
  MonitorWriteResult setPlayerCount(std::uint32_t playerCount);
  // Publishes running = 0 and removes the name (new readers get NotFound; open ones see
  // the final status). Idempotent.
  MonitorWriteResult stop();

  const std::string& serverName() const noexcept { return serverName_; }
  const std::string& segmentName() const noexcept { return segment_.name(); }
  std::uint64_t recoveries() const noexcept;  // writes that recovered a dead lock holder

  // Takes the writer lock and never releases it; with `midWrite`, also leaves the
  // seqlock odd as a writer killed mid-update would. For a forked child that then _exit()s.
  void abandonLockForTesting(bool midWrite);

 private:
  MonitorWriter() = default;
  MonitorWriteResult publish(const MonitorUpdate* u, const std::uint32_t* players, bool stopping);

  platform::SharedSegment segment_;
  platform::ProcessMutex lock_;
  std::string serverName_;
  SharedStatus last_{};                // guarded by lock_
  bool stopped_ = false;               // guarded by lock_
  std::atomic<std::uint64_t> recoveries_{0};
};

enum class Liveness : std::uint8_t { Unchecked, Alive, Dead };
const char* toString(Liveness l) noexcept;

enum class ReadMode {
  Fast,         // no system calls: copy + age from the wall clock
  CheckWriter,  // also asks the OS whether the writer process still holds the segment
};

struct MonitorSnapshot {
  SharedStatus status{};
  std::uint64_t sequence = 0;  // seqlock value of this copy (even)
  std::uint64_t ageMs = 0;     // now - lastUpdateUnixMs (0 if the clock went back)
  Liveness writer = Liveness::Unchecked;
  bool stale = false;          // writer known dead, or no update for staleAfterMs
  bool running() const noexcept { return (status.flags & kStatusRunning) != 0; }
  bool paused() const noexcept { return (status.flags & kStatusPaused) != 0; }
};

struct MonitorReadResult {
  MonitorError error = MonitorError::None;  // None, Busy or LayoutMismatch
  MonitorSnapshot snapshot;
};

struct MonitorReaderOptions {
  std::uint64_t staleAfterMs = 3000;
};

struct MonitorOpenResult;

// The client side: maps the segment read-only. A reader stays bound to the segment it
// opened; once the writer is gone (stale), open() again to follow a restarted server.
// Thread safety: all members are const and safe from any number of threads.
class MonitorReader {
 public:
  static MonitorOpenResult open(std::string_view serverName, MonitorReaderOptions options = {});

  MonitorReader(MonitorReader&&) noexcept = default;
  MonitorReader& operator=(MonitorReader&&) noexcept = default;

  // A consistent snapshot. Wait-free for the writer; the reader retries a bounded
  // number of times while writes collide, then reports Busy.
  MonitorReadResult read(ReadMode mode = ReadMode::Fast) const noexcept;
  // The bare copy (no clock, no liveness): the hot path under read().
  MonitorError readStatus(SharedStatus& out, std::uint64_t* sequence = nullptr) const noexcept;
  // One system call: is the writer process still holding the segment?
  Liveness writerLiveness(std::uint32_t writerPid) const noexcept;

  const std::string& segmentName() const noexcept { return segment_.name(); }

 private:
  MonitorReader() = default;
  platform::SharedSegment segment_;
  MonitorReaderOptions options_{};
};

struct MonitorOpenResult {
  MonitorError error = MonitorError::None;
  std::string detail;
  std::optional<MonitorReader> reader;
};

}  // namespace gamesrv
