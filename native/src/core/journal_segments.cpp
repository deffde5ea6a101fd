#include "journal_segments.hpp"

#include <algorithm>
#include <optional>

#include "gamesrv/journal_format.hpp"

namespace gamesrv::journal_detail {
namespace fmt = journal_format;
namespace fs = std::filesystem;
namespace {

constexpr std::size_t kReadChunk = 1u << 20;

// Reads a segment through one window, so small records cost no syscall each.
class Reader {
 public:
  Reader(const platform::DurableFile& file, std::uint64_t limit) : file_(file), limit_(limit) {}

  // `n` bytes at `offset` (offset + n <= limit), or an empty span with ec set.
  std::span<const std::uint8_t> at(std::uint64_t offset, std::size_t n, std::error_code& ec) {
    if (offset < start_ || offset + n > start_ + buf_.size()) {
      const std::uint64_t want = std::min<std::uint64_t>(std::max<std::size_t>(n, kReadChunk), limit_ - offset);
      buf_.resize(static_cast<std::size_t>(want));
      std::size_t got = 0;
      ec = file_.readAt(offset, buf_, got);
      start_ = offset;
      buf_.resize(got);
      if (!ec && got < n) ec = std::make_error_code(std::errc::io_error);  // the file shrank under us
      if (ec) return {};
    }
    return {buf_.data() + (offset - start_), n};
  }

