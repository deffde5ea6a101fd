#include "convert.hpp"

#include <type_traits>
#include <vector>

namespace gamesrv::addon {

namespace {

double us(std::uint64_t ns) { return static_cast<double>(ns) / 1000.0; }
double ms(std::uint64_t ns) { return static_cast<double>(ns) / 1e6; }
Napi::Number num(Napi::Env env, double v) { return Napi::Number::New(env, v); }
Napi::Number num(Napi::Env env, std::uint64_t v) { return Napi::Number::New(env, static_cast<double>(v)); }

// The decoder hard-codes these key lists and codes (src/engine/snapshot.ts).
static_assert(kEventTypeCount == 5, "byType keys: update src/engine/snapshot.ts");
static_assert(kInvalidReasonCount == 10, "invalidByReason keys: update src/engine/snapshot.ts");
static_assert(std::extent_v<decltype(TaskSchedulerStats::byKind)> == 3 && static_cast<int>(TaskKind::Database) == 2,
              "byKind keys: update src/engine/snapshot.ts");
static_assert(static_cast<int>(EngineState::Stopping) == 4, "ENGINE_STATES: update src/engine/snapshot.ts");
static_assert(static_cast<int>(WorkerState::Stopped) == 3, "WORKER_STATES: update src/engine/snapshot.ts");
static_assert(std::extent_v<decltype(PipeServerStats::requestsByType)> == 5, "requestsByType keys: update src/engine/snapshot.ts");

// Appends numbers to the caller's buffer; past its end it only counts, so the caller
// learns the size it needs.
class FlatWriter {
 public:
  // withBuckets: remember each histogram written, for buckets().
  FlatWriter(double* out, std::size_t capacity, bool withBuckets)
      : withBuckets_(withBuckets), out_(out), capacity_(capacity) {}
  template <typename T>
  void put(T v) noexcept {
    if (n_ < capacity_) out_[n_] = static_cast<double>(v);
    ++n_;
  }
  void code(EngineState s) noexcept { put(static_cast<int>(s)); }
  void histogram(const HistogramSummary& h) {  // ns -> microseconds
    if (withBuckets_) histograms_.push_back(&h);
    put(h.count);
    put(h.mean / 1000.0);
    put(us(h.min));
    put(us(h.p50));
    put(us(h.p90));
    put(us(h.p99));
    put(us(h.p999));
    put(us(h.max));
  }
  // The bucket section: for every histogram written, in order, the number of non-empty
  // buckets, then index, count and upper edge (microseconds) of each.
  void buckets() noexcept {
    for (const HistogramSummary* h : histograms_) {
      put(h->buckets.size());
      for (const auto& b : h->buckets) {
        put(b.index);
        put(b.count);
        put(us(b.upper));
      }
    }
  }
  std::size_t size() const noexcept { return n_; }

