// Plain C++ results -> JS values. Runs on the JS thread only.
#pragma once
#include <napi.h>

#include <string>
#include <string_view>

#include "gamesrv/engine.hpp"

namespace gamesrv::addon {

// Writes every number of `s` into out[0, capacity) in the fixed order that
// decodeSnapshot() in src/engine/snapshot.ts reads; out[0] is the count. Returns
// the count needed, which may exceed `capacity` (then the buffer is incomplete and
// the caller retries with a larger one). `strings` gets the text fields, joined by
// '\0': pipe path, monitor server name, monitor segment, then one name per worker.
// `withBuckets` appends every histogram's non-empty buckets (FlatWriter::buckets()).
std::size_t writeSnapshot(const EngineSnapshot& s, bool withBuckets, double* out, std::size_t capacity,
                          std::string& strings);

Napi::Object toJs(Napi::Env env, const TaskInfo& t);
Napi::Object toJs(Napi::Env env, const Player& p);
Napi::Object toJs(Napi::Env env, const StopReport& r);

// Appends the UTF-8 form of UTF-16 code units (lone surrogates become U+FFFD).
void appendUtf8(std::string& out, std::u16string_view in);

}  // namespace gamesrv::addon
