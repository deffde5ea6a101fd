// durability "journal": the event payload codec, the Engine's journaled input path
// (acknowledged after the commit, journal sequence numbers, replay at start, continuing
// sequence numbers), and the reservation that keeps a durable batch from being refused.
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "gamesrv/durable_events.hpp"
#include "gamesrv/journal_format.hpp"
#include "gamesrv/engine.hpp"
#include "harness.hpp"
#include "pipe_test_support.hpp"
#include "temp_dir.hpp"

using namespace gamesrv;

namespace {

EngineConfig journalConfig(const std::filesystem::path& dir, const char* name) {
  EngineConfig c;
  c.io.serverName = name;
  c.io.pipe = false;
  c.io.monitor = false;
  c.io.iocp = false;
  c.dataDir = dir.string();
  c.durability = Durability::Journal;
  return c;
}

GameEvent login(std::uint32_t id, std::string name) {
  GameEvent e;
  e.type = EventType::PlayerLogin;
  e.playerId = id;
  e.text = std::move(name);
  return e;
}

GameEvent attack(std::uint32_t from, std::uint32_t to, double damage) {
  GameEvent e;
  e.type = EventType::PlayerAttack;
  e.playerId = from;
  e.num1 = to;
  e.num2 = damage;
  return e;
}

}  // namespace

TEST(payload_round_trips_every_field_and_refuses_a_wrong_one) {
  std::vector<GameEvent> batch;
  batch.push_back(login(7, "Alice \xc3\xa9"));
  GameEvent move;
  move.type = EventType::PlayerMove;
  move.playerId = 7;
  move.session = 3;
  move.clientSeq = 99;
  move.num1 = -12.5;
  move.num2 = 1e300;
  batch.push_back(move);
  batch.push_back(attack(7, 8, 40));
  const std::vector<std::uint8_t> payload = encodeJournalEvents(batch);
  std::vector<GameEvent> back;
  CHECK(decodeJournalEvents(payload, 3, back));
  CHECK_EQ(back.size(), std::size_t{3});
  CHECK(back[0].type == EventType::PlayerLogin);
  CHECK_EQ(back[0].text, std::string("Alice \xc3\xa9"));
  CHECK_EQ(back[1].session, 3u);
  CHECK_EQ(back[1].clientSeq, 99u);
  CHECK_EQ(back[1].num1, -12.5);
  CHECK_EQ(back[1].num2, 1e300);
  CHECK_EQ(back[2].num1, 8.0);
  CHECK_EQ(back[2].num2, 40.0);
  // A count that does not match, a truncated payload, an unknown type: refused, nothing added.
  std::vector<GameEvent> none;
  CHECK(!decodeJournalEvents(payload, 2, none));
  CHECK(!decodeJournalEvents(payload, 4, none));
  CHECK(!decodeJournalEvents(std::span(payload).first(payload.size() - 1), 3, none));
  std::vector<std::uint8_t> bad = payload;
  bad[0] = static_cast<std::uint8_t>(kEventTypeCount);
  CHECK(!decodeJournalEvents(bad, 3, none));
  CHECK(none.empty());
}

TEST(journal_mode_needs_a_data_directory) {
  Engine engine;
  EngineConfig c = journalConfig("", "gs-durable-nodir");
  const TransitionResult r = engine.start(c);
  CHECK(r.error == TransitionError::HookFailed);
  CHECK(r.detail.find("data directory") != std::string::npos);
}

