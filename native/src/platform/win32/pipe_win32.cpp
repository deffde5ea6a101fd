// PipeServer / PipeClient over Win32 named pipes in message mode. See pipe.hpp for the
// contract; the notes here say how it is kept.
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
// - An oversized message is read whole (the rest drained into a spare buffer) so the
//   next message starts clean; its real length goes into the bad_length reply.
// - `mu_` guards the state machine, the instance table and `inFlight_` (dispatch calls
//   past the state check). stop() flips the state, waits for inFlight_ to drain, then
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
#include <condition_variable>
#include <cstring>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "gamesrv/clock.hpp"
#include "gamesrv/pipe.hpp"
#include "win32_support.hpp"

namespace gamesrv {
namespace {

using platform::win32::describeError;

constexpr int kKeyShift = 56;
constexpr std::uint64_t kIdMask = (std::uint64_t{1} << kKeyShift) - 1;
constexpr DWORD kReadBufferBytes = kPipeFrameBytes + 1;  // one more, to see oversized messages
constexpr DWORD kDrainBufferBytes = 64 * 1024;           // for the rest of an oversized message
constexpr DWORD kPipeBufferBytes = 64 * 1024;            // the OS's buffer quota per direction
constexpr std::size_t kMaxPipePathChars = 256;           // the whole \\.\pipe\name, per CreateNamedPipeW
constexpr DWORD kStopWaitMs = 5000;                      // per cancelled operation; see stop()
constexpr std::string_view kPipePrefix = "\\\\.\\pipe\\";
const std::string kServerBusy = "server busy: ";  // the ERROR text a connection over maxClients gets

std::atomic<std::uint64_t> gNextId{1};

PipeResult failure(PipeError e, std::string detail) { return PipeResult{e, std::move(detail)}; }

// The peer went away (clean end of the connection), as opposed to an I/O failure.
bool peerGone(DWORD err) {
  return err == ERROR_BROKEN_PIPE || err == ERROR_PIPE_NOT_CONNECTED || err == ERROR_NO_DATA;
}

// "\\.\pipe\<name>": the prefix (any case), a non-empty name without '\', 256 characters
// in all; UTF-8 that does not convert is refused too.
bool pipeName(const std::string& path, std::wstring& out, PipeResult& error) {
  auto bad = [&](const std::string& why) {
    error = failure(PipeError::InvalidPath, "pipe path \"" + path + "\" " + why);
    return false;
  };
  const bool prefixed = path.size() > kPipePrefix.size() &&
                        std::equal(kPipePrefix.begin(), kPipePrefix.end(), path.begin(),
                                   [](char a, char b) { return a == (b >= 'A' && b <= 'Z' ? b - 'A' + 'a' : b); });
  if (!prefixed) return bad("is not of the form \\\\.\\pipe\\<name>");
  const std::string_view name = std::string_view(path).substr(kPipePrefix.size());
  if (name.find('\\') != std::string_view::npos) return bad("has a '\\' in the pipe name");
  if (name.find('\0') != std::string_view::npos) return bad("contains NUL");
  const int n = ::MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, path.data(), static_cast<int>(path.size()), nullptr, 0);
  if (n <= 0) return bad("is not valid UTF-8");
  if (static_cast<std::size_t>(n) > kMaxPipePathChars)
    return bad("is longer than " + std::to_string(kMaxPipePathChars) + " characters");
  out.assign(static_cast<std::size_t>(n), L'\0');
  ::MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, path.data(), static_cast<int>(path.size()), out.data(), n);
  return true;
}

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
  std::unique_ptr<std::uint8_t[]> drain;  // made on first use
};

// Set while a thread runs a dispatch() of a server: lets stop() called from a handler
// skip waiting for its own call.
thread_local const void* tlsDispatching = nullptr;

}  // namespace

std::string defaultPipePath(std::string_view name) { return std::string(kPipePrefix) + "gamesrv-" + std::string(name); }

// --- server ------------------------------------------------------------------------

struct PipeServer::Impl {
  Impl(PipeServerConfig c, PipeHandler h) : config(std::move(c)), handler(std::move(h)) {
    path = config.path.empty() ? defaultPipePath("main") : config.path;
  }

  PipeResult start();
  void stop();
  bool dispatch(const CompletionPacket& packet);
  PipeServerStats stats() const;

