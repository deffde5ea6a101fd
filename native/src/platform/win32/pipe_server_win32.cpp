// PipeServer's backend over Win32 named pipes in message mode: connect, read, write,
// close. See pipe.hpp for the contract; what is answered, and the counting, is the
// portable PipeSession's (gamesrv/pipe_session.hpp). The notes here say how the OS side
// is kept. (Over ~400 lines: one state machine per pipe instance, connect -> read ->
// write -> read..., whose steps only make sense read together with stop().)
//
// - Instances: CreateNamedPipeW(PIPE_TYPE_MESSAGE | PIPE_READMODE_MESSAGE, unlimited
//   instances, FILE_FLAG_OVERLAPPED, PIPE_REJECT_REMOTE_CLIENTS, a DACL for the current
//   user only), each associated with the port under its own key. One instance always has
//   a ConnectNamedPipe pending: when it completes, the next listener is created before
//   the connected one is served, so a client never finds the name without a listener
//   while the server runs. maxClients is ours to enforce (the OS limit is "unlimited").
// - One operation at a time per instance (connect, then read / write alternately), each
//   completing as one packet {key, OVERLAPPED*}: a connection's requests are served in
//   order, one at a time, as on POSIX. The instance's `ioMu` is held while a thread
//   completes its operation and issues the next.
// - Completion status: a packet carries no status, so it is read from the OVERLAPPED
//   (GetOverlappedResult without waiting). A packet is matched to its instance by key
//   (keys are never reused) and to its operation by the OVERLAPPED's address; a packet
//   for an instance that is gone, or for no operation in flight, is dropped unread.
//   ReadFile completing synchronously, and ERROR_MORE_DATA (a message longer than the
//   buffer: a warning status, not an error), still queue a packet; a synchronous error
//   (and ConnectNamedPipe's ERROR_PIPE_CONNECTED) queue none and are handled inline.
// - Deferred replies (pipe.hpp): one message is read at a time, so a deferred reply holds
//   the instance with no operation in flight (`awaiting`): nothing more is read until it
//   is written, which keeps the order and bounds the outstanding replies to one. Whoever
//   fills it calls deliverLater(), which issues the write under `ioMu`, counted in the
//   gate like a dispatch; its completion resumes reading as usual.
// - An oversized message is read whole (the rest drained into a spare buffer) so the
//   next message starts clean; its real length goes into the bad_length reply.
// - The gate's mutex (base Impl) guards the instance table. stop() flips the gate,
//   waits for dispatches to drain, then
//   cancels every pending operation (CancelIoEx), disconnects every client, waits for
//   each cancelled operation to be over (the instance's event) and closes the handles.
//   The memory of an instance that had an operation in flight is kept until that
//   operation's packet comes through dispatch() (which drops it), because the port
//   reads the OVERLAPPED when it hands a packet out; the rest goes with the server.
// - Where Win32 differs from the POSIX backend: the peer's identity is enforced by the
//   DACL (this user only) and PIPE_REJECT_REMOTE_CLIENTS, with no per-connection check;
//   a zero-length message is a message (bad_length), not end-of-stream; one completion
//   carries one message, so maxFramesPerWakeup has no effect; deferredWrites counts
//   replies whose WriteFile went pending on a full pipe; a pipe name has no file to go
//   stale, so there is no stale-path replacement and no "not a socket" InvalidPath.
// - Under wine (the CI lane): FILE_FLAG_FIRST_PIPE_INSTANCE is ignored, so start() also
//   counts the pipe's instances to detect a name in use; pipe DACLs are not enforced.
#include <windows.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <mutex>
#include <unordered_map>

#include "gamesrv/pipe_session.hpp"
#include "pipe_win32.hpp"
#include "win32_support.hpp"