TEST(acknowledged_events_replay_into_a_fresh_engine_and_sequence_numbers_continue) {
  gstest::TempDir dir("durable");
  std::uint64_t lastSeq = 0;
  std::vector<Player> before;
  {
    Engine engine;
    CHECK(engine.start(journalConfig(dir.path(), "gs-durable-a")).error == TransitionError::None);
    CHECK(engine.durable());
    std::vector<GameEvent> batch;
    batch.push_back(login(1, "one"));
    batch.push_back(login(2, "two"));
    const EnqueueResult first = engine.enqueue(std::move(batch));
    CHECK(first.status == EnqueueStatus::Ok);
    CHECK_EQ(first.firstSeq, std::uint64_t{1});
    CHECK_EQ(first.lastSeq, std::uint64_t{2});
    for (int i = 0; i < 30; ++i) CHECK(engine.enqueueOne(attack(1, 2, 1)).status == EnqueueStatus::Ok);
    CHECK(engine.flushEvents(std::chrono::seconds(10)));
    const EngineSnapshot s = engine.snapshot();
    CHECK(s.durable.mode == Durability::Journal);
    CHECK_EQ(s.durable.journal.events, std::uint64_t{32});
    CHECK_EQ(s.durable.journal.lastSeq, std::uint64_t{32});
    CHECK_EQ(s.durable.appliedSeq, std::uint64_t{32});
    CHECK(s.durable.journal.syncs >= 1);
    lastSeq = s.durable.journal.lastSeq;
    before = engine.world().players();
    CHECK_EQ(before.size(), std::size_t{2});
    CHECK_EQ(before[1].hp, 70);
    CHECK(engine.stop(std::chrono::seconds(10)).drained);
  }
  // A new process: the World comes back from the journal alone, timestamps included.
  Engine engine;
  CHECK(engine.start(journalConfig(dir.path(), "gs-durable-b")).error == TransitionError::None);
  const EngineSnapshot s = engine.snapshot();
  CHECK_EQ(s.durable.replayed.events, lastSeq);
  const std::vector<Player> after = engine.world().players();
  CHECK_EQ(after.size(), before.size());
  for (std::size_t i = 0; i < after.size() && i < before.size(); ++i) {
    CHECK_EQ(after[i].hp, before[i].hp);
    CHECK_EQ(after[i].kills, before[i].kills);
    CHECK_EQ(after[i].lastSeenMs, before[i].lastSeenMs);
  }
  const EnqueueResult next = engine.enqueueOne(attack(1, 2, 5));
  CHECK_EQ(next.firstSeq, lastSeq + 1);
  CHECK(engine.flushEvents(std::chrono::seconds(10)));
  CHECK_EQ(engine.world().players()[1].hp, 65);
  // A restart of the same engine replays nothing twice.
  CHECK(engine.stop(std::chrono::seconds(10)).drained);
  CHECK(engine.start(journalConfig(dir.path(), "gs-durable-b")).error == TransitionError::None);
  CHECK_EQ(engine.snapshot().durable.replayed.events, std::uint64_t{0});
  CHECK_EQ(engine.world().players()[1].hp, 65);
  CHECK(engine.stop(std::chrono::seconds(10)).drained);
  // The offline replay (gamesrv replay) builds the same World.
  World w;
  JournalOpenReport opened;
  const ReplayReport r = replayDataDir(dir.path(), w, opened);
  CHECK_EQ(r.events, lastSeq + 1);
  CHECK_EQ(w.players()[1].hp, 65);
  CHECK_EQ(w.players()[1].lastSeenMs, engine.world().players()[1].lastSeenMs);
}

TEST(submit_answers_after_the_commit_and_a_refused_batch_is_left_intact) {
  gstest::TempDir dir("durable");
  EngineOptions options;
  options.events.queueCapacity = 4;
  Engine engine(options);
  CHECK(engine.start(journalConfig(dir.path(), "gs-durable-c")).error == TransitionError::None);
  CHECK(engine.pause().error == TransitionError::None);  // nothing is processed: the queue fills
  std::vector<GameEvent> three{login(1, "a"), login(2, "b"), login(3, "c")};
  std::mutex mu;
  std::condition_variable cv;
  std::vector<DurableResult> acks;
  auto done = [&](const DurableResult& r) {
    std::lock_guard lock(mu);
    acks.push_back(r);
    cv.notify_all();
  };
  CHECK(engine.submitEvents(three, done).ok());
  {
    std::unique_lock lock(mu);
    CHECK(cv.wait_for(lock, std::chrono::seconds(10), [&] { return acks.size() == 1; }));
  }
  CHECK(acks[0].ok());
  CHECK_EQ(acks[0].firstSeq, std::uint64_t{1});
  CHECK_EQ(acks[0].lastSeq, std::uint64_t{3});
  // Two more do not fit in the one free slot: refused at once, left as they were, no ack.
  std::vector<GameEvent> two{login(4, "d"), login(5, "e")};
  const DurableResult refused = engine.submitEvents(two, done);
  CHECK(refused.status == EnqueueStatus::QueueFull);
  CHECK_EQ(two.size(), std::size_t{2});
  CHECK_EQ(two[1].text, std::string("e"));
  CHECK_EQ(engine.snapshot().durable.journal.events, std::uint64_t{3});
  CHECK(engine.resume().error == TransitionError::None);
  CHECK(engine.flushEvents(std::chrono::seconds(10)));
  CHECK_EQ(engine.world().knownCount(), std::size_t{3});
  CHECK(engine.stop(std::chrono::seconds(10)).drained);
  std::lock_guard lock(mu);
  CHECK_EQ(acks.size(), std::size_t{1});
}