  CompletionKey keyOf(std::uint64_t id) const { return std::uint64_t{config.keyTag} << kKeyShift | (id & kIdMask); }
  // A new instance associated with the port, in the table (role Listening, nothing issued).
  std::shared_ptr<Instance> newInstance(bool first, PipeResult& error);
  // Keeps one instance listening. Requires: a dispatch (or start) counted in inFlight_.
  void listen();
  void complete(Instance& inst, const void* overlapped);
  void connected(Instance& inst, DWORD err);
  void admit(Instance& inst);
  void read(Instance& inst, Instance::Op op);
  void readDone(Instance& inst, DWORD err, DWORD bytes);
  void write(Instance& inst, bool counted);
  void writeDone(Instance& inst, DWORD err);
  void answer(const Instance& inst, std::uint64_t length, PipeFrame& out);
  void answerError(PipeError cls, const std::string& reason, PipeFrame& out);
  // Takes the instance out of the table and closes it once its last holder lets go.
  // Requires: no operation in flight on it.
  void close(Instance& inst, bool ioError, bool relisten = true);

  enum class State { Created, Running, Stopping, Stopped };

  PipeServerConfig config;
  const PipeHandler handler;
  std::string path;  // fixed before start()
  std::wstring wideName;  // set by start() before the state becomes Running, then read-only
  std::unique_ptr<platform::win32::OwnerOnlySecurity> security;  // likewise

  mutable std::mutex mu_;
  std::condition_variable changed_;  // inFlight_ or state_ changed
  State state_ = State::Created;     // guarded by mu_
  std::atomic<bool> stopping_{false};  // set by stop() under mu_: replies are no longer written
  std::size_t inFlight_ = 0;         // guarded by mu_
  std::unordered_map<CompletionKey, std::shared_ptr<Instance>> instances_;  // guarded by mu_: every open instance
  std::size_t listening_ = 0;        // guarded by mu_: instances with a ConnectNamedPipe pending (or being set up)
  std::size_t active_ = 0;           // guarded by mu_: connections served (role Active)
  std::size_t peakActive_ = 0;       // guarded by mu_
  // Instances stop() found with an operation in flight, kept allocated (closed once the
  // operation is over) until its packet reaches dispatch(), or with the server state:
  // the packet points into them, and the port reads that OVERLAPPED when it hands the
  // packet out. Guarded by mu_.
  std::unordered_map<CompletionKey, std::shared_ptr<Instance>> cancelled_;

  std::atomic<std::uint64_t> accepted_{0}, refused_{0}, closed_{0}, framesIn_{0}, framesOut_{0};
  std::atomic<std::uint64_t> bytesIn_{0}, bytesOut_{0}, deferredWrites_{0};
  std::atomic<std::uint64_t> badLength_{0}, badSize_{0}, unknownType_{0}, badPadding_{0}, badPayload_{0};
  std::atomic<std::uint64_t> handlerFailed_{0}, ioErrors_{0};
  std::atomic<std::uint64_t> byType_[5] = {};
  Histogram handlerNs_;
};

std::shared_ptr<Instance> PipeServer::Impl::newInstance(bool first, PipeResult& error) {
  const DWORD openMode = PIPE_ACCESS_DUPLEX | FILE_FLAG_OVERLAPPED | (first ? FILE_FLAG_FIRST_PIPE_INSTANCE : 0);
  const DWORD pipeMode = PIPE_TYPE_MESSAGE | PIPE_READMODE_MESSAGE | PIPE_WAIT | PIPE_REJECT_REMOTE_CLIENTS;
  HANDLE pipe = ::CreateNamedPipeW(wideName.c_str(), openMode, pipeMode, PIPE_UNLIMITED_INSTANCES, kPipeBufferBytes,
                                   kPipeBufferBytes, 0, security->get());
  if (pipe == INVALID_HANDLE_VALUE) {
    const DWORD err = ::GetLastError();
    switch (err) {
      case ERROR_ACCESS_DENIED:  // FILE_FLAG_FIRST_PIPE_INSTANCE: the name exists (maybe another user's)
      case ERROR_PIPE_BUSY:
        error = failure(PipeError::AddressInUse, "address in use: a live server answers on " + path + " (" +
                                                     describeError("CreateNamedPipeW", err) + ")");
        break;
      case ERROR_INVALID_NAME:
      case ERROR_BAD_PATHNAME:
      case ERROR_FILENAME_EXCED_RANGE: error = failure(PipeError::InvalidPath, describeError(("CreateNamedPipeW " + path).c_str(), err)); break;
      default: error = failure(PipeError::System, describeError(("CreateNamedPipeW " + path).c_str(), err)); break;
    }
    return nullptr;
  }
  if (first) {
    // FILE_FLAG_FIRST_PIPE_INSTANCE is the rule on Windows; wine ignores it, so count the
    // instances too: more than ours means another server holds the name.
    DWORD instances = 0;
    if (::GetNamedPipeHandleStateW(pipe, nullptr, &instances, nullptr, nullptr, nullptr, 0) && instances > 1) {
      ::CloseHandle(pipe);
      error = failure(PipeError::AddressInUse, "address in use: a live server answers on " + path);
      return nullptr;
    }
  }
  HANDLE event = ::CreateEventW(nullptr, TRUE, FALSE, nullptr);
  if (event == nullptr) {
    error = failure(PipeError::System, describeError("CreateEventW", ::GetLastError()));
    ::CloseHandle(pipe);
    return nullptr;
  }
  auto inst = std::make_shared<Instance>(pipe, event, keyOf(gNextId.fetch_add(1, std::memory_order_relaxed)));
  const PortStatus ps = config.port->associate(reinterpret_cast<NativeHandle>(pipe), inst->key, IoEvents::Readable);
  if (ps != PortStatus::Ok) {
    error = failure(ps == PortStatus::Closed ? PipeError::Closed : PipeError::System,
                    std::string("the completion port refused the pipe instance: ") + toString(ps));
    return nullptr;
  }
  return inst;
}

