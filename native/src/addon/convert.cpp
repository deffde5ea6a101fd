#include "convert.hpp"

namespace gamesrv::addon {

namespace {

double us(std::uint64_t ns) { return static_cast<double>(ns) / 1000.0; }
double ms(std::uint64_t ns) { return static_cast<double>(ns) / 1e6; }
Napi::Number num(Napi::Env env, double v) { return Napi::Number::New(env, v); }
Napi::Number num(Napi::Env env, std::uint64_t v) { return Napi::Number::New(env, static_cast<double>(v)); }

Napi::Array workersToJs(Napi::Env env, const std::vector<WorkerStats>& ws, Napi::Array out, uint32_t& i) {
  for (const auto& w : ws) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("name", w.name);
    o.Set("tid", num(env, w.tid));
    o.Set("state", toString(w.state));
    o.Set("items", num(env, w.items));
    o.Set("busyMs", num(env, ms(w.busyNs)));
    o.Set("cpuMs", num(env, ms(w.cpuNs)));
    out.Set(i++, o);
  }
  return out;
}

Napi::Object controllerToJs(Napi::Env env, const ControllerStats& c) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("state", toString(c.state));
  o.Set("tickRateHz", num(env, c.tickRateHz));
  o.Set("achievedRateHz", num(env, c.achievedRateHz));
  o.Set("ticks", num(env, c.ticks));
  o.Set("overruns", num(env, c.overruns));
  o.Set("skippedTicks", num(env, c.skippedTicks));
  o.Set("runningMs", num(env, c.runningMs));
  o.Set("tickWorkUs", num(env, static_cast<double>(c.tickWorkUs)));
  o.Set("loopThreads", num(env, static_cast<double>(c.loopThreads)));
  o.Set("tickDurationUs", histogramToJs(env, c.tickDurationNs));
  o.Set("tickJitterUs", histogramToJs(env, c.tickJitterNs));
  return o;
}

Napi::Object eventsToJs(Napi::Env env, const EventProcessorStats& e) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("accepted", num(env, e.accepted));
  o.Set("processed", num(env, e.processed));
  o.Set("applied", num(env, e.applied));
  o.Set("invalid", num(env, e.invalid));
  o.Set("rejectedBatches", num(env, e.rejectedBatches));
  o.Set("rejectedEvents", num(env, e.rejectedEvents));
  o.Set("batches", num(env, e.batches));
  o.Set("maxBatch", num(env, e.maxBatch));
  o.Set("heartbeats", num(env, e.heartbeats));
  o.Set("lastSeq", num(env, e.lastSeq));
  o.Set("queueDepth", num(env, static_cast<double>(e.queueDepth)));
  o.Set("queueCapacity", num(env, static_cast<double>(e.queueCapacity)));
  o.Set("accepting", e.accepting);
  o.Set("paused", e.paused);
  Napi::Object reasons = Napi::Object::New(env);
  for (std::size_t r = 1; r < kInvalidReasonCount; ++r) {
    reasons.Set(toString(static_cast<InvalidReason>(r)), num(env, e.invalidByReason[r]));
  }
  o.Set("invalidByReason", reasons);
  Napi::Object types = Napi::Object::New(env);
  for (std::size_t t = 0; t < kEventTypeCount; ++t) {
    Napi::Object bt = Napi::Object::New(env);
    bt.Set("processed", num(env, e.byType[t].processed));
    bt.Set("applied", num(env, e.byType[t].applied));
    bt.Set("invalid", num(env, e.byType[t].invalid));
    bt.Set("latencyUs", histogramToJs(env, e.byType[t].latencyNs));
    types.Set(toString(static_cast<EventType>(t)), bt);
  }
  o.Set("byType", types);
  o.Set("latencyUs", histogramToJs(env, e.latencyNs));
  return o;
}

