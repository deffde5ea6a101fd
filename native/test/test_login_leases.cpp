// LoginLeases (gamesrv/login_leases.hpp): a login whose player's lease another server holds
// waits on pool timers and is admitted once the lease is free; held past the holder's expiry
// plus the margin, it is refused OwnedElsewhere; cancelAll() answers a waiting login at
// once; every admit() is answered exactly once.
#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "gamesrv/event.hpp"
#include "gamesrv/login_leases.hpp"
#include "gamesrv/persistence.hpp"
#include "gamesrv/world.hpp"
#include "eventually.hpp"
#include "harness.hpp"

using namespace gamesrv;
using namespace std::chrono_literals;

namespace {

std::int64_t unixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// A store whose leases another server ("server-x") holds while `held` is set, each grant
// of it running `heldForMs` past the store's now; free, it hands out player rows.
class HeldStore final : public Storage {
 public:
  std::atomic<bool>* held;
  std::atomic<int>* acquires;
  std::int64_t heldForMs;
  HeldStore(std::atomic<bool>* h, std::atomic<int>* a, std::int64_t ms) : held(h), acquires(a), heldForMs(ms) {}
  StorageStatus open(const StorageConfig&) override { return {}; }
  void close() override {}
  const char* backendName() const noexcept override { return "held"; }
  std::string location() const override { return "memory"; }
  StorageStatus schemaVersion(int& v) override {
    v = kStorageSchemaVersion;
    return {};
  }
  StorageStatus loadPlayers(std::vector<PlayerRow>&) override { return {}; }
  StorageStatus upsertPlayers(std::span<const PlayerRow>) override { return {}; }
  StorageStatus flush(std::span<const PlayerRow>, std::optional<std::uint64_t>) override { return {}; }
  StorageStatus writeCheckpoint(std::uint64_t) override { return {}; }
  StorageStatus readCheckpoint(std::uint64_t& seq) override {
    seq = 0;
    return {};
  }
  StorageStatus acquire(std::span<const std::int64_t> ids, const LeaseClaim&, AcquireResult& out) override {
    acquires->fetch_add(1);
    out = {};
    out.storeNowMs = unixMs();
    for (const std::int64_t id : ids) {
      PlayerLease l;
      l.id = id;
      if (held->load()) {
        l.heldBy = "server-x";
        l.heldUntilMs = out.storeNowMs + heldForMs;
      } else {
        l.acquired = true;
        PlayerRow r;
        r.id = id;
        r.name = "stored";
        r.x = 42;
        r.hp = 77;
        r.kills = 5;
        r.version = 9;
        l.row = r;
      }
      out.leases.push_back(std::move(l));
    }
    return {};
  }
  StorageStatus flushOwned(std::span<const PlayerRow>, std::optional<std::uint64_t>, const LeaseClaim&, FlushOutcome& out) override {
    out = {};
    return {};
  }
  StorageStatus release(const std::string&, std::size_t& released) override {
    released = 0;
    return {};
  }
  QueryResult query(std::string_view, std::span<const DbValue>, const QueryOptions&) override { return {}; }
};

// What a login was answered, once.
struct Answer {
  std::mutex mu;
  std::vector<LoginAdmission> outcomes;  // guarded by mu
  std::string why;                        // guarded by mu
  Event done{Event::Reset::Manual};
  LoginAdmitted callback() {
    return [this](LoginAdmission o, std::string w) {
      {
        std::lock_guard lock(mu);
        outcomes.push_back(o);
        why = std::move(w);
      }
      done.set();
    };
  }
};

struct Fixture {
  World world;
  std::atomic<bool> held{true};
  std::atomic<int> acquires{0};
  std::shared_ptr<PlayerPersistence> persistence = std::make_shared<PlayerPersistence>(world);
  ThreadPool pool{ThreadPoolConfig{}};
  explicit Fixture(std::int64_t heldForMs) {
    PersistenceConfig c;
    c.backend = "held";
    c.leaseLength = 2000ms;
    persistence->openForTesting(std::make_unique<HeldStore>(&held, &acquires, heldForMs), c);
  }
  ~Fixture() {
    pool.shutdown(5s);
    persistence->close();
  }
};

TEST(a_login_waits_while_the_lease_is_held_and_is_admitted_with_the_stored_row_once_free) {
  Fixture f(1500);
  auto leases = std::make_unique<LoginLeases>(f.persistence, f.pool);
  Answer a;
  leases->admit(7, a.callback());
  // Several tries while held (25, 50, 100 ms ... apart), no answer yet.
  CHECK(gstest::eventually([&] { return f.acquires.load() >= 3; }));
  CHECK(!a.done.waitFor(0ms));
  f.held.store(false);
  CHECK(a.done.waitFor(5s));
  {
    std::lock_guard lock(a.mu);
    CHECK_EQ(a.outcomes.size(), 1u);
    CHECK(a.outcomes[0] == LoginAdmission::Admitted);
  }
  const auto p = f.world.player(7);
  CHECK(p.has_value());
  CHECK_EQ(p->x, 42.0);
  CHECK_EQ(p->hp, 77);
  CHECK_EQ(p->kills, 5u);
  CHECK(!p->online);  // the LOGIN that follows puts it online
  CHECK_EQ(f.persistence->stats().leasesHeldElsewhere >= 3, true);
  CHECK_EQ(f.persistence->stats().leasesAcquired, 1u);
  leases.reset();
}

TEST(a_lease_held_past_its_expiry_and_the_margin_is_refused_owned_elsewhere) {
  Fixture f(200);  // the holder's lease runs 200 ms past each look, and it keeps renewing
  LoginLeases leases(f.persistence, f.pool);
  Answer a;
  const auto t0 = std::chrono::steady_clock::now();
  leases.admit(8, a.callback());
  CHECK(a.done.waitFor(10s));
  const auto waited = std::chrono::steady_clock::now() - t0;
  CHECK(waited >= 200ms + LoginLeases::kExpiryMargin);
  CHECK(waited < 200ms + LoginLeases::kExpiryMargin + 3s);
  std::lock_guard lock(a.mu);
  CHECK_EQ(a.outcomes.size(), 1u);
  CHECK(a.outcomes[0] == LoginAdmission::OwnedElsewhere);
  CHECK_MSG(a.why.find("server-x") != std::string::npos, a.why);
  CHECK(!f.world.player(8).has_value());
}

TEST(cancel_all_answers_a_waiting_login_at_once_and_every_later_one) {
  Fixture f(60'000);  // a wait of a minute, unless cancelled
  LoginLeases leases(f.persistence, f.pool);
  Answer waiting, later;
  leases.admit(9, waiting.callback());
  CHECK(gstest::eventually([&] { return f.acquires.load() >= 1; }));
  const auto t0 = std::chrono::steady_clock::now();
  leases.cancelAll();
  CHECK(waiting.done.waitFor(5s));
  CHECK(std::chrono::steady_clock::now() - t0 < 2s);
  leases.admit(10, later.callback());
  CHECK(later.done.waitFor(0ms));  // answered on the spot
  for (Answer* a : {&waiting, &later}) {
    std::lock_guard lock(a->mu);
    CHECK_EQ(a->outcomes.size(), 1u);
    CHECK(a->outcomes[0] == LoginAdmission::Cancelled);
  }
  leases.cancelAll();  // idempotent
}

}  // namespace

GS_TEST_MAIN()
