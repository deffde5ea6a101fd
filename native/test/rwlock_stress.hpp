// One writer against readers on a reader/writer lock: the World's pattern (the event
// thread writes, the control plane and snapshots read) with nothing else in the way.
// Used by test_shared_mutex (platform::SharedMutex, run in every lane) and by
// repro/repro_pthread_rwlock (winpthreads' rwlock, the documented reproduction of the
// Windows hang, never run by a lane).
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <shared_mutex>  // std::shared_lock only
#include <thread>
#include <vector>

namespace gstest {

struct RwStressResult {
  std::uint64_t writes = 0;  // exclusive sections completed
  std::uint64_t reads = 0;   // shared sections completed, all readers
  std::uint64_t torn = 0;    // reads that saw the writer's two fields differ
};

// `writes` exclusive sections, each updating two fields a reader must never see apart,
// while `readers` threads take the lock shared until the writer is done. A lock that
// loses a wake-up hangs here; one that lets a reader in during a write counts `torn`.
template <class Mutex>
RwStressResult rwLockStress(std::uint32_t writes, unsigned readers) {
  Mutex mu;
  std::uint64_t a = 0;  // guarded by mu
  std::uint64_t b = 0;  // guarded by mu; equals a outside the writer's section
  std::atomic<bool> done{false};
  std::atomic<std::uint64_t> reads{0};
  std::atomic<std::uint64_t> torn{0};
  // The writer starts once every reader is running, so the two always overlap.
  std::mutex startedMu;
  std::condition_variable startedCv;
  unsigned started = 0;  // guarded by startedMu
  std::vector<std::thread> pool;
  for (unsigned r = 0; r < readers; ++r) {
    pool.emplace_back([&] {
      std::uint64_t n = 0;
      std::uint64_t bad = 0;
      bool first = true;
      while (first || !done.load(std::memory_order_acquire)) {
        if (first) {
          first = false;
          std::lock_guard lock(startedMu);
          ++started;
          startedCv.notify_one();
        }
        std::shared_lock lock(mu);
        if (a != b) ++bad;
        ++n;
      }
      reads += n;
      torn += bad;
    });
  }
  {
    std::unique_lock lock(startedMu);
    startedCv.wait(lock, [&] { return started == readers; });
  }
  RwStressResult out;
  for (std::uint32_t i = 0; i < writes; ++i) {
    std::unique_lock lock(mu);
    ++a;
    std::atomic_signal_fence(std::memory_order_seq_cst);  // keep the two stores apart
    b = a;
    ++out.writes;
  }
  done.store(true, std::memory_order_release);
  for (auto& t : pool) t.join();
  out.reads = reads.load();
  out.torn = torn.load();
  return out;
}

struct FirstUseResult {
  std::uint64_t rounds = 0;  // fresh locks raced on
  std::uint64_t torn = 0;    // rounds where the reader saw the writer's fields differ
};

// `rounds` times: a freshly constructed lock, first taken by a writer and a reader at the
// same instant (as the World's event thread and its first reader may). A lock that
// initializes itself lazily on first use must survive both arriving together.
// Each round the two threads are woken (a condition variable, no spinning), then meet at
// a two-thread spin barrier so they leave it within nanoseconds of each other: both are
// awake by then, so the spin lasts only as long as the other thread takes to arrive.
// The reproduction and its fixed twin race this many fresh locks.
inline constexpr std::uint32_t kFirstUseRounds = 5000;

template <class Mutex>
FirstUseResult rwFirstUseRace(std::uint32_t rounds) {
  std::optional<Mutex> mu;
  std::uint64_t a = 0;  // guarded by *mu
  std::uint64_t b = 0;  // guarded by *mu; equals a outside the writer's section
  std::mutex gateMu;
  std::condition_variable gateCv;
  std::uint32_t round = 0;     // guarded by gateMu: the round the threads may run
  std::uint32_t finished = 0;  // guarded by gateMu: threads done, over all rounds
  std::atomic<std::uint32_t> arrived{0};
  std::atomic<std::uint64_t> torn{0};
  auto begin = [&](std::uint32_t r) {
    {
      std::unique_lock lock(gateMu);
      gateCv.wait(lock, [&] { return round >= r; });
    }
    arrived.fetch_add(1, std::memory_order_acq_rel);
    while (arrived.load(std::memory_order_acquire) < 2 * r) std::this_thread::yield();
  };
  auto finish = [&] {
    std::lock_guard lock(gateMu);
    ++finished;
    gateCv.notify_all();
  };
  std::thread writer([&] {
    for (std::uint32_t r = 1; r <= rounds; ++r) {
      begin(r);
      {
        std::unique_lock lock(*mu);
        ++a;
        std::atomic_signal_fence(std::memory_order_seq_cst);  // keep the two stores apart
        b = a;
      }
      finish();
    }
  });
  std::thread reader([&] {
    for (std::uint32_t r = 1; r <= rounds; ++r) {
      begin(r);
      {
        std::shared_lock lock(*mu);
        if (a != b) torn.fetch_add(1, std::memory_order_relaxed);
      }
      finish();
    }
  });
  FirstUseResult out;
  for (std::uint32_t r = 1; r <= rounds; ++r) {
    std::unique_lock lock(gateMu);
    mu.emplace();
    round = r;
    gateCv.notify_all();
    gateCv.wait(lock, [&] { return finished == 2 * r; });
    mu.reset();
    ++out.rounds;
  }
  writer.join();
  reader.join();
  out.torn = torn.load();
  return out;
}

// The shape of test_world's readers_see_consistent_state_while_the_writer_runs, with the
// World taken out: a fresh lock, a writer thread started to take it `writes` times, and
// the calling thread reading from the moment the writer is started until it is done.
// `workPerWrite` spins of arithmetic inside each write stand for World::apply's work.
// The reproduction and its fixed twin run it with the same sizes:
struct WorldShape {
  static constexpr int kRounds = 50;                 // fresh locks, one after another
  static constexpr std::uint32_t kWrites = 60000;    // per lock
  static constexpr std::uint32_t kWorkPerWrite = 200;
};
template <class Mutex>
RwStressResult rwWorldShape(std::uint32_t writes, std::uint32_t workPerWrite = 0) {
  Mutex mu;
  std::uint64_t a = 0;  // guarded by mu
  std::uint64_t b = 0;  // guarded by mu; equals a outside the writer's section
  std::atomic<bool> done{false};
  RwStressResult out;
  std::thread writer([&] {
    for (std::uint32_t i = 0; i < writes; ++i) {
      std::unique_lock lock(mu);
      ++a;
      volatile std::uint32_t work = 0;
      for (std::uint32_t k = 0; k < workPerWrite; ++k) work = work + k;
      b = a;
    }
    done.store(true, std::memory_order_release);
  });
  while (!done.load(std::memory_order_acquire)) {
    std::shared_lock lock(mu);
    if (a != b) ++out.torn;
    ++out.reads;
  }
  writer.join();
  out.writes = a;
  return out;
}

}  // namespace gstest
