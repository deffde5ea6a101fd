// Engine.snapshot() across Node-API: the table that describes it (snapshot_layout.cpp),
// the writer that walks the table, and the descriptor JavaScript decodes with.
#pragma once
#include <napi.h>

#include <cstddef>
#include <string>

#include "gamesrv/engine.hpp"

namespace gamesrv::addon {

// Writes every number of `s` into out[0, capacity) at the places snapshotLayout()
// names; out[0] is the count. Returns the count needed, which may exceed `capacity`
// (then the buffer is incomplete and the caller retries with a larger one). `strings`
// gets the text fields joined by '\0': the fixed ones, then the rows' ones.
// `withBuckets` appends every histogram's non-empty buckets after the rows: per
// histogram, in layout order, the number of buckets, then index, count and upper
// edge (microseconds) of each.
std::size_t writeSnapshot(const EngineSnapshot& s, bool withBuckets, double* out, std::size_t capacity,
                          std::string& strings);

// The layout descriptor, exported once at load as binding.snapshotLayout (its type:
// SnapshotLayout in src/engine/types.ts).
Napi::Object snapshotLayout(Napi::Env env);

}  // namespace gamesrv::addon
