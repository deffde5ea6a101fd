// Helpers for test_journal: a temporary directory removed at the end, a collector of
// completions that can be awaited, and payloads that say which batch they are.
#pragma once
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <vector>

#include "gamesrv/journal.hpp"
#include "gamesrv/journal_format.hpp"
#include "harness.hpp"
#include "temp_dir.hpp"

namespace gstest {

// Every completion, in the order the committer ran them.
class Completions {
 public:
  gamesrv::JournalDone callback(std::uint64_t tag) {
    return [this, tag](const gamesrv::JournalCommit& c) {
      std::lock_guard lk(mu_);
      got_.push_back({tag, c});
      cv_.notify_all();
    };
  }
  // True once `n` completions have arrived (false after 20 s).
  bool waitFor(std::size_t n) {
    std::unique_lock lk(mu_);
    return cv_.wait_for(lk, std::chrono::seconds(20), [&] { return got_.size() >= n; });
  }
  struct Entry {
    std::uint64_t tag;
    gamesrv::JournalCommit commit;
  };
  std::vector<Entry> all() {
    std::lock_guard lk(mu_);
    return got_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Entry> got_;
};

inline gamesrv::JournalOptions optionsIn(const TempDir& dir) {
  gamesrv::JournalOptions o;
  o.directory = dir.path() / "journal";
  return o;
}

// Flips one byte of a file in place (damage, as a bad sector or a stray write would do).
inline void flipByte(const std::filesystem::path& file, std::uint64_t offset) {
  std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(static_cast<std::streamoff>(offset));
  char c = 0;
  f.read(&c, 1);
  c = static_cast<char>(c ^ 0x5A);
  f.seekp(static_cast<std::streamoff>(offset));
  f.write(&c, 1);
}

constexpr std::uint64_t recordBytes(std::size_t payload) {
  return gamesrv::journal_format::kRecordHeaderBytes + payload;
}

inline std::vector<std::uint8_t> payloadOf(std::uint64_t tag, std::size_t size) {
  std::vector<std::uint8_t> p(size);
  for (std::size_t i = 0; i < size; ++i) p[i] = static_cast<std::uint8_t>((tag * 131 + i * 7) & 0xFF);
  return p;
}

inline std::unique_ptr<gamesrv::Journal> openJournal(const gamesrv::JournalOptions& o,
                                                     gamesrv::JournalOpenReport& report) {
  std::unique_ptr<gamesrv::Journal> j;
  std::string error;
  const gamesrv::JournalStatus st = gamesrv::Journal::open(o, j, report, error);
  CHECK_MSG(st == gamesrv::JournalStatus::Ok, gamesrv::journalStatusCode(st) << ": " << error);
  return j;
}

struct Replayed {
  std::uint64_t firstSeq;
  std::uint32_t eventCount;
  std::uint64_t timestampNs;
  std::vector<std::uint8_t> payload;
};

inline std::vector<Replayed> replayAll(const gamesrv::Journal& j, std::uint64_t afterSeq = 0) {
  std::vector<Replayed> out;
  std::string error;
  const auto st = j.replay(
      afterSeq,
      [&](const gamesrv::JournalRecord& r) {
        out.push_back({r.firstSeq, r.eventCount, r.timestampNs, {r.payload.begin(), r.payload.end()}});
        return true;
      },
      error);
  CHECK_MSG(st == gamesrv::JournalStatus::Ok, gamesrv::journalStatusCode(st) << ": " << error);
  return out;
}

inline std::vector<std::filesystem::path> segmentFiles(const std::filesystem::path& dir) {
  std::vector<std::filesystem::path> out;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    if (e.path().extension() == ".gsj") out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace gstest