 private:
  bool withBuckets_;
  std::vector<const HistogramSummary*> histograms_;
  double* out_;
  std::size_t capacity_;
  std::size_t n_ = 0;
};

void putWorkers(FlatWriter& w, std::string& strings, const std::vector<WorkerStats>& ws) {
  for (const auto& x : ws) {
    strings.push_back('\0');
    strings += x.name;
    w.put(x.tid);
    w.put(static_cast<int>(x.state));
    w.put(x.items);
    w.put(ms(x.busyNs));
    w.put(ms(x.cpuNs));
  }
}

}  // namespace

// THE LAYOUT. decodeSnapshot() in src/engine/snapshot.ts reads the same sequence in the
// same order; change both together (test/snapshot.test.ts catches a drift).
std::size_t writeSnapshot(const EngineSnapshot& s, bool withBuckets, double* out, std::size_t capacity,
                          std::string& strings) {
  FlatWriter w(out, capacity, withBuckets);
  w.put(0);  // total count, patched below
  const auto& io = s.io;
  strings = io.pipe.path;
  strings.push_back('\0');
  strings += io.monitor.serverName;
  strings.push_back('\0');
  strings += io.monitor.segment;

  w.code(s.state);
  w.put(s.timestampMs);
  w.put(s.uptimeMs);
  w.put(s.starts);

  const auto& c = s.controller;
  w.code(c.state);
  w.put(c.tickRateHz);
  w.put(c.achievedRateHz);
  w.put(c.ticks);
  w.put(c.overruns);
  w.put(c.skippedTicks);
  w.put(c.runningMs);
  w.put(c.tickWorkUs);
  w.put(c.loopThreads);
  w.histogram(c.tickDurationNs);
  w.histogram(c.tickJitterNs);

  const auto& e = s.events;
  w.put(e.accepted);
  w.put(e.processed);
  w.put(e.applied);
  w.put(e.invalid);
  w.put(e.rejectedBatches);
  w.put(e.rejectedEvents);
  w.put(e.batches);
  w.put(e.maxBatch);
  w.put(e.heartbeats);
  w.put(e.lastSeq);
  w.put(e.queueDepth);
  w.put(e.queueCapacity);
  w.put(e.accepting);
  w.put(e.paused);
  for (std::size_t r = 1; r < kInvalidReasonCount; ++r) w.put(e.invalidByReason[r]);
  for (const auto& t : e.byType) {
    w.put(t.processed);
    w.put(t.applied);
    w.put(t.invalid);
    w.histogram(t.latencyNs);
  }
  w.histogram(e.latencyNs);

  const auto& p = s.pool;
  w.put(p.threads);
  w.put(p.idleThreads);
  w.put(p.peakThreads);
  w.put(p.minThreads);
  w.put(p.maxThreads);
  w.put(p.queueDepth);
  w.put(p.queueCapacity);
  w.put(p.submitted);
  w.put(p.completed);
  w.put(p.failed);
  w.put(p.cancelled);
  w.put(p.rejected);
  w.put(p.threadsCreated);
  w.put(p.threadsRetired);
  w.put(p.timersActive);
  w.put(p.timersFired);
  w.put(p.timersCancelled);
  w.put(p.timerSkipped);
  w.put(p.paused);
  w.histogram(p.queueWaitNs);
  w.histogram(p.runNs);
  w.histogram(p.timerLateNs);

  const auto& t = s.tasks;
  w.put(t.submitted);
  w.put(t.done);
  w.put(t.failed);
  w.put(t.cancelled);
  w.put(t.active);
  w.put(t.history);
  w.put(t.gameLogicTicks);
  for (const auto k : t.byKind) w.put(k);

  w.put(s.playersOnline);
  w.put(s.playersKnown);

  // Workers: the count, then per worker tid, state code, items, busyMs, cpuMs; the
  // names follow the three fixed strings, in the same order.
  w.put(c.workers.size() + e.workers.size() + p.workers.size() + io.iocp.workers.size());
  putWorkers(w, strings, c.workers);
  putWorkers(w, strings, e.workers);
  putWorkers(w, strings, p.workers);
  putWorkers(w, strings, io.iocp.workers);

  const auto& iw = io.iocp;
  const auto& port = iw.port;
  w.put(io.iocpEnabled);
  w.put(iw.threads);
  w.put(port.posted);
  w.put(port.postRejected);
  w.put(port.dequeued);
  w.put(port.ioCompletions);
  w.put(port.ioReadable);
  w.put(port.ioWritable);
  w.put(port.ioHangup);
  w.put(port.ioError);
  w.put(port.bytes);
  w.put(port.queueDepth);
  w.put(port.activeThreads);
  w.put(port.peakActive);
  w.put(port.maxConcurrency);
  w.put(iw.handled);
  w.put(iw.failed);
  w.histogram(port.dequeueWaitNs);
  w.histogram(iw.handlerNs);

  const auto& ps = io.pipe;
  w.put(io.pipeEnabled);
  w.put(ps.accepted);
  w.put(ps.refused);
  w.put(ps.active);
  w.put(ps.peakActive);
  w.put(ps.framesIn);
  w.put(ps.framesOut);
  w.put(ps.bytesIn);
  w.put(ps.bytesOut);
  for (const auto n : ps.requestsByType) w.put(n);
  w.put(ps.errors.badLength);
  w.put(ps.errors.badSize);
  w.put(ps.errors.unknownType);
  w.put(ps.errors.badPadding);
  w.put(ps.errors.badPayload);
  w.put(ps.errors.handlerFailed);
  w.put(ps.errors.io);
  w.histogram(ps.handlerNs);

  const auto& m = io.monitor;
  w.put(m.enabled);
  w.put(m.updates);
  w.put(m.failures);
  w.put(m.recoveries);
  w.put(m.cpuPercent);
  w.put(m.residentBytes);

  if (withBuckets) w.buckets();
  if (capacity > 0) out[0] = static_cast<double>(w.size());
  return w.size();
}

Napi::Object toJs(Napi::Env env, const TaskInfo& t) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("id", num(env, t.id));
  o.Set("kind", toString(t.kind));
  o.Set("status", toString(t.status));
  o.Set("result", t.result.empty() ? env.Null() : Napi::String::New(env, t.result));
  o.Set("error", t.error.empty() ? env.Null() : Napi::String::New(env, t.error));
  o.Set("runs", num(env, t.runs));
  o.Set("createdAtMs", num(env, t.createdAtMs));
  o.Set("startedAtMs", t.startedAtMs ? Napi::Value(num(env, t.startedAtMs)) : env.Null());
  o.Set("finishedAtMs", t.finishedAtMs ? Napi::Value(num(env, t.finishedAtMs)) : env.Null());
  return o;
}

Napi::Object toJs(Napi::Env env, const Player& p) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("id", num(env, static_cast<double>(p.id)));
  o.Set("name", p.name);
  o.Set("online", p.online);
  o.Set("x", num(env, p.x));
  o.Set("y", num(env, p.y));
  o.Set("hp", num(env, static_cast<double>(p.hp)));
  o.Set("kills", num(env, p.kills));
  o.Set("lastSeenMs", num(env, p.lastSeenMs));
  return o;
}

Napi::Object toJs(Napi::Env env, const StopReport& r) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("state", toString(r.transition.state));
  o.Set("drained", r.drained);
  o.Set("poolJoined", r.poolJoined);
  o.Set("eventsDrained", num(env, r.eventsDrained));
  o.Set("tasksCancelled", num(env, static_cast<double>(r.tasksCancelled)));
  o.Set("durationMs", num(env, r.durationMs));
  return o;
}

void appendUtf8(std::string& out, std::u16string_view in) {
  for (std::size_t i = 0; i < in.size(); ++i) {
    std::uint32_t c = in[i];
    if (c >= 0xD800 && c <= 0xDBFF && i + 1 < in.size() && in[i + 1] >= 0xDC00 && in[i + 1] <= 0xDFFF) {
      c = 0x10000 + ((c - 0xD800) << 10) + (in[i + 1] - 0xDC00);
      ++i;
    } else if (c >= 0xD800 && c <= 0xDFFF) {
      c = 0xFFFD;
    }
    if (c < 0x80) {
      out.push_back(static_cast<char>(c));
    } else if (c < 0x800) {
      out.push_back(static_cast<char>(0xC0 | (c >> 6)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    } else if (c < 0x10000) {
      out.push_back(static_cast<char>(0xE0 | (c >> 12)));
      out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    } else {
      out.push_back(static_cast<char>(0xF0 | (c >> 18)));
      out.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    }
  }
}

}  // namespace gamesrv::addon