PipeResult PipeServer::Impl::start() {
  std::unique_lock lock(mu_);
  if (state_ != State::Created)
    return failure(PipeError::System, state_ == State::Stopped ? "the pipe server was stopped; make a new one"
                                                               : "the pipe server was already started");
  if (config.port == nullptr) return failure(PipeError::System, "PipeServerConfig.port is not set");
  PipeResult res;
  if (!pipeName(path, wideName, res)) return res;
  security = std::make_unique<platform::win32::OwnerOnlySecurity>();
  if (!security->valid())
    return failure(PipeError::System, describeError("building the owner-only security descriptor", security->error()));
  std::shared_ptr<Instance> first = newInstance(true, res);
  if (!first) return res;
  instances_.emplace(first->key, first);
  listening_ = 1;
  // Its packet needs mu_ to find the instance, so op is published before anyone reads it.
  first->op = Instance::Op::Connect;
  const DWORD err = ::ConnectNamedPipe(first->pipe, &first->connectOv) ? ERROR_IO_PENDING : ::GetLastError();
  if (err != ERROR_IO_PENDING && err != ERROR_PIPE_CONNECTED) {
    first->op = Instance::Op::None;
    instances_.clear();
    listening_ = 0;
    config.port->disassociate(reinterpret_cast<NativeHandle>(first->pipe));
    return failure(PipeError::System, describeError(("ConnectNamedPipe " + path).c_str(), err));
  }
  state_ = State::Running;
  if (err == ERROR_IO_PENDING) return {};
  // A client was already waiting (ERROR_PIPE_CONNECTED: no packet comes): serve it now,
  // counted in flight like a dispatch.
  first->op = Instance::Op::None;
  ++inFlight_;
  lock.unlock();
  {
    std::lock_guard io(first->ioMu);
    connected(*first, ERROR_SUCCESS);
  }
  lock.lock();
  --inFlight_;
  changed_.notify_all();
  return {};
}

void PipeServer::Impl::listen() {
  for (;;) {
    {
      std::lock_guard lock(mu_);
      if (state_ != State::Running || listening_ > 0) return;
      ++listening_;  // taken now, so two threads never both make a listener
    }
    PipeResult error;
    std::shared_ptr<Instance> inst = newInstance(false, error);
    std::unique_lock lock(mu_);
    if (!inst) {
      --listening_;
      ioErrors_.fetch_add(1, std::memory_order_relaxed);
      return;  // retried when a connection closes
    }
    if (state_ != State::Running) {  // stop() from a handler meanwhile: this one is not needed
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
          std::lock_guard relock(mu_);
          --listening_;
        }
        admit(*inst);
        continue;
      }
      {
        std::lock_guard relock(mu_);
        --listening_;
      }
      close(*inst, true, false);
      return;
    }
    return;  // completed at once: its packet still comes
  }
}

