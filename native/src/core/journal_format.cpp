#include "gamesrv/journal_format.hpp"

#include <cstdio>
#include <cstring>

#include "gamesrv/crc32c.hpp"

namespace gamesrv::journal_format {
namespace {

void put32(std::uint8_t* p, std::uint32_t v) noexcept {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<std::uint8_t>(v >> (8 * i));
}
void put64(std::uint8_t* p, std::uint64_t v) noexcept {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<std::uint8_t>(v >> (8 * i));
}
std::uint32_t get32(const std::uint8_t* p) noexcept {
  std::uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= std::uint32_t{p[i]} << (8 * i);
  return v;
}
std::uint64_t get64(const std::uint8_t* p) noexcept {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= std::uint64_t{p[i]} << (8 * i);
  return v;
}

// crc32c over [0,4) and [8,32) of a record header, then the payload.
std::uint32_t recordCrc(const std::uint8_t* header, std::span<const std::uint8_t> payload) noexcept {
  std::uint32_t c = crc32cExtend(0, {header, 4});
  c = crc32cExtend(c, {header + 8, kRecordHeaderBytes - 8});
  return crc32cExtend(c, payload);
}

std::uint32_t segmentCrc(const std::uint8_t* header) noexcept {
  std::uint32_t c = crc32cExtend(0, {header, 12});
  return crc32cExtend(c, {header + 16, 8});
}

}  // namespace

SegmentHeaderBytes encodeSegmentHeader(std::uint64_t firstSeq) noexcept {
  SegmentHeaderBytes b{};
  std::memcpy(b.data(), kSegmentMagic.data(), kSegmentMagic.size());
  put32(b.data() + 8, kVersion);
  put64(b.data() + 16, firstSeq);
  put32(b.data() + 12, segmentCrc(b.data()));
  return b;
}

std::optional<std::uint64_t> decodeSegmentHeader(std::span<const std::uint8_t, kSegmentHeaderBytes> bytes) noexcept {
  if (std::memcmp(bytes.data(), kSegmentMagic.data(), kSegmentMagic.size()) != 0) return std::nullopt;
  if (get32(bytes.data() + 8) != kVersion) return std::nullopt;
  if (get32(bytes.data() + 12) != segmentCrc(bytes.data())) return std::nullopt;
  return get64(bytes.data() + 16);
}

RecordHeaderBytes encodeRecordHeader(std::uint64_t firstSeq, std::uint32_t eventCount, std::uint64_t timestampNs,
                                     std::span<const std::uint8_t> payload) noexcept {
  RecordHeaderBytes b{};
  put32(b.data(), static_cast<std::uint32_t>(payload.size()));
  put64(b.data() + 8, firstSeq);
  put32(b.data() + 16, eventCount);
  put32(b.data() + 20, 0);
  put64(b.data() + 24, timestampNs);
  put32(b.data() + 4, recordCrc(b.data(), payload));
  return b;
}

RecordHeader decodeRecordHeader(std::span<const std::uint8_t, kRecordHeaderBytes> bytes) noexcept {
  RecordHeader h;
  h.payloadBytes = get32(bytes.data());
  h.crc = get32(bytes.data() + 4);
  h.firstSeq = get64(bytes.data() + 8);
  h.eventCount = get32(bytes.data() + 16);
  h.timestampNs = get64(bytes.data() + 24);
  return h;
}

bool recordCrcMatches(std::span<const std::uint8_t, kRecordHeaderBytes> header,
                      std::span<const std::uint8_t> payload) noexcept {
  return get32(header.data() + 4) == recordCrc(header.data(), payload);
}

std::string segmentFileName(std::uint64_t firstSeq) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%020llu", static_cast<unsigned long long>(firstSeq));
  return std::string(buf) + kSegmentSuffix;
}

std::optional<std::uint64_t> parseSegmentFileName(const std::string& name) noexcept {
  const std::size_t suffix = std::strlen(kSegmentSuffix);
  if (name.size() != kSegmentNameDigits + suffix || name.compare(kSegmentNameDigits, suffix, kSegmentSuffix) != 0)
    return std::nullopt;
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < kSegmentNameDigits; ++i) {
    const char c = name[i];
    if (c < '0' || c > '9') return std::nullopt;
    const std::uint64_t d = static_cast<std::uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) return std::nullopt;
    v = v * 10 + d;
  }
  return v;
}

}  // namespace gamesrv::journal_format
