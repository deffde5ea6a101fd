// CRC32C (Castagnoli, reflected polynomial 0x82F63B78), as iSCSI, ext4 and most log formats
// use it: crc32c("123456789") == 0xE3069283. The SSE4.2 instruction is used when the CPU has
// it (checked once at run time), else a slicing-by-8 table.
//
// Thread safety: safe from any thread; the tables are built at compile time.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>

namespace gamesrv {

// Extends `crc` (the value a previous call returned; 0 to start) over `data`.
std::uint32_t crc32cExtend(std::uint32_t crc, std::span<const std::uint8_t> data) noexcept;
inline std::uint32_t crc32c(std::span<const std::uint8_t> data) noexcept { return crc32cExtend(0, data); }

// The portable table path alone, so tests can check it against the hardware one.
std::uint32_t crc32cExtendPortableForTesting(std::uint32_t crc, std::span<const std::uint8_t> data) noexcept;
bool crc32cUsesHardware() noexcept;

}  // namespace gamesrv
