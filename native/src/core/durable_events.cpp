#include "gamesrv/durable_events.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <stdexcept>
#include <utility>

#include "gamesrv/clock.hpp"
#include "gamesrv/histogram.hpp"
#include "gamesrv/wire.hpp"

namespace gamesrv {

const char* toString(Durability d) noexcept { return d == Durability::Journal ? "journal" : "none"; }

std::optional<Durability> parseDurability(std::string_view s) noexcept {
  if (s == "none") return Durability::None;
  if (s == "journal") return Durability::Journal;
  return std::nullopt;
}

std::filesystem::path journalDirectory(const std::filesystem::path& dataDir) { return dataDir / "journal"; }

// ------------------------------------------------------------------ payload (docs/JOURNAL.md)

namespace {

// type u8, reserved u8 + u16 (0), playerId u32, num1 f64, num2 f64, session u32,
// clientSeq u32, text length u32, then the text's bytes.
constexpr std::size_t kEventHeaderBytes = 36;

std::byte* bytes(std::uint8_t* p) noexcept { return reinterpret_cast<std::byte*>(p); }
const std::byte* bytes(const std::uint8_t* p) noexcept { return reinterpret_cast<const std::byte*>(p); }

}  // namespace

std::vector<std::uint8_t> encodeJournalEvents(std::span<const GameEvent> batch) {
  std::size_t total = 0;
  for (const GameEvent& e : batch) total += kEventHeaderBytes + e.text.size();
  std::vector<std::uint8_t> out(total);
  std::uint8_t* p = out.data();
  for (const GameEvent& e : batch) {
    p[0] = static_cast<std::uint8_t>(e.type);
    p[1] = 0;
    wire::putU16(bytes(p + 2), 0);
    wire::putU32(bytes(p + 4), e.playerId);
    wire::putF64(bytes(p + 8), e.num1);
    wire::putF64(bytes(p + 16), e.num2);
    wire::putU32(bytes(p + 24), e.session);
    wire::putU32(bytes(p + 28), e.clientSeq);
    wire::putU32(bytes(p + 32), static_cast<std::uint32_t>(e.text.size()));
    if (!e.text.empty()) std::memcpy(p + kEventHeaderBytes, e.text.data(), e.text.size());
    p += kEventHeaderBytes + e.text.size();
  }
  return out;
}

bool decodeJournalEvents(std::span<const std::uint8_t> payload, std::uint32_t count, std::vector<GameEvent>& out) {
  const std::size_t start = out.size();
  std::size_t at = 0;
  for (std::uint32_t i = 0; i < count; ++i) {
    if (payload.size() - at < kEventHeaderBytes) break;
    const std::uint8_t* p = payload.data() + at;
    const std::uint32_t textBytes = wire::getU32(bytes(p + 32));
    if (p[0] >= kEventTypeCount || p[1] != 0 || wire::getU16(bytes(p + 2)) != 0 ||
        textBytes > payload.size() - at - kEventHeaderBytes) {
      break;
    }
    GameEvent& e = out.emplace_back();
    e.type = static_cast<EventType>(p[0]);
    e.playerId = wire::getU32(bytes(p + 4));
    e.num1 = wire::getF64(bytes(p + 8));
    e.num2 = wire::getF64(bytes(p + 16));
    e.session = wire::getU32(bytes(p + 24));
    e.clientSeq = wire::getU32(bytes(p + 28));
    e.text.assign(reinterpret_cast<const char*>(p + kEventHeaderBytes), textBytes);
    at += kEventHeaderBytes + textBytes;
  }
  if (out.size() - start == count && at == payload.size()) return true;
  out.resize(start);
  return false;
}

JournalStatus replayJournalEvents(const Journal& journal, std::uint64_t afterSeq,
                                  const std::function<void(const GameEvent&)>& apply, ReplayReport& report,
                                  std::string& error) {
  const std::uint64_t t0 = nowNs();
  report.afterSeq = afterSeq;
  std::vector<GameEvent> events;
  bool undecodable = false;
  const JournalStatus st = journal.replay(
      afterSeq,
      [&](const JournalRecord& r) {
        events.clear();
        if (!decodeJournalEvents(r.payload, r.eventCount, events)) {
          undecodable = true;
          error = "journal record at seq " + std::to_string(r.firstSeq) + " holds no valid event batch";
          return false;
        }
        ++report.records;
        const std::uint64_t atMs = r.timestampNs / 1000000;
        for (std::uint32_t i = 0; i < r.eventCount; ++i) {
          GameEvent& e = events[i];
          e.journalSeq = r.firstSeq + i;
          e.seq = e.journalSeq;
          e.atMs = atMs;
          if (e.journalSeq <= afterSeq) continue;  // a record that straddles the checkpoint
          apply(e);
          ++report.events;
        }
        return true;
      },
      error);
  report.lastSeq = journal.lastSeq();
  report.durationUs = (nowNs() - t0) / 1000;
  if (undecodable) return JournalStatus::Corrupt;
  return st;
}

std::unique_ptr<Journal> openDataDirJournal(const std::filesystem::path& dataDir, JournalOpenReport& opened) {
  const std::filesystem::path dir = journalDirectory(dataDir);
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) throw std::runtime_error("no journal in " + dir.string());
  JournalOptions o;
  o.directory = dir;
  std::unique_ptr<Journal> j;
  std::string error;
  const JournalStatus st = Journal::open(std::move(o), j, opened, error);
  if (st != JournalStatus::Ok) {
    throw std::runtime_error(std::string("cannot open the journal in ") + dir.string() + " (" + journalStatusCode(st) +
                             "): " + error);
  }
  return j;
}