 private:
  const platform::DurableFile& file_;
  std::uint64_t limit_;
  std::vector<std::uint8_t> buf_;
  std::uint64_t start_ = 0;
};

}  // namespace

ScanResult scanSegment(const platform::DurableFile& file, std::uint64_t limit, std::uint64_t firstSeq,
                       const Journal::Visitor* visit, std::uint64_t afterSeq) {
  ScanResult r;
  r.nextSeq = firstSeq;
  std::uint64_t off = fmt::kSegmentHeaderBytes;
  Reader reader(file, limit);
  while (off < limit) {
    if (limit - off < fmt::kRecordHeaderBytes) {
      r.problem = "short record header";
      break;
    }
    auto head = reader.at(off, fmt::kRecordHeaderBytes, r.ioError);
    if (r.ioError) break;
    const fmt::RecordHeader h = fmt::decodeRecordHeader(head.first<fmt::kRecordHeaderBytes>());
    if (h.payloadBytes > limit - off - fmt::kRecordHeaderBytes) {
      r.problem = "short record";
      break;
    }
    auto whole = reader.at(off, fmt::kRecordHeaderBytes + h.payloadBytes, r.ioError);
    if (r.ioError) break;
    const auto payload = whole.subspan(fmt::kRecordHeaderBytes);
    if (!fmt::recordCrcMatches(whole.first<fmt::kRecordHeaderBytes>(), payload)) {
      r.problem = "bad crc";
      break;
    }
    if (h.eventCount == 0 || h.firstSeq != r.nextSeq) {
      r.problem = "sequence out of order";
      break;
    }
    const JournalRecord rec{h.firstSeq, h.eventCount, h.timestampNs, payload};
    off += fmt::kRecordHeaderBytes + h.payloadBytes;
    r.nextSeq += h.eventCount;
    ++r.records;
    if (visit != nullptr && rec.lastSeq() > afterSeq && !(*visit)(rec)) {
      r.stopped = true;
      break;
    }
  }
  r.validEnd = off;
  return r;
}

std::optional<std::uint64_t> readSegmentHeader(const platform::DurableFile& file, std::error_code& ec) {
  fmt::SegmentHeaderBytes b{};
  std::size_t got = 0;
  ec = file.readAt(0, b, got);
  if (ec || got < b.size()) return std::nullopt;
  return fmt::decodeSegmentHeader(b);
}

std::error_code createSegment(const fs::path& dir, std::uint64_t firstSeq, platform::DurableFile& out,
                              fs::path& path) {
  path = dir / fmt::segmentFileName(firstSeq);
  platform::DurableFile f;
  std::error_code ec = platform::DurableFile::open(path, true, f);
  if (!ec) ec = f.truncate(0);
  const fmt::SegmentHeaderBytes header = fmt::encodeSegmentHeader(firstSeq);
  const std::span<const std::uint8_t> parts[] = {header};
  if (!ec) ec = f.writeAt(0, parts);
  if (!ec) ec = f.syncData();
  if (!ec) ec = platform::syncDirectory(dir);
  if (ec) {
    f.close();
    std::error_code ignored;
    fs::remove(path, ignored);
    return ec;
  }
  out = std::move(f);
  return {};
}

JournalStatus recoverSegments(const fs::path& dir, std::vector<SegmentInfo>& segments, std::uint64_t& nextSeq,
                              JournalOpenReport& report, std::string& error) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) {
    error = "cannot create " + dir.string() + ": " + ec.message();
    return JournalStatus::IoError;
  }
  std::vector<std::pair<std::uint64_t, fs::path>> found;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (!it->is_regular_file()) continue;
    if (auto seq = fmt::parseSegmentFileName(it->path().filename().string())) found.emplace_back(*seq, it->path());
  }
  if (ec) {
    error = "cannot list " + dir.string() + ": " + ec.message();
    return JournalStatus::IoError;
  }
  std::sort(found.begin(), found.end());

  segments.clear();
  nextSeq = 1;
  const auto ioFail = [&](const fs::path& p, const std::error_code& e) {
    error = p.filename().string() + ": " + e.message();
    return JournalStatus::IoError;
  };
  for (std::size_t k = 0; k < found.size(); ++k) {
    const auto& [nameSeq, path] = found[k];
    const bool last = k + 1 == found.size();
    const std::string name = path.filename().string();
    platform::DurableFile f;
    if ((ec = platform::DurableFile::open(path, false, f))) return ioFail(path, ec);
    std::uint64_t size = 0;
    if ((ec = f.size(size))) return ioFail(path, ec);
    const auto headerSeq = readSegmentHeader(f, ec);
    if (ec) return ioFail(path, ec);
    if (k > 0 && nameSeq != nextSeq) {
      error = name + ": starts at " + std::to_string(nameSeq) + ", the segment before ends at " +
              std::to_string(nextSeq - 1);
      return JournalStatus::Corrupt;
    }
    if (headerSeq != nameSeq) {
      if (!last) {
        error = name + ": damaged segment header";
        return JournalStatus::Corrupt;
      }
      // Torn while being created (the roll syncs it before any record goes in): start it again.
      const fmt::SegmentHeaderBytes header = fmt::encodeSegmentHeader(nameSeq);
      const std::span<const std::uint8_t> parts[] = {header};
      if ((ec = f.truncate(0)) || (ec = f.writeAt(0, parts)) || (ec = f.syncData())) return ioFail(path, ec);
      report.cutBytes += size;
      report.cutSegment = name;
      report.cutReason = "torn segment header";
      size = fmt::kSegmentHeaderBytes;
    }
    const ScanResult scan = scanSegment(f, size, nameSeq, nullptr, 0);
    if (scan.ioError) return ioFail(path, scan.ioError);
    if (!scan.problem.empty()) {
      if (!last) {
        error = name + ": " + scan.problem + " at offset " + std::to_string(scan.validEnd);
        return JournalStatus::Corrupt;
      }
      if ((ec = f.truncate(scan.validEnd)) || (ec = f.syncData())) return ioFail(path, ec);
      report.cutBytes += size - scan.validEnd;
      report.cutSegment = name;
      report.cutReason = scan.problem + " at offset " + std::to_string(scan.validEnd);
    }
    nextSeq = scan.nextSeq;
    report.records += scan.records;
    segments.push_back({nameSeq, path, scan.validEnd});
  }
  if (segments.empty()) {
    platform::DurableFile f;
    fs::path path;
    if ((ec = createSegment(dir, nextSeq, f, path))) return ioFail(path, ec);
    segments.push_back({nextSeq, path, fmt::kSegmentHeaderBytes});
  }
  report.lastSeq = nextSeq - 1;
  report.segments = segments.size();
  return JournalStatus::Ok;
}

}  // namespace gamesrv::journal_detail