namespace gamesrv {
namespace {

using platform::win32::describeError;
using win32_pipe::kReadBufferBytes;
using win32_pipe::peerGone;
using win32_pipe::pipeName;

constexpr DWORD kDrainBufferBytes = 64 * 1024;           // for the rest of an oversized message
constexpr DWORD kPipeBufferBytes = 64 * 1024;            // the OS's buffer quota per direction
constexpr DWORD kStopWaitMs = 5000;                      // per cancelled operation; see stop()

// Waits until an operation issued on `ov` (with `event` in it) has completed; false if it
// did not within `ms` (it is then still in flight: its memory must not be freed).
bool waitCompleted(const OVERLAPPED& ov, HANDLE event, DWORD ms) {
  const TimePoint deadline = SteadyClock::now() + std::chrono::milliseconds(ms);
  while (!HasOverlappedIoCompleted(&ov)) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now()).count();
    if (left <= 0) return false;
    ::WaitForSingleObject(event, static_cast<DWORD>(left));
  }
  return true;
}

// One pipe instance: the listener until a client connects, then that client's connection.
struct Instance {
  enum class Role : std::uint8_t { Listening, Active, Refusing };
  enum class Op : std::uint8_t { None, Connect, Read, Drain, Write };

  Instance(HANDLE p, HANDLE e, CompletionKey k) : pipe(p), event(e), key(k) {
    connectOv.hEvent = event;
    ioOv.hEvent = event;
  }
  ~Instance() { closeHandles(); }
  Instance(const Instance&) = delete;
  Instance& operator=(const Instance&) = delete;

  void closeHandles() noexcept {
    if (pipe != INVALID_HANDLE_VALUE) ::CloseHandle(pipe);
    if (event != nullptr) ::CloseHandle(event);
    pipe = INVALID_HANDLE_VALUE;
    event = nullptr;
  }

  HANDLE pipe;   // fixed until closeHandles()
  HANDLE event;  // manual-reset, in both OVERLAPPEDs: lets stop() wait for a cancelled operation
  const CompletionKey key;
  std::mutex ioMu;                 // held by the one thread completing this instance's operation
  // The rest is guarded by ioMu; stop() reads it only once no dispatch can run.
  Role role = Role::Listening;
  Op op = Op::None;                // the operation in flight (one at most)
  OVERLAPPED connectOv{};          // ConnectNamedPipe
  OVERLAPPED ioOv{};               // ReadFile / WriteFile
  std::uint64_t drained = 0;       // bytes of the current (oversized) message read so far
  std::uint8_t in[kReadBufferBytes];
  PipeFrame out;                   // the reply being written: must live until the write completes
  std::shared_ptr<PipeReplySlot> awaiting;  // the deferred reply due before the next read
  std::unique_ptr<std::uint8_t[]> drain;  // made on first use
};

struct Win32PipeServer final : PipeServer::Impl {
  using Impl::Impl;
  ~Win32PipeServer() override = default;

  PipeResult start() override;
  void stop() override;
  bool dispatch(const CompletionPacket& packet) override;
  bool deliverLater(CompletionKey key) override;

  // A new instance associated with the port, in the table (role Listening, nothing issued).
  std::shared_ptr<Instance> newInstance(bool first, PipeResult& error);
  // Keeps one instance listening. Requires: a dispatch (or start) counted in the gate.
  void listen();
  void complete(Instance& inst, const void* overlapped);
  void connected(Instance& inst, DWORD err);
  void admit(Instance& inst);
  void read(Instance& inst, Instance::Op op);
  void readDone(Instance& inst, DWORD err, DWORD bytes);
  void write(Instance& inst, bool counted);
  void writeDone(Instance& inst, DWORD err);
  // Takes the instance out of the table and closes it once its last holder lets go.
  // Requires: no operation in flight on it.
  void close(Instance& inst, bool ioError, bool relisten = true);

  std::wstring wideName;  // set by start() before the gate runs, then read-only
  std::unique_ptr<platform::win32::OwnerOnlySecurity> security;  // likewise
  std::atomic<bool> stopping_{false};  // set by stop() (under the gate's mutex) first: replies are no longer written
  // The rest is guarded by gate.mutex().
  std::unordered_map<CompletionKey, std::shared_ptr<Instance>> instances_;  // every open instance
  std::size_t listening_ = 0;  // instances with a ConnectNamedPipe pending (or being set up)
  // Instances stop() found with an operation in flight, kept allocated (closed once the
  // operation is over) until its packet reaches dispatch(), or with the server state:
  // the packet points into them, and the port reads that OVERLAPPED when it hands the
  // packet out.
  std::unordered_map<CompletionKey, std::shared_ptr<Instance>> cancelled_;
};

}  // namespace