void PipeServer::Impl::stop() {
  std::unique_lock lock(mu_);
  const bool fromHandler = tlsDispatching == this;
  if (state_ == State::Created) {
    state_ = State::Stopped;
    return;
  }
  if (state_ != State::Running) {  // stopped, or another thread is stopping it
    if (!fromHandler) changed_.wait(lock, [&] { return state_ == State::Stopped; });
    return;
  }
  state_ = State::Stopping;
  stopping_.store(true, std::memory_order_relaxed);
  const std::size_t self = fromHandler ? 1 : 0;
  changed_.wait(lock, [&] { return inFlight_ <= self; });
  auto all = std::move(instances_);
  instances_.clear();
  for (auto& [key, inst] : all)
    if (inst->op != Instance::Op::None) cancelled_.emplace(key, inst);
  closed_.fetch_add(active_, std::memory_order_relaxed);
  active_ = 0;
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
      // Only the caller's own instance, when stop() runs in its handler: this thread
      // touches its handle no more, and the name must be gone when stop() returns.
      inst->closeHandles();
      continue;
    }
    const OVERLAPPED& ov = inst->op == Instance::Op::Connect ? inst->connectOv : inst->ioOv;
    // The OS writes into the OVERLAPPED (and buffer) until the operation completes; one
    // that ignores its cancellation is left allocated, handle and all, rather than freed
    // under the OS.
    if (!waitCompleted(ov, inst->event, kStopWaitMs)) {
      new std::shared_ptr<Instance>(inst);  // deliberately leaked
      ioErrors_.fetch_add(1, std::memory_order_relaxed);
      continue;
    }
    inst->closeHandles();  // its memory stays in cancelled_ until its packet is seen
  }
  all.clear();  // closes every other instance nobody else holds (a handler's own closes when it returns)

  lock.lock();
  state_ = State::Stopped;
  changed_.notify_all();
}

bool PipeServer::Impl::dispatch(const CompletionPacket& packet) {
  if (packet.key >> kKeyShift != config.keyTag) return false;
  if (packet.kind != CompletionKind::Io) return true;
  std::shared_ptr<Instance> inst;
  {
    std::lock_guard lock(mu_);
    if (state_ != State::Running) {
      if (const auto it = cancelled_.find(packet.key); it != cancelled_.end()) {
        inst = std::move(it->second);  // its last packet: freed below, outside the lock
        cancelled_.erase(it);
      }
      return true;
    }
    const auto it = instances_.find(packet.key);
    if (it == instances_.end()) return true;  // closed meanwhile: a stale packet
    inst = it->second;
    ++inFlight_;
  }
  const void* const outer = tlsDispatching;
  tlsDispatching = this;
  {
    std::lock_guard io(inst->ioMu);
    complete(*inst, packet.ptr);
  }
  tlsDispatching = outer;
  std::lock_guard lock(mu_);
  --inFlight_;
  if (state_ == State::Stopping) changed_.notify_all();  // stop() waits for 0, or 1 from a handler
  return true;
}

