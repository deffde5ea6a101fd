#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "gamesrv/wire.hpp"
#include "harness.hpp"

using namespace gamesrv;

namespace {
std::vector<int> bytes(const std::byte* p, std::size_t n) {
  std::vector<int> v;
  for (std::size_t i = 0; i < n; ++i) v.push_back(std::to_integer<int>(p[i]));
  return v;
}
}  // namespace

TEST(integers_are_little_endian_whatever_the_host) {
  std::byte b[8]{};
  wire::putU16(b, 0x0102);
  CHECK(bytes(b, 2) == (std::vector<int>{0x02, 0x01}));
  wire::putU32(b, 0x01020304u);
  CHECK(bytes(b, 4) == (std::vector<int>{0x04, 0x03, 0x02, 0x01}));
  wire::putU64(b, 0x0102030405060708ull);
  CHECK(bytes(b, 8) == (std::vector<int>{0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01}));
  wire::putI32(b, -2);
  CHECK(bytes(b, 4) == (std::vector<int>{0xFE, 0xFF, 0xFF, 0xFF}));
  CHECK_EQ(wire::getI32(b), -2);
}

TEST(floats_are_ieee754_little_endian) {
  std::byte b[8]{};
  wire::putF32(b, 1.0f);  // 0x3F800000
  CHECK(bytes(b, 4) == (std::vector<int>{0x00, 0x00, 0x80, 0x3F}));
  wire::putF64(b, -2.0);  // 0xC000000000000000
  CHECK(bytes(b, 8) == (std::vector<int>{0, 0, 0, 0, 0, 0, 0x00, 0xC0}));
  wire::putF32(b, std::numeric_limits<float>::quiet_NaN());
  CHECK(std::isnan(wire::getF32(b)));
}

TEST(every_field_round_trips_at_its_extremes) {
  std::byte b[8]{};
  for (std::uint16_t v : {std::uint16_t{0}, std::uint16_t{1}, std::uint16_t{0x8000}, std::uint16_t{0xFFFF}}) {
    wire::putU16(b, v);
    CHECK_EQ(wire::getU16(b), v);
  }
  for (std::uint32_t v : {0u, 1u, 0x80000000u, 0xFFFFFFFFu, 0xDEADBEEFu}) {
    wire::putU32(b, v);
    CHECK_EQ(wire::getU32(b), v);
  }
  for (std::int32_t v : {0, -1, std::numeric_limits<std::int32_t>::min(), std::numeric_limits<std::int32_t>::max()}) {
    wire::putI32(b, v);
    CHECK_EQ(wire::getI32(b), v);
  }
  for (std::uint64_t v : {0ull, 1ull, 0x8000000000000000ull, ~0ull, 0x0123456789ABCDEFull}) {
    wire::putU64(b, v);
    CHECK_EQ(wire::getU64(b), v);
  }
  for (double v : {0.0, -0.0, 1e-300, -123456.789, std::numeric_limits<double>::infinity()}) {
    wire::putF64(b, v);
    const double back = wire::getF64(b);
    CHECK(std::memcmp(&back, &v, sizeof v) == 0);
  }
  for (float v : {0.0f, -0.0f, 1e-30f, 1999.875f, -std::numeric_limits<float>::infinity()}) {
    wire::putF32(b, v);
    const float back = wire::getF32(b);
    CHECK(std::memcmp(&back, &v, sizeof v) == 0);
  }
}

GS_TEST_MAIN()
