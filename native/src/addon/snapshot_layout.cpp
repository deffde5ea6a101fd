// THE SNAPSHOT, DESCRIBED ONCE.
//
// kFields (at the end of this file) names every field of Engine.snapshot(), in the
// order of the public object, with its kind and the expression that reads it from
// gamesrv::EngineSnapshot. writeSnapshot() walks the table to fill the flat form that
// crosses Node-API (one Float64Array and one string); snapshotLayout() hands the same
// table to JavaScript once at load, with each field's offset, and src/engine/snapshot.ts
// compiles its decoder from it. The TypeBox schema (src/schemas/stats.ts) is the one
// TypeScript description; test/snapshot.test.ts fails when the table, the schema and a
// live snapshot disagree. CONTRIBUTING.md shows how to add a counter.
//
// One file past ~400 lines on purpose: the table is the point of it, and the macros it
// is written in, the writer it drives and the descriptor made from it read best beside it.
#include "snapshot_layout.hpp"

#include <cassert>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <span>
#include <type_traits>
#include <vector>

namespace gamesrv::addon {

namespace {

// Counters only grow; gauges go up and down; a flag is a boolean; a label is an enum
// code, read as its name; a histogram is a latency summary in microseconds; text is a
// string; rows are a table with one row per item (an engine thread).
enum class Kind : std::uint8_t { Counter, Gauge, Flag, Label, Histogram, Text, Rows };

const char* kindName(Kind k) noexcept {
  switch (k) {
    case Kind::Counter: return "counter";
    case Kind::Gauge: return "gauge";
    case Kind::Flag: return "flag";
    case Kind::Label: return "label";
    case Kind::Histogram: return "histogram";
    case Kind::Text: return "text";
    case Kind::Rows: return "rows";
  }
  return "unknown";
}

// Names by index: the labels of an enum's codes, or the keys a '*' in a path repeats a
// field over (the field's expression sees the index as `k`).
struct Names {
  std::size_t count;
  const char* (*name)(std::size_t i);
};

constexpr Names kEngineStates{5, [](std::size_t i) { return toString(static_cast<EngineState>(i)); }};
constexpr Names kWorkerStates{4, [](std::size_t i) { return toString(static_cast<WorkerState>(i)); }};
static_assert(static_cast<int>(EngineState::Stopping) == 4 && static_cast<int>(WorkerState::Stopped) == 3,
              "a label covers every code of its enum");
// InvalidReason::None (0) is not a reason: key k is code k + 1.
constexpr Names kInvalidReasons{kInvalidReasonCount - 1,
                                [](std::size_t i) { return toString(static_cast<InvalidReason>(i + 1)); }};
constexpr Names kDurabilityModes{2, [](std::size_t i) { return toString(static_cast<Durability>(i)); }};
static_assert(static_cast<int>(Durability::Journal) == 1, "a label covers every code of its enum");
constexpr Names kEventTypes{kEventTypeCount, [](std::size_t i) { return toString(static_cast<EventType>(i)); }};
constexpr Names kTaskKinds{std::extent_v<decltype(TaskSchedulerStats::byKind)>,
                           [](std::size_t i) { return toString(static_cast<TaskKind>(i)); }};
// Pipe request types are codes 1..5: key k is code k + 1.
constexpr Names kPipeRequests{std::extent_v<decltype(PipeServerStats::requestsByType)>,
                              [](std::size_t i) { return toString(static_cast<PipeMessageType>(i + 1)); }};

double us(std::uint64_t ns) noexcept { return static_cast<double>(ns) / 1000.0; }
double ms(std::uint64_t ns) noexcept { return static_cast<double>(ns) / 1e6; }

// A histogram's numbers, in order (recorded in nanoseconds, reported in microseconds).
struct HistogramPart {
  const char* name;
  double (*read)(const HistogramSummary& h);
};
constexpr HistogramPart kHistogramParts[] = {
    {"count", [](const HistogramSummary& h) { return static_cast<double>(h.count); }},
    {"mean", [](const HistogramSummary& h) { return h.mean / 1000.0; }},
    {"min", [](const HistogramSummary& h) { return us(h.min); }},
    {"p50", [](const HistogramSummary& h) { return us(h.p50); }},
    {"p90", [](const HistogramSummary& h) { return us(h.p90); }},
    {"p99", [](const HistogramSummary& h) { return us(h.p99); }},
    {"p999", [](const HistogramSummary& h) { return us(h.p999); }},
    {"max", [](const HistogramSummary& h) { return us(h.max); }},
};

class FlatWriter;

// A column of a rows field.
struct Column {
  const char* name;
  Kind kind;
  const Names* labels;  // Label: the name of each code
  void (*write)(FlatWriter& w, const WorkerStats& r);
};

struct Field {
  const char* path;  // dot-separated; a '*' segment repeats the field for each of `each`
  Kind kind;
  const Names* each;
  const Names* labels;              // Label: the name of each code
  std::span<const Column> columns;  // Rows: one row's columns
  void (*write)(FlatWriter& w, const EngineSnapshot& s, std::size_t k);
};

// Numbers a field of this kind takes in the fixed part (a rows field: its row count).
constexpr std::size_t slots(Kind k) noexcept {
  return k == Kind::Histogram ? std::size(kHistogramParts) : k == Kind::Text ? 0 : 1;
}

using WorkerGroups = std::initializer_list<std::reference_wrapper<const std::vector<WorkerStats>>>;

// out[0] is the count; the fixed part follows (every field at its offset, in table
// order), then every row of every rows field, then (withBuckets) the buckets. Past
// `capacity` it only counts, so the caller learns the size it needs.
class FlatWriter {
 public:
  FlatWriter(double* out, std::size_t capacity, std::size_t fixedSize, bool withBuckets, std::string& texts)
      : out_(out), capacity_(capacity), tail_(fixedSize), withBuckets_(withBuckets), texts_(texts) {
    texts_.clear();
  }