TEST(a_torn_tail_is_cut_at_start_and_everything_before_it_replays) {
  gstest::TempDir dir("durable");
  {
    Engine engine;
    CHECK(engine.start(journalConfig(dir.path(), "gs-durable-d")).error == TransitionError::None);
    CHECK(engine.enqueueOne(login(1, "one")).status == EnqueueStatus::Ok);
    CHECK(engine.enqueueOne(login(2, "two")).status == EnqueueStatus::Ok);
    CHECK(engine.stop(std::chrono::seconds(10)).drained);
  }
  // Half a record at the end of the last segment: a crash in the middle of a write.
  // The one segment (the directory also holds the World hashes, and lists in no set order).
  std::filesystem::path segment;
  for (const auto& f : std::filesystem::directory_iterator(journalDirectory(dir.path()))) {
    if (f.path().extension() == journal_format::kSegmentSuffix) segment = f.path();
  }
  CHECK(!segment.empty());
  const auto size = std::filesystem::file_size(segment);
  std::filesystem::resize_file(segment, size - 5);
  Engine engine;
  CHECK(engine.start(journalConfig(dir.path(), "gs-durable-e")).error == TransitionError::None);
  const EngineSnapshot s = engine.snapshot();
  CHECK(s.durable.opened.cutBytes > 0);
  CHECK_EQ(s.durable.replayed.events, std::uint64_t{1});
  CHECK_EQ(engine.world().knownCount(), std::size_t{1});
  const EnqueueResult next = engine.enqueueOne(login(3, "three"));
  CHECK_EQ(next.firstSeq, std::uint64_t{2});  // the cut record's numbers were never acknowledged
  CHECK(engine.stop(std::chrono::seconds(10)).drained);
}

TEST(none_mode_keeps_the_queue_numbering_and_writes_nothing) {
  gstest::TempDir dir("durable");
  Engine engine;
  EngineConfig c = journalConfig(dir.path(), "gs-durable-f");
  c.durability = Durability::None;
  CHECK(engine.start(c).error == TransitionError::None);
  CHECK(!engine.durable());
  CHECK_EQ(engine.enqueueOne(login(1, "one")).firstSeq, std::uint64_t{1});
  CHECK(engine.snapshot().durable.mode == Durability::None);
  CHECK(!std::filesystem::exists(journalDirectory(dir.path())));
  CHECK(engine.stop(std::chrono::seconds(10)).drained);
}

TEST(a_failed_commit_applies_nothing_and_answers_the_io_error) {
  gstest::TempDir dir("durable");
  Engine engine;
  std::atomic<bool> failSync{false};
  JournalOptions o;
  o.faultForTesting = [&](JournalIoOp op) {
    return op == JournalIoOp::Sync && failSync.load() ? std::make_error_code(std::errc::no_space_on_device) : std::error_code();
  };
  engine.setJournalOptionsForTesting(std::move(o));
  CHECK(engine.start(journalConfig(dir.path(), "gs-durable-g")).error == TransitionError::None);
  CHECK(engine.enqueueOne(login(1, "one")).status == EnqueueStatus::Ok);
  failSync = true;
  std::vector<GameEvent> batch{login(2, "two"), login(3, "three")};
  std::mutex mu;
  std::condition_variable cv;
  std::optional<DurableResult> got;
  CHECK(engine.submitEvents(batch, [&](const DurableResult& r) {
    std::lock_guard lock(mu);
    got = r;
    cv.notify_all();
  }).ok());
  {
    std::unique_lock lock(mu);
    CHECK(cv.wait_for(lock, std::chrono::seconds(10), [&] { return got.has_value(); }));
  }
  CHECK(got->journal == JournalStatus::IoError);
  CHECK(got->error == std::make_error_code(std::errc::no_space_on_device));
  CHECK_EQ(std::string(journalStatusCode(got->journal)), std::string("JOURNAL_IO_ERROR"));
  failSync = false;
  CHECK(engine.flushEvents(std::chrono::seconds(10)));
  CHECK_EQ(engine.world().knownCount(), std::size_t{1});  // nothing of the failed batch
  const EngineSnapshot s = engine.snapshot();
  CHECK_EQ(s.durable.failedBatches, std::uint64_t{1});
  CHECK_EQ(s.events.queueDepth, std::size_t{0});
  // The room it reserved is free again, and the next batch takes the next sequence number.
  const EnqueueResult next = engine.enqueueOne(login(4, "four"));
  CHECK(next.status == EnqueueStatus::Ok);
  CHECK_EQ(next.firstSeq, std::uint64_t{2});
  CHECK_EQ(next.available, std::size_t{65535});  // capacity 65536: nothing is left reserved
  CHECK(engine.stop(std::chrono::seconds(10)).drained);
}

