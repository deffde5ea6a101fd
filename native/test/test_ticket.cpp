// The ticket verifier against fixed vectors. The tickets below were issued by the control
// plane's signer (src/tickets.ts signTicket, node's createHmac) with kSecret; the HMAC
// vector is RFC 4231's test case 2. test/tickets.test.ts checks the same agreement
// through the addon with freshly issued tickets.
#include <atomic>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "gamesrv/platform/hmac.hpp"
#include "gamesrv/ticket.hpp"
#include "harness.hpp"

using namespace gamesrv;

namespace {

std::span<const std::uint8_t> bytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

constexpr std::string_view kSecret = "vector-secret-for-native-tests-0123456789";
constexpr std::uint64_t kNow = 1'700'000'000;

// {playerId 42, name "Alice", expiresAt 1800000000}
constexpr std::string_view kAlice = "AQAqAAAAANJJawAAAABBbGljZQ.KyNfQ8yc4HIW3v0TOiCXysAWn4EZd9mo29yil5pw6fc";
// {playerId 4294967295, name "Zoë 🎮", expiresAt 2^40}
constexpr std::string_view kZoe = "AQD_____AAAAAAABAABab8OrIPCfjq4.fcyEWjCfb5VjUqt3_g-jdcdmXPWbi-K50wkuLwxLxRo";
// {playerId 7, name "🎮" x 64 (256 bytes, the longest name), expiresAt 1800000000}
constexpr std::string_view kLongest =
    "AQAHAAAAANJJawAAAADwn46u8J-OrvCfjq7wn46u8J-OrvCfjq7wn46u8J-OrvCfjq7wn46u8J-OrvCfjq7wn46u8J-OrvCfjq7wn46u8J-"
    "OrvCfjq7wn46u8J-OrvCfjq7wn46u8J-OrvCfjq7wn46u8J-OrvCfjq7wn46u8J-OrvCfjq7wn46u8J-OrvCfjq7wn46u8J-OrvCfjq7wn46u8J-"
    "OrvCfjq7wn46u8J-OrvCfjq7wn46u8J-OrvCfjq7wn46u8J-OrvCfjq7wn46u8J-OrvCfjq7wn46u8J-OrvCfjq7wn46u8J-OrvCfjq7wn46u8J-"
    "OrvCfjq7wn46u8J-OrvCfjq7wn46u.OSKum3_B_0eF9Z1usgS8YeKgBL0pS8BPZ0m4RiLpWtM";
// kAlice's claims signed with "another-secret-entirely-0123456789abcdef".
constexpr std::string_view kAliceOtherSecret = "AQAqAAAAANJJawAAAABBbGljZQ.ZPpsihKjiGp-LgDov6mj_9TWQLRpOiI7sJ_8ucmSZyc";
// {playerId 43, name "Bob", expiresAt 1800000000}
constexpr std::string_view kBob = "AQArAAAAANJJawAAAABCb2I.HQZBvkUqEUBLKwArH4cH9I1l3ga83mn7JsQxBxdNakw";

TicketStatus statusOf(std::string_view ticket, std::uint64_t now = kNow) {
  return TicketVerifier(bytes(kSecret)).verify(ticket, now).status;
}

}  // namespace

TEST(hmac_sha256_matches_rfc4231_case_2) {
  platform::HmacSha256 mac{};
  CHECK(platform::hmacSha256(bytes("Jefe"), bytes("what do ya want for nothing?"), mac));
  const std::uint8_t expected[32] = {0x5b, 0xdc, 0xc1, 0x46, 0xbf, 0x60, 0x75, 0x4e, 0x6a, 0x04, 0x24,
                                     0x26, 0x08, 0x95, 0x75, 0xc7, 0x5a, 0x00, 0x3f, 0x08, 0x9d, 0x27,
                                     0x39, 0x83, 0x9d, 0xec, 0x58, 0xb9, 0x64, 0xec, 0x38, 0x43};
  CHECK(std::memcmp(mac.data(), expected, 32) == 0);
}

TEST(base64url_decodes_strictly) {
  CHECK(decodeBase64Url("") == std::vector<std::uint8_t>{});
  CHECK(decodeBase64Url("QQ") == std::vector<std::uint8_t>({'A'}));
  CHECK(decodeBase64Url("QUI") == std::vector<std::uint8_t>({'A', 'B'}));
  CHECK(decodeBase64Url("QUJD") == std::vector<std::uint8_t>({'A', 'B', 'C'}));
  CHECK(decodeBase64Url("-_8") == std::vector<std::uint8_t>({0xfb, 0xff}));
  CHECK(!decodeBase64Url("QQ=="));  // padding
  CHECK(!decodeBase64Url("+/8"));   // base64, not base64url
  CHECK(!decodeBase64Url("Q"));     // 6 bits: no byte
  CHECK(!decodeBase64Url("QR"));    // non-canonical: trailing bits set
  CHECK(!decodeBase64Url("QUJ"));   // non-canonical
  CHECK(!decodeBase64Url("QU I"));
  CHECK(!decodeBase64Url(std::string_view("QU\0I", 4)));
}