  template <Kind K, typename T>
  void put(const T& v) {
    if constexpr (K == Kind::Histogram) {
      static_assert(std::is_same_v<T, HistogramSummary>, "a histogram field reads a HistogramSummary");
      if (withBuckets_) histograms_.push_back(&v);
      for (const auto& part : kHistogramParts) number(part.read(v));
    } else if constexpr (K == Kind::Text) {
      static_assert(std::is_same_v<T, std::string>, "a text field reads a std::string");
      std::string& to = cursor_ == &fixed_ ? texts_ : rowTexts_;
      to.push_back('\0');
      to += v;
    } else if constexpr (K == Kind::Label) {
      static_assert(std::is_enum_v<T>, "a label field reads an enum");
      number(static_cast<double>(static_cast<std::underlying_type_t<T>>(v)));
    } else if constexpr (K == Kind::Flag) {
      static_assert(std::is_same_v<T, bool>, "a flag field reads a bool");
      number(v ? 1.0 : 0.0);
    } else {
      static_assert((K == Kind::Counter || K == Kind::Gauge) && std::is_arithmetic_v<T> && !std::is_same_v<T, bool>,
                    "a counter or gauge reads a number");
      number(static_cast<double>(v));
    }
  }

  // The row count goes in the fixed part, the rows after it.
  void rows(std::span<const Column> columns, WorkerGroups groups) {
    std::size_t n = 0;
    for (const auto& g : groups) n += g.get().size();
    number(static_cast<double>(n));
    cursor_ = &tail_;
    for (const auto& g : groups) {
      for (const WorkerStats& r : g.get()) {
        for (const Column& c : columns) c.write(*this, r);
      }
    }
    cursor_ = &fixed_;
  }

  std::size_t finish(std::size_t fixedSize) {
    assert(fixed_ == fixedSize);
    (void)fixedSize;
    cursor_ = &tail_;
    for (const HistogramSummary* h : histograms_) {
      number(static_cast<double>(h->buckets.size()));
      for (const auto& b : h->buckets) {
        number(static_cast<double>(b.index));
        number(static_cast<double>(b.count));
        number(us(b.upper));
      }
    }
    texts_ += rowTexts_;
    if (!texts_.empty()) texts_.erase(0, 1);  // every text was written after a '\0'
    if (capacity_ > 0) out_[0] = static_cast<double>(tail_);
    return tail_;
  }

 private:
  void number(double v) noexcept {
    if (*cursor_ < capacity_) out_[*cursor_] = v;
    ++*cursor_;
  }

