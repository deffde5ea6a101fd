// LoginLeases: a game login's wait for its player's owner lease (issue 16; gamesrv/storage.hpp,
// gamesrv/persistence.hpp). admit() hands the work to the pool: a pool thread asks the store
// for the lease (PlayerPersistence::acquireForLogin, which also loads the stored row into the
// World); held by another server, the attempt is tried again on a pool timer with a growing
// back-off (kFirstRetry doubling to kMaxRetry) until that lease's expiry plus kExpiryMargin,
// then once more, and then answered OwnedElsewhere. Nothing waits on a thread: a waiting login
// is a pending timer in the cleanup group, and cancelAll() (drain, stop) answers every waiting
// login Cancelled at once.
// What happened shows in storage.leasesAcquired / leasesHeldElsewhere (PlayerPersistence)
// and sessions' helloRefused (GameServer).
//
// Thread safety: every public member is safe from any thread. `done` is called exactly once
// per admit(), on a pool thread or the thread calling cancelAll() / admit() (a refused submit).
#pragma once
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>

#include "gamesrv/game_server.hpp"
#include "gamesrv/persistence.hpp"
#include "gamesrv/thread_pool.hpp"

namespace gamesrv {

class LoginLeases {
 public:
  static constexpr std::chrono::milliseconds kFirstRetry{25};
  static constexpr std::chrono::milliseconds kMaxRetry{500};
  // Past the holder's expiry: its clock and ours may differ by this much.
  static constexpr std::chrono::milliseconds kExpiryMargin{1000};

  LoginLeases(std::shared_ptr<PlayerPersistence> persistence, ThreadPool& pool);
  ~LoginLeases();  // cancelAll()
  LoginLeases(const LoginLeases&) = delete;
  LoginLeases& operator=(const LoginLeases&) = delete;

  // Never blocks.
  void admit(std::uint32_t playerId, LoginAdmitted done);
  // Answers every waiting login Cancelled and every later admit() too; waits for an
  // attempt in flight. Idempotent.
  void cancelAll();

 private:
  struct Attempt;
  void run(const std::shared_ptr<Attempt>& a);
  void schedule(const std::shared_ptr<Attempt>& a, std::chrono::milliseconds delay);
  void finish(const std::shared_ptr<Attempt>& a, LoginAdmission outcome, std::string why);

  const std::shared_ptr<PlayerPersistence> persistence_;
  ThreadPool& pool_;
  CleanupGroup group_;  // every queued attempt and retry timer
  std::atomic<bool> cancelled_{false};
};

}  // namespace gamesrv