std::shared_ptr<PipeServer::Impl> PipeServer::Impl::create(PipeServerConfig config, PipeHandler handler) {
  return std::make_shared<Win32PipeServer>(std::move(config), std::move(handler));
}

std::shared_ptr<Instance> Win32PipeServer::newInstance(bool first, PipeResult& error) {
  const DWORD openMode = PIPE_ACCESS_DUPLEX | FILE_FLAG_OVERLAPPED | (first ? FILE_FLAG_FIRST_PIPE_INSTANCE : 0);
  const DWORD pipeMode = PIPE_TYPE_MESSAGE | PIPE_READMODE_MESSAGE | PIPE_WAIT | PIPE_REJECT_REMOTE_CLIENTS;
  HANDLE pipe = ::CreateNamedPipeW(wideName.c_str(), openMode, pipeMode, PIPE_UNLIMITED_INSTANCES, kPipeBufferBytes,
                                   kPipeBufferBytes, 0, security->get());
  if (pipe == INVALID_HANDLE_VALUE) {
    const DWORD err = ::GetLastError();
    switch (err) {
      case ERROR_ACCESS_DENIED:  // FILE_FLAG_FIRST_PIPE_INSTANCE: the name exists (maybe another user's)
      case ERROR_PIPE_BUSY:
        error = pipeFailure(PipeError::AddressInUse, "address in use: a live server answers on " + path + " (" +
                                                     describeError("CreateNamedPipeW", err) + ")");
        break;
      case ERROR_INVALID_NAME:
      case ERROR_BAD_PATHNAME:
      case ERROR_FILENAME_EXCED_RANGE: error = pipeFailure(PipeError::InvalidPath, describeError(("CreateNamedPipeW " + path).c_str(), err)); break;
      default: error = pipeFailure(PipeError::System, describeError(("CreateNamedPipeW " + path).c_str(), err)); break;
    }
    return nullptr;
  }
  if (first) {
    // FILE_FLAG_FIRST_PIPE_INSTANCE is the rule on Windows; wine ignores it, so count the
    // instances too: more than ours means another server holds the name.
    DWORD instances = 0;
    if (::GetNamedPipeHandleStateW(pipe, nullptr, &instances, nullptr, nullptr, nullptr, 0) && instances > 1) {
      ::CloseHandle(pipe);
      error = pipeFailure(PipeError::AddressInUse, "address in use: a live server answers on " + path);
      return nullptr;
    }
  }
  HANDLE event = ::CreateEventW(nullptr, TRUE, FALSE, nullptr);
  if (event == nullptr) {
    error = pipeFailure(PipeError::System, describeError("CreateEventW", ::GetLastError()));
    ::CloseHandle(pipe);
    return nullptr;
  }
  auto inst = std::make_shared<Instance>(pipe, event, keyOf(nextId()));
  const PortStatus ps = config.port->associate(reinterpret_cast<NativeHandle>(pipe), inst->key, IoEvents::Readable);
  if (ps != PortStatus::Ok) {
    error = pipeFailure(ps == PortStatus::Closed ? PipeError::Closed : PipeError::System,
                    std::string("the completion port refused the pipe instance: ") + toString(ps));
    return nullptr;
  }
  return inst;
}