TEST(a_full_journal_refuses_at_once_and_keeps_the_batch) {
  gstest::TempDir dir("durable");
  Engine engine;
  JournalOptions o;
  o.maxPendingBytes = 64;  // one small batch waiting for its commit fills it
  o.commitWindow = std::chrono::milliseconds(300);
  engine.setJournalOptionsForTesting(std::move(o));
  CHECK(engine.start(journalConfig(dir.path(), "gs-durable-h")).error == TransitionError::None);
  std::vector<GameEvent> first{login(1, "one")};
  CHECK(engine.submitEvents(first, {}).ok());
  std::vector<GameEvent> second{login(2, "two")};
  const DurableResult full = engine.submitEvents(second, {});
  CHECK(full.journal == JournalStatus::Full);
  CHECK(full.status == EnqueueStatus::Ok);  // the queue had room: the journal said no
  CHECK_EQ(second.size(), std::size_t{1});
  CHECK_EQ(second[0].text, std::string("two"));
  CHECK(engine.stop(std::chrono::seconds(10)).drained);
  CHECK_EQ(engine.world().knownCount(), std::size_t{1});
  CHECK_EQ(engine.snapshot().durable.refusedFull, std::uint64_t{1});
}

TEST(a_committed_checkpoint_deletes_old_segments_and_the_next_start_replays_after_it) {
  gstest::TempDir dir("durable");
  std::uint64_t checkpoint = 0;
  {
    Engine engine;
    JournalOptions o;
    o.segmentBytes = 256;  // a few records a segment
    engine.setJournalOptionsForTesting(o);
    CHECK(engine.start(journalConfig(dir.path(), "gs-durable-i")).error == TransitionError::None);
    for (std::uint32_t id = 1; id <= 20; ++id) CHECK(engine.enqueueOne(login(id, "p" + std::to_string(id))).status == EnqueueStatus::Ok);
    CHECK(engine.flushEvents(std::chrono::seconds(10)));
    const std::size_t segmentsBefore = engine.snapshot().durable.journal.segments;
    CHECK(segmentsBefore > 3);
    // What player persistence does after a flush that committed the World up to seq 12.
    checkpoint = 12;
    CHECK(engine.journalAppliedSeq() >= checkpoint);
    std::error_code ec;
    const std::size_t removed = engine.checkpointCommitted(checkpoint, ec);
    CHECK(!ec);
    CHECK(removed > 0);
    CHECK_EQ(engine.snapshot().durable.journal.segments, segmentsBefore - removed);
    CHECK(engine.snapshot().durable.journal.firstSeq <= checkpoint + 1);
    CHECK(engine.stop(std::chrono::seconds(10)).drained);
  }
  // The next process loads the checkpoint's World from storage (here: nothing) and replays
  // only what came after it.
  Engine engine;
  engine.setCheckpointSource([&] { return checkpoint; });
  CHECK(engine.start(journalConfig(dir.path(), "gs-durable-j")).error == TransitionError::None);
  const EngineSnapshot s = engine.snapshot();
  CHECK_EQ(s.durable.replayed.afterSeq, checkpoint);
  CHECK_EQ(s.durable.replayed.events, std::uint64_t{20} - checkpoint);
  const std::vector<Player> players = engine.world().players();
  CHECK_EQ(players.size(), std::size_t{8});
  CHECK_EQ(players.front().id, 13u);
  CHECK_EQ(engine.journalAppliedSeq(), std::uint64_t{20});
  CHECK(engine.stop(std::chrono::seconds(10)).drained);
}

GS_TEST_MAIN()

// --- the pipe in journal mode: ACK when the commit completes, no port thread waiting -----

