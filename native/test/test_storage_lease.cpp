// The owner-lease part of the Storage contract (issue 16; gamesrv/storage.hpp): acquire,
// the conditional flush (flushOwned) and release, run over every backend this build has.
// Two stores opened on one database stand for two servers sharing it (SQLite: one file,
// two processes' worth of connections; PostgreSQL: one schema).
#include <chrono>
#include <cstdio>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "harness.hpp"
#include "storage_test_support.hpp"

using namespace gamesrv;
using namespace std::chrono_literals;
using gstest::StorageBackend;
using gstest::TempDir;

namespace {

#if GAMESRV_HAVE_SQLITE || GAMESRV_HAVE_LIBPQ

template <class Body>
void forEachBackend(Body&& body) {
  const auto backends = gstest::storageBackends();
  if (sqliteStorageBuilt()) CHECK(!backends.empty());
  for (const StorageBackend& b : backends) {
    std::printf("  [%s]\n", b.name);
    std::fflush(stdout);
    body(b);
  }
  const std::string why = gstest::postgresNotTestedReason();
  if (!why.empty()) std::printf("  [postgres] NOT TESTED: %s\n", why.c_str());
  std::fflush(stdout);
}

// Two servers on one database: `a` and `b`, each its own store.
struct TwoServers {
  TempDir dir;
  StorageConfig config;
  std::unique_ptr<Storage> a, b;
  LeaseClaim claimA{"server-a", 60s};
  LeaseClaim claimB{"server-b", 60s};
};

std::unique_ptr<TwoServers> openTwo(const StorageBackend& backend) {
  auto t = std::make_unique<TwoServers>();
  t->config = backend.config(t->dir);
  t->a = backend.make();
  t->b = backend.make();
  StorageStatus st = t->a->open(t->config);
  CHECK_MSG(st.ok(), st.message);
  st = t->b->open(t->config);
  CHECK_MSG(st.ok(), st.message);
  return t;
}

PlayerRow row(std::int64_t id, double x, std::int64_t version, bool online = true) {
  PlayerRow r;
  r.id = id;
  r.name = "p" + std::to_string(id);
  r.x = x;
  r.y = -x;
  r.hp = 80;
  r.kills = 3;
  r.online = online;
  r.version = version;
  r.updatedAtMs = 1'700'000'000'000 + version;
  return r;
}

PlayerLease acquireOne(Storage& s, std::int64_t id, const LeaseClaim& claim, std::int64_t* nowMs = nullptr) {
  AcquireResult r;
  const std::int64_t ids[] = {id};
  const StorageStatus st = s.acquire(ids, claim, r);
  CHECK_MSG(st.ok(), st.message);
  CHECK_EQ(r.leases.size(), 1u);
  CHECK(r.storeNowMs > 0);
  if (nowMs != nullptr) *nowMs = r.storeNowMs;
  return r.leases.empty() ? PlayerLease{} : r.leases.front();
}

FlushOutcome flushAs(Storage& s, std::vector<PlayerRow> rows, const LeaseClaim& claim) {
  FlushOutcome out;
  const StorageStatus st = s.flushOwned(rows, std::nullopt, claim, out);
  CHECK_MSG(st.ok(), st.message);
  return out;
}

std::optional<PlayerRow> stored(Storage& s, std::int64_t id) {
  std::vector<PlayerRow> rows;
  CHECK(s.loadPlayers(rows).ok());
  for (const PlayerRow& r : rows)
    if (r.id == id) return r;
  return std::nullopt;
}

TEST(an_unknown_player_is_acquired_without_a_row_and_a_stored_one_comes_back_fresh) {
  forEachBackend([](const StorageBackend& backend) {
    auto t = openTwo(backend);
    PlayerLease l = acquireOne(*t->a, 7, t->claimA);
    CHECK(l.acquired);
    CHECK(!l.row.has_value());
    const FlushOutcome out = flushAs(*t->a, {row(7, 10, 1)}, t->claimA);
    CHECK_EQ(out.written, 1u);
    CHECK(out.refused.empty());
    CHECK_EQ(out.renewed, 1u);  // the online row A now holds
    // Acquiring again (the same owner) returns the row as stored.
    l = acquireOne(*t->a, 7, t->claimA);
    CHECK(l.acquired);
    CHECK(l.row.has_value());
    if (l.row) CHECK(*l.row == row(7, 10, 1));
  });
}

TEST(a_lease_held_by_another_server_is_reported_with_its_owner_and_expiry) {
  forEachBackend([](const StorageBackend& backend) {
    auto t = openTwo(backend);
    CHECK(acquireOne(*t->a, 1, t->claimA).acquired);
    CHECK_EQ(flushAs(*t->a, {row(1, 5, 1)}, t->claimA).written, 1u);
    std::int64_t now = 0;
    const PlayerLease l = acquireOne(*t->b, 1, t->claimB, &now);
    CHECK(!l.acquired);
    CHECK(!l.row.has_value());
    CHECK_EQ(l.heldBy, std::string("server-a"));
    CHECK(l.heldUntilMs > now);
    CHECK(l.heldUntilMs <= now + t->claimA.length.count() + 1000);
  });
}

TEST(a_late_flush_from_the_old_owner_is_refused_and_the_new_owners_state_stands) {
  forEachBackend([](const StorageBackend& backend) {
    auto t = openTwo(backend);
    CHECK(acquireOne(*t->a, 1, t->claimA).acquired);
    CHECK_EQ(flushAs(*t->a, {row(1, 5, 3)}, t->claimA).written, 1u);
    // A stops: its final flush writes the player offline (free), then it releases.
    CHECK_EQ(flushAs(*t->a, {row(1, 6, 4, false)}, t->claimA).written, 1u);
    std::size_t released = 99;
    CHECK(t->a->release("server-a", released).ok());
    CHECK_EQ(released, 0u);  // the offline row was free already
    // B admits the player and gets A's last state.
    const PlayerLease l = acquireOne(*t->b, 1, t->claimB);
    CHECK(l.acquired);
    CHECK(l.row.has_value());
    if (l.row) {
      CHECK_EQ(l.row->x, 6.0);
      CHECK_EQ(l.row->version, 4);
    }
    CHECK_EQ(flushAs(*t->b, {row(1, 100, 5)}, t->claimB).written, 1u);
    // A late flush from A, even at a higher version, is refused: B owns the row.
    const FlushOutcome late = flushAs(*t->a, {row(1, -1, 50), row(2, 2, 1)}, t->claimA);
    CHECK_EQ(late.written, 1u);  // player 2 is new and free
    CHECK_EQ(late.refused.size(), 1u);
    if (!late.refused.empty()) CHECK_EQ(late.refused.front(), 1);
    const auto now = stored(*t->b, 1);
    CHECK(now.has_value());
    if (now) {
      CHECK_EQ(now->x, 100.0);
      CHECK_EQ(now->version, 5);
    }
  });
}

TEST(a_free_row_at_a_newer_version_refuses_an_older_write) {
  forEachBackend([](const StorageBackend& backend) {
    auto t = openTwo(backend);
    CHECK_EQ(flushAs(*t->b, {row(3, 1, 9, false)}, t->claimB).written, 1u);  // free, version 9
    const FlushOutcome stale = flushAs(*t->a, {row(3, 2, 8, false)}, t->claimA);
    CHECK_EQ(stale.written, 0u);
    CHECK_EQ(stale.refused.size(), 1u);
    CHECK_EQ(flushAs(*t->a, {row(3, 2, 9, false)}, t->claimA).written, 1u);  // the same version is no regression
    CHECK_EQ(stored(*t->a, 3)->x, 2.0);
  });
}

TEST(release_frees_every_row_of_its_owner_and_only_those) {
  forEachBackend([](const StorageBackend& backend) {
    auto t = openTwo(backend);
    CHECK_EQ(flushAs(*t->a, {row(1, 1, 1), row(2, 2, 1)}, t->claimA).written, 2u);
    CHECK_EQ(flushAs(*t->b, {row(3, 3, 1)}, t->claimB).written, 1u);
    std::size_t released = 0;
    CHECK(t->a->release("server-a", released).ok());
    CHECK_EQ(released, 2u);
    CHECK(acquireOne(*t->b, 1, t->claimB).acquired);
    CHECK(!acquireOne(*t->a, 3, t->claimA).acquired);  // B's own is still B's
  });
}

TEST(an_expired_lease_can_be_taken_and_a_flush_renews_the_owners_leases) {
  forEachBackend([](const StorageBackend& backend) {
    auto t = openTwo(backend);
    const LeaseClaim expiredA{"server-a", 0ms};  // a lease that has run out once granted
    CHECK_EQ(flushAs(*t->a, {row(1, 1, 1), row(2, 2, 1)}, expiredA).written, 2u);
    CHECK(acquireOne(*t->b, 1, t->claimB).acquired);
    // A renews what it still holds (player 2) for a long lease; B then cannot take it.
    const FlushOutcome renew = flushAs(*t->a, {}, t->claimA);
    CHECK_EQ(renew.renewed, 1u);
    CHECK(!acquireOne(*t->b, 2, t->claimB).acquired);
  });
}

TEST(two_servers_acquiring_one_player_at_once_get_one_lease) {
  forEachBackend([](const StorageBackend& backend) {
    auto t = openTwo(backend);
    CHECK_EQ(flushAs(*t->a, {row(5, 1, 1, false)}, t->claimA).written, 1u);  // stored, free
    PlayerLease la, lb;
    std::thread ta([&] { la = acquireOne(*t->a, 5, t->claimA); });
    std::thread tb([&] { lb = acquireOne(*t->b, 5, t->claimB); });
    ta.join();
    tb.join();
    CHECK(la.acquired != lb.acquired);
    CHECK_EQ((la.acquired ? lb : la).heldBy, std::string(la.acquired ? "server-a" : "server-b"));
  });
}

TEST(acquire_and_flush_refuse_an_empty_owner) {
  forEachBackend([](const StorageBackend& backend) {
    auto t = openTwo(backend);
    AcquireResult r;
    const std::int64_t ids[] = {1};
    CHECK_EQ(t->a->acquire(ids, LeaseClaim{"", 1s}, r).code, StorageErrc::BadParams);
    FlushOutcome out;
    CHECK_EQ(t->a->flushOwned({}, std::nullopt, LeaseClaim{"", 1s}, out).code, StorageErrc::BadParams);
  });
}

#endif  // GAMESRV_HAVE_SQLITE || GAMESRV_HAVE_LIBPQ

}  // namespace

GS_TEST_MAIN()
