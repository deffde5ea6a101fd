#include "gamesrv/journal.hpp"

#include <limits>

#include "gamesrv/journal_format.hpp"
#include "gamesrv/platform/thread.hpp"
#include "journal_segments.hpp"

namespace gamesrv {
namespace fmt = journal_format;
namespace fs = std::filesystem;
using journal_detail::SegmentInfo;

const char* journalStatusCode(JournalStatus s) noexcept {
  switch (s) {
    case JournalStatus::Ok: return "OK";
    case JournalStatus::Full: return "JOURNAL_FULL";
    case JournalStatus::TooLarge: return "JOURNAL_BATCH_TOO_LARGE";
    case JournalStatus::Closed: return "JOURNAL_CLOSED";
    case JournalStatus::IoError: return "JOURNAL_IO_ERROR";
    case JournalStatus::InvalidArgument: return "INVALID_ARGUMENT";
    case JournalStatus::Corrupt: return "JOURNAL_CORRUPT";
  }
  return "UNKNOWN";
}

struct Journal::Impl {
  struct Pending {
    std::vector<std::uint8_t> payload;
    std::uint32_t eventCount;
    std::uint64_t timestampNs;
    JournalDone done;
  };

  JournalOptions opt;

  // Owned by the committer thread (and by open() before it starts).
  platform::DurableFile current;
  std::uint64_t currentSize = 0;
  std::uint64_t nextSeq = 1;
  std::vector<fmt::RecordHeaderBytes> headers;
  std::vector<std::span<const std::uint8_t>> parts;

  std::mutex mu;
  std::condition_variable wake;     // committer: pending work or closing
  std::vector<Pending> pending;     // guarded by mu
  std::uint64_t pendingBytes = 0;   // guarded by mu; released after the batches' completions ran
  bool closing = false;             // guarded by mu
  bool broken = false;              // guarded by mu: a cut back failed, the file's end is unknown
  std::uint64_t refusedFull = 0;    // guarded by mu

  mutable std::mutex filesMu;       // never held together with mu
  std::vector<SegmentInfo> segments;  // guarded by filesMu; back() is the one being written

  std::atomic<std::uint64_t> lastSeq{0};
  std::atomic<std::uint64_t> commits{0}, syncs{0}, batches{0}, events{0}, bytes{0}, failedBatches{0};

  std::mutex joinMu;  // serializes close()
  std::thread committer;