TEST(accepts_what_the_control_plane_issued) {
  const TicketVerifier verifier(bytes(kSecret));
  const TicketCheck alice = verifier.verify(kAlice, kNow);
  CHECK(alice.status == TicketStatus::Ok);
  CHECK_EQ(alice.claims.playerId, 42u);
  CHECK_EQ(alice.claims.name, std::string("Alice"));
  CHECK_EQ(alice.claims.expiresAt, 1'800'000'000ull);

  const TicketCheck zoe = verifier.verify(kZoe, kNow);
  CHECK(zoe.status == TicketStatus::Ok);
  CHECK_EQ(zoe.claims.playerId, 4'294'967'295u);
  CHECK_EQ(zoe.claims.name, std::string("Zo\xc3\xab \xf0\x9f\x8e\xae"));
  CHECK_EQ(zoe.claims.expiresAt, 1ull << 40);
}

TEST(the_longest_name_fits_the_longest_ticket) {
  CHECK_EQ(kLongest.size(), kMaxTicketChars);
  const TicketCheck c = TicketVerifier(bytes(kSecret)).verify(kLongest, kNow);
  CHECK(c.status == TicketStatus::Ok);
  CHECK_EQ(c.claims.name.size(), kMaxTicketNameBytes);
  // One character more is refused before any decoding.
  CHECK(statusOf(std::string(kLongest) + "A") == TicketStatus::BadTicket);
}

TEST(expired_only_from_expires_at_on) {
  CHECK(statusOf(kAlice, 1'800'000'000 - 1) == TicketStatus::Ok);
  CHECK(statusOf(kAlice, 1'800'000'000) == TicketStatus::Expired);
  CHECK(statusOf(kAlice, 1'800'000'001) == TicketStatus::Expired);
  CHECK_EQ(std::string(toString(TicketStatus::Expired)), std::string("ticket_expired"));
  CHECK_EQ(std::string(toString(TicketStatus::BadTicket)), std::string("bad_ticket"));
}

TEST(refuses_another_secret) {
  CHECK(statusOf(kAliceOtherSecret) == TicketStatus::BadTicket);
  CHECK(TicketVerifier(bytes("another-secret-entirely-0123456789abcdef")).verify(kAlice, kNow).status == TicketStatus::BadTicket);
  // A forged ticket is bad, not expired, even long after its claimed expiry.
  CHECK(statusOf(kAliceOtherSecret, 1ull << 50) == TicketStatus::BadTicket);
}

TEST(refuses_every_flipped_character) {
  // Each position, changed to another base64url character (or a non-canonical one), is
  // refused: nothing in a ticket can be altered and keep it valid.
  for (std::size_t i = 0; i < kAlice.size(); ++i) {
    std::string t(kAlice);
    t[i] = t[i] == 'A' ? 'B' : 'A';
    CHECK_MSG(statusOf(t) == TicketStatus::BadTicket, "position " << i << ": " << t);
  }
}

TEST(refuses_truncated_and_malformed) {
  for (std::size_t n = 0; n < kAlice.size(); ++n) {
    CHECK_MSG(statusOf(kAlice.substr(0, n)) == TicketStatus::BadTicket, "first " << n << " characters");
  }
  const std::size_t dot = kAlice.find('.');
  CHECK(statusOf(kAlice.substr(dot)) == TicketStatus::BadTicket);               // no payload
  CHECK(statusOf(std::string(kAlice) + ".") == TicketStatus::BadTicket);        // two dots
  CHECK(statusOf(std::string(kAlice) + "A") == TicketStatus::BadTicket);        // a longer MAC
  CHECK(statusOf(std::string(kAlice).replace(dot, 1, "")) == TicketStatus::BadTicket);
  CHECK(statusOf(" " + std::string(kAlice)) == TicketStatus::BadTicket);
}

TEST(another_players_payload_under_a_valid_mac_is_refused) {
  // Bob's payload with Alice's MAC: a player cannot present someone else's identity.
  const std::string spliced = std::string(kBob.substr(0, kBob.find('.'))) + std::string(kAlice.substr(kAlice.find('.')));
  CHECK(statusOf(spliced) == TicketStatus::BadTicket);
  // Bob's own ticket is Bob's: the claims, not the presenter, say who the session is.
  const TicketCheck bob = TicketVerifier(bytes(kSecret)).verify(kBob, kNow);
  CHECK(bob.status == TicketStatus::Ok);
  CHECK_EQ(bob.claims.playerId, 43u);
}

TEST(verifies_from_many_threads_at_once) {
  const TicketVerifier verifier(bytes(kSecret));
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 500; ++i) ok += verifier.verify(i % 2 ? kAlice : kZoe, kNow).status == TicketStatus::Ok ? 1 : 0;
    });
  }
  for (auto& th : threads) th.join();
  CHECK_EQ(ok.load(), 2000);
}

GS_TEST_MAIN()