Napi::Object poolToJs(Napi::Env env, const ThreadPoolStats& p) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("threads", num(env, static_cast<double>(p.threads)));
  o.Set("idleThreads", num(env, static_cast<double>(p.idleThreads)));
  o.Set("peakThreads", num(env, static_cast<double>(p.peakThreads)));
  o.Set("minThreads", num(env, static_cast<double>(p.minThreads)));
  o.Set("maxThreads", num(env, static_cast<double>(p.maxThreads)));
  o.Set("queueDepth", num(env, static_cast<double>(p.queueDepth)));
  o.Set("queueCapacity", num(env, static_cast<double>(p.queueCapacity)));
  o.Set("submitted", num(env, p.submitted));
  o.Set("completed", num(env, p.completed));
  o.Set("failed", num(env, p.failed));
  o.Set("cancelled", num(env, p.cancelled));
  o.Set("rejected", num(env, p.rejected));
  o.Set("threadsCreated", num(env, p.threadsCreated));
  o.Set("threadsRetired", num(env, p.threadsRetired));
  o.Set("timersActive", num(env, static_cast<double>(p.timersActive)));
  o.Set("timersFired", num(env, p.timersFired));
  o.Set("timersCancelled", num(env, p.timersCancelled));
  o.Set("timerSkipped", num(env, p.timerSkipped));
  o.Set("paused", p.paused);
  o.Set("queueWaitUs", histogramToJs(env, p.queueWaitNs));
  o.Set("runUs", histogramToJs(env, p.runNs));
  o.Set("timerLateUs", histogramToJs(env, p.timerLateNs));
  return o;
}

Napi::Object tasksToJs(Napi::Env env, const TaskSchedulerStats& t) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("submitted", num(env, t.submitted));
  o.Set("done", num(env, t.done));
  o.Set("failed", num(env, t.failed));
  o.Set("cancelled", num(env, t.cancelled));
  o.Set("active", num(env, static_cast<double>(t.active)));
  o.Set("history", num(env, static_cast<double>(t.history)));
  o.Set("gameLogicTicks", num(env, t.gameLogicTicks));
  Napi::Object kinds = Napi::Object::New(env);
  for (int k = 0; k < 3; ++k) kinds.Set(toString(static_cast<TaskKind>(k)), num(env, t.byKind[k]));
  o.Set("byKind", kinds);
  return o;
}