PipeResult Win32PipeServer::start() {
  ServerGate::Lock lock(gate.mutex());
  if (gate.state() != ServerGate::State::Created)
    return pipeFailure(PipeError::System, gate.state() == ServerGate::State::Stopped ? "the pipe server was stopped; make a new one"
                                                               : "the pipe server was already started");
  if (config.port == nullptr) return pipeFailure(PipeError::System, "PipeServerConfig.port is not set");
  PipeResult res;
  if (!pipeName(path, wideName, res)) return res;
  security = std::make_unique<platform::win32::OwnerOnlySecurity>();
  if (!security->valid())
    return pipeFailure(PipeError::System, describeError("building the owner-only security descriptor", security->error()));
  std::shared_ptr<Instance> first = newInstance(true, res);
  if (!first) return res;
  instances_.emplace(first->key, first);
  listening_ = 1;
  // Its packet needs the gate's mutex to find the instance, so op is published before anyone reads it.
  first->op = Instance::Op::Connect;
  const DWORD err = ::ConnectNamedPipe(first->pipe, &first->connectOv) ? ERROR_IO_PENDING : ::GetLastError();
  if (err != ERROR_IO_PENDING && err != ERROR_PIPE_CONNECTED) {
    first->op = Instance::Op::None;
    instances_.clear();
    listening_ = 0;
    config.port->disassociate(reinterpret_cast<NativeHandle>(first->pipe));
    return pipeFailure(PipeError::System, describeError(("ConnectNamedPipe " + path).c_str(), err));
  }
  gate.setRunning();
  if (err == ERROR_IO_PENDING) return {};
  // A client was already waiting (ERROR_PIPE_CONNECTED: no packet comes): serve it now,
  // counted in flight like a dispatch.
  first->op = Instance::Op::None;
  gate.enterLocked();
  lock.unlock();
  {
    std::lock_guard io(first->ioMu);
    connected(*first, ERROR_SUCCESS);
  }
  lock.lock();
  gate.leaveLocked();
  return {};
}

void Win32PipeServer::listen() {
  for (;;) {
    {
      std::lock_guard lock(gate.mutex());
      if (!gate.running() || listening_ > 0) return;
      ++listening_;  // taken now, so two threads never both make a listener
    }
    PipeResult error;
    std::shared_ptr<Instance> inst = newInstance(false, error);
    ServerGate::Lock lock(gate.mutex());
    if (!inst) {
      --listening_;
      counters.ioError();
      return;  // retried when a connection closes
    }
    if (!gate.running()) {  // stop() from a handler meanwhile: this one is not needed
      --listening_;
      lock.unlock();
      config.port->disassociate(reinterpret_cast<NativeHandle>(inst->pipe));
      return;
    }
    instances_.emplace(inst->key, inst);  // before any packet for it can arrive
    lock.unlock();
    std::lock_guard io(inst->ioMu);
    inst->op = Instance::Op::Connect;
    if (!::ConnectNamedPipe(inst->pipe, &inst->connectOv)) {
      const DWORD err = ::GetLastError();
      if (err == ERROR_IO_PENDING) return;
      inst->op = Instance::Op::None;
      if (err == ERROR_PIPE_CONNECTED) {  // a client was already waiting; no packet comes
        {
          std::lock_guard relock(gate.mutex());
          --listening_;
        }
        admit(*inst);
        continue;
      }
      {
        std::lock_guard relock(gate.mutex());
        --listening_;
      }
      close(*inst, true, false);
      return;
    }
    return;  // completed at once: its packet still comes
  }
}

void Win32PipeServer::stop() {
  ServerGate::Lock lock(gate.mutex());
  stopping_.store(true, std::memory_order_relaxed);
  if (!gate.beginStop(lock)) return;
  auto all = std::move(instances_);
  instances_.clear();
  for (auto& [key, inst] : all)
    if (inst->op != Instance::Op::None) cancelled_.emplace(key, inst);
  counters.closeAll();
  listening_ = 0;
  lock.unlock();

  // No dispatch runs now (but the caller's own, whose instance has nothing in flight).
  for (auto& [key, inst] : all)
    if (inst->op != Instance::Op::None) ::CancelIoEx(inst->pipe, nullptr);
  for (auto& [key, inst] : all)
    if (inst->role != Instance::Role::Listening) ::DisconnectNamedPipe(inst->pipe);  // the client sees the pipe closed now
  for (auto& [key, inst] : all) {
    config.port->disassociate(reinterpret_cast<NativeHandle>(inst->pipe));
    if (inst->op == Instance::Op::None) {
      // The caller's own instance, when stop() runs in its handler (this thread touches
      // its handle no more, and the name must be gone when stop() returns), or one
      // awaiting a deferred reply (deliverLater() finds the gate stopped).
      inst->closeHandles();
      continue;
    }
    const OVERLAPPED& ov = inst->op == Instance::Op::Connect ? inst->connectOv : inst->ioOv;
    // The OS writes into the OVERLAPPED (and buffer) until the operation completes; one
    // that ignores its cancellation is left allocated, handle and all, rather than freed
    // under the OS.
    if (!waitCompleted(ov, inst->event, kStopWaitMs)) {
      new std::shared_ptr<Instance>(inst);  // deliberately leaked
      counters.ioError();
      continue;
    }
    inst->closeHandles();  // its memory stays in cancelled_ until its packet is seen
  }
  all.clear();  // closes every other instance nobody else holds (a handler's own closes when it returns)

  lock.lock();
  gate.finishStop(lock);
}