// Requires: inst.ioMu held.
void PipeServer::Impl::complete(Instance& inst, const void* overlapped) {
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

// The listener's ConnectNamedPipe completed. Requires: inst.ioMu held, counted in inFlight_.
void PipeServer::Impl::connected(Instance& inst, DWORD err) {
  {
    std::lock_guard lock(mu_);
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
void PipeServer::Impl::admit(Instance& inst) {
  std::unique_lock lock(mu_);
  if (active_ >= config.maxClients) {
    lock.unlock();
    inst.role = Instance::Role::Refusing;
    refused_.fetch_add(1, std::memory_order_relaxed);  // before the peer can see the refusal
    const std::string reason = kServerBusy + std::to_string(config.maxClients) + " clients already connected";
    encodePipeFrameInto(PipeMessageType::Error, reason, inst.out);
    write(inst, false);  // closed when the write completes
    return;
  }
  inst.role = Instance::Role::Active;
  ++active_;
  peakActive_ = std::max(peakActive_, active_);
  lock.unlock();
  accepted_.fetch_add(1, std::memory_order_relaxed);
  read(inst, Instance::Op::Read);
}

// Requires: inst.ioMu held.
void PipeServer::Impl::read(Instance& inst, Instance::Op op) {
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
void PipeServer::Impl::readDone(Instance& inst, DWORD err, DWORD bytes) {
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
  framesIn_.fetch_add(1, std::memory_order_relaxed);
  bytesIn_.fetch_add(length, std::memory_order_relaxed);
  answer(inst, length, inst.out);
  write(inst, true);
}

// Requires: inst.ioMu held; inst.out holds the frame. `counted`: a reply (in the stats).
void PipeServer::Impl::write(Instance& inst, bool counted) {
  // stop() called by this very handler: the reply is lost with the connection.
  if (stopping_.load(std::memory_order_relaxed)) return;
  if (counted) {  // counted first, so that a peer holding the reply finds it in the stats
    framesOut_.fetch_add(1, std::memory_order_relaxed);
    bytesOut_.fetch_add(inst.out.size(), std::memory_order_relaxed);
  }
  inst.op = Instance::Op::Write;
  if (::WriteFile(inst.pipe, inst.out.data(), static_cast<DWORD>(inst.out.size()), nullptr, &inst.ioOv)) return;
  const DWORD err = ::GetLastError();
  if (err == ERROR_IO_PENDING) {  // the client's buffer is full: the reply waits for it to read
    if (counted) deferredWrites_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  inst.op = Instance::Op::None;
  if (counted) {
    framesOut_.fetch_sub(1, std::memory_order_relaxed);
    bytesOut_.fetch_sub(inst.out.size(), std::memory_order_relaxed);
  }
  close(inst, !peerGone(err));
}

// Requires: inst.ioMu held.
void PipeServer::Impl::writeDone(Instance& inst, DWORD err) {
  if (inst.role == Instance::Role::Refusing) {  // the refusal is written; the client reads it, then end-of-stream
    close(inst, false);
    return;
  }
  if (err != ERROR_SUCCESS) {
    framesOut_.fetch_sub(1, std::memory_order_relaxed);
    bytesOut_.fetch_sub(inst.out.size(), std::memory_order_relaxed);
    close(inst, !peerGone(err));
    return;
  }
  read(inst, Instance::Op::Read);
}

void PipeServer::Impl::close(Instance& inst, bool ioError, bool relisten) {
  std::shared_ptr<Instance> owned;  // the caller still holds one: the handle closes after its dispatch
  bool needListener = false;
  {
    std::lock_guard lock(mu_);
    const auto it = instances_.find(inst.key);
    if (it == instances_.end()) return;
    owned = std::move(it->second);
    instances_.erase(it);
    if (inst.role == Instance::Role::Active) {
      --active_;
      closed_.fetch_add(1, std::memory_order_relaxed);
    }
    needListener = relisten && state_ == State::Running && listening_ == 0;
  }
  if (ioError) ioErrors_.fetch_add(1, std::memory_order_relaxed);
  // No DisconnectNamedPipe: it would discard what the client has not read yet (a refusal).
  config.port->disassociate(reinterpret_cast<NativeHandle>(inst.pipe));
  if (needListener) listen();  // an earlier listener could not be made: try again now
}

void PipeServer::Impl::answerError(PipeError cls, const std::string& reason, PipeFrame& out) {
  std::atomic<std::uint64_t>* counter = nullptr;
  switch (cls) {
    case PipeError::BadLength: counter = &badLength_; break;
    case PipeError::BadSize: counter = &badSize_; break;
    case PipeError::UnknownType: counter = &unknownType_; break;
    case PipeError::BadPadding: counter = &badPadding_; break;
    case PipeError::BadPayload: counter = &badPayload_; break;
    default: counter = &handlerFailed_; break;
  }
  counter->fetch_add(1, std::memory_order_relaxed);
  // A stable code first ("bad_length: ..."), then the reason; handler failures read "handler_failed".
  const std::string text = std::string(cls == PipeError::System ? "handler_failed" : toString(cls)) + ": " + reason;
  encodePipeFrameInto(PipeMessageType::Error, std::string_view(text).substr(0, kPipeDataCapacity), out);
}

// `length` is the whole message's; inst.in holds its first bytes (all of it when it fits).
void PipeServer::Impl::answer(const Instance& inst, std::uint64_t length, PipeFrame& out) {
  // decodePipeFrame reads no further than the 4-byte type when the length is wrong.
  PipeDecodeResult decoded = decodePipeFrame(inst.in, static_cast<std::size_t>(length));
  if (!decoded.ok()) return answerError(decoded.error, decoded.detail, out);
  const PipeMessageType type = decoded.message.type;
  if (!isPipeRequest(type))
    return answerError(PipeError::UnknownType,
                       "message type " + std::to_string(decoded.rawType) + " (" + toString(type) +
                           ") is a reply type; requests are 1..5",
                       out);
  PipeRequest request{type, std::move(decoded.message.data), std::nullopt, inst.key & kIdMask};
  if (carriesPlayerPayload(type)) {
    PlayerPayloadResult parsed = parsePlayerPayload(type, request.data);
    if (!parsed.ok()) return answerError(PipeError::BadPayload, parsed.detail, out);
    request.player = std::move(parsed.payload);
  }
  byType_[static_cast<std::size_t>(type) - 1].fetch_add(1, std::memory_order_relaxed);
  PipeReply reply;
  const std::uint64_t t0 = nowNs();
  try {
    reply = handler(request);
  } catch (const std::exception& e) {
    handlerNs_.record(nowNs() - t0);
    return answerError(PipeError::System, std::string("the handler failed: ") + e.what(), out);
  } catch (...) {
    handlerNs_.record(nowNs() - t0);
    return answerError(PipeError::System, "the handler failed with a non-standard exception", out);
  }
  handlerNs_.record(nowNs() - t0);
  if (!pipeMessageTypeOf(static_cast<std::uint32_t>(reply.type)))
    return answerError(PipeError::System,
                       "the handler replied with unknown type " + std::to_string(static_cast<std::uint32_t>(reply.type)), out);
  if (encodePipeFrameInto(reply.type, reply.data, out) != PipeError::None)
    return answerError(PipeError::System,
                       "the handler's reply is " + std::to_string(reply.data.size()) + " bytes, at most " +
                           std::to_string(kPipeDataCapacity) + " fit in a frame",
                       out);
}

PipeServerStats PipeServer::Impl::stats() const {
  PipeServerStats s;
  {
    std::lock_guard lock(mu_);
    s.running = state_ == State::Running;
    s.active = active_;
    s.peakActive = peakActive_;
  }
  s.path = path;
  auto get = [](const std::atomic<std::uint64_t>& a) { return a.load(std::memory_order_relaxed); };
  s.accepted = get(accepted_);
  s.refused = get(refused_);
  s.closed = get(closed_);
  s.framesIn = get(framesIn_);
  s.framesOut = get(framesOut_);
  s.bytesIn = get(bytesIn_);
  s.bytesOut = get(bytesOut_);
  s.deferredWrites = get(deferredWrites_);
  for (std::size_t i = 0; i < 5; ++i) s.requestsByType[i] = get(byType_[i]);
  s.errors.badLength = get(badLength_);
  s.errors.badSize = get(badSize_);
  s.errors.unknownType = get(unknownType_);
  s.errors.badPadding = get(badPadding_);
  s.errors.badPayload = get(badPayload_);
  s.errors.handlerFailed = get(handlerFailed_);
  s.errors.io = get(ioErrors_);
  s.handlerNs = handlerNs_.summary();
  return s;
}

PipeServer::PipeServer(PipeServerConfig config, PipeHandler handler)
    : impl_(std::make_shared<Impl>(std::move(config), std::move(handler))) {}
PipeServer::~PipeServer() { impl_->stop(); }
PipeResult PipeServer::start() { return impl_->start(); }
void PipeServer::stop() { impl_->stop(); }
PipeDispatcher PipeServer::dispatcher() const {
  return [impl = impl_](const CompletionPacket& packet) { return impl->dispatch(packet); };
}
const std::string& PipeServer::path() const noexcept { return impl_->path; }
PipeServerStats PipeServer::stats() const { return impl_->stats(); }

// --- client ------------------------------------------------------------------------

namespace {

PipeReplyResult replyFailure(PipeError e, std::string detail) {
  PipeReplyResult r;
  r.error = e;
  r.detail = std::move(detail);
  return r;
}

// Milliseconds left until `deadline`, rounded up (so a wait never ends before it).
DWORD msLeft(TimePoint deadline) {
  const auto left = deadline - SteadyClock::now();
  if (left <= Nanos::zero()) return 0;
  const auto ms = std::chrono::ceil<std::chrono::milliseconds>(left).count();
  return static_cast<DWORD>(std::min<long long>(ms, INFINITE - 1));
}

}  // namespace

struct PipeClient::Impl {
  HANDLE pipe = INVALID_HANDLE_VALUE;
  HANDLE event = nullptr;  // manual-reset, for the one overlapped operation at a time
  OVERLAPPED ov{};

  ~Impl() {
    close();
    if (event != nullptr) ::CloseHandle(event);
  }
  bool open() const { return pipe != INVALID_HANDLE_VALUE; }
  void close() noexcept {
    if (open()) ::CloseHandle(pipe);
    pipe = INVALID_HANDLE_VALUE;
  }
  // One ReadFile / WriteFile, waited for until the deadline. ERROR_SUCCESS, ERROR_MORE_DATA,
  // WAIT_TIMEOUT (cancelled; the operation is over) or the error.
  DWORD transfer(bool writing, void* buf, DWORD size, DWORD& done, TimePoint deadline);
  PipeResult closedByServer();
  PipeResult send(const std::uint8_t* bytes, std::size_t size, TimePoint deadline);
  PipeReplyResult receive(TimePoint deadline);
};

DWORD PipeClient::Impl::transfer(bool writing, void* buf, DWORD size, DWORD& done, TimePoint deadline) {
  done = 0;
  ov = OVERLAPPED{};
  ov.hEvent = event;
  const BOOL ok = writing ? ::WriteFile(pipe, buf, size, nullptr, &ov) : ::ReadFile(pipe, buf, size, nullptr, &ov);
  if (!ok) {
    const DWORD err = ::GetLastError();
    if (err == ERROR_IO_PENDING) {
      if (::WaitForSingleObject(event, msLeft(deadline)) != WAIT_OBJECT_0 && !HasOverlappedIoCompleted(&ov)) {
        ::CancelIoEx(pipe, &ov);
        if (!::GetOverlappedResult(pipe, &ov, &done, TRUE) && ::GetLastError() == ERROR_OPERATION_ABORTED)
          return WAIT_TIMEOUT;
        // It completed as it was being cancelled: take the result.
      }
    } else if (err != ERROR_MORE_DATA) {
      return err;
    }
  }
  return ::GetOverlappedResult(pipe, &ov, &done, FALSE) ? ERROR_SUCCESS : ::GetLastError();
}

// The server hung up; an ERROR frame it sent before (e.g. "server busy") says why.
PipeResult PipeClient::Impl::closedByServer() {
  std::uint8_t buf[kReadBufferBytes];
  DWORD avail = 0, n = 0;
  bool gotFrame = false;
  if (::PeekNamedPipe(pipe, nullptr, 0, nullptr, &avail, nullptr) && avail > 0)
    gotFrame = transfer(false, buf, sizeof buf, n, SteadyClock::now() + std::chrono::milliseconds(100)) == ERROR_SUCCESS;
  close();
  if (gotFrame) {
    const PipeDecodeResult d = decodePipeFrame(buf, n);
    if (d.ok() && d.message.type == PipeMessageType::Error) {
      const bool busy = d.message.data.rfind(kServerBusy, 0) == 0;
      return failure(busy ? PipeError::ServerBusy : PipeError::Closed, "the server closed the connection: " + d.message.data);
    }
  }
  return failure(PipeError::Closed, "the server closed the connection");
}

PipeResult PipeClient::Impl::send(const std::uint8_t* bytes, std::size_t size, TimePoint deadline) {
  if (!open()) return failure(PipeError::NotConnected, "not connected");
  if (size > MAXDWORD) return failure(PipeError::TooLarge, std::to_string(size) + " bytes do not fit in one WriteFile");
  DWORD done = 0;
  const DWORD err = transfer(true, const_cast<std::uint8_t*>(bytes), static_cast<DWORD>(size), done, deadline);
  if (err == ERROR_SUCCESS) return {};
  if (peerGone(err)) return closedByServer();
  close();
  if (err == WAIT_TIMEOUT) return failure(PipeError::Timeout, "the server did not take the request in time; connection closed");
  return failure(PipeError::System, describeError("WriteFile", err));
}

PipeReplyResult PipeClient::Impl::receive(TimePoint deadline) {
  if (!open()) return replyFailure(PipeError::NotConnected, "not connected");
  std::uint8_t buf[kReadBufferBytes];
  DWORD n = 0;
  DWORD err = transfer(false, buf, sizeof buf, n, deadline);
  std::uint64_t length = n;
  std::uint8_t rest[4096];
  while (err == ERROR_MORE_DATA) {  // an oversized reply: read it all, so the next starts clean
    err = transfer(false, rest, sizeof rest, n, deadline);
    length += n;
  }
  if (err == ERROR_SUCCESS) {
    PipeDecodeResult d = decodePipeFrame(buf, static_cast<std::size_t>(length));
    if (!d.ok()) return replyFailure(d.error, "malformed reply: " + d.detail);
    PipeReplyResult r;
    r.reply = std::move(d.message);
    return r;
  }
  close();
  if (peerGone(err)) return replyFailure(PipeError::Closed, "the server closed the connection");
  if (err == WAIT_TIMEOUT) return replyFailure(PipeError::Timeout, "no reply in time; connection closed");
  return replyFailure(PipeError::System, describeError("ReadFile", err));
}

PipeClient::PipeClient() : impl_(std::make_unique<Impl>()) {}
PipeClient::~PipeClient() { close(); }
PipeClient::PipeClient(PipeClient&&) noexcept = default;
PipeClient& PipeClient::operator=(PipeClient&& other) noexcept {
  if (this != &other) {
    close();
    impl_ = std::move(other.impl_);
  }
  return *this;
}

PipeResult PipeClient::connect(const std::string& path, std::chrono::milliseconds timeout) {
  if (!impl_) impl_ = std::make_unique<Impl>();
  impl_->close();
  std::wstring name;
  PipeResult res;
  if (!pipeName(path, name, res)) return res;
  if (impl_->event == nullptr) {
    impl_->event = ::CreateEventW(nullptr, TRUE, FALSE, nullptr);
    if (impl_->event == nullptr) return failure(PipeError::System, describeError("CreateEventW", ::GetLastError()));
  }
  const TimePoint deadline = SteadyClock::now() + timeout;
  for (;;) {
    // SECURITY_IDENTIFICATION: the server may learn who we are, never act as us.
    HANDLE pipe = ::CreateFileW(name.c_str(), GENERIC_READ | GENERIC_WRITE, 0, nullptr, OPEN_EXISTING,
                                FILE_FLAG_OVERLAPPED | SECURITY_SQOS_PRESENT | SECURITY_IDENTIFICATION, nullptr);
    if (pipe != INVALID_HANDLE_VALUE) {
      DWORD mode = PIPE_READMODE_MESSAGE;
      if (!::SetNamedPipeHandleState(pipe, &mode, nullptr, nullptr)) {
        const DWORD err = ::GetLastError();
        ::CloseHandle(pipe);
        return failure(PipeError::System, describeError(("SetNamedPipeHandleState " + path).c_str(), err));
      }
      impl_->pipe = pipe;
      return {};
    }
    DWORD err = ::GetLastError();
    if (err == ERROR_PIPE_BUSY) {  // every instance taken: the server makes the next one soon
      const DWORD ms = msLeft(deadline);
      if (ms > 0 && ::WaitNamedPipeW(name.c_str(), ms)) continue;
      err = ms > 0 ? ::GetLastError() : ERROR_SEM_TIMEOUT;
      if (err == ERROR_SEM_TIMEOUT || err == ERROR_PIPE_BUSY)
        return failure(PipeError::Timeout, "the server on " + path + " did not accept in time (every instance busy)");
      if (err == ERROR_FILE_NOT_FOUND) continue;  // the server went away meanwhile: CreateFileW says so
    }
    switch (err) {
      case ERROR_FILE_NOT_FOUND:
      case ERROR_PATH_NOT_FOUND:
        return failure(PipeError::NoServer, "no server listens on " + path + " (" + describeError("CreateFileW", err) + ")");
      case ERROR_ACCESS_DENIED: return failure(PipeError::PermissionDenied, describeError(("CreateFileW " + path).c_str(), err));
      case ERROR_INVALID_NAME:
      case ERROR_BAD_PATHNAME: return failure(PipeError::InvalidPath, describeError(("CreateFileW " + path).c_str(), err));
      default: return failure(PipeError::System, describeError(("CreateFileW " + path).c_str(), err));
    }
  }
}

PipeReplyResult PipeClient::request(PipeMessageType type, std::string_view data, std::chrono::milliseconds timeout) {
  PipeFrame frame;
  if (encodePipeFrameInto(type, data, frame) != PipeError::None)
    return replyFailure(PipeError::TooLarge, "data is " + std::to_string(data.size()) + " bytes, at most " +
                                                 std::to_string(kPipeDataCapacity) + " fit in a frame; nothing sent");
  if (!connected()) return replyFailure(PipeError::NotConnected, "not connected");
  const TimePoint deadline = SteadyClock::now() + timeout;
  if (PipeResult sent = impl_->send(frame.data(), frame.size(), deadline); !sent.ok())
    return replyFailure(sent.error, std::move(sent.detail));
  PipeReplyResult r = impl_->receive(deadline);
  // The refusal a full server sends on accept is no reply to this request: one outcome,
  // however the request raced with it.
  if (r.ok() && r.reply.type == PipeMessageType::Error && r.reply.data.rfind(kServerBusy, 0) == 0) {
    impl_->close();
    return replyFailure(PipeError::ServerBusy, "the server closed the connection: " + r.reply.data);
  }
  return r;
}

PipeResult PipeClient::sendRaw(std::span<const std::uint8_t> bytes, std::chrono::milliseconds timeout) {
  if (!connected()) return failure(PipeError::NotConnected, "not connected");
  return impl_->send(bytes.data(), bytes.size(), SteadyClock::now() + timeout);
}

PipeReplyResult PipeClient::receive(std::chrono::milliseconds timeout) {
  if (!connected()) return replyFailure(PipeError::NotConnected, "not connected");
  return impl_->receive(SteadyClock::now() + timeout);
}

bool PipeClient::connected() const noexcept { return impl_ && impl_->open(); }

void PipeClient::close() noexcept {
  if (impl_) impl_->close();
}

}  // namespace gamesrv