ReplayReport replayDataDir(const std::filesystem::path& dataDir, World& world, JournalOpenReport& opened) {
  std::unique_ptr<Journal> j = openDataDirJournal(dataDir, opened);
  std::string error;
  ReplayReport r;
  const JournalStatus st = replayJournalEvents(*j, 0, [&](const GameEvent& e) { world.apply(e, e.atMs); }, r, error);
  j->close();
  if (st != JournalStatus::Ok) {
    throw std::runtime_error(std::string("journal replay failed (") + journalStatusCode(st) + "): " + error);
  }
  return r;
}

// ------------------------------------------------------------------ DurableEvents

struct DurableEvents::Shared {
  std::atomic<std::uint64_t> refusedFull{0};
  std::atomic<std::uint64_t> failedBatches{0};
  std::atomic<std::uint64_t> deliveredSeq{0};  // written by completions, in order
  Histogram commitUs;
};

DurableEvents::DurableEvents(EventProcessor& events) : events_(events), shared_(std::make_shared<Shared>()) {}

DurableEvents::~DurableEvents() { close(); }

void DurableEvents::open(const std::filesystem::path& dataDir) {
  if (dataDir.empty()) {
    throw std::runtime_error("durability \"journal\" needs a data directory (dataDir / --data-dir)");
  }
  std::error_code ec;
  if (!std::filesystem::exists(dataDir, ec)) {
    // The data directory holds the server's state: only its user may read it (mode 0700).
    std::filesystem::create_directories(dataDir, ec);
    if (!ec) std::filesystem::permissions(dataDir, std::filesystem::perms::owner_all, ec);
    if (ec) throw std::runtime_error("cannot create the data directory " + dataDir.string() + ": " + ec.message());
  }
  JournalOptions o;
  {
    std::lock_guard lock(mu_);
    o = options_;
  }
  o.directory = journalDirectory(dataDir);
  std::unique_ptr<Journal> j;
  JournalOpenReport report;
  std::string error;
  const JournalStatus st = Journal::open(std::move(o), j, report, error);
  if (st != JournalStatus::Ok) {
    throw std::runtime_error(std::string("cannot open the journal in ") + journalDirectory(dataDir).string() + " (" +
                             journalStatusCode(st) + "): " + error);
  }
  std::lock_guard lock(mu_);
  if (directory_ != journalDirectory(dataDir)) {
    directory_ = journalDirectory(dataDir);
    deliveredSeq_ = 0;  // another journal: nothing of it is in the World yet
  }
  shared_->deliveredSeq.store(deliveredSeq_, std::memory_order_relaxed);
  opened_ = report;
  replayed_ = ReplayReport{};
  journal_ = std::move(j);
  active_.store(true, std::memory_order_release);
}

ReplayReport DurableEvents::replay(std::uint64_t checkpointSeq, const std::function<void(const GameEvent&)>& apply) {
  std::shared_ptr<Journal> j;
  std::uint64_t after;
  {
    std::lock_guard lock(mu_);
    j = journal_;
    after = std::max(checkpointSeq, deliveredSeq_);
  }
  ReplayReport r;
  if (!j) return r;
  std::string error;
  const JournalStatus st = replayJournalEvents(*j, after, apply, r, error);
  if (st != JournalStatus::Ok) {
    throw std::runtime_error(std::string("journal replay failed (") + journalStatusCode(st) + "): " + error);
  }
  // The World now holds every event up to the journal's end (what the checkpoint or an
  // earlier run brought, and what was just replayed): the watermark a checkpoint may take.
  noteApplied(std::max({after, r.lastSeq, appliedSeq()}));
  std::lock_guard lock(mu_);
  deliveredSeq_ = std::max(deliveredSeq_, r.lastSeq);
  shared_->deliveredSeq.store(deliveredSeq_, std::memory_order_relaxed);
  replayed_ = r;
  return r;
}

