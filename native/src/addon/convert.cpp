#include "convert.hpp"

namespace gamesrv::addon {

namespace {

Napi::Number num(Napi::Env env, double v) { return Napi::Number::New(env, v); }
Napi::Number num(Napi::Env env, std::uint64_t v) { return Napi::Number::New(env, static_cast<double>(v)); }

}  // namespace

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