  void run();
  void commit(std::vector<Pending>& batch);
  void fail(std::vector<Pending>& batch, std::size_t from, std::error_code ec);
  std::error_code roll();
  std::error_code injected(JournalIoOp op) const { return opt.faultForTesting ? opt.faultForTesting(op) : std::error_code{}; }
};

void Journal::Impl::run() {
  platform::setCurrentThreadName("gs-journal");
  std::vector<Pending> batch;
  for (;;) {
    {
      std::unique_lock lk(mu);
      wake.wait(lk, [&] { return !pending.empty() || closing; });
      if (pending.empty()) return;  // closing, and everything accepted is committed
      if (opt.commitWindow.count() > 0 && !closing) wake.wait_for(lk, opt.commitWindow, [&] { return closing; });
      batch.swap(pending);
    }
    commit(batch);
    std::uint64_t released = 0;
    for (const Pending& p : batch) released += p.payload.size();
    batch.clear();
    std::lock_guard lk(mu);
    pendingBytes -= released;
  }
}

void Journal::Impl::fail(std::vector<Pending>& batch, std::size_t from, std::error_code ec) {
  for (std::size_t k = from; k < batch.size(); ++k) {
    failedBatches.fetch_add(1, std::memory_order_relaxed);
    batch[k].done(JournalCommit{JournalStatus::IoError, 0, batch[k].eventCount, ec});
  }
}

std::error_code Journal::Impl::roll() {
  platform::DurableFile next;
  fs::path path;
  if (std::error_code ec = journal_detail::createSegment(opt.directory, nextSeq, next, path)) return ec;
  current = std::move(next);
  currentSize = fmt::kSegmentHeaderBytes;
  std::lock_guard lk(filesMu);
  segments.push_back({nextSeq, path, currentSize});
  return {};
}

// One commit round: the batches go, in order, into as few gathered writes as the segment
// size allows (one, unless a roll falls inside), each followed by one data sync.
void Journal::Impl::commit(std::vector<Pending>& batch) {
  commits.fetch_add(1, std::memory_order_relaxed);
  std::size_t i = 0;
  while (i < batch.size()) {
    {
      std::lock_guard lk(mu);
      if (broken) return fail(batch, i, std::make_error_code(std::errc::io_error));
    }
    const auto recordBytes = [&](std::size_t k) { return fmt::kRecordHeaderBytes + batch[k].payload.size(); };
    if (currentSize > fmt::kSegmentHeaderBytes && currentSize + recordBytes(i) > opt.segmentBytes) {
      if (std::error_code ec = roll()) return fail(batch, i, ec);
    }
    std::size_t j = i;
    std::uint64_t size = 0;
    while (j < batch.size() && (j == i || currentSize + size + recordBytes(j) <= opt.segmentBytes)) size += recordBytes(j++);

    headers.resize(j - i);
    parts.clear();
    std::uint64_t seq = nextSeq;
    for (std::size_t k = i; k < j; ++k) {
      headers[k - i] = fmt::encodeRecordHeader(seq, batch[k].eventCount, batch[k].timestampNs, batch[k].payload);
      parts.emplace_back(headers[k - i]);
      parts.emplace_back(batch[k].payload);
      seq += batch[k].eventCount;
    }
    std::error_code ec = current.writeAt(currentSize, parts);
    if (!ec) ec = injected(JournalIoOp::Write);
    if (!ec) {
      syncs.fetch_add(1, std::memory_order_relaxed);
      ec = current.syncData();
      if (!ec) ec = injected(JournalIoOp::Sync);
    }
    if (ec) {
      // Back to the last good record; if even that fails, the file's end is unknown: refuse all.
      std::error_code cut = current.truncate(currentSize);
      if (!cut) cut = current.syncData();
      if (cut) {
        std::lock_guard lk(mu);
        broken = true;
      }
      return fail(batch, i, ec);
    }
    currentSize += size;
    {
      std::lock_guard lk(filesMu);
      segments.back().size = currentSize;
    }
    bytes.fetch_add(size, std::memory_order_relaxed);
    lastSeq.store(seq - 1, std::memory_order_release);
    for (std::size_t k = i; k < j; ++k) {
      const std::uint64_t first = nextSeq;
      nextSeq += batch[k].eventCount;
      batches.fetch_add(1, std::memory_order_relaxed);
      events.fetch_add(batch[k].eventCount, std::memory_order_relaxed);
      batch[k].done(JournalCommit{JournalStatus::Ok, first, batch[k].eventCount, {}});
    }
    i = j;
  }
}

Journal::Journal(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Journal::~Journal() { close(); }

JournalStatus Journal::open(JournalOptions options, std::unique_ptr<Journal>& out, JournalOpenReport& report,
                            std::string& error) {
  report = {};
  if (options.directory.empty() || options.maxPendingBytes == 0 ||
      options.segmentBytes < fmt::kSegmentHeaderBytes + fmt::kRecordHeaderBytes) {
    error = "journal options: a directory, maxPendingBytes > 0 and segmentBytes >= 56 are required";
    return JournalStatus::InvalidArgument;
  }
  auto impl = std::make_unique<Impl>();
  impl->opt = std::move(options);
  const JournalStatus st =
      journal_detail::recoverSegments(impl->opt.directory, impl->segments, impl->nextSeq, report, error);
  if (st != JournalStatus::Ok) return st;
  const SegmentInfo& tail = impl->segments.back();
  if (std::error_code ec = platform::DurableFile::open(tail.path, false, impl->current)) {
    error = tail.path.filename().string() + ": " + ec.message();
    return JournalStatus::IoError;
  }
  impl->currentSize = tail.size;
  impl->lastSeq.store(impl->nextSeq - 1);
  Impl* raw = impl.get();
  impl->committer = std::thread([raw] { raw->run(); });
  out.reset(new Journal(std::move(impl)));
  return JournalStatus::Ok;
}

JournalStatus Journal::append(std::vector<std::uint8_t> payload, std::uint32_t eventCount, std::uint64_t timestampNs,
                              JournalDone done) {
  if (eventCount == 0 || !done) return JournalStatus::InvalidArgument;
  Impl& m = *impl_;
  if (payload.size() > m.opt.maxPendingBytes || payload.size() > std::numeric_limits<std::uint32_t>::max())
    return JournalStatus::TooLarge;
  bool first;
  {
    std::lock_guard lk(m.mu);
    if (m.closing) return JournalStatus::Closed;
    if (m.broken) return JournalStatus::IoError;
    if (m.pendingBytes + payload.size() > m.opt.maxPendingBytes) {
      ++m.refusedFull;
      return JournalStatus::Full;
    }
    m.pendingBytes += payload.size();
    first = m.pending.empty();
    m.pending.push_back({std::move(payload), eventCount, timestampNs, std::move(done)});
  }
  if (first) m.wake.notify_one();
  return JournalStatus::Ok;
}

void Journal::close() {
  Impl& m = *impl_;
  if (std::this_thread::get_id() == m.committer.get_id()) {
    // From a completion: the committer cannot wait for itself. It stops once this commit
    // and what is already queued are done; the owner's close() (or destructor) joins it.
    std::lock_guard lk(m.mu);
    m.closing = true;
    return;
  }
  std::lock_guard join(m.joinMu);
  {
    std::lock_guard lk(m.mu);
    m.closing = true;
  }
  m.wake.notify_one();
  if (m.committer.joinable()) m.committer.join();
  m.current.close();
}

JournalStatus Journal::replay(std::uint64_t afterSeq, const Visitor& visit, std::string& error) const {
  std::vector<SegmentInfo> snapshot;
  {
    std::lock_guard lk(impl_->filesMu);
    snapshot = impl_->segments;
  }
  for (std::size_t k = 0; k < snapshot.size(); ++k) {
    if (k + 1 < snapshot.size() && snapshot[k + 1].firstSeq - 1 <= afterSeq) continue;
    const SegmentInfo& s = snapshot[k];
    platform::DurableFile f;
    std::error_code ec = platform::DurableFile::open(s.path, false, f);
    const auto headerSeq = ec ? std::nullopt : journal_detail::readSegmentHeader(f, ec);
    if (ec) {
      error = s.path.filename().string() + ": " + ec.message();
      return JournalStatus::IoError;
    }
    if (headerSeq != s.firstSeq) {
      error = s.path.filename().string() + ": damaged segment header";
      return JournalStatus::Corrupt;
    }
    const auto scan = journal_detail::scanSegment(f, s.size, s.firstSeq, &visit, afterSeq);
    if (scan.ioError) {
      error = s.path.filename().string() + ": " + scan.ioError.message();
      return JournalStatus::IoError;
    }
    if (scan.stopped) return JournalStatus::Ok;
    if (!scan.problem.empty()) {
      error = s.path.filename().string() + ": " + scan.problem + " at offset " + std::to_string(scan.validEnd);
      return JournalStatus::Corrupt;
    }
  }
  return JournalStatus::Ok;
}

std::size_t Journal::deleteBefore(std::uint64_t checkpointSeq, std::error_code& ec) {
  ec.clear();
  std::size_t removed = 0;
  std::lock_guard lk(impl_->filesMu);
  auto& segs = impl_->segments;
  while (segs.size() > 1 && segs[1].firstSeq - 1 <= checkpointSeq) {
    fs::remove(segs.front().path, ec);
    if (ec) break;
    segs.erase(segs.begin());
    ++removed;
  }
  if (removed > 0) {
    const std::error_code synced = platform::syncDirectory(impl_->opt.directory);
    if (!ec) ec = synced;
  }
  return removed;
}

JournalStats Journal::stats() const {
  const Impl& m = *impl_;
  JournalStats s;
  s.commits = m.commits.load(std::memory_order_relaxed);
  s.syncs = m.syncs.load(std::memory_order_relaxed);
  s.batches = m.batches.load(std::memory_order_relaxed);
  s.events = m.events.load(std::memory_order_relaxed);
  s.bytes = m.bytes.load(std::memory_order_relaxed);
  s.failedBatches = m.failedBatches.load(std::memory_order_relaxed);
  s.lastSeq = m.lastSeq.load(std::memory_order_acquire);
  {
    std::lock_guard lk(impl_->mu);
    s.pendingBytes = m.pendingBytes;
    s.refusedFull = m.refusedFull;
  }
  std::lock_guard lk(m.filesMu);
  s.segments = m.segments.size();
  s.firstSeq = m.segments.empty() ? 0 : m.segments.front().firstSeq;
  for (const SegmentInfo& seg : m.segments) s.diskBytes += seg.size;
  return s;
}

std::uint64_t Journal::lastSeq() const { return impl_->lastSeq.load(std::memory_order_acquire); }

}  // namespace gamesrv
