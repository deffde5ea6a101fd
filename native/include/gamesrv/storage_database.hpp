// StorageDatabase: the `database` task executor over real SQL (issue 15). Each task runs its
// read-only statement through PlayerPersistence::query (which writes the dirty players
// first, so the SQL sees the World's current players), on the pool thread that runs the
// task, never on the event thread.
//
// Result (JSON text, the task's `result`):
//   {"columns":["id",...],"rows":[[1,"ann",...],...],"rowCount":N,"truncated":false,"latencyUs":N}
// Values: NULL -> null, integers and reals -> numbers (integers beyond 2^53 lose
// precision in JavaScript), text -> strings, blobs -> lowercase hex strings.
// `truncated` is true when more than the row cap (maxRows, default 1000) rows were there.
// A refused or failed statement fails the task with the database's message, prefixed by
// the StorageErrc name (e.g. "read_only: read-only query refused: INSERT into players").
//
// `beforeQuery`, when set, runs first on the same thread (the engine waits there for the
// events accepted before the task to be applied, so a query sees them).
//
// Thread safety: run() may be called from any number of threads at once.
#pragma once
#include <functional>
#include <memory>

#include "gamesrv/persistence.hpp"
#include "gamesrv/task_scheduler.hpp"

namespace gamesrv {

class StorageDatabase final : public DatabaseExecutor {
 public:
  StorageDatabase(std::shared_ptr<PlayerPersistence> persistence, std::function<void()> beforeQuery = {})
      : persistence_(std::move(persistence)), beforeQuery_(std::move(beforeQuery)) {}
  DatabaseResult execute(const std::string& query, const std::atomic<bool>& cancelled) override;
  DatabaseResult run(const TaskSpec& spec, const std::atomic<bool>& cancelled) override;

 private:
  const std::shared_ptr<PlayerPersistence> persistence_;
  const std::function<void()> beforeQuery_;
};

// The JSON text of a query's result (see above).
std::string queryResultJson(const QueryResult& r);

}  // namespace gamesrv