bool Win32PipeServer::dispatch(const CompletionPacket& packet) {
  if (!ours(packet.key)) return false;
  if (packet.kind != CompletionKind::Io) return true;
  std::shared_ptr<Instance> inst;
  {
    std::lock_guard lock(gate.mutex());
    if (!gate.running()) {
      if (const auto it = cancelled_.find(packet.key); it != cancelled_.end()) {
        inst = std::move(it->second);  // its last packet: freed below, outside the lock
        cancelled_.erase(it);
      }
      return true;
    }
    const auto it = instances_.find(packet.key);
    if (it == instances_.end()) return true;  // closed meanwhile: a stale packet
    inst = it->second;
    gate.enterLocked();
  }
  ServerGate::Dispatch inside(gate);
  std::lock_guard io(inst->ioMu);
  complete(*inst, packet.ptr);
  return true;
}

// Requires: inst.ioMu held.
void Win32PipeServer::complete(Instance& inst, const void* overlapped) {
  using Op = Instance::Op;
  const bool isConnect = overlapped == &inst.connectOv && inst.op == Op::Connect;
  const bool isIo = overlapped == &inst.ioOv && (inst.op == Op::Read || inst.op == Op::Drain || inst.op == Op::Write);
  if (!isConnect && !isIo) return;  // no operation of ours: nothing to do
  const Op op = inst.op;
  inst.op = Op::None;
  DWORD bytes = 0;
  OVERLAPPED* ov = isConnect ? &inst.connectOv : &inst.ioOv;
  const DWORD err = ::GetOverlappedResult(inst.pipe, ov, &bytes, FALSE) ? ERROR_SUCCESS : ::GetLastError();
  switch (op) {
    case Op::Connect: connected(inst, err); break;
    case Op::Read:
    case Op::Drain: readDone(inst, err, bytes); break;
    case Op::Write: writeDone(inst, err); break;
    case Op::None: break;
  }
}

// The listener's ConnectNamedPipe completed. Requires: inst.ioMu held, counted in the gate.
void Win32PipeServer::connected(Instance& inst, DWORD err) {
  {
    std::lock_guard lock(gate.mutex());
    --listening_;
  }
  listen();  // the next listener first
  if (err != ERROR_SUCCESS) {  // the client left before it was seen (ERROR_NO_DATA), or worse
    close(inst, !peerGone(err) && err != ERROR_OPERATION_ABORTED);
    return;
  }
  admit(inst);
}

// Requires: inst.ioMu held.
void Win32PipeServer::admit(Instance& inst) {
  if (!counters.tryAdmit(config.maxClients)) {
    inst.role = Instance::Role::Refusing;
    counters.refused();  // before the peer can see the refusal
    PipeSession::busyRefusal(config.maxClients, inst.out);
    write(inst, false);  // closed when the write completes
    return;
  }
  inst.role = Instance::Role::Active;
  read(inst, Instance::Op::Read);
}

// Requires: inst.ioMu held.
void Win32PipeServer::read(Instance& inst, Instance::Op op) {
  std::uint8_t* buf = inst.in;
  DWORD size = kReadBufferBytes;
  if (op == Instance::Op::Drain) {
    if (!inst.drain) inst.drain = std::make_unique<std::uint8_t[]>(kDrainBufferBytes);
    buf = inst.drain.get();
    size = kDrainBufferBytes;
  }
  inst.op = op;
  if (::ReadFile(inst.pipe, buf, size, nullptr, &inst.ioOv)) return;  // its packet still comes
  const DWORD err = ::GetLastError();
  if (err == ERROR_IO_PENDING || err == ERROR_MORE_DATA) return;  // a packet comes for these too
  inst.op = Instance::Op::None;
  close(inst, !peerGone(err));
}