namespace {

// Holds the journal's commits (its test hook runs on the gs-journal thread after each
// write) until released; a commit can be made to fail instead.
class CommitGate {
 public:
  std::error_code afterWrite() {
    std::unique_lock lock(mu_);
    ++held_;
    changed_.notify_all();
    changed_.wait(lock, [&] { return open_; });
    return fail_ ? std::make_error_code(std::errc::io_error) : std::error_code();
  }
  void close() {
    std::lock_guard lock(mu_);
    open_ = false;
  }
  void failEveryCommit() {
    std::lock_guard lock(mu_);
    fail_ = true;
  }
  void open() {
    std::lock_guard lock(mu_);
    open_ = true;
    changed_.notify_all();
  }
  // Waits until `n` commits in all have reached the gate.
  bool reached(int n) {
    std::unique_lock lock(mu_);
    return changed_.wait_for(lock, std::chrono::seconds(10), [&] { return held_ >= n; });
  }

 private:
  std::mutex mu_;
  std::condition_variable changed_;
  bool open_ = true;   // guarded by mu_
  bool fail_ = false;  // guarded by mu_
  int held_ = 0;       // guarded by mu_: commits that reached the gate
};

EngineConfig journalPipeConfig(const std::filesystem::path& dir, const std::string& pipePath) {
  EngineConfig c = journalConfig(dir, "gs-durable-pipe");
  c.io.iocp = true;
  c.io.iocpThreads = 1;  // one completion-port thread: a reply waiting on it would stall every client
  c.io.pipe = true;
  c.io.pipePath = pipePath;
  return c;
}

}  // namespace

TEST(pipe_acks_after_the_commit_while_the_completion_port_thread_serves_others) {
  gstest::TempDir dir("durable");
  CommitGate gate;
  Engine engine;
  JournalOptions o;
  o.faultForTesting = [&](JournalIoOp op) { return op == JournalIoOp::Write ? gate.afterWrite() : std::error_code(); };
  engine.setJournalOptionsForTesting(std::move(o));
  CHECK(engine.start(journalPipeConfig(dir.path(), pipetest::testPath("durable"))).error == TransitionError::None);
  gate.close();
  PipeClient a = pipetest::connected(engine.pipePath());
  // Pipelined: the STATUS's reply must not overtake the LOGIN's.
  CHECK(a.sendRaw(pipetest::frameOf(PipeMessageType::PlayerLogin, "1:one")).ok());
  CHECK(a.sendRaw(pipetest::frameOf(PipeMessageType::ServerStatus, "")).ok());
  CHECK(gate.reached(1));  // the LOGIN's commit is held
  PipeClient b = pipetest::connected(engine.pipePath());
  const PipeReplyResult status = b.request(PipeMessageType::ServerStatus, "", std::chrono::seconds(5));
  CHECK_MSG(status.ok(), status.detail);
  CHECK(status.reply.type == PipeMessageType::StatusReply);
  EngineSnapshot s = engine.snapshot();
  CHECK_EQ(s.io.pipe.framesOut, std::uint64_t{1});  // b's: no ACK before the commit
  CHECK_EQ(engine.world().knownCount(), std::size_t{0});
  gate.open();
  PipeReplyResult r = a.receive(std::chrono::seconds(5));
  CHECK_MSG(r.ok(), r.detail);
  CHECK(r.reply.type == PipeMessageType::Ack);
  CHECK_EQ(r.reply.data, "seq=1");
  CHECK(engine.snapshot().durable.journal.lastSeq >= 1);  // on disk before the ACK
  r = a.receive(std::chrono::seconds(5));
  CHECK_MSG(r.ok(), r.detail);
  CHECK(r.reply.type == PipeMessageType::StatusReply);
  CHECK(engine.flushEvents(std::chrono::seconds(10)));
  CHECK_EQ(engine.world().knownCount(), std::size_t{1});
  CHECK_EQ(engine.snapshot().io.pipe.laterReplies, std::uint64_t{1});
  CHECK(engine.stop(std::chrono::seconds(10)).drained);
}