Napi::Object ioToJs(Napi::Env env, const EngineIoStats& io, Napi::Object out) {
  Napi::Object iocp = Napi::Object::New(env);
  iocp.Set("enabled", io.iocpEnabled);
  const auto& w = io.iocp;
  const auto& p = w.port;
  iocp.Set("threads", num(env, static_cast<double>(w.threads)));
  iocp.Set("posted", num(env, p.posted));
  iocp.Set("postRejected", num(env, p.postRejected));
  iocp.Set("dequeued", num(env, p.dequeued));
  iocp.Set("ioCompletions", num(env, p.ioCompletions));
  Napi::Object kinds = Napi::Object::New(env);
  kinds.Set("readable", num(env, p.ioReadable));
  kinds.Set("writable", num(env, p.ioWritable));
  kinds.Set("hangup", num(env, p.ioHangup));
  kinds.Set("error", num(env, p.ioError));
  iocp.Set("completionsByKind", kinds);
  iocp.Set("bytes", num(env, p.bytes));
  iocp.Set("queueDepth", num(env, static_cast<double>(p.queueDepth)));
  iocp.Set("activeThreads", num(env, static_cast<double>(p.activeThreads)));
  iocp.Set("peakActive", num(env, static_cast<double>(p.peakActive)));
  iocp.Set("maxConcurrency", num(env, static_cast<double>(p.maxConcurrency)));
  iocp.Set("handled", num(env, w.handled));
  iocp.Set("failed", num(env, w.failed));
  iocp.Set("dequeueWaitUs", histogramToJs(env, p.dequeueWaitNs));
  iocp.Set("handlerUs", histogramToJs(env, w.handlerNs));
  out.Set("iocp", iocp);

  Napi::Object pipe = Napi::Object::New(env);
  const auto& ps = io.pipe;
  pipe.Set("enabled", io.pipeEnabled);
  pipe.Set("path", ps.path);
  pipe.Set("accepted", num(env, ps.accepted));
  pipe.Set("refused", num(env, ps.refused));
  pipe.Set("active", num(env, static_cast<double>(ps.active)));
  pipe.Set("peakActive", num(env, static_cast<double>(ps.peakActive)));
  pipe.Set("framesIn", num(env, ps.framesIn));
  pipe.Set("framesOut", num(env, ps.framesOut));
  pipe.Set("bytesIn", num(env, ps.bytesIn));
  pipe.Set("bytesOut", num(env, ps.bytesOut));
  Napi::Object byType = Napi::Object::New(env);
  const char* names[5] = {"PLAYER_LOGIN", "PLAYER_LOGOUT", "PLAYER_MOVE", "SERVER_STATUS", "SHUTDOWN"};
  for (int i = 0; i < 5; ++i) byType.Set(names[i], num(env, ps.requestsByType[i]));
  pipe.Set("requestsByType", byType);
  Napi::Object errors = Napi::Object::New(env);
  errors.Set("badLength", num(env, ps.errors.badLength));
  errors.Set("badSize", num(env, ps.errors.badSize));
  errors.Set("unknownType", num(env, ps.errors.unknownType));
  errors.Set("badPadding", num(env, ps.errors.badPadding));
  errors.Set("badPayload", num(env, ps.errors.badPayload));
  errors.Set("handlerFailed", num(env, ps.errors.handlerFailed));
  errors.Set("io", num(env, ps.errors.io));
  pipe.Set("errors", errors);
  pipe.Set("handlerUs", histogramToJs(env, ps.handlerNs));
  out.Set("pipe", pipe);

  Napi::Object monitor = Napi::Object::New(env);
  const auto& m = io.monitor;
  monitor.Set("enabled", m.enabled);
  monitor.Set("serverName", m.serverName);
  monitor.Set("segment", m.segment);
  monitor.Set("updates", num(env, m.updates));
  monitor.Set("failures", num(env, m.failures));
  monitor.Set("recoveries", num(env, m.recoveries));
  monitor.Set("cpuPercent", num(env, m.cpuPercent));
  monitor.Set("residentBytes", num(env, m.residentBytes));
  out.Set("monitor", monitor);
  return out;
}

}  // namespace

Napi::Object histogramToJs(Napi::Env env, const HistogramSummary& h) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("count", num(env, h.count));
  o.Set("mean", num(env, h.mean / 1000.0));
  o.Set("min", num(env, us(h.min)));
  o.Set("p50", num(env, us(h.p50)));
  o.Set("p90", num(env, us(h.p90)));
  o.Set("p99", num(env, us(h.p99)));
  o.Set("p999", num(env, us(h.p999)));
  o.Set("max", num(env, us(h.max)));
  return o;
}

Napi::Object toJs(Napi::Env env, const EngineSnapshot& s) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("state", toString(s.state));
  o.Set("timestampMs", num(env, s.timestampMs));
  o.Set("uptimeMs", num(env, s.uptimeMs));
  o.Set("starts", num(env, s.starts));
  o.Set("controller", controllerToJs(env, s.controller));
  o.Set("events", eventsToJs(env, s.events));
  o.Set("pool", poolToJs(env, s.pool));
  o.Set("tasks", tasksToJs(env, s.tasks));
  Napi::Object players = Napi::Object::New(env);
  players.Set("online", num(env, static_cast<double>(s.playersOnline)));
  players.Set("known", num(env, static_cast<double>(s.playersKnown)));
  o.Set("players", players);
  Napi::Array workers = Napi::Array::New(env);
  uint32_t i = 0;
  workersToJs(env, s.controller.workers, workers, i);
  workersToJs(env, s.events.workers, workers, i);
  workersToJs(env, s.pool.workers, workers, i);
  workersToJs(env, s.io.iocp.workers, workers, i);
  o.Set("workers", workers);
  ioToJs(env, s.io, o);
  return o;
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
