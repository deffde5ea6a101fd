// PlayerPersistence (gamesrv/persistence.hpp): the World's dirty set, write-behind flushes,
// a failed flush kept, loading at start, the final flush at stop, and `database` tasks
// running real SQL through the Engine.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "gamesrv/engine.hpp"
#include "gamesrv/storage.hpp"
#include "gamesrv/persistence.hpp"
#include "gamesrv/storage_database.hpp"
#include "gamesrv/world.hpp"
#include "eventually.hpp"
#include "harness.hpp"
#include "world_test_support.hpp"
#include "storage_test_support.hpp"  // TempDir, operator<< of StorageErrc

using namespace gamesrv;
using gstest::ev;
using namespace std::chrono_literals;
using gstest::TempDir;

namespace {

const PlayerRow* rowFor(const std::vector<PlayerRow>& rows, std::int64_t id) {
  for (const PlayerRow& r : rows) {
    if (r.id == id) return &r;
  }
  return nullptr;
}

// A store that records flushes and fails them while `failing` is set.
class FlakyStorage final : public Storage {
 public:
  std::atomic<bool>* failing;
  std::vector<PlayerRow>* written;
  std::vector<std::optional<std::uint64_t>>* checkpoints;
  FlakyStorage(std::atomic<bool>* f, std::vector<PlayerRow>* w, std::vector<std::optional<std::uint64_t>>* c)
      : failing(f), written(w), checkpoints(c) {}
  StorageStatus open(const StorageConfig&) override { return {}; }
  void close() override {}
  const char* backendName() const noexcept override { return "flaky"; }
  std::string location() const override { return "memory"; }
  StorageStatus schemaVersion(int& v) override {
    v = kStorageSchemaVersion;
    return {};
  }
  StorageStatus loadPlayers(std::vector<PlayerRow>&) override { return {}; }
  StorageStatus upsertPlayers(std::span<const PlayerRow> rows) override { return flush(rows, std::nullopt); }
  StorageStatus flush(std::span<const PlayerRow> rows, std::optional<std::uint64_t> seq) override {
    if (failing->load()) return StorageStatus::failure(StorageErrc::Sql, "disk I/O error (injected)");
    written->insert(written->end(), rows.begin(), rows.end());
    checkpoints->push_back(seq);
    return {};
  }
  StorageStatus writeCheckpoint(std::uint64_t) override { return {}; }
  StorageStatus readCheckpoint(std::uint64_t& seq) override {
    seq = 0;
    return {};
  }
  StorageStatus acquire(std::span<const std::int64_t> ids, const LeaseClaim&, AcquireResult& out) override {
    out.leases.clear();
    for (const std::int64_t id : ids) out.leases.push_back(PlayerLease{id, true, std::nullopt, {}, 0});
    return {};
  }
  // flush() of the rows not in `refusing` (another server's, as far as this store says).
  StorageStatus flushOwned(std::span<const PlayerRow> rows, std::optional<std::uint64_t> seq, const LeaseClaim&,
                           FlushOutcome& out) override {
    out = {};
    std::vector<PlayerRow> kept;
    for (const PlayerRow& r : rows) {
      if (std::find(refusing.begin(), refusing.end(), r.id) != refusing.end()) out.refused.push_back(r.id);
      else kept.push_back(r);
    }
    if (kept.empty() && !seq && !failing->load()) return {};  // a renewal alone
    StorageStatus st = flush(kept, seq);
    if (st.ok()) out.written = kept.size();
    return st;
  }
  StorageStatus release(const std::string&, std::size_t& released) override {
    released = 0;
    return {};
  }
  QueryResult query(std::string_view, std::span<const DbValue>, const QueryOptions&) override { return {}; }
  std::vector<std::int64_t> refusing;
};

TEST(world_marks_changed_players_dirty_and_hands_them_out_once) {
  World w;
  CHECK(w.apply(ev(EventType::PlayerLogin, 1, "ann", 0, 0, 1), 1000) == InvalidReason::None);
  CHECK(w.apply(ev(EventType::PlayerLogin, 2, "bob", 0, 0, 2), 1000) == InvalidReason::None);
  CHECK_EQ(w.dirtyCount(), 2u);
  DirtyPlayers d = w.takeDirty();
  CHECK_EQ(d.rows.size(), 2u);
  CHECK_EQ(d.appliedSeq, 2u);
  CHECK_EQ(w.dirtyCount(), 0u);
  CHECK(w.takeDirty().rows.empty());

  CHECK(w.apply(ev(EventType::PlayerMove, 1, "3.5,-2", 0, 0, 3), 1001) == InvalidReason::None);
  CHECK(w.apply(ev(EventType::PlayerChat, 2, "hi", 0, 0, 4), 1001) == InvalidReason::None);  // no persisted field
  d = w.takeDirty();
  CHECK_EQ(d.rows.size(), 1u);
  CHECK_EQ(d.rows[0].id, 1);
  CHECK_EQ(d.rows[0].x, 3.5);
  CHECK_EQ(d.rows[0].y, -2.0);
  CHECK_EQ(d.appliedSeq, 4u);

  CHECK(w.apply(ev(EventType::PlayerAttack, 1, {}, 2, 100, 5), 1002) == InvalidReason::None);  // a kill
  d = w.takeDirty();
  CHECK_EQ(d.rows.size(), 2u);
  CHECK_EQ(rowFor(d.rows, 1)->kills, 1);
  CHECK_EQ(rowFor(d.rows, 2)->hp, 0);
  // A refused event changes nothing persisted.
  CHECK(w.apply(ev(EventType::PlayerLogin, 1, "ann", 0, 0, 6), 1003) == InvalidReason::AlreadyOnline);
  CHECK_EQ(w.dirtyCount(), 0u);
  CHECK_EQ(w.appliedSeq(), 6u);
}

TEST(world_loads_saved_players_offline_and_keeps_the_ones_it_knows) {
  World w;
  CHECK(w.apply(ev(EventType::PlayerLogin, 1, "live", 0, 0, 1), 1000) == InvalidReason::None);
  static_cast<void>(w.takeDirty());
  std::vector<PlayerRow> saved(2);
  saved[0].id = 1;
  saved[0].name = "stale";
  saved[1].id = 7;
  saved[1].name = "seven";
  saved[1].x = 10;
  saved[1].y = 20;
  saved[1].hp = 55;
  saved[1].kills = 3;
  saved[1].online = true;  // saved by a server that crashed
  CHECK_EQ(w.loadPlayers(saved), 1u);
  CHECK_EQ(w.player(1)->name, std::string("live"));
  const auto p = w.player(7);
  CHECK(p.has_value());
  CHECK(!p->online);
  CHECK_EQ(p->x, 10.0);
  CHECK_EQ(p->hp, 55);
  CHECK_EQ(p->kills, 3u);
  CHECK_EQ(w.onlineCount(), 1u);
  CHECK_EQ(w.knownCount(), 2u);
  // The store still says online: the next flush corrects it.
  const DirtyPlayers d = w.takeDirty();
  CHECK_EQ(d.rows.size(), 1u);
  CHECK(!d.rows[0].online);
}

TEST(a_failed_flush_keeps_its_rows_dirty_and_the_next_one_writes_them) {
  World w;
  std::atomic<bool> failing{true};
  std::vector<PlayerRow> written;
  std::vector<std::optional<std::uint64_t>> checkpoints;
  PlayerPersistence p(w);
  PersistenceConfig cfg;
  cfg.backend = "flaky";
  cfg.checkpoint = true;
  p.openForTesting(std::make_unique<FlakyStorage>(&failing, &written, &checkpoints), cfg);
  CHECK(w.apply(ev(EventType::PlayerLogin, 1, "ann", 0, 0, 41), 1000) == InvalidReason::None);
  CHECK(w.apply(ev(EventType::PlayerLogin, 2, "bob", 0, 0, 42), 1000) == InvalidReason::None);
  const StorageStatus st = p.flush();
  CHECK_EQ(st.code, StorageErrc::Sql);
  CHECK_EQ(w.dirtyCount(), 2u);
  PersistenceStats s = p.stats();
  CHECK_EQ(s.flushFailures, 1u);
  CHECK_EQ(s.flushes, 0u);
  CHECK_MSG(s.lastError.find("disk I/O error") != std::string::npos, s.lastError);
  CHECK(w.apply(ev(EventType::PlayerMove, 1, "5,6", 0, 0, 43), 1001) == InvalidReason::None);

  failing = false;
  CHECK(p.flush().ok());
  CHECK_EQ(written.size(), 2u);
  CHECK_EQ(rowFor(written, 1)->x, 5.0);  // the row as it is now, not as it was at the failure
  CHECK(checkpoints.back() == std::optional<std::uint64_t>(43));
  s = p.stats();
  CHECK_EQ(s.flushes, 1u);
  CHECK_EQ(s.rowsFlushed, 2u);
  CHECK_EQ(s.dirty, 0u);
  CHECK(s.lastError.empty());
  CHECK_EQ(s.flushNs.count, 1u);
  CHECK(p.flush().ok());  // nothing dirty: no write
  CHECK_EQ(written.size(), 2u);
  CHECK_EQ(p.stats().flushes, 1u);
}

TEST(a_row_another_server_owns_is_dropped_counted_and_not_retried) {
  World w;
  std::atomic<bool> failing{false};
  std::vector<PlayerRow> written;
  std::vector<std::optional<std::uint64_t>> checkpoints;
  auto store = std::make_unique<FlakyStorage>(&failing, &written, &checkpoints);
  store->refusing = {2};
  PlayerPersistence p(w);
  PersistenceConfig c;
  c.backend = "flaky";
  p.openForTesting(std::move(store), c);
  CHECK(w.apply(ev(EventType::PlayerLogin, 1, "ann", 0, 0, 1), 1000) == InvalidReason::None);
  CHECK(w.apply(ev(EventType::PlayerLogin, 2, "bob", 0, 0, 2), 1000) == InvalidReason::None);
  CHECK(p.flush().ok());  // a refusal is not a failure
  CHECK_EQ(written.size(), 1u);
  CHECK_EQ(written[0].id, 1);
  CHECK_EQ(w.dirtyCount(), 0u);  // player 2 is not put back: its owner's state is the newer
  PersistenceStats s = p.stats();
  CHECK_EQ(s.flushRefusedNotOwner, 1u);
  CHECK_EQ(s.flushFailures, 0u);
  CHECK_MSG(s.lastRefusal.find("first player 2") != std::string::npos, s.lastRefusal);
  CHECK(p.flush().ok());  // nothing dirty: no write
  CHECK_EQ(written.size(), 1u);
  CHECK_EQ(p.stats().flushRefusedNotOwner, 1u);
}

TEST(a_login_refreshes_an_offline_players_stale_copy_but_never_an_online_one) {
  World w;
  CHECK(w.apply(ev(EventType::PlayerLogin, 1, "ann", 0, 0, 1), 1000) == InvalidReason::None);
  CHECK(w.apply(ev(EventType::PlayerLogin, 2, "bob", 0, 0, 2), 1000) == InvalidReason::None);
  CHECK(w.apply(ev(EventType::PlayerLogout, 2, "", 0, 0, 3), 1000) == InvalidReason::None);
  static_cast<void>(w.takeDirty());
  PlayerRow fresh;
  fresh.id = 2;
  fresh.name = "bob";
  fresh.x = 40;
  fresh.y = -4;
  fresh.hp = 55;
  fresh.kills = 7;
  fresh.version = 30;
  CHECK(w.refreshPlayer(fresh));
  const auto bob = w.player(2);
  CHECK(bob.has_value());
  CHECK_EQ(bob->x, 40.0);
  CHECK_EQ(bob->hp, 55);
  CHECK_EQ(bob->kills, 7u);
  CHECK_EQ(bob->version, 30u);
  CHECK(!bob->online);
  fresh.id = 1;  // online here: this World is the newer
  CHECK(!w.refreshPlayer(fresh));
  CHECK_EQ(w.player(1)->x, 0.0);
  fresh.id = 3;  // unknown: added, offline
  CHECK(w.refreshPlayer(fresh));
  CHECK(w.player(3).has_value());
  CHECK_EQ(w.onlineCount(), 1u);
}

#if GAMESRV_HAVE_SQLITE

EngineConfig sqliteEngine(const TempDir& dir, const char* name) {
  EngineConfig c;
  c.io.serverName = name;
  c.io.pipe = false;
  c.io.monitor = false;
  c.io.iocp = false;
  c.database = "sqlite";
  c.dataDir = (dir.path() / "data").string();
  c.flushInterval = 3600s;  // only the stop's final flush and the queries' flushes write
  return c;
}

void enqueueAll(Engine& e, std::vector<GameEvent> batch) {
  const std::size_t n = batch.size();
  CHECK_EQ(e.enqueue(std::move(batch)).accepted, n);
  CHECK(e.flushEvents(10s));
}

TEST(players_survive_an_engine_stop_and_a_new_engine_loads_them_offline) {
  TempDir dir("persist");
  {
    Engine e;
    CHECK(e.start(sqliteEngine(dir, "persist-a")).error == TransitionError::None);
    enqueueAll(e, {ev(EventType::PlayerLogin, 1, "ann"), ev(EventType::PlayerLogin, 2, "bob"),
                   ev(EventType::PlayerMove, 1, "12.5,-7"), ev(EventType::PlayerAttack, 1, {}, 2, 30)});
    CHECK_EQ(e.snapshot().storage.rowsFlushed, 0u);  // write-behind: nothing yet
    e.stop(10s);
    const EngineSnapshot s = e.snapshot();
    CHECK_EQ(s.storage.flushes, 1u);  // the final flush
    CHECK_EQ(s.storage.rowsFlushed, 2u);
    CHECK(!s.storage.open);
    CHECK_EQ(s.database, std::string("sqlite"));
  }
  Engine e;
  CHECK(e.start(sqliteEngine(dir, "persist-b")).error == TransitionError::None);
  const auto ann = e.world().player(1);
  const auto bob = e.world().player(2);
  CHECK(ann.has_value() && bob.has_value());
  CHECK(!ann->online);
  CHECK_EQ(ann->name, std::string("ann"));
  CHECK_EQ(ann->x, 12.5);
  CHECK_EQ(ann->y, -7.0);
  CHECK_EQ(bob->hp, 70);
  CHECK_EQ(e.snapshot().storage.loaded, 2u);
  CHECK_EQ(e.world().onlineCount(), 0u);
  // Logging back in keeps what was saved.
  enqueueAll(e, {ev(EventType::PlayerLogin, 1, "")});
  CHECK_EQ(e.world().player(1)->x, 12.5);
  CHECK_EQ(e.world().player(1)->name, std::string("ann"));
  e.stop(10s);
}

TEST(the_periodic_flush_writes_behind_on_the_pool) {
  TempDir dir("persist");
  Engine e;
  EngineConfig c = sqliteEngine(dir, "persist-periodic");
  c.flushInterval = 20ms;
  CHECK(e.start(c).error == TransitionError::None);
  enqueueAll(e, {ev(EventType::PlayerLogin, 9, "nine")});
  // The timer's flush has no event of its own to await.
  CHECK(gstest::eventually([&] { return e.snapshot().storage.rowsFlushed >= 1; }));
  const EngineSnapshot s = e.snapshot();
  CHECK_EQ(s.storage.rowsFlushed, 1u);
  CHECK_EQ(s.storage.dirty, 0u);
  CHECK(s.storage.open);
  CHECK_EQ(s.storage.flushNs.count, 1u);
  e.stop(10s);
}

std::string waitResult(Engine& e, const TaskSpec& spec, TaskStatus want) {
  const SubmitResult r = e.submitTask(spec);
  CHECK_MSG(r.error == TaskError::None, r.detail);
  const auto info = e.waitTask(r.id, 10s);
  CHECK(info.has_value());
  CHECK_MSG(info->status == want, info->error + info->result);
  return want == TaskStatus::Done ? info->result : info->error;
}

TEST(database_tasks_run_read_only_sql_over_the_current_players) {
  TempDir dir("persist");
  Engine e;
  CHECK(e.start(sqliteEngine(dir, "persist-sql")).error == TransitionError::None);
  std::vector<GameEvent> logins;
  for (std::uint32_t id = 1; id <= 20; ++id) logins.push_back(ev(EventType::PlayerLogin, id, "p" + std::to_string(id)));
  logins.push_back(ev(EventType::PlayerLogout, 20));
  enqueueAll(e, std::move(logins));
  TaskSpec q;
  q.kind = TaskKind::Database;
  q.query = "SELECT id, name FROM players WHERE online = 1 ORDER BY id";
  std::string out = waitResult(e, q, TaskStatus::Done);
  CHECK_MSG(out.find("\"rowCount\":19") != std::string::npos, out);
  CHECK_MSG(out.find("\"columns\":[\"id\",\"name\"]") != std::string::npos, out);
  CHECK_MSG(out.find("[1,\"p1\"]") != std::string::npos, out);
  CHECK_MSG(out.find("\"truncated\":false") != std::string::npos, out);

  q.query = "SELECT name FROM players WHERE id = ?";
  q.params = {DbValue{std::int64_t{7}}};
  out = waitResult(e, q, TaskStatus::Done);
  CHECK_MSG(out.find("\"rows\":[[\"p7\"]]") != std::string::npos, out);

  q.params.clear();
  q.query = "SELECT id FROM players";
  q.maxRows = 5;
  out = waitResult(e, q, TaskStatus::Done);
  CHECK_MSG(out.find("\"rowCount\":5,\"truncated\":true") != std::string::npos, out);

  q.maxRows = 0;
  q.query = "DELETE FROM players";
  out = waitResult(e, q, TaskStatus::Failed);
  CHECK_MSG(out.find("read_only") != std::string::npos && out.find("DELETE") != std::string::npos, out);
  q.query = "SELECT nope FROM players";
  out = waitResult(e, q, TaskStatus::Failed);
  CHECK_MSG(out.find("no such column") != std::string::npos, out);
  e.stop(10s);
}

// Events stream in while the periodic flush runs every millisecond and queries pre-flush
// from pool threads: after the stop, the store holds exactly the World.
TEST(the_store_equals_the_world_after_a_stop_under_concurrent_flushes_and_queries) {
  TempDir dir("persist");
  Engine e;
  EngineConfig c = sqliteEngine(dir, "persist-stress");
  c.flushInterval = 1ms;
  CHECK(e.start(c).error == TransitionError::None);
  constexpr std::uint32_t kPlayers = 100;
  std::vector<GameEvent> logins;
  for (std::uint32_t id = 1; id <= kPlayers; ++id) logins.push_back(ev(EventType::PlayerLogin, id, "p" + std::to_string(id)));
  enqueueAll(e, std::move(logins));
  std::vector<std::uint64_t> queries;
  for (int round = 0; round < 50; ++round) {
    std::vector<GameEvent> batch;
    for (std::uint32_t i = 0; i < 100; ++i) {
      const std::uint32_t id = (round * 37 + i) % kPlayers + 1;
      batch.push_back(ev(EventType::PlayerMove, id, std::to_string(round) + "," + std::to_string(i)));
      if (i % 10 == 0) batch.push_back(ev(EventType::PlayerAttack, id, {}, id % kPlayers + 1, 7));
      if (i % 25 == 0) batch.push_back(ev(EventType::PlayerLogout, id));
      if (i % 25 == 1) batch.push_back(ev(EventType::PlayerLogin, (id + 50) % kPlayers + 1));
    }
    CHECK(e.enqueue(std::move(batch)).accepted > 0);
    if (round % 10 == 0) CHECK(e.flushEvents(10s));  // let flushes land between rounds
    if (round % 5 == 0) {
      TaskSpec q;
      q.kind = TaskKind::Database;
      q.query = "SELECT count(*) FROM players WHERE online = 1";
      const SubmitResult r = e.submitTask(q);
      CHECK(r.error == TaskError::None);
      queries.push_back(r.id);
    }
  }
  for (std::uint64_t id : queries) {
    const auto info = e.waitTask(id, 10s);
    CHECK(info.has_value());
    CHECK_MSG(info->status == TaskStatus::Done, info->error);
  }
  e.stop(10s);
  const EngineSnapshot s = e.snapshot();
  CHECK_EQ(s.storage.flushFailures, 0u);
  CHECK_EQ(s.storage.dirty, 0u);
  CHECK(s.storage.flushes >= 1);
  std::printf("  %llu flushes, %llu rows\n", static_cast<unsigned long long>(s.storage.flushes),
              static_cast<unsigned long long>(s.storage.rowsFlushed));

  auto store = makeSqliteStorage();
  StorageConfig sc;
  sc.dataDir = c.dataDir;
  CHECK(store->open(sc).ok());
  std::vector<PlayerRow> rows;
  CHECK(store->loadPlayers(rows).ok());
  store->close();
  const std::vector<Player> world = e.world().players();
  CHECK_EQ(rows.size(), world.size());
  for (std::size_t i = 0; i < world.size() && i < rows.size(); ++i) {
    const Player& p = world[i];
    const PlayerRow& r = rows[i];
    CHECK_EQ(r.id, static_cast<std::int64_t>(p.id));
    CHECK_EQ(r.name, p.name);
    CHECK_EQ(r.x, p.x);
    CHECK_EQ(r.y, p.y);
    CHECK_EQ(r.hp, static_cast<std::int64_t>(p.hp));
    CHECK_EQ(r.kills, static_cast<std::int64_t>(p.kills));
    CHECK_EQ(r.online, p.online);
  }
}

#endif

TEST(a_database_without_what_it_needs_is_refused_at_start) {
  Engine e;
  EngineConfig c;
  c.io.serverName = "persist-refused";
  c.io.pipe = false;
  c.io.monitor = false;
  c.io.iocp = false;
  c.database = "sqlite";
  TransitionResult r = e.start(c);
  CHECK(r.error == TransitionError::HookFailed);
  CHECK_MSG(r.detail.find("needs a data directory") != std::string::npos, r.detail);
  c.database = "postgres";
  r = e.start(c);
  CHECK(r.error == TransitionError::HookFailed);
  CHECK_MSG(r.detail.find("needs databaseUrl") != std::string::npos, r.detail);
  c.databaseUrl = "postgres://gs:secret@127.0.0.1:1/gamesrv";  // no server listens on port 1
  r = e.start(c);
  CHECK(r.error == TransitionError::HookFailed);
  const char* const why = postgresStorageBuilt() ? "cannot connect" : "no PostgreSQL backend";
  CHECK_MSG(r.detail.find(why) != std::string::npos, r.detail);
  CHECK_MSG(r.detail.find("secret") == std::string::npos, "the password stays out of the message: " << r.detail);
  CHECK(e.state() == EngineState::Stopped);
  // The simulated database still starts.
  c.database = "simulated";
  CHECK(e.start(c).error == TransitionError::None);
  CHECK(!e.snapshot().storage.open);
  e.stop(10s);
}

}  // namespace

GS_TEST_MAIN()