TEST(pipe_session_closed_during_its_commit_drops_the_ack_and_the_event_applies_once) {
  gstest::TempDir dir("durable");
  CommitGate gate;
  Engine engine;
  JournalOptions o;
  o.faultForTesting = [&](JournalIoOp op) { return op == JournalIoOp::Write ? gate.afterWrite() : std::error_code(); };
  engine.setJournalOptionsForTesting(std::move(o));
  CHECK(engine.start(journalPipeConfig(dir.path(), pipetest::testPath("durable"))).error == TransitionError::None);
  gate.close();
  {
    PipeClient gone = pipetest::connected(engine.pipePath());
    CHECK(gone.sendRaw(pipetest::frameOf(PipeMessageType::PlayerLogin, "7:seven")).ok());
    CHECK(gate.reached(1));
  }  // closed with its commit held
  gate.open();
  // The reply is dropped after the batch went into the queue: then the flush covers it.
  CHECK(gstest::eventually([&] { return engine.snapshot().io.pipe.laterDropped == 1; }));
  CHECK(engine.flushEvents(std::chrono::seconds(10)));
  CHECK_EQ(engine.snapshot().io.pipe.laterReplies, std::uint64_t{1});
  const EngineSnapshot s = engine.snapshot();
  CHECK_EQ(s.io.pipe.framesOut, std::uint64_t{0});
  CHECK_EQ(s.durable.journal.events, std::uint64_t{1});
  CHECK_EQ(s.durable.appliedSeq, std::uint64_t{1});
  CHECK_EQ(engine.world().knownCount(), std::size_t{1});
  CHECK(engine.world().players()[0].online);
  // The next session is served as usual.
  PipeClient next = pipetest::connected(engine.pipePath());
  const PipeReplyResult r = next.request(PipeMessageType::PlayerMove, "7:1,2");
  CHECK(r.ok() && r.reply.data == "seq=2");
  CHECK(engine.stop(std::chrono::seconds(10)).drained);
}

TEST(pipe_request_whose_commit_fails_gets_an_error_and_applies_nothing) {
  gstest::TempDir dir("durable");
  CommitGate gate;
  Engine engine;
  JournalOptions o;
  o.faultForTesting = [&](JournalIoOp op) { return op == JournalIoOp::Write ? gate.afterWrite() : std::error_code(); };
  engine.setJournalOptionsForTesting(std::move(o));
  CHECK(engine.start(journalPipeConfig(dir.path(), pipetest::testPath("durable"))).error == TransitionError::None);
  PipeClient c = pipetest::connected(engine.pipePath());
  gate.failEveryCommit();
  PipeReplyResult r = c.request(PipeMessageType::PlayerLogin, "3:three");
  CHECK_MSG(r.ok(), r.detail);
  CHECK(r.reply.type == PipeMessageType::Error);
  CHECK_EQ(r.reply.data, "engine is not accepting events");
  CHECK(engine.flushEvents(std::chrono::seconds(10)));
  CHECK_EQ(engine.world().knownCount(), std::size_t{0});
  CHECK_EQ(engine.snapshot().durable.failedBatches, std::uint64_t{1});
  CHECK(engine.stop(std::chrono::seconds(10)).drained);
}

TEST(pipe_request_refused_at_once_answers_from_the_port_thread) {
  gstest::TempDir dir("durable");
  EngineOptions options;
  options.events.queueCapacity = 1;
  Engine engine(options);
  CHECK(engine.start(journalPipeConfig(dir.path(), pipetest::testPath("durable"))).error == TransitionError::None);
  CHECK(engine.pause().error == TransitionError::None);  // accepted events wait in the queue
  PipeClient c = pipetest::connected(engine.pipePath());
  PipeReplyResult r = c.request(PipeMessageType::PlayerLogin, "1:one");
  CHECK(r.ok() && r.reply.data == "seq=1");
  r = c.request(PipeMessageType::PlayerLogin, "2:two");  // no room: refused before the journal
  CHECK_MSG(r.ok(), r.detail);
  CHECK(r.reply.type == PipeMessageType::Error);
  CHECK_EQ(r.reply.data, "queue full: event not accepted, retry later");
  const EngineSnapshot s = engine.snapshot();
  CHECK_EQ(s.io.pipe.laterReplies, std::uint64_t{2});
  CHECK_EQ(s.durable.journal.events, std::uint64_t{1});
  CHECK(engine.resume().error == TransitionError::None);
  CHECK(engine.flushEvents(std::chrono::seconds(10)));
  CHECK_EQ(engine.world().knownCount(), std::size_t{1});
  CHECK(engine.stop(std::chrono::seconds(10)).drained);
}
