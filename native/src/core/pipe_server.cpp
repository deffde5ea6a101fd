// PipeServer: the state every backend shares, and the public face forwarding to the
// backend (pipe_session.hpp). The backends: native/src/platform/*/pipe_server_*.cpp.
#include <atomic>

#include "gamesrv/pipe_session.hpp"

namespace gamesrv {
namespace {

constexpr int kKeyShift = 56;
constexpr std::uint64_t kIdMask = (std::uint64_t{1} << kKeyShift) - 1;

std::atomic<std::uint64_t> gNextId{1};

}  // namespace

PipeServer::Impl::Impl(PipeServerConfig c, PipeHandler h)
    : config(std::move(c)), path(config.path.empty() ? defaultPipePath("main") : config.path), session(std::move(h)) {
  if (config.maxFramesPerWakeup == 0) config.maxFramesPerWakeup = 1;
}

CompletionKey PipeServer::Impl::keyOf(std::uint64_t id) const noexcept {
  return std::uint64_t{config.keyTag} << kKeyShift | (id & kIdMask);
}

bool PipeServer::Impl::ours(CompletionKey key) const noexcept { return key >> kKeyShift == config.keyTag; }

std::uint64_t PipeServer::Impl::idOf(CompletionKey key) noexcept { return key & kIdMask; }

std::uint64_t PipeServer::Impl::nextId() noexcept { return gNextId.fetch_add(1, std::memory_order_relaxed); }

PipeServerStats PipeServer::Impl::stats() const {
  PipeServerStats s;
  {
    std::lock_guard lock(gate.mutex());
    s.running = gate.running();
  }
  s.path = path;
  const ConnectionCounts c = counters.read();
  s.accepted = c.accepted;
  s.refused = c.refused;
  s.closed = c.closed;
  s.active = c.active;
  s.peakActive = c.peakActive;
  s.framesIn = c.framesIn;
  s.framesOut = c.framesOut;
  s.bytesIn = c.bytesIn;
  s.bytesOut = c.bytesOut;
  s.deferredWrites = c.deferredWrites;
  s.errors.io = c.ioErrors;
  session.fill(s);
  return s;
}

PipeServer::PipeServer(PipeServerConfig config, PipeHandler handler)
    : impl_(Impl::create(std::move(config), std::move(handler))) {}
PipeServer::~PipeServer() { impl_->stop(); }
PipeResult PipeServer::start() { return impl_->start(); }
void PipeServer::stop() { impl_->stop(); }
PipeDispatcher PipeServer::dispatcher() const {
  return [impl = impl_](const CompletionPacket& packet) { return impl->dispatch(packet); };
}
const std::string& PipeServer::path() const noexcept { return impl_->path; }
PipeServerStats PipeServer::stats() const { return impl_->stats(); }

}  // namespace gamesrv
