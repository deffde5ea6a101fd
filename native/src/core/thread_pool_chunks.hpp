// The thread pool's locked lane: queue entries that can be cancelled one by one (cleanup
// group members, items with an onCancel, timer firings, and plain items when the fast
// lane is full), kept as a FIFO of chunks under ThreadPool::Impl::mu_. A worker takes a
// whole chunk per visit, so its time under the lock does not grow with the batch.
//
// Thread safety: none of its own; every user holds the lock documented at the field.
#pragma once
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <vector>

#include "gamesrv/thread_pool.hpp"

namespace gamesrv::detail {

constexpr std::size_t kBatch = 32;  // items a worker takes per visit to the locked lane

// What only cancellable items and timer firings carry: out of line, so the common Entry
// stays at 56 bytes.
struct EntryExtra {
  std::function<void()> onCancel;
  std::uint64_t dueNs = 0;  // timer firings: when the timer fell due; 0 otherwise
};

struct Entry {
  std::function<void()> run;
  CleanupGroup* group = nullptr;
  std::uint64_t enqueuedTicks = 0;
  std::unique_ptr<EntryExtra> extra;

  static std::unique_ptr<EntryExtra> makeExtra(std::function<void()>&& onCancel, std::uint64_t dueNs) {
    if (!onCancel && dueNs == 0) return nullptr;
    return std::make_unique<EntryExtra>(EntryExtra{std::move(onCancel), dueNs});
  }
};

// A run of up to kBatch queued items: [head, tail) are queued.
struct Chunk {
  Entry items[kBatch];
  std::uint32_t head = 0;
  std::uint32_t tail = 0;

  std::size_t size() const noexcept { return tail - head; }
  bool empty() const noexcept { return head == tail; }
  bool full() const noexcept { return tail == kBatch; }
  void push(Entry&& e) { items[tail++] = std::move(e); }
  void emplace(std::function<void()>&& run, CleanupGroup* group, std::uint64_t enqueuedTicks,
               std::unique_ptr<EntryExtra>&& extra) {
    Entry& e = items[tail++];
    e.run = std::move(run);
    e.group = group;
    e.enqueuedTicks = enqueuedTicks;
    e.extra = std::move(extra);
  }
  Entry popFront() { return std::move(items[head++]); }
  Entry popBack() { return std::move(items[--tail]); }
  // Moves the entries matching `pred` to `out`, keeping the others in order. Returns how many.
  template <class Pred>
  std::size_t extractIf(Pred& pred, std::vector<Entry>& out) {
    std::uint32_t kept = head;
    for (std::uint32_t i = head; i < tail; ++i) {
      if (pred(items[i])) {
        out.push_back(std::move(items[i]));
      } else {
        if (kept != i) items[kept] = std::move(items[i]);
        ++kept;
      }
    }
    for (std::uint32_t i = kept; i < tail; ++i) items[i] = Entry{};
    const std::size_t n = tail - kept;
    tail = kept;
    return n;
  }
};
using ChunkPtr = std::unique_ptr<Chunk>;

// The FIFO of chunks. Drained chunks come back through recycle(): a warm queue allocates nothing.
class ChunkQueue {
 public:
  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }
  void push(Entry&& e) {
    if (chunks_.empty() || chunks_.back()->full()) chunks_.push_back(fresh());
    chunks_.back()->push(std::move(e));
    ++size_;
  }
  // push() without building an Entry first: the submit path moves each callable once.
  void emplace(std::function<void()>&& run, CleanupGroup* group, std::uint64_t enqueuedTicks,
               std::unique_ptr<EntryExtra>&& extra) {
    if (chunks_.empty() || chunks_.back()->full()) chunks_.push_back(fresh());
    chunks_.back()->emplace(std::move(run), group, enqueuedTicks, std::move(extra));
    ++size_;
  }
  ChunkPtr popFront() {
    ChunkPtr c = std::move(chunks_.front());
    chunks_.pop_front();
    size_ -= c->size();
    return c;
  }
  ChunkPtr fresh() {
    if (spare_.empty()) return std::make_unique<Chunk>();
    ChunkPtr c = std::move(spare_.back());
    spare_.pop_back();
    return c;
  }
  void recycle(ChunkPtr c) {  // `c` must be drained
    if (!c || spare_.size() >= kSpareChunks) return;
    c->head = c->tail = 0;
    spare_.push_back(std::move(c));
  }
  // Moves the entries matching `pred` to `out`. Returns how many.
  template <class Pred>
  std::size_t extractIf(Pred& pred, std::vector<Entry>& out) {
    std::size_t n = 0;
    for (auto it = chunks_.begin(); it != chunks_.end();) {
      const std::size_t k = (*it)->extractIf(pred, out);
      size_ -= k;
      n += k;
      if ((*it)->empty()) {
        recycle(std::move(*it));
        it = chunks_.erase(it);
      } else {
        ++it;
      }
    }
    return n;
  }

 private:
  static constexpr std::size_t kSpareChunks = 64;
  std::deque<ChunkPtr> chunks_;
  std::vector<ChunkPtr> spare_;
  std::size_t size_ = 0;
};

}  // namespace gamesrv::detail