// Requires: inst.ioMu held.
void Win32PipeServer::readDone(Instance& inst, DWORD err, DWORD bytes) {
  if (err == ERROR_MORE_DATA) {  // the message goes on: read (and drop) the rest
    inst.drained += bytes;
    read(inst, Instance::Op::Drain);
    return;
  }
  if (err != ERROR_SUCCESS) {
    close(inst, !peerGone(err));
    return;
  }
  // A zero-length message is a message here (end-of-stream is ERROR_BROKEN_PIPE): bad_length.
  const std::uint64_t length = inst.drained + bytes;
  inst.drained = 0;
  counters.frameIn(length);
  std::shared_ptr<PipeReplySlot> later = session.answer(*this, inst.key, inst.in, length, inst.out);
  if (later && !later->takeFrame(inst.out)) {
    inst.awaiting = std::move(later);  // deliverLater() writes it; nothing is read meanwhile
    return;
  }
  write(inst, true);
}

bool Win32PipeServer::deliverLater(CompletionKey key) {
  std::shared_ptr<Instance> inst;
  {
    std::lock_guard lock(gate.mutex());
    if (!gate.running()) return false;
    if (const auto it = instances_.find(key); it != instances_.end()) inst = it->second;
    if (!inst) return false;
    gate.enterLocked();
  }
  ServerGate::Dispatch inside(gate);
  std::lock_guard io(inst->ioMu);
  // Null: readDone() found it filled and wrote it itself.
  if (!inst->awaiting || !inst->awaiting->takeFrame(inst->out)) return true;
  inst->awaiting.reset();
  write(*inst, true);
  if (inst->op != Instance::Op::Write) session.laterDropped();  // not written: the connection is closed
  return true;
}

// Requires: inst.ioMu held; inst.out holds the frame. `counted`: a reply (in the stats).
void Win32PipeServer::write(Instance& inst, bool counted) {
  // stop() called by this very handler: the reply is lost with the connection.
  if (stopping_.load(std::memory_order_relaxed)) return;
  if (counted) {  // counted first, so that a peer holding the reply finds it in the stats
    counters.frameOut(inst.out.size());
  }
  inst.op = Instance::Op::Write;
  if (::WriteFile(inst.pipe, inst.out.data(), static_cast<DWORD>(inst.out.size()), nullptr, &inst.ioOv)) return;
  const DWORD err = ::GetLastError();
  if (err == ERROR_IO_PENDING) {  // the client's buffer is full: the reply waits for it to read
    if (counted) counters.deferredWrite();
    return;
  }
  inst.op = Instance::Op::None;
  if (counted) counters.unsent(inst.out.size());
  close(inst, !peerGone(err));
}

// Requires: inst.ioMu held.
void Win32PipeServer::writeDone(Instance& inst, DWORD err) {
  if (inst.role == Instance::Role::Refusing) {  // the refusal is written; the client reads it, then end-of-stream
    close(inst, false);
    return;
  }
  if (err != ERROR_SUCCESS) {
    counters.unsent(inst.out.size());
    close(inst, !peerGone(err));
    return;
  }
  read(inst, Instance::Op::Read);
}

void Win32PipeServer::close(Instance& inst, bool ioError, bool relisten) {
  std::shared_ptr<Instance> owned;  // the caller still holds one: the handle closes after its dispatch
  bool needListener = false;
  {
    std::lock_guard lock(gate.mutex());
    const auto it = instances_.find(inst.key);
    if (it == instances_.end()) return;
    owned = std::move(it->second);
    instances_.erase(it);
    needListener = relisten && gate.running() && listening_ == 0;
  }
  if (inst.role == Instance::Role::Active) {
    counters.closed(ioError);
  } else if (ioError) {
    counters.ioError();
  }
  // No DisconnectNamedPipe: it would discard what the client has not read yet (a refusal).
  config.port->disassociate(reinterpret_cast<NativeHandle>(inst.pipe));
  if (needListener) listen();  // an earlier listener could not be made: try again now
}

}  // namespace gamesrv
