// CompletionPort's portable half and public face (gamesrv/completion_port_core.hpp).
#include "gamesrv/completion_port_core.hpp"

#include <algorithm>
#include <atomic>
#include <thread>

namespace gamesrv {
namespace {

std::atomic<std::uint64_t> gNextPortId{1};

}  // namespace

void RunningOn::releaseAtExit() {
  if (portId == 0) return;
  if (auto port = weak.lock()) port->releaseRunning();
}

CompletionPort::Impl::Impl(const CompletionPortConfig& config)
    : id_(gNextPortId.fetch_add(1, std::memory_order_relaxed)),
      capacity_(config.queueCapacity),
      limit_(config.maxConcurrency ? config.maxConcurrency : std::max(1u, std::thread::hardware_concurrency())) {}

CompletionPort::Impl::Window CompletionPort::Impl::windowOf(std::chrono::nanoseconds timeout) noexcept {
  const std::uint64_t startNs = nowNs();
  constexpr auto kForever = std::chrono::hours(24 * 365 * 100);
  const bool infinite = timeout >= kForever;
  return {startNs, infinite, infinite ? TimePoint::max() : fromNs(startNs) + std::max(timeout, Nanos::zero())};
}

void CompletionPort::Impl::leaveOtherPort(RunningOn& me) {
  if (me.portId == 0 || me.portId == id_) return;
  me.portId = 0;
  if (auto port = me.weak.lock()) port->releaseRunning();
}

bool CompletionPort::Impl::comeBackLocked(RunningOn& me) noexcept {
  if (me.portId != id_) return false;
  me.portId = 0;
  --active_;
  return true;
}

void CompletionPort::Impl::runLocked(RunningOn& me) {
  peakActive_ = std::max(peakActive_, ++active_);
  if (me.weakId != id_) {
    me.weak = weak_from_this();
    me.weakId = id_;
  }
  me.portId = id_;
}

void CompletionPort::Impl::countIoLocked(IoEvents e) noexcept {
  ++ioCompletions_;
  if (any(e & IoEvents::Readable)) ++ioReadable_;
  if (any(e & IoEvents::Writable)) ++ioWritable_;
  if (any(e & IoEvents::Hangup)) ++ioHangup_;
  if (any(e & IoEvents::Error)) ++ioError_;
}

void CompletionPort::Impl::leave(RunningOn* me) noexcept {
  if (me == nullptr || me->portId != id_) return;
  me->portId = 0;
  releaseRunning();
}

void CompletionPort::Impl::waitUntilNoCaller() {
  std::unique_lock lock(mu_);
  noCallerCv_.wait(lock, [&] { return callers_ == 0; });
}

CompletionPortStats CompletionPort::Impl::stats() const {
  CompletionPortStats s;
  {
    std::lock_guard lock(mu_);
    s.posted = posted_;
    s.postRejected = postRejected_;
    s.quitPosted = quitPosted_;
    s.ioCompletions = ioCompletions_;
    s.ioReadable = ioReadable_;
    s.ioWritable = ioWritable_;
    s.ioHangup = ioHangup_;
    s.ioError = ioError_;
    s.dequeued = dequeued_;
    s.bytes = bytes_;
    s.discarded = discarded_;
    s.timeouts = timeouts_;
    s.queueDepth = queueDepthLocked();
    s.queueCapacity = capacity_;
    s.associated = associatedLocked();
    s.activeThreads = active_;
    s.peakActive = peakActive_;
    s.maxConcurrency = limit_;
    s.waitingThreads = waitingLocked();
    s.closed = closed_ || draining_;
  }
  s.dequeueWaitNs = waitNs_.summary();
  return s;
}

// --- the public face ------------------------------------------------------------

CompletionPort::CompletionPort(CompletionPortConfig config) : impl_(Impl::create(config)) {}

CompletionPort::~CompletionPort() {
  impl_->close();
  impl_->waitUntilNoCaller();
}

PortStatus CompletionPort::associate(NativeHandle handle, CompletionKey key, IoEvents interest) {
  return impl_->associate(handle, key, interest);
}
PortStatus CompletionPort::rearm(NativeHandle handle, CompletionKey key, IoEvents interest) {
  return impl_->rearm(handle, key, interest);
}
PortStatus CompletionPort::disassociate(NativeHandle handle) { return impl_->disassociate(handle); }

PortStatus CompletionPort::post(CompletionKey key, std::uint64_t bytes, void* ptr) {
  return impl_->post(CompletionPacket{key, bytes, ptr, CompletionKind::Posted, IoEvents::None});
}
PortStatus CompletionPort::postQuit() {
  return impl_->post(CompletionPacket{0, 0, nullptr, CompletionKind::Quit, IoEvents::None});
}

PortStatus CompletionPort::dequeue(CompletionPacket& out, std::chrono::nanoseconds timeout) {
  std::size_t count = 0;
  return impl_->dequeue(std::span<CompletionPacket>(&out, 1), count, timeout);
}
PortStatus CompletionPort::dequeueBatch(std::span<CompletionPacket> out, std::size_t& count,
                                        std::chrono::nanoseconds timeout) {
  return impl_->dequeue(out, count, timeout);
}

void CompletionPort::shutdown() { impl_->shutdown(); }
void CompletionPort::close() { impl_->close(); }
CompletionPortStats CompletionPort::stats() const { return impl_->stats(); }

}  // namespace gamesrv
