// TaskRing: the thread pool's fast lane, a bounded lock-free MPMC ring of plain work
// items (Dmitry Vyukov's bounded queue: one sequence number per cell, a CAS on `tail_`
// claims a cell to write, a CAS on `head_` claims one to read). Neither side ever waits:
// a push into a full ring or a pop from an empty one fails at once.
//
// Cell states, for the cell at position p (index p & mask): seq == p: free for the push
// of p; seq == p + 1: holds the item of p; seq == p + cells: freed by the pop of p.
// A push claims p before it writes, so a pop can find head < tail with the head cell not
// yet published; it then reports the ring empty. The pusher publishes with a seq_cst
// store and looks at the pool's state afterwards, which is what lets the pool hand out
// wake-ups without a lock (see ThreadPool::Impl::afterFastPush).
//
// Besides single pops, a worker can claim a run of published items with one CAS
// (tryClaim) and move them out one at a time later (take), each by whoever the pool
// hands that position to.
//
// Thread safety: every member is safe from any thread; take(p) by one thread per p.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>

namespace gamesrv::detail {

// Asks for the cache line at `p` with intent to write; a hint only.
inline void prefetchForWrite(const void* p) noexcept {
#if defined(__GNUC__) || defined(__clang__)
  __builtin_prefetch(p, 1);
#else
  (void)p;
#endif
}

class TaskRing {
 public:
  struct Task {
    std::function<void()> run;
    std::uint64_t enqueuedTicks = 0;
  };

  // `cells` must be a power of two.
  explicit TaskRing(std::size_t cells) : mask_(cells - 1), cells_(std::make_unique<Cell[]>(cells)) {
    for (std::size_t i = 0; i < cells; ++i) cells_[i].seq.store(i, std::memory_order_relaxed);
  }

  std::size_t cells() const noexcept { return mask_ + 1; }

  // False when the ring is full; `run` is then left untouched.
  bool tryPush(std::function<void()>& run, std::uint64_t enqueuedTicks) noexcept {
    std::uint64_t pos = tail_.load(std::memory_order_relaxed);
    for (;;) {
      Cell& c = cells_[pos & mask_];
      const std::uint64_t seq = c.seq.load(std::memory_order_acquire);
      const auto diff = static_cast<std::int64_t>(seq - pos);
      if (diff == 0) {
        if (tail_.compare_exchange_weak(pos, pos + 1, std::memory_order_relaxed)) {
          // Ask for a cell a few pushes ahead now, so that publishing that one later does
          // not wait for its cache line (last written by a worker).
          prefetchForWrite(&cells_[(pos + kPrefetchAhead) & mask_]);
          c.run.swap(run);  // the cell's function is empty: a swap is the cheapest move
          c.enqueuedTicks = enqueuedTicks;
          c.seq.store(pos + 1, std::memory_order_seq_cst);
          return true;
        }
      } else if (diff < 0) {
        return false;  // the cell still holds the item of pos - cells
      } else {
        pos = tail_.load(std::memory_order_relaxed);
      }
    }
  }

  // False when no published item is at the head. `out.run` must be empty.
  bool tryPop(Task& out) noexcept {
    std::uint64_t pos = head_.load(std::memory_order_relaxed);
    for (;;) {
      Cell& c = cells_[pos & mask_];
      const std::uint64_t seq = c.seq.load(std::memory_order_seq_cst);
      const auto diff = static_cast<std::int64_t>(seq - (pos + 1));
      if (diff == 0) {
        if (head_.compare_exchange_weak(pos, pos + 1, std::memory_order_relaxed)) {
          out.run.swap(c.run);
          out.enqueuedTicks = c.enqueuedTicks;
          c.seq.store(pos + mask_ + 1, std::memory_order_release);
          return true;
        }
      } else if (diff < 0) {
        return false;
      } else {
        pos = head_.load(std::memory_order_relaxed);
      }
    }
  }

  // Claims published items at the head with one CAS: up to `most` if at least `least`
  // are published in a row, else just the first one. Returns how many (0: none published
  // at the head) and their first position. Claimed items stay in their cells until take().
  std::size_t tryClaim(std::size_t least, std::size_t most, std::uint64_t& first) noexcept {
    std::uint64_t pos = head_.load(std::memory_order_relaxed);
    for (;;) {
      const std::uint64_t seq = cells_[pos & mask_].seq.load(std::memory_order_seq_cst);
      const auto diff = static_cast<std::int64_t>(seq - (pos + 1));
      if (diff < 0) return 0;
      if (diff > 0) {
        pos = head_.load(std::memory_order_relaxed);
        continue;
      }
      std::size_t n = 1;
      while (n < most && cells_[(pos + n) & mask_].seq.load(std::memory_order_acquire) == pos + n + 1) ++n;
      if (n < least) n = 1;  // a short run stays shared: nothing for others to steal
      if (head_.compare_exchange_weak(pos, pos + n, std::memory_order_relaxed)) {
        first = pos;
        return n;
      }
    }
  }

  // Moves out the item at `pos`, claimed by tryClaim() and handed to exactly one caller,
  // and frees its cell.
  void take(std::uint64_t pos, Task& out) noexcept {
    Cell& c = cells_[pos & mask_];
    (void)c.seq.load(std::memory_order_acquire);  // == pos + 1: pairs with the push's publish
    out.run.swap(c.run);
    out.enqueuedTicks = c.enqueuedTicks;
    c.seq.store(pos + mask_ + 1, std::memory_order_release);
  }

  // True when a pop would find a published item at the head right now.
  bool hasReady() const noexcept {
    std::uint64_t pos = head_.load(std::memory_order_seq_cst);
    for (;;) {
      const std::uint64_t seq = cells_[pos & mask_].seq.load(std::memory_order_seq_cst);
      const auto diff = static_cast<std::int64_t>(seq - (pos + 1));
      if (diff == 0) return true;
      if (diff < 0) return false;
      pos = head_.load(std::memory_order_seq_cst);  // our head was stale: the cell has moved on
    }
  }

  // Items ever popped: monotonic, part of the pool's retired count.
  std::uint64_t pops() const noexcept { return head_.load(std::memory_order_seq_cst); }

 private:
  static constexpr std::size_t kPrefetchAhead = 8;

  struct alignas(64) Cell {  // one cell per cache line: no false sharing between neighbours
    std::atomic<std::uint64_t> seq{0};
    std::function<void()> run;
    std::uint64_t enqueuedTicks = 0;
  };

  const std::size_t mask_;
  const std::unique_ptr<Cell[]> cells_;
  alignas(64) std::atomic<std::uint64_t> tail_{0};  // pushers' line
  alignas(64) std::atomic<std::uint64_t> head_{0};  // poppers' line
};

}  // namespace gamesrv::detail
