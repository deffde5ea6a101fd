// platform::SharedMutex: the reader/writer lock each platform supplies (SRWLOCK on
// Win32, a writer-preferring pthread_rwlock_t on POSIX). The first-use race and the stress cases are the
// fixed twins of repro/repro_pthread_rwlock.cpp's, which fail or hang under wine with
// winpthreads' rwlock.
#include <atomic>
#include <mutex>
#include <shared_mutex>
#include <thread>

#include "gamesrv/platform/shared_mutex.hpp"
#include "harness.hpp"
#include "rwlock_stress.hpp"

using gamesrv::platform::SharedMutex;

TEST(exclusive_excludes_everyone) {
  SharedMutex mu;
  mu.lock();
  std::thread other([&] {
    CHECK(!mu.try_lock());
    CHECK(!mu.try_lock_shared());
  });
  other.join();
  mu.unlock();
  CHECK(mu.try_lock());
  mu.unlock();
}

TEST(shared_holders_coexist_and_keep_the_writer_out) {
  SharedMutex mu;
  std::shared_lock first(mu);
  std::thread other([&] {
    CHECK(mu.try_lock_shared());  // a second reader gets in while the first holds it
    CHECK(!mu.try_lock());
    mu.unlock_shared();
  });
  other.join();
  CHECK(!mu.try_lock());
  first.unlock();
  CHECK(mu.try_lock());
  mu.unlock();
}

TEST(a_blocked_writer_is_woken_by_the_last_reader) {
  SharedMutex mu;
  mu.lock_shared();
  std::atomic<bool> acquired{false};
  std::thread writer([&] {
    std::unique_lock lock(mu);
    acquired = true;
  });
  // The writer cannot finish while the read is held; once it is released, join() returns
  // only if the unlock woke the writer (a lost wake-up hangs here).
  CHECK(!acquired.load());
  mu.unlock_shared();
  writer.join();
  CHECK(acquired.load());
}

TEST(a_fresh_lock_survives_a_writer_and_a_reader_arriving_together) {
  // The race that breaks winpthreads' statically initialized rwlock (repro_pthread_rwlock).
  const auto r = gstest::rwFirstUseRace<SharedMutex>(gstest::kFirstUseRounds);
  CHECK_EQ(r.rounds, gstest::kFirstUseRounds);
  CHECK_EQ(r.torn, 0u);
}

TEST(test_worlds_reader_writer_shape_without_the_world) {
  // repro_pthread_rwlock's static_init_world_shape, which hangs under wine.
  using gstest::WorldShape;
  std::uint64_t torn = 0;
  for (int i = 0; i < WorldShape::kRounds; ++i) {
    const auto r = gstest::rwWorldShape<SharedMutex>(WorldShape::kWrites, WorldShape::kWorkPerWrite);
    CHECK_EQ(r.writes, WorldShape::kWrites);
    torn += r.torn;
  }
  CHECK_EQ(torn, 0u);
}

TEST(a_waiting_writer_holds_new_readers_back) {
  // Readers must not starve the World's writer, the event thread. SRWLOCK gives a waiting
  // exclusive acquirer priority over new shared ones, and so does the POSIX backend.
  SharedMutex mu;
  mu.lock_shared();
  std::atomic<bool> writerDone{false};
  std::thread writer([&] {
    std::unique_lock lock(mu);
    writerDone = true;
  });
  // Wait until the writer is queued: then a new reader must be refused.
  bool refused = false;
  for (int i = 0; i < 100000 && !refused; ++i) {
    if (mu.try_lock_shared()) {
      mu.unlock_shared();
      std::this_thread::yield();
    } else {
      refused = true;
    }
  }
  CHECK(refused);
  CHECK(!writerDone.load());
  mu.unlock_shared();
  writer.join();
  CHECK(writerDone.load());
}

TEST(one_writer_one_reader_stress) {
  // The shape of the World test that hung under wine with std::shared_mutex.
  const auto r = gstest::rwLockStress<SharedMutex>(50000, 1);
  CHECK_EQ(r.writes, 50000u);
  CHECK_EQ(r.torn, 0u);
  CHECK(r.reads > 0);
}

TEST(one_writer_three_readers_stress) {
  const auto r = gstest::rwLockStress<SharedMutex>(5000, 3);
  CHECK_EQ(r.writes, 5000u);
  CHECK_EQ(r.torn, 0u);
  CHECK(r.reads > 0);
}

GS_TEST_MAIN()