DurableResult DurableEvents::submit(std::vector<GameEvent>& batch, DurableDone done) {
  DurableResult res;
  if (batch.empty()) {
    res.status = EnqueueStatus::Empty;
    return res;
  }
  std::shared_ptr<Journal> j;
  {
    std::lock_guard lock(mu_);
    j = journal_;
  }
  if (!j) {
    res.status = EnqueueStatus::NotAccepting;
    res.journal = JournalStatus::Closed;
    return res;
  }
  const std::size_t n = batch.size();
  const EnqueueResult room = events_.reserve(n);
  res.available = room.available;
  if (room.status != EnqueueStatus::Ok) {
    res.status = room.status;
    return res;
  }
  std::vector<std::uint8_t> payload = encodeJournalEvents(batch);
  const std::uint64_t acceptedNs = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch()).count());
  const std::uint64_t t0 = nowNs();
  auto held = std::make_shared<std::vector<GameEvent>>(std::move(batch));
  EventProcessor* events = &events_;
  std::shared_ptr<Shared> shared = shared_;
  const std::size_t available = room.available;
  const JournalStatus st = j->append(
      std::move(payload), static_cast<std::uint32_t>(n), acceptedNs,
      [events, shared, held, n, acceptedNs, t0, available, done = std::move(done)](const JournalCommit& c) {
        DurableResult r;
        r.available = available;
        if (c.status != JournalStatus::Ok) {
          events->unreserve(n);
          shared->failedBatches.fetch_add(1, std::memory_order_relaxed);
          r.journal = c.status;
          r.error = c.error;
          if (done) done(r);
          return;
        }
        const std::uint64_t atMs = acceptedNs / 1000000;
        std::uint64_t seq = c.firstSeq;
        for (GameEvent& e : *held) {
          e.journalSeq = seq++;
          e.atMs = atMs;
        }
        events->enqueueReserved(std::move(*held), Wake::Now);
        shared->deliveredSeq.store(c.firstSeq + n - 1, std::memory_order_release);
        shared->commitUs.record((nowNs() - t0) / 1000);
        r.firstSeq = c.firstSeq;
        r.lastSeq = c.firstSeq + n - 1;
        r.accepted = n;
        if (done) done(r);
      });
  if (st != JournalStatus::Ok) {
    events_.unreserve(n);
    batch = std::move(*held);  // refused: the caller may offer it again
    if (st == JournalStatus::Full) shared_->refusedFull.fetch_add(1, std::memory_order_relaxed);
    res.journal = st;
    if (st == JournalStatus::Closed) res.status = EnqueueStatus::NotAccepting;
    return res;
  }
  res.accepted = n;
  return res;
}

void DurableEvents::close() {
  std::shared_ptr<Journal> j;
  {
    std::lock_guard lock(mu_);
    j = std::move(journal_);
  }
  if (!j) return;
  j->close();  // every accepted batch completes (and is delivered) before this returns
  std::lock_guard lock(mu_);
  lastJournalStats_ = j->stats();
  deliveredSeq_ = std::max(deliveredSeq_, shared_->deliveredSeq.load(std::memory_order_acquire));
}

std::size_t DurableEvents::checkpoint(std::uint64_t seq, std::error_code& ec) {
  std::shared_ptr<Journal> j;
  {
    std::lock_guard lock(mu_);
    j = journal_;
  }
  ec.clear();
  return j ? j->deleteBefore(seq, ec) : 0;
}

void DurableEvents::setOptionsForTesting(JournalOptions options) {
  std::lock_guard lock(mu_);
  options_ = std::move(options);
}

DurableStats DurableEvents::stats() const {
  DurableStats s;
  std::shared_ptr<Journal> j;
  {
    std::lock_guard lock(mu_);
    j = journal_;
    s.opened = opened_;
    s.replayed = replayed_;
    s.journal = lastJournalStats_;
  }
  s.mode = active() ? Durability::Journal : Durability::None;
  if (j) s.journal = j->stats();
  s.appliedSeq = appliedSeq();
  s.refusedFull = shared_->refusedFull.load(std::memory_order_relaxed);
  s.failedBatches = shared_->failedBatches.load(std::memory_order_relaxed);
  s.commitP99Us = shared_->commitUs.quantile(0.99);
  return s;
}

}  // namespace gamesrv
