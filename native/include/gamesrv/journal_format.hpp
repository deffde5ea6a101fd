// The journal's on-disk format: the one place its constants live (docs/JOURNAL.md describes
// them; test_journal pins the bytes). All integers are little-endian.
//
// Segment file "<firstSeq, 20 digits>.gsj" = segment header, then records back to back.
//   segment header (24 bytes): magic "GSJOURNL" | u32 version | u32 crc32c | u64 firstSeq
//     crc32c covers bytes [0,12) and [16,24).
//   record header (32 bytes): u32 payloadBytes | u32 crc32c | u64 firstSeq | u32 eventCount |
//     u32 reserved (0) | u64 timestampNs, then payloadBytes of payload.
//     crc32c covers bytes [0,4), [8,32) and the payload.
// A record holds eventCount >= 1 events numbered firstSeq .. firstSeq + eventCount - 1; each
// record's firstSeq is the previous record's last + 1, across segments too.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

namespace gamesrv::journal_format {

inline constexpr std::array<std::uint8_t, 8> kSegmentMagic = {'G', 'S', 'J', 'O', 'U', 'R', 'N', 'L'};
inline constexpr std::uint32_t kVersion = 1;
inline constexpr std::size_t kSegmentHeaderBytes = 24;
inline constexpr std::size_t kRecordHeaderBytes = 32;
inline constexpr const char* kSegmentSuffix = ".gsj";
inline constexpr std::size_t kSegmentNameDigits = 20;

struct RecordHeader {
  std::uint32_t payloadBytes = 0;
  std::uint32_t crc = 0;
  std::uint64_t firstSeq = 0;
  std::uint32_t eventCount = 0;
  std::uint64_t timestampNs = 0;
};

using SegmentHeaderBytes = std::array<std::uint8_t, kSegmentHeaderBytes>;
using RecordHeaderBytes = std::array<std::uint8_t, kRecordHeaderBytes>;

SegmentHeaderBytes encodeSegmentHeader(std::uint64_t firstSeq) noexcept;
// The segment's firstSeq, or nullopt if the bytes are not a valid header of this version.
std::optional<std::uint64_t> decodeSegmentHeader(std::span<const std::uint8_t, kSegmentHeaderBytes> bytes) noexcept;

// Encodes a header whose crc covers `payload`.
RecordHeaderBytes encodeRecordHeader(std::uint64_t firstSeq, std::uint32_t eventCount, std::uint64_t timestampNs,
                                     std::span<const std::uint8_t> payload) noexcept;
// Decodes the fields; the crc is checked separately (it needs the payload).
RecordHeader decodeRecordHeader(std::span<const std::uint8_t, kRecordHeaderBytes> bytes) noexcept;
bool recordCrcMatches(std::span<const std::uint8_t, kRecordHeaderBytes> header,
                      std::span<const std::uint8_t> payload) noexcept;

std::string segmentFileName(std::uint64_t firstSeq);
// The firstSeq a segment file name carries, or nullopt if it is not a segment's name.
std::optional<std::uint64_t> parseSegmentFileName(const std::string& name) noexcept;

}  // namespace gamesrv::journal_format
