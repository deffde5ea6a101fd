#include "gamesrv/world_hashes.hpp"

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <system_error>

#include "gamesrv/crc32c.hpp"
#include "gamesrv/wire.hpp"

namespace gamesrv {

namespace {

std::byte* bytes(std::uint8_t* p) noexcept { return reinterpret_cast<std::byte*>(p); }
const std::byte* bytes(const std::uint8_t* p) noexcept { return reinterpret_cast<const std::byte*>(p); }

std::runtime_error fileError(const char* what, const std::filesystem::path& path, const std::error_code& ec) {
  return std::runtime_error(std::string(what) + " " + path.string() + ": " + ec.message());
}

// Reads every whole, valid record of an open file; `validBytes` is where they end.
std::vector<WorldHash> readRecords(const platform::DurableFile& f, const std::filesystem::path& path,
                                   std::uint64_t& validBytes, std::uint64_t& size) {
  std::error_code ec = f.size(size);
  if (ec) throw fileError("cannot size", path, ec);
  std::vector<std::uint8_t> bytes(static_cast<std::size_t>(size));
  std::size_t got = 0;
  ec = f.readAt(0, bytes, got);
  if (ec) throw fileError("cannot read", path, ec);
  bytes.resize(got);
  std::vector<WorldHash> out;
  std::size_t at = 0;
  for (; at + world_hash_format::kRecordBytes <= bytes.size(); at += world_hash_format::kRecordBytes) {
    const auto r = world_hash_format::decode(
        std::span<const std::uint8_t, world_hash_format::kRecordBytes>(bytes.data() + at, world_hash_format::kRecordBytes));
    if (!r) break;
    out.push_back(*r);
  }
  validBytes = at;
  return out;
}

}  // namespace

namespace world_hash_format {

RecordBytes encode(const WorldHash& h) noexcept {
  RecordBytes b{};
  wire::putU64(bytes(b.data()), h.seq);
  wire::putU64(bytes(b.data() + 8), h.hash);
  wire::putU32(bytes(b.data() + 16), crc32c(std::span<const std::uint8_t>(b.data(), 16)));
  return b;
}

std::optional<WorldHash> decode(std::span<const std::uint8_t, kRecordBytes> b) noexcept {
  if (wire::getU32(bytes(b.data() + 20)) != 0) return std::nullopt;
  if (wire::getU32(bytes(b.data() + 16)) != crc32c(std::span<const std::uint8_t>(b.data(), 16))) return std::nullopt;
  return WorldHash{wire::getU64(bytes(b.data())), wire::getU64(bytes(b.data() + 8))};
}

}  // namespace world_hash_format

WorldHashFile readWorldHashes(const std::filesystem::path& journalDir) {
  WorldHashFile out;
  const std::filesystem::path path = journalDir / world_hash_format::kFileName;
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return out;
  platform::DurableFile f;
  ec = platform::DurableFile::open(path, false, f);
  if (ec) throw fileError("cannot open", path, ec);
  std::uint64_t valid = 0;
  std::uint64_t size = 0;
  out.records = readRecords(f, path, valid, size);
  out.cutBytes = size - valid;
  return out;
}

void WorldHashLog::open(const std::filesystem::path& journalDir) {
  std::lock_guard lock(mu_);
  file_.close();
  path_ = journalDir / world_hash_format::kFileName;
  std::error_code ec = platform::DurableFile::open(path_, true, file_);
  if (ec) throw fileError("cannot open", path_, ec);
  std::uint64_t valid = 0;
  std::uint64_t size = 0;
  static_cast<void>(readRecords(file_, path_, valid, size));
  if (valid != size) {
    ec = file_.truncate(valid);  // a torn append: the next record starts on a record boundary
    if (ec) {
      file_.close();
      throw fileError("cannot cut the torn tail of", path_, ec);
    }
  }
  size_ = valid;
  lastSeq_.reset();
}

bool WorldHashLog::record(const WorldHash& h, bool force) {
  std::lock_guard lock(mu_);
  if (!file_.isOpen()) return true;
  if (!force && lastSeq_ == h.seq) return true;
  const world_hash_format::RecordBytes b = world_hash_format::encode(h);
  const std::span<const std::uint8_t> buffers[] = {std::span<const std::uint8_t>(b)};
  const std::error_code ec = file_.writeAt(size_, buffers);
  if (ec) {
    ++failures_;
    static_cast<void>(file_.truncate(size_));  // an unknown prefix may be there
    return false;
  }
  size_ += b.size();
  lastSeq_ = h.seq;
  ++recorded_;
  return true;
}

void WorldHashLog::prune(std::uint64_t firstSeq) {
  std::lock_guard lock(mu_);
  if (!file_.isOpen()) return;
  std::uint64_t valid = 0;
  std::uint64_t size = 0;
  std::vector<WorldHash> records;
  try {
    records = readRecords(file_, path_, valid, size);
  } catch (const std::exception&) {
    ++failures_;
    return;
  }
  // Keep the record at firstSeq - 1 too: the state the first kept event starts from.
  const auto keep = std::find_if(records.begin(), records.end(), [&](const WorldHash& h) { return h.seq + 1 >= firstSeq; });
  if (keep == records.begin()) return;
  // Rewrite through a new file renamed over the old one: a crash leaves one or the other.
  const std::filesystem::path tmp = path_.string() + ".tmp";
  std::error_code ec;
  {
    platform::DurableFile t;
    std::filesystem::remove(tmp, ec);
    ec = platform::DurableFile::open(tmp, true, t);
    std::vector<std::uint8_t> bytes;
    for (auto it = keep; it != records.end(); ++it) {
      const auto b = world_hash_format::encode(*it);
      bytes.insert(bytes.end(), b.begin(), b.end());
    }
    const std::span<const std::uint8_t> buffers[] = {std::span<const std::uint8_t>(bytes)};
    if (!ec) ec = t.writeAt(0, buffers);
    if (!ec) ec = t.syncData();
    if (ec) {
      ++failures_;
      t.close();
      std::filesystem::remove(tmp, ec);
      return;
    }
    size_ = bytes.size();
  }
  file_.close();
  std::filesystem::rename(tmp, path_, ec);
  const std::error_code reopen = platform::DurableFile::open(path_, true, file_);
  if (ec || reopen) {
    ++failures_;
    std::uint64_t s = 0;
    if (!reopen && !file_.size(s)) size_ = s - s % world_hash_format::kRecordBytes;
  }
}

void WorldHashLog::close() {
  std::lock_guard lock(mu_);
  file_.close();
}

std::uint64_t WorldHashLog::recorded() const {
  std::lock_guard lock(mu_);
  return recorded_;
}

std::uint64_t WorldHashLog::failures() const {
  std::lock_guard lock(mu_);
  return failures_;
}

VerifyReport verifyDataDir(const std::filesystem::path& dataDir, const WorldConfig& config) {
  VerifyReport v;
  const std::filesystem::path dir = journalDirectory(dataDir);
  std::unique_ptr<Journal> j = openDataDirJournal(dataDir, v.opened);
  std::string error;
  const JournalStats js = j->stats();
  if (js.lastSeq != 0 && js.firstSeq > 1) {
    j->close();
    throw std::runtime_error("the journal in " + dir.string() + " starts at seq " + std::to_string(js.firstSeq) +
                             ": the segments before it were deleted after a checkpoint, so the World they built is "
                             "not in the journal; --verify needs a journal from seq 1 (record with --database simulated)");
  }
  WorldHashFile file = readWorldHashes(dir);
  // A restart may record an earlier seq again: records are checked in seq order.
  std::stable_sort(file.records.begin(), file.records.end(),
                   [](const WorldHash& a, const WorldHash& b) { return a.seq < b.seq; });
  v.recorded = file.records.size();
  v.hashCutBytes = file.cutBytes;
  World world(config);
  std::size_t next = 0;
  // Compares every record taken at `seq` (the World holds exactly the events up to it).
  const auto checkAt = [&](std::uint64_t seq) {
    while (!v.diverged && next < file.records.size() && file.records[next].seq == seq) {
      const WorldHash actual = world.stateHash();
      ++v.checked;
      if (actual.hash != file.records[next].hash) {
        v.diverged = true;
        v.divergedSeq = seq;
        v.expectedHash = file.records[next].hash;
        v.actualHash = actual.hash;
        v.problem = "the World after event " + std::to_string(seq) + " differs from the one the server recorded";
      }
      ++next;
    }
  };
  checkAt(0);
  const JournalStatus st = replayJournalEvents(
      *j, 0,
      [&](const GameEvent& e) {
        world.apply(e, e.atMs);
        checkAt(e.journalSeq);
      },
      v.replay, error);
  j->close();
  if (st != JournalStatus::Ok) {
    throw std::runtime_error(std::string("journal replay failed (") + journalStatusCode(st) + "): " + error);
  }
  if (!v.diverged && next < file.records.size()) {
    v.diverged = true;
    v.divergedSeq = file.records[next].seq;
    v.expectedHash = file.records[next].hash;
    v.problem = "a hash was recorded at seq " + std::to_string(v.divergedSeq) + ", after the journal's last event " +
                std::to_string(v.replay.lastSeq) + ": events the server applied are missing from the journal";
  }
  return v;
}

JournalPage readJournalPage(const std::filesystem::path& dataDir, std::uint64_t afterSeq, std::size_t maxEvents) {
  JournalPage page;
  JournalOpenReport opened;
  std::unique_ptr<Journal> j = openDataDirJournal(dataDir, opened);
  const JournalStats js = j->stats();
  page.firstSeq = js.firstSeq;
  page.lastSeq = js.lastSeq;
  std::string error;
  std::vector<GameEvent> batch;
  const JournalStatus st = j->replay(
      afterSeq,
      [&](const JournalRecord& r) {
        batch.clear();
        if (!decodeJournalEvents(r.payload, r.eventCount, batch)) {
          error = "journal record at seq " + std::to_string(r.firstSeq) + " holds no valid event batch";
          return false;
        }
        for (std::uint32_t i = 0; i < r.eventCount && page.events.size() < maxEvents; ++i) {
          GameEvent& e = batch[i];
          e.journalSeq = r.firstSeq + i;
          e.seq = e.journalSeq;
          e.atMs = r.timestampNs / 1000000;
          if (e.journalSeq > afterSeq) page.events.push_back(std::move(e));
        }
        return page.events.size() < maxEvents;
      },
      error);
  j->close();
  if (st != JournalStatus::Ok || !error.empty()) {
    throw std::runtime_error(std::string("cannot read the journal (") +
                             journalStatusCode(st == JournalStatus::Ok ? JournalStatus::Corrupt : st) + "): " + error);
  }
  return page;
}

}  // namespace gamesrv
