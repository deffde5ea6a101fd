// Shared pieces of the Storage tests: a temporary directory, the backends under contract,
// and player rows to store.
#pragma once
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <ostream>
#include <random>
#include <string>
#include <system_error>
#include <vector>

#include "gamesrv/storage.hpp"
#include "temp_dir.hpp"

namespace gamesrv {
// For CHECK_EQ's message.
inline std::ostream& operator<<(std::ostream& os, StorageErrc c) { return os << toString(c); }
}  // namespace gamesrv

namespace gstest {

// One backend under the contract: how to make a store and configure it for a test. A
// PostgreSQL backend adds its entry to storageBackends() (with a URL from the test's
// environment) and every contract case runs on it too.
struct StorageBackend {
  const char* name;
  std::function<std::unique_ptr<gamesrv::Storage>()> make;
  std::function<gamesrv::StorageConfig(const TempDir&)> config;
};

inline std::vector<StorageBackend> storageBackends() {
  std::vector<StorageBackend> out;
  if (gamesrv::sqliteStorageBuilt()) {
    out.push_back({"sqlite", [] { return gamesrv::makeSqliteStorage(); }, [](const TempDir& dir) {
                     gamesrv::StorageConfig c;
                     c.dataDir = (dir.path() / "data").string();  // missing: open() creates it
                     return c;
                   }});
  }
  return out;
}

inline gamesrv::PlayerRow playerRow(std::int64_t id, std::mt19937_64& rng) {
  std::uniform_real_distribution<double> pos(-5000.0, 5000.0);
  gamesrv::PlayerRow r;
  r.id = id;
  r.name = "player-" + std::to_string(id) + (id % 7 == 0 ? " \xc3\xa9t\xc3\xa9 \xe2\x9a\x94" : "");
  r.x = pos(rng);
  r.y = pos(rng);
  r.hp = static_cast<std::int64_t>(rng() % 101);
  r.kills = static_cast<std::int64_t>(rng() % 1000);
  r.online = id % 3 == 0;
  r.version = 1;
  r.updatedAtMs = 1'700'000'000'000 + id;
  return r;
}

inline std::vector<gamesrv::PlayerRow> playerRows(std::int64_t firstId, std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<gamesrv::PlayerRow> rows;
  rows.reserve(n);
  for (std::size_t i = 0; i < n; ++i) rows.push_back(playerRow(firstId + static_cast<std::int64_t>(i), rng));
  return rows;
}

}  // namespace gstest