  double* out_;
  std::size_t capacity_;
  std::size_t fixed_ = 1;
  std::size_t tail_;
  std::size_t* cursor_ = &fixed_;
  bool withBuckets_;
  std::vector<const HistogramSummary*> histograms_;
  std::string& texts_;
  std::string rowTexts_;
};

// `s` is the EngineSnapshot, `k` the index of the key a '*' stands for, `r` a row.
#define SNAP_FIELD(kind, path, each, labels, expr)                                                   \
  Field {                                                                                            \
    path, Kind::kind, each, labels, {}, [](FlatWriter& w, const EngineSnapshot& s, [[maybe_unused]] std::size_t k) { \
      w.put<Kind::kind>(expr);                                                                       \
    }                                                                                                \
  }
#define SNAP_COUNTER(path, expr) SNAP_FIELD(Counter, path, nullptr, nullptr, expr)
#define SNAP_GAUGE(path, expr) SNAP_FIELD(Gauge, path, nullptr, nullptr, expr)
#define SNAP_FLAG(path, expr) SNAP_FIELD(Flag, path, nullptr, nullptr, expr)
#define SNAP_LABEL(path, labels, expr) SNAP_FIELD(Label, path, nullptr, &labels, expr)
#define SNAP_HISTOGRAM(path, expr) SNAP_FIELD(Histogram, path, nullptr, nullptr, expr)
#define SNAP_TEXT(path, expr) SNAP_FIELD(Text, path, nullptr, nullptr, expr)
#define SNAP_COUNTERS(path, keys, expr) SNAP_FIELD(Counter, path, &keys, nullptr, expr)
#define SNAP_HISTOGRAMS(path, keys, expr) SNAP_FIELD(Histogram, path, &keys, nullptr, expr)
#define SNAP_COLUMN(kind, name, labels, expr) \
  Column { name, Kind::kind, labels, [](FlatWriter& w, const WorkerStats& r) { w.put<Kind::kind>(expr); } }
#define SNAP_ROWS(path, columns, ...)                                                                      \
  Field {                                                                                                  \
    path, Kind::Rows, nullptr, nullptr, columns,                                                           \
        [](FlatWriter& w, const EngineSnapshot& s, std::size_t) { w.rows(columns, {__VA_ARGS__}); } \
  }

constexpr Column kWorkerColumns[] = {
    SNAP_COLUMN(Text, "name", nullptr, r.name),
    SNAP_COLUMN(Gauge, "tid", nullptr, r.tid),
    SNAP_COLUMN(Label, "state", &kWorkerStates, r.state),
    SNAP_COLUMN(Counter, "items", nullptr, r.items),
    SNAP_COLUMN(Counter, "busyMs", nullptr, ms(r.busyNs)),
    SNAP_COLUMN(Counter, "cpuMs", nullptr, ms(r.cpuNs)),
};

// clang-format off
constexpr Field kFields[] = {
    SNAP_LABEL("state", kEngineStates, s.state),
    SNAP_GAUGE("timestampMs", s.timestampMs),
    SNAP_GAUGE("uptimeMs", s.uptimeMs),
    SNAP_COUNTER("starts", s.starts),

    SNAP_LABEL("controller.state", kEngineStates, s.controller.state),
    SNAP_GAUGE("controller.tickRateHz", s.controller.tickRateHz),
    SNAP_GAUGE("controller.achievedRateHz", s.controller.achievedRateHz),
    SNAP_COUNTER("controller.ticks", s.controller.ticks),
    SNAP_COUNTER("controller.overruns", s.controller.overruns),
    SNAP_COUNTER("controller.skippedTicks", s.controller.skippedTicks),
    SNAP_COUNTER("controller.runningMs", s.controller.runningMs),
    SNAP_GAUGE("controller.tickWorkUs", s.controller.tickWorkUs),
    SNAP_GAUGE("controller.loopThreads", s.controller.loopThreads),
    SNAP_HISTOGRAM("controller.tickDurationUs", s.controller.tickDurationNs),
    SNAP_HISTOGRAM("controller.tickJitterUs", s.controller.tickJitterNs),

    SNAP_COUNTER("events.accepted", s.events.accepted),
    SNAP_COUNTER("events.processed", s.events.processed),
    SNAP_COUNTER("events.applied", s.events.applied),
    SNAP_COUNTER("events.invalid", s.events.invalid),
    SNAP_COUNTER("events.rejectedBatches", s.events.rejectedBatches),
    SNAP_COUNTER("events.rejectedEvents", s.events.rejectedEvents),
    SNAP_COUNTER("events.batches", s.events.batches),
    SNAP_GAUGE("events.maxBatch", s.events.maxBatch),
    SNAP_COUNTER("events.heartbeats", s.events.heartbeats),
    SNAP_COUNTER("events.lastSeq", s.events.lastSeq),
    SNAP_GAUGE("events.queueDepth", s.events.queueDepth),
    SNAP_GAUGE("events.queueCapacity", s.events.queueCapacity),
    SNAP_FLAG("events.accepting", s.events.accepting),
    SNAP_FLAG("events.paused", s.events.paused),
    SNAP_COUNTERS("events.invalidByReason.*", kInvalidReasons, s.events.invalidByReason[k + 1]),
    SNAP_COUNTERS("events.byType.*.processed", kEventTypes, s.events.byType[k].processed),
    SNAP_COUNTERS("events.byType.*.applied", kEventTypes, s.events.byType[k].applied),
    SNAP_COUNTERS("events.byType.*.invalid", kEventTypes, s.events.byType[k].invalid),
    SNAP_HISTOGRAMS("events.byType.*.latencyUs", kEventTypes, s.events.byType[k].latencyNs),
    SNAP_HISTOGRAM("events.latencyUs", s.events.latencyNs),

    SNAP_GAUGE("pool.threads", s.pool.threads),
    SNAP_GAUGE("pool.idleThreads", s.pool.idleThreads),
    SNAP_GAUGE("pool.peakThreads", s.pool.peakThreads),
    SNAP_GAUGE("pool.minThreads", s.pool.minThreads),
    SNAP_GAUGE("pool.maxThreads", s.pool.maxThreads),
    SNAP_GAUGE("pool.queueDepth", s.pool.queueDepth),
    SNAP_GAUGE("pool.queueCapacity", s.pool.queueCapacity),
    SNAP_COUNTER("pool.submitted", s.pool.submitted),
    SNAP_COUNTER("pool.completed", s.pool.completed),
    SNAP_COUNTER("pool.failed", s.pool.failed),
    SNAP_COUNTER("pool.cancelled", s.pool.cancelled),
    SNAP_COUNTER("pool.rejected", s.pool.rejected),
    SNAP_COUNTER("pool.threadsCreated", s.pool.threadsCreated),
    SNAP_COUNTER("pool.threadsRetired", s.pool.threadsRetired),
    SNAP_GAUGE("pool.timersActive", s.pool.timersActive),
    SNAP_COUNTER("pool.timersFired", s.pool.timersFired),
    SNAP_COUNTER("pool.timersCancelled", s.pool.timersCancelled),
    SNAP_COUNTER("pool.timerSkipped", s.pool.timerSkipped),
    SNAP_FLAG("pool.paused", s.pool.paused),
    SNAP_HISTOGRAM("pool.queueWaitUs", s.pool.queueWaitNs),
    SNAP_HISTOGRAM("pool.runUs", s.pool.runNs),
    SNAP_HISTOGRAM("pool.timerLateUs", s.pool.timerLateNs),

    SNAP_COUNTER("tasks.submitted", s.tasks.submitted),
    SNAP_COUNTER("tasks.done", s.tasks.done),
    SNAP_COUNTER("tasks.failed", s.tasks.failed),
    SNAP_COUNTER("tasks.cancelled", s.tasks.cancelled),
    SNAP_GAUGE("tasks.active", s.tasks.active),
    SNAP_GAUGE("tasks.history", s.tasks.history),
    SNAP_COUNTER("tasks.gameLogicTicks", s.tasks.gameLogicTicks),
    SNAP_COUNTERS("tasks.byKind.*", kTaskKinds, s.tasks.byKind[k]),

    SNAP_TEXT("storage.database", s.database),
    SNAP_TEXT("storage.location", s.storage.location),
    SNAP_FLAG("storage.open", s.storage.open),
    SNAP_COUNTER("storage.loaded", s.storage.loaded),
    SNAP_COUNTER("storage.flushes", s.storage.flushes),
    SNAP_COUNTER("storage.rowsFlushed", s.storage.rowsFlushed),
    SNAP_COUNTER("storage.flushFailures", s.storage.flushFailures),
    SNAP_COUNTER("storage.flushRefusedNotOwner", s.storage.flushRefusedNotOwner),
    SNAP_TEXT("storage.lastRefusal", s.storage.lastRefusal),
    SNAP_COUNTER("storage.leasesAcquired", s.storage.leasesAcquired),
    SNAP_COUNTER("storage.leasesHeldElsewhere", s.storage.leasesHeldElsewhere),
    SNAP_COUNTER("storage.leaseRenewalFailures", s.storage.leaseRenewalFailures),
    SNAP_GAUGE("storage.dirty", s.storage.dirty),
    SNAP_TEXT("storage.lastError", s.storage.lastError),
    SNAP_GAUGE("storage.schemaVersion", s.storage.schemaVersion),
    SNAP_GAUGE("storage.checkpointSeq", s.storage.checkpointSeq),
    SNAP_HISTOGRAM("storage.flushUs", s.storage.flushNs),

    SNAP_GAUGE("players.online", s.playersOnline),
    SNAP_GAUGE("players.known", s.playersKnown),

    // Loop threads, the event thread, pool threads, completion-port threads.
    SNAP_ROWS("workers", kWorkerColumns, s.controller.workers, s.events.workers, s.pool.workers, s.io.iocp.workers),

    SNAP_FLAG("iocp.enabled", s.io.iocpEnabled),
    SNAP_GAUGE("iocp.threads", s.io.iocp.threads),
    SNAP_COUNTER("iocp.posted", s.io.iocp.port.posted),
    SNAP_COUNTER("iocp.postRejected", s.io.iocp.port.postRejected),
    SNAP_COUNTER("iocp.dequeued", s.io.iocp.port.dequeued),
    SNAP_COUNTER("iocp.ioCompletions", s.io.iocp.port.ioCompletions),
    SNAP_COUNTER("iocp.completionsByKind.readable", s.io.iocp.port.ioReadable),
    SNAP_COUNTER("iocp.completionsByKind.writable", s.io.iocp.port.ioWritable),
    SNAP_COUNTER("iocp.completionsByKind.hangup", s.io.iocp.port.ioHangup),
    SNAP_COUNTER("iocp.completionsByKind.error", s.io.iocp.port.ioError),
    SNAP_COUNTER("iocp.bytes", s.io.iocp.port.bytes),
    SNAP_GAUGE("iocp.queueDepth", s.io.iocp.port.queueDepth),
    SNAP_GAUGE("iocp.activeThreads", s.io.iocp.port.activeThreads),
    SNAP_GAUGE("iocp.peakActive", s.io.iocp.port.peakActive),
    SNAP_GAUGE("iocp.maxConcurrency", s.io.iocp.port.maxConcurrency),
    SNAP_COUNTER("iocp.handled", s.io.iocp.handled),
    SNAP_COUNTER("iocp.failed", s.io.iocp.failed),
    SNAP_HISTOGRAM("iocp.dequeueWaitUs", s.io.iocp.port.dequeueWaitNs),
    SNAP_HISTOGRAM("iocp.handlerUs", s.io.iocp.handlerNs),

    SNAP_FLAG("pipe.enabled", s.io.pipeEnabled),
    SNAP_TEXT("pipe.path", s.io.pipe.path),
    SNAP_COUNTER("pipe.accepted", s.io.pipe.accepted),
    SNAP_COUNTER("pipe.refused", s.io.pipe.refused),
    SNAP_GAUGE("pipe.active", s.io.pipe.active),
    SNAP_GAUGE("pipe.peakActive", s.io.pipe.peakActive),
    SNAP_COUNTER("pipe.framesIn", s.io.pipe.framesIn),
    SNAP_COUNTER("pipe.framesOut", s.io.pipe.framesOut),
    SNAP_COUNTER("pipe.bytesIn", s.io.pipe.bytesIn),
    SNAP_COUNTER("pipe.bytesOut", s.io.pipe.bytesOut),
    SNAP_COUNTERS("pipe.requestsByType.*", kPipeRequests, s.io.pipe.requestsByType[k]),
    SNAP_COUNTER("pipe.errors.badLength", s.io.pipe.errors.badLength),
    SNAP_COUNTER("pipe.errors.badSize", s.io.pipe.errors.badSize),
    SNAP_COUNTER("pipe.errors.unknownType", s.io.pipe.errors.unknownType),
    SNAP_COUNTER("pipe.errors.badPadding", s.io.pipe.errors.badPadding),
    SNAP_COUNTER("pipe.errors.badPayload", s.io.pipe.errors.badPayload),
    SNAP_COUNTER("pipe.errors.handlerFailed", s.io.pipe.errors.handlerFailed),
    SNAP_COUNTER("pipe.errors.io", s.io.pipe.errors.io),
    SNAP_COUNTER("pipe.laterReplies", s.io.pipe.laterReplies),
    SNAP_COUNTER("pipe.laterDropped", s.io.pipe.laterDropped),
    SNAP_HISTOGRAM("pipe.handlerUs", s.io.pipe.handlerNs),

    SNAP_FLAG("monitor.enabled", s.io.monitor.enabled),
    SNAP_TEXT("monitor.serverName", s.io.monitor.serverName),
    SNAP_TEXT("monitor.segment", s.io.monitor.segment),
    SNAP_COUNTER("monitor.updates", s.io.monitor.updates),
    SNAP_COUNTER("monitor.failures", s.io.monitor.failures),
    SNAP_COUNTER("monitor.recoveries", s.io.monitor.recoveries),
    SNAP_GAUGE("monitor.cpuPercent", s.io.monitor.cpuPercent),
    SNAP_GAUGE("monitor.residentBytes", s.io.monitor.residentBytes),

    SNAP_FLAG("sessions.enabled", s.game.enabled),
    SNAP_GAUGE("sessions.port", s.game.port),
    SNAP_FLAG("sessions.draining", s.game.draining),
    SNAP_COUNTER("sessions.accepted", s.game.transport.connections.accepted),
    SNAP_COUNTER("sessions.refused", s.game.transport.connections.refused),
    SNAP_COUNTER("sessions.closed", s.game.transport.connections.closed),
    SNAP_GAUGE("sessions.active", s.game.transport.connections.active),
    SNAP_GAUGE("sessions.peakActive", s.game.transport.connections.peakActive),
    SNAP_COUNTER("sessions.framesIn", s.game.transport.connections.framesIn),
    SNAP_COUNTER("sessions.framesOut", s.game.transport.connections.framesOut),
    SNAP_COUNTER("sessions.bytesIn", s.game.transport.connections.bytesIn),
    SNAP_COUNTER("sessions.bytesOut", s.game.transport.connections.bytesOut),
    SNAP_COUNTER("sessions.hellos", s.game.hellos),
    SNAP_COUNTER("sessions.helloRefused", s.game.helloRefused),
    SNAP_COUNTER("sessions.replaced", s.game.replaced),
    SNAP_COUNTER("sessions.inputs", s.game.inputs),
    SNAP_COUNTER("sessions.inputsRefused", s.game.inputsRefused),
    SNAP_COUNTER("sessions.inputsHeld", s.game.inputsHeld),
    SNAP_COUNTER("sessions.rateLimited", s.game.transport.rateLimited),
    SNAP_COUNTER("sessions.droppedStates", s.game.transport.droppedStates),
    SNAP_GAUGE("sessions.sendQueueBytes", s.game.transport.sendQueueBytes),
    SNAP_COUNTER("sessions.replications", s.game.replications),
    SNAP_COUNTER("sessions.stateFrames", s.game.stateFrames),
    SNAP_COUNTER("sessions.leaveFrames", s.game.leaveFrames),
    SNAP_COUNTER("sessions.chatsDelivered", s.game.chatsDelivered),
    SNAP_COUNTER("sessions.replicationBytes", s.game.replicationBytes),
    SNAP_HISTOGRAM("sessions.replicationUs", s.game.replicationNs),
    SNAP_HISTOGRAM("sessions.replicationCpuUs", s.game.replicationCpuNs),

    SNAP_LABEL("journal.mode", kDurabilityModes, s.durable.mode),
    SNAP_COUNTER("journal.commits", s.durable.journal.commits),
    SNAP_COUNTER("journal.syncs", s.durable.journal.syncs),
    SNAP_COUNTER("journal.batches", s.durable.journal.batches),
    SNAP_COUNTER("journal.events", s.durable.journal.events),
    SNAP_COUNTER("journal.bytes", s.durable.journal.bytes),
    SNAP_GAUGE("journal.pendingBytes", s.durable.journal.pendingBytes),
    SNAP_COUNTER("journal.refusedFull", s.durable.refusedFull),
    SNAP_COUNTER("journal.failedBatches", s.durable.failedBatches),
    SNAP_GAUGE("journal.commitP99Us", s.durable.commitP99Us),
    SNAP_GAUGE("journal.lastSeq", s.durable.journal.lastSeq),
    SNAP_GAUGE("journal.appliedSeq", s.durable.appliedSeq),
    SNAP_GAUGE("journal.segments", s.durable.journal.segments),
    SNAP_GAUGE("journal.diskBytes", s.durable.journal.diskBytes),
    SNAP_GAUGE("journal.replayedEvents", s.durable.replayed.events),
    SNAP_GAUGE("journal.replayUs", s.durable.replayed.durationUs),
    SNAP_GAUGE("journal.cutBytes", s.durable.opened.cutBytes),
    SNAP_COUNTER("journal.worldHashes", s.durable.worldHashes),
    SNAP_COUNTER("journal.worldHashFailures", s.durable.worldHashFailures),
};
// clang-format on

constexpr std::size_t repeats(const Field& f) noexcept { return f.each != nullptr ? f.each->count : 1; }

// v[0] (the count) and every field's numbers.
constexpr std::size_t kFixedSize = [] {
  std::size_t n = 1;
  for (const Field& f : kFields) n += slots(f.kind) * repeats(f);
  return n;
}();

std::string expand(const char* path, const char* key) {
  std::string out = path;
  const auto star = out.find('*');
  if (star != std::string::npos) out.replace(star, 1, key);
  return out;
}

Napi::Array names(Napi::Env env, const Names& n) {
  Napi::Array out = Napi::Array::New(env, n.count);
  for (std::size_t i = 0; i < n.count; ++i) out.Set(static_cast<std::uint32_t>(i), n.name(i));
  return out;
}

// Both the kind and, for a label, its names.
Napi::Object describe(Napi::Env env, Kind kind, const Names* labels) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("kind", kindName(kind));
  if (labels != nullptr) o.Set("labels", names(env, *labels));
  return o;
}

}  // namespace

