#include "gamesrv/login_leases.hpp"

#include <algorithm>
#include <utility>

namespace gamesrv {

struct LoginLeases::Attempt {
  std::uint32_t playerId = 0;
  LoginAdmitted done;
  std::atomic<bool> answered{false};
  std::chrono::milliseconds backoff = kFirstRetry;
  bool waiting = false;                         // held elsewhere at least once
  std::chrono::steady_clock::time_point giveUpAt;  // set when first held: that lease's expiry + margin
};

LoginLeases::LoginLeases(std::shared_ptr<PlayerPersistence> persistence, ThreadPool& pool)
    : persistence_(std::move(persistence)), pool_(pool), group_(pool) {}

LoginLeases::~LoginLeases() { cancelAll(); }

void LoginLeases::admit(std::uint32_t playerId, LoginAdmitted done) {
  auto a = std::make_shared<Attempt>();
  a->playerId = playerId;
  a->done = std::move(done);
  if (cancelled_.load(std::memory_order_acquire)) return finish(a, LoginAdmission::Cancelled, "this server is draining: connect to another one");
  const SubmitStatus st = pool_.submit(group_, WorkItem{[this, a] { run(a); },
                                                        [this, a] { finish(a, LoginAdmission::Cancelled, "this server is stopping"); }});
  if (st != SubmitStatus::Ok) finish(a, LoginAdmission::Unavailable, "the server is too busy to load the player: try again");
}

void LoginLeases::run(const std::shared_ptr<Attempt>& a) {
  if (cancelled_.load(std::memory_order_acquire)) return finish(a, LoginAdmission::Cancelled, "this server is draining: connect to another one");
  PlayerLease lease;
  std::int64_t storeNowMs = 0;
  const StorageStatus st = persistence_->acquireForLogin(a->playerId, lease, storeNowMs);
  if (!st.ok()) {
    return finish(a, LoginAdmission::Unavailable, std::string("cannot load the player: ") + toString(st.code) + ": " + st.message);
  }
  if (lease.acquired) return finish(a, LoginAdmission::Admitted, "");
  const auto now = std::chrono::steady_clock::now();
  if (!a->waiting) {
    a->waiting = true;
    // A live holder renews its lease in every flush: waiting past the expiry seen now plus
    // the margin means it is still there. Never longer than one lease (a clock far ahead).
    const std::int64_t left = std::clamp<std::int64_t>(lease.heldUntilMs - storeNowMs, 0, persistence_->claim().length.count());
    a->giveUpAt = now + std::chrono::milliseconds(left) + kExpiryMargin;
  } else if (now >= a->giveUpAt) {
    return finish(a, LoginAdmission::OwnedElsewhere,
                  "player " + std::to_string(a->playerId) + " is still held by server " + lease.heldBy + ": try again later");
  }
  const auto untilGiveUp = std::chrono::duration_cast<std::chrono::milliseconds>(a->giveUpAt - now);
  // The last try comes right at the give-up time.
  const auto delay = std::clamp(a->backoff, std::chrono::milliseconds(1), std::max(untilGiveUp, std::chrono::milliseconds(1)));
  a->backoff = std::min(a->backoff * 2, kMaxRetry);
  schedule(a, delay);
}

void LoginLeases::schedule(const std::shared_ptr<Attempt>& a, std::chrono::milliseconds delay) {
  const TimerId id = pool_.scheduleAfter(
      delay, WorkItem{[this, a] { run(a); }, [this, a] { finish(a, LoginAdmission::Cancelled, "this server is stopping"); }}, &group_);
  if (id == 0) finish(a, LoginAdmission::Unavailable, "the server is stopping");
}

void LoginLeases::finish(const std::shared_ptr<Attempt>& a, LoginAdmission outcome, std::string why) {
  if (a->answered.exchange(true, std::memory_order_acq_rel)) return;
  LoginAdmitted done = std::move(a->done);
  if (done) done(outcome, std::move(why));
}

void LoginLeases::cancelAll() {
  cancelled_.store(true, std::memory_order_release);
  group_.cancelPending();  // queued attempts and retry timers: their onCancel answers them
}

}  // namespace gamesrv
