#include "gamesrv/monitor.hpp"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <thread>

#include "gamesrv/clock.hpp"
#include "gamesrv/platform/sysinfo.hpp"

namespace gamesrv {

namespace {

using platform::LockResult;
using platform::SharedSegment;
using platform::ShmError;

constexpr std::size_t kHeaderWords = sizeof(MonitorHeader) / 8;
constexpr std::size_t kStatusWords = sizeof(SharedStatus) / 8;
constexpr std::size_t kSeqWord = offsetof(MonitorHeader, seq) / 8;
constexpr int kReadAttempts = 64;
constexpr int kSpinsBeforeYield = 8;

// Word 0 of the header: magic | version << 32 | headerSize << 48 (little-endian).
constexpr std::uint64_t kHeaderWord0 = std::uint64_t{kMonitorMagic} | (std::uint64_t{kMonitorLayoutVersion} << 32) |
                                       (std::uint64_t{sizeof(MonitorHeader)} << 48);

template <class T>
std::atomic_ref<T> at(void* base, std::size_t offset) noexcept {
  static_assert(std::atomic_ref<T>::is_always_lock_free);
  return std::atomic_ref<T>(*reinterpret_cast<T*>(static_cast<unsigned char*>(base) + offset));
}

std::atomic_ref<std::uint64_t> seqOf(void* base) noexcept { return at<std::uint64_t>(base, offsetof(MonitorHeader, seq)); }

MonitorHeader expectedHeader(std::uint32_t ownerPid) noexcept {
  MonitorHeader h{};
  h.magic = kMonitorMagic;
  h.layoutVersion = kMonitorLayoutVersion;
  h.headerSize = sizeof(MonitorHeader);
  h.statusSize = sizeof(SharedStatus);
  h.ownerPid = ownerPid;
  h.statusOffset = kMonitorStatusOffset;
  h.lockOffset = kMonitorLockOffset;
  h.lockSize = kMonitorLockSize;
  h.segmentSize = kMonitorSegmentSize;
  return h;
}

// --- seqlock ---------------------------------------------------------------------
// Writer: seq := odd (relaxed), then every word with a release store, then seq := even
// (release). A reader whose acquire load sees any word of a newer write is thereby
// ordered after that write's "seq := odd", so its second read of seq cannot match the
// first. No standalone fences (ThreadSanitizer does not model them).

// Requires: the writer lock held. Also heals a seq left odd by a writer that died.
std::uint64_t beginWrite(void* base) noexcept {
  auto seq = seqOf(base);
  const std::uint64_t s = seq.load(std::memory_order_relaxed);
  const std::uint64_t odd = s + 1 + (s & 1);
  seq.store(odd, std::memory_order_relaxed);
  return odd;
}

void endWrite(void* base, std::uint64_t odd) noexcept { seqOf(base).store(odd + 1, std::memory_order_release); }

void storeWords(void* base, std::size_t offset, const void* src, std::size_t words, std::size_t skipWord = SIZE_MAX) noexcept {
  std::uint64_t w[kStatusWords];
  std::memcpy(w, src, words * 8);
  for (std::size_t i = 0; i < words; ++i)
    if (i != skipWord) at<std::uint64_t>(base, offset + i * 8).store(w[i], std::memory_order_release);
}

void loadWords(void* base, std::size_t offset, std::uint64_t* dst, std::size_t words) noexcept {
  for (std::size_t i = 0; i < words; ++i) dst[i] = at<std::uint64_t>(base, offset + i * 8).load(std::memory_order_acquire);
}

// Runs `copy` (acquire loads only) until it saw one complete write. False = Busy.
template <class Copy>
bool seqlockRead(void* base, Copy&& copy, std::uint64_t* sequence) noexcept {
  auto seq = seqOf(base);
  for (int attempt = 0; attempt < kReadAttempts; ++attempt) {
    if (attempt >= kSpinsBeforeYield) std::this_thread::yield();
    const std::uint64_t s1 = seq.load(std::memory_order_acquire);
    if (s1 & 1) continue;
    copy();
    if (seq.load(std::memory_order_relaxed) == s1) {
      if (sequence) *sequence = s1;
      return true;
    }
  }
  return false;
}

std::string quoted(std::string_view s) { return "'" + std::string(s) + "'"; }

MonitorError fromShm(ShmError e) noexcept {
  switch (e) {
    case ShmError::None: return MonitorError::None;
    case ShmError::InvalidName: return MonitorError::InvalidName;
    case ShmError::NotFound: return MonitorError::NotFound;
    case ShmError::AlreadyOwned: return MonitorError::AlreadyRunning;
    case ShmError::PermissionDenied: return MonitorError::PermissionDenied;
    case ShmError::Empty: return MonitorError::NotReady;
    case ShmError::System: return MonitorError::System;
  }
  return MonitorError::System;
}

// Best effort, for error messages: the pid in the stable part of a live owner's header.
std::uint32_t peekOwnerPid(const std::string& segmentName) {
  SharedSegment s;
  if (SharedSegment::open(segmentName, platform::ShmAccess::ReadOnly, s).error != ShmError::None) return 0;
  if (s.size() < 16) return 0;
  return at<std::uint32_t>(s.data(), offsetof(MonitorHeader, ownerPid)).load(std::memory_order_acquire);
}

// Checks the stable bytes 0..15 and the mapping size; "" if they describe our layout.
std::pair<MonitorError, std::string> checkStableHeader(const SharedSegment& s) {
  const std::string name = quoted(s.name());
  if (s.size() < 16)
    return {MonitorError::LayoutMismatch, "segment " + name + " is " + std::to_string(s.size()) +
                                              " bytes: not a gamesrv status segment"};
  const std::uint64_t w0 = at<std::uint64_t>(s.data(), 0).load(std::memory_order_acquire);
  const std::uint64_t w1 = at<std::uint64_t>(s.data(), 8).load(std::memory_order_acquire);
  const auto magic = static_cast<std::uint32_t>(w0);
  const auto version = static_cast<std::uint16_t>(w0 >> 32);
  const auto headerSize = static_cast<std::uint16_t>(w0 >> 48);
  const auto statusSize = static_cast<std::uint32_t>(w1);
  if (magic == 0) return {MonitorError::NotReady, "segment " + name + " is still being initialized by its writer"};
  if (magic != kMonitorMagic) {
    char hex[16];
    std::snprintf(hex, sizeof hex, "0x%08x", magic);
    return {MonitorError::LayoutMismatch, "segment " + name + " is not a gamesrv status segment (magic " + hex + ")"};
  }
  if (version != kMonitorLayoutVersion)
    return {MonitorError::LayoutMismatch, "segment " + name + " has layout version " + std::to_string(version) +
                                              "; this build reads version " + std::to_string(kMonitorLayoutVersion) +
                                              " (is another gamesrv version running?)"};
  if (headerSize != sizeof(MonitorHeader) || statusSize != sizeof(SharedStatus) || s.size() != kMonitorSegmentSize)
    return {MonitorError::LayoutMismatch,
            "segment " + name + " has header/status/segment sizes " + std::to_string(headerSize) + "/" +
                std::to_string(statusSize) + "/" + std::to_string(s.size()) + "; expected " +
                std::to_string(sizeof(MonitorHeader)) + "/" + std::to_string(sizeof(SharedStatus)) + "/" +
                std::to_string(kMonitorSegmentSize)};
  return {MonitorError::None, {}};
}

bool restOfHeaderMatches(const MonitorHeader& h) noexcept {
  const MonitorHeader want = expectedHeader(h.ownerPid);
  return h.statusOffset == want.statusOffset && h.lockOffset == want.lockOffset && h.lockSize == want.lockSize &&
         h.segmentSize == want.segmentSize;
}

}  // namespace

const char* toString(MonitorError e) noexcept {
  switch (e) {
    case MonitorError::None: return "none";
    case MonitorError::InvalidName: return "invalid-name";
    case MonitorError::NotFound: return "not-found";
    case MonitorError::AlreadyRunning: return "already-running";
    case MonitorError::LayoutMismatch: return "layout-mismatch";
    case MonitorError::NotReady: return "not-ready";
    case MonitorError::Busy: return "busy";
    case MonitorError::PermissionDenied: return "permission-denied";
    case MonitorError::Stopped: return "stopped";
    case MonitorError::LockFailed: return "lock-failed";
    case MonitorError::System: return "system";
  }
  return "unknown";
}

const char* toString(Liveness l) noexcept {
  switch (l) {
    case Liveness::Unchecked: return "unchecked";
    case Liveness::Alive: return "alive";
    case Liveness::Dead: return "dead";
  }
  return "unknown";
}

bool isValidServerName(std::string_view name) noexcept {
  if (name.empty() || name.size() > kServerNameMax) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

std::string monitorSegmentName(std::string_view serverName) { return "gamesrv-" + std::string(serverName); }

// --- writer ----------------------------------------------------------------------

MonitorCreateResult MonitorWriter::create(std::string_view serverName, std::uint32_t maxPlayers) {
  MonitorCreateResult r;
  if (!isValidServerName(serverName)) {
    r.error = MonitorError::InvalidName;
    r.detail = "invalid server name " + quoted(serverName) + ": use 1 to 48 of A-Z a-z 0-9 _ -";
    return r;
  }
  std::unique_ptr<MonitorWriter> w(new MonitorWriter());
  w->serverName_ = std::string(serverName);
  const std::string segName = monitorSegmentName(serverName);
  const platform::ShmResult sr = SharedSegment::acquireOwner(segName, kMonitorSegmentSize, w->segment_);
  if (sr.error == ShmError::AlreadyOwned) {
    const std::uint32_t pid = peekOwnerPid(segName);
    r.error = MonitorError::AlreadyRunning;
    r.detail = "another server named " + quoted(serverName) + " is running (" +
               (pid != 0 ? "pid " + std::to_string(pid) : std::string("still starting")) + ")";
    return r;
  }
  if (sr.error != ShmError::None) {
    r.error = fromShm(sr.error);
    r.detail = sr.detail;
    return r;
  }
  void* base = w->segment_.data();
  void* lockArea = static_cast<unsigned char*>(base) + kMonitorLockOffset;
  r.tookOver = w->segment_.previousSize() != 0;

  // An abandoned segment of our layout keeps its lock (so a dead holder is recovered,
  // not overwritten) and its seq (so readers still mapping it never see seq go back).
  // Its header is read without the seqlock: owning the name, we are the only writer,
  // and a dead one may have left seq odd.
  bool reuse = false;
  if (w->segment_.previousSize() == kMonitorSegmentSize && checkStableHeader(w->segment_).first == MonitorError::None) {
    MonitorHeader h{};
    loadWords(base, 0, reinterpret_cast<std::uint64_t*>(&h), kHeaderWords);
    if (restOfHeaderMatches(h) && w->lock_.attach(lockArea, w->segment_).error == ShmError::None) {
      const LockResult lr = w->lock_.lock();
      reuse = lr != LockResult::Failed;
      r.recovered = lr == LockResult::Recovered;
    }
  }
  if (!reuse) {
    // Brand new, another layout, or an unusable lock. We own the name, so no live writer
    // can be using whatever is in the lock area.
    if (const platform::ShmResult ir = w->lock_.initialize(lockArea, w->segment_); ir.error != ShmError::None) {
      r.error = MonitorError::System;
      r.detail = ir.detail;
      return r;
    }
    if (w->lock_.lock() == LockResult::Failed) {
      r.error = MonitorError::LockFailed;
      r.detail = "cannot lock the new mutex of segment " + quoted(segName);
      return r;
    }
  }
  // Requires (from here to unlock): lock_ held.
  const std::uint32_t pid = platform::currentProcessId();
  const std::uint64_t now = unixMs();
  SharedStatus s{};
  s.maxPlayers = maxPlayers;
  s.pid = pid;
  s.flags = kStatusRunning;
  s.lastUpdateUnixMs = now;
  s.heartbeat = 1;
  std::memcpy(s.serverName, serverName.data(), serverName.size());
  s.startedAtUnixMs = now;
  s.cpuCount = platform::cpuCount();
  const MonitorHeader h = expectedHeader(pid);
  const std::uint64_t odd = beginWrite(base);
  storeWords(base, 0, &h, kHeaderWords, kSeqWord);
  storeWords(base, kMonitorStatusOffset, &s, kStatusWords);
  endWrite(base, odd);
  w->last_ = s;
  if (r.recovered) w->recoveries_.fetch_add(1, std::memory_order_relaxed);
  w->lock_.unlock();
  r.writer = std::move(w);
  return r;
}

MonitorWriter::~MonitorWriter() { stop(); }

MonitorWriteResult MonitorWriter::publish(const MonitorUpdate* u, const std::uint32_t* players, bool stopping) {
  MonitorWriteResult r;
  const LockResult lr = lock_.lock();
  if (lr == LockResult::Failed) {
    r.error = MonitorError::LockFailed;
    return r;
  }
  r.recovered = lr == LockResult::Recovered;
  if (r.recovered) recoveries_.fetch_add(1, std::memory_order_relaxed);
  if (stopped_) {
    lock_.unlock();
    r.error = MonitorError::Stopped;
    return r;
  }
  SharedStatus s = last_;
  if (u != nullptr) {
    s.playerCount = u->playerCount;
    s.maxPlayers = u->maxPlayers;
    s.cpuPercent = u->cpuPercent;
    s.residentBytes = u->residentBytes;
    s.flags = kStatusRunning | (u->paused ? kStatusPaused : 0u);
  }
  if (players != nullptr) s.playerCount = *players;
  if (stopping) {
    s.flags = 0;
    stopped_ = true;
  }
  s.lastUpdateUnixMs = unixMs();
  s.heartbeat = last_.heartbeat + 1;
  void* base = segment_.data();
  const std::uint64_t odd = beginWrite(base);
  storeWords(base, kMonitorStatusOffset, &s, kStatusWords);
  endWrite(base, odd);
  last_ = s;
  r.heartbeat = s.heartbeat;
  lock_.unlock();
  return r;
}

MonitorWriteResult MonitorWriter::update(const MonitorUpdate& u) { return publish(&u, nullptr, false); }

MonitorWriteResult MonitorWriter::setPlayerCount(std::uint32_t playerCount) {
  return publish(nullptr, &playerCount, false);
}

MonitorWriteResult MonitorWriter::stop() {
  if (!segment_.valid()) return {};
  MonitorWriteResult r = publish(nullptr, nullptr, true);
  if (r.error == MonitorError::Stopped) r.error = MonitorError::None;  // idempotent
  segment_.unlink();
  return r;
}

std::uint64_t MonitorWriter::recoveries() const noexcept { return recoveries_.load(std::memory_order_relaxed); }

void MonitorWriter::abandonLockForTesting(bool midWrite) {
  if (lock_.lock() == LockResult::Failed) return;
  if (midWrite) {
    void* base = segment_.data();
    beginWrite(base);
    const std::uint64_t garbage = 0xdeadbeefdeadbeefull;
    at<std::uint64_t>(base, kMonitorStatusOffset).store(garbage, std::memory_order_release);
  }
}

// --- reader ----------------------------------------------------------------------

MonitorOpenResult MonitorReader::open(std::string_view serverName, MonitorReaderOptions options) {
  MonitorOpenResult r;
  if (!isValidServerName(serverName)) {
    r.error = MonitorError::InvalidName;
    r.detail = "invalid server name " + quoted(serverName) + ": use 1 to 48 of A-Z a-z 0-9 _ -";
    return r;
  }
  MonitorReader rd;
  rd.options_ = options;
  const std::string segName = monitorSegmentName(serverName);
  const platform::ShmResult sr = SharedSegment::open(segName, platform::ShmAccess::ReadOnly, rd.segment_);
  if (sr.error != ShmError::None) {
    r.error = fromShm(sr.error);
    r.detail = sr.error == ShmError::NotFound
                   ? "no server named " + quoted(serverName) + " is publishing status (no segment " + quoted(segName) + ")"
                   : sr.detail;
    return r;
  }
  if (auto [e, detail] = checkStableHeader(rd.segment_); e != MonitorError::None) {
    r.error = e;
    r.detail = std::move(detail);
    return r;
  }
  void* base = rd.segment_.data();
  MonitorHeader h{};
  if (!seqlockRead(base, [&] { loadWords(base, 0, reinterpret_cast<std::uint64_t*>(&h), kHeaderWords); }, nullptr)) {
    r.error = MonitorError::NotReady;
    r.detail = "segment " + quoted(segName) + " is being rewritten; try again";
    return r;
  }
  if (!restOfHeaderMatches(h)) {
    r.error = MonitorError::LayoutMismatch;
    r.detail = "segment " + quoted(segName) + " has unexpected status/lock offsets";
    return r;
  }
  r.reader.emplace(std::move(rd));
  return r;
}

MonitorError MonitorReader::readStatus(SharedStatus& out, std::uint64_t* sequence) const noexcept {
  void* base = segment_.data();
  std::uint64_t word0 = 0;
  std::uint64_t words[kStatusWords];
  const bool ok = seqlockRead(
      base,
      [&] {
        word0 = at<std::uint64_t>(base, 0).load(std::memory_order_acquire);
        loadWords(base, kMonitorStatusOffset, words, kStatusWords);
      },
      sequence);
  if (!ok) return MonitorError::Busy;
  if (word0 != kHeaderWord0) return MonitorError::LayoutMismatch;  // re-initialized under us
  std::memcpy(&out, words, sizeof out);
  return MonitorError::None;
}

MonitorReadResult MonitorReader::read(ReadMode mode) const noexcept {
  MonitorReadResult r;
  MonitorSnapshot& snap = r.snapshot;
  r.error = readStatus(snap.status, &snap.sequence);
  if (r.error != MonitorError::None) return r;
  const std::uint64_t now = unixMs();
  snap.ageMs = now > snap.status.lastUpdateUnixMs ? now - snap.status.lastUpdateUnixMs : 0;
  if (mode == ReadMode::CheckWriter) snap.writer = writerLiveness(snap.status.pid);
  snap.stale = snap.writer == Liveness::Dead || snap.ageMs > options_.staleAfterMs;
  return r;
}

Liveness MonitorReader::writerLiveness(std::uint32_t writerPid) const noexcept {
  if (const std::optional<bool> held = segment_.ownerAlive()) return *held ? Liveness::Alive : Liveness::Dead;
  return platform::processAlive(writerPid) ? Liveness::Alive : Liveness::Dead;
}

}  // namespace gamesrv