std::size_t writeSnapshot(const EngineSnapshot& s, bool withBuckets, double* out, std::size_t capacity,
                          std::string& strings) {
  FlatWriter w(out, capacity, kFixedSize, withBuckets, strings);
  for (const Field& f : kFields) {
    const std::size_t n = repeats(f);
    for (std::size_t k = 0; k < n; ++k) f.write(w, s, k);
  }
  return w.finish(kFixedSize);
}

Napi::Object snapshotLayout(Napi::Env env) {
  Napi::Array fields = Napi::Array::New(env);
  std::uint32_t count = 0;
  std::size_t at = 1;
  std::size_t texts = 0;
  for (const Field& f : kFields) {
    for (std::size_t k = 0; k < repeats(f); ++k) {
      Napi::Object o = describe(env, f.kind, f.labels);
      o.Set("path", f.each != nullptr ? expand(f.path, f.each->name(k)) : std::string(f.path));
      o.Set("at", static_cast<double>(f.kind == Kind::Text ? texts++ : at));
      at += slots(f.kind);
      if (f.kind == Kind::Rows) {
        Napi::Array columns = Napi::Array::New(env, f.columns.size());
        for (std::size_t c = 0; c < f.columns.size(); ++c) {
          Napi::Object col = describe(env, f.columns[c].kind, f.columns[c].labels);
          col.Set("name", f.columns[c].name);
          columns.Set(static_cast<std::uint32_t>(c), col);
        }
        o.Set("columns", columns);
      }
      fields.Set(count++, o);
    }
  }
  Napi::Array parts = Napi::Array::New(env, std::size(kHistogramParts));
  for (std::size_t i = 0; i < std::size(kHistogramParts); ++i) parts.Set(static_cast<std::uint32_t>(i), kHistogramParts[i].name);
  Napi::Object layout = Napi::Object::New(env);
  layout.Set("size", static_cast<double>(kFixedSize));
  layout.Set("texts", static_cast<double>(texts));
  layout.Set("histogram", parts);
  layout.Set("fields", fields);
  return layout;
}

}  // namespace gamesrv::addon
