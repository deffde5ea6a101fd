// PipeSession: the pipe's request handling, the same on every platform (pipe_session.hpp).
#include "gamesrv/pipe_session.hpp"

#include <exception>
#include <stdexcept>

namespace gamesrv {
namespace {

// The ERROR text a connection over maxClients gets; the client recognizes it.
constexpr std::string_view kServerBusy = "server busy: ";

bool isBusyRefusal(const PipeMessage& m) {
  return m.type == PipeMessageType::Error && std::string_view(m.data).substr(0, kServerBusy.size()) == kServerBusy;
}

}  // namespace

void PipeSession::answerError(PipeError cls, const std::string& reason, PipeFrame& out) {
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

namespace {

// What answer() lends the handler: the slot is made on the first deferReply().
class SlotDeferral final : public PipeDeferral {
 public:
  SlotDeferral(PipeServer::Impl& server, CompletionKey key) noexcept : server_(server), key_(key) {}
  PipeLaterReply take() override {
    if (slot) throw std::logic_error("the reply to this request was already deferred");
    slot = std::make_shared<PipeReplySlot>(server_.weak_from_this(), key_);
    return PipeLaterReply(slot);
  }
  void orphan() {
    if (!slot) return;
    std::lock_guard lock(slot->mu);
    slot->orphaned = true;
  }
  std::shared_ptr<PipeReplySlot> slot;

 private:
  PipeServer::Impl& server_;
  const CompletionKey key_;
};

}  // namespace

void PipeSession::encodeReply(const PipeReply& reply, PipeFrame& out) {
  if (!pipeMessageTypeOf(static_cast<std::uint32_t>(reply.type)))
    return answerError(PipeError::System,
                       "the handler replied with unknown type " + std::to_string(static_cast<std::uint32_t>(reply.type)), out);
  if (encodePipeFrameInto(reply.type, reply.data, out) != PipeError::None)
    return answerError(PipeError::System,
                       "the handler's reply is " + std::to_string(reply.data.size()) + " bytes, at most " +
                           std::to_string(kPipeDataCapacity) + " fit in a frame",
                       out);
}

void PipeSession::encodeLater(const PipeReply& reply, PipeFrame& out) {
  if (reply.deferred) return answerError(PipeError::System, "a deferred reply was sent as PipeReply::later()", out);
  encodeReply(reply, out);
}

std::shared_ptr<PipeReplySlot> PipeSession::answer(PipeServer::Impl& server, CompletionKey key, const std::uint8_t* in,
                                                   std::uint64_t length, PipeFrame& out) {
  PipeDecodeResult decoded = decodePipeFrame(in, static_cast<std::size_t>(length));
  if (!decoded.ok()) {
    answerError(decoded.error, decoded.detail, out);
    return nullptr;
  }
  const PipeMessageType type = decoded.message.type;
  if (!isPipeRequest(type)) {
    answerError(PipeError::UnknownType,
                "message type " + std::to_string(decoded.rawType) + " (" + toString(type) + ") is a reply type; requests are 1..5",
                out);
    return nullptr;
  }
  SlotDeferral deferral(server, key);
  PipeRequest request{type, std::move(decoded.message.data), std::nullopt, PipeServer::Impl::idOf(key), &deferral};
  if (carriesPlayerPayload(type)) {
    PlayerPayloadResult parsed = parsePlayerPayload(type, request.data);
    if (!parsed.ok()) {
      answerError(PipeError::BadPayload, parsed.detail, out);
      return nullptr;
    }
    request.player = std::move(parsed.payload);
  }
  byType_[static_cast<std::size_t>(type) - 1].fetch_add(1, std::memory_order_relaxed);
  PipeReply reply;
  std::string failure;
  const std::uint64_t t0 = nowNs();
  try {
    reply = handler_(request);
  } catch (const std::exception& e) {
    failure = std::string("the handler failed: ") + e.what();
  } catch (...) {
    failure = "the handler failed with a non-standard exception";
  }
  handlerNs_.record(nowNs() - t0);
  if (failure.empty() && reply.deferred != (deferral.slot != nullptr))
    failure = reply.deferred ? "the handler returned PipeReply::later() without deferring its reply"
                             : "the handler deferred its reply and also returned one";
  if (!failure.empty()) {
    deferral.orphan();  // its send() finds nothing to answer
    answerError(PipeError::System, failure, out);
    return nullptr;
  }
  if (!deferral.slot) {
    encodeReply(reply, out);
    return nullptr;
  }
  later_.fetch_add(1, std::memory_order_relaxed);
  {
    std::lock_guard lock(deferral.slot->mu);
    deferral.slot->handlerReturned = true;
  }
  return std::move(deferral.slot);
}

bool PipeReplySlot::takeFrame(PipeFrame& out) {
  std::lock_guard lock(mu);
  if (!filled) return false;
  out = frame;
  taken = true;
  return true;
}

// --- PipeLaterReply / PipeRequest::deferReply ------------------------------------------

PipeLaterReply PipeRequest::deferReply() const {
  if (deferral == nullptr) throw std::logic_error("this request did not come from a pipe server: its reply cannot be deferred");
  return deferral->take();
}

PipeLaterReply& PipeLaterReply::operator=(PipeLaterReply&& other) noexcept {
  if (this != &other) {
    if (slot_) send(PipeReply::error("handler_failed: the deferred reply was replaced unsent"));
    slot_ = std::move(other.slot_);
  }
  return *this;
}

PipeLaterReply::~PipeLaterReply() {
  // The client must not wait forever for a reply nobody will send.
  if (slot_) send(PipeReply::error("handler_failed: the deferred reply was abandoned unsent"));
}

bool PipeLaterReply::send(const PipeReply& reply) {
  const std::shared_ptr<PipeReplySlot> slot = std::move(slot_);
  if (!slot) return false;
  const std::shared_ptr<PipeServer::Impl> server = slot->server.lock();
  if (!server) return false;  // the server is gone, and its counters with it
  PipeFrame frame;
  server->session.encodeLater(reply, frame);
  bool deliver = false;
  {
    std::lock_guard lock(slot->mu);
    if (slot->orphaned) {
      server->session.laterDropped();
      return false;
    }
    slot->frame = frame;
    slot->filled = true;
    deliver = slot->handlerReturned;
  }
  // Not yet returned: sent from inside the handler; answer()'s caller takes the frame.
  if (!deliver || server->deliverLater(slot->key)) return true;
  {
    // Taken meanwhile by the connection's own thread: written, or counted as dropped when
    // the connection closed (PipeServer::Impl::deliverLater()).
    std::lock_guard lock(slot->mu);
    if (slot->taken) return true;
  }
  server->session.laterDropped();
  return false;
}

void PipeSession::busyRefusal(std::size_t maxClients, PipeFrame& out) {
  const std::string reason = std::string(kServerBusy) + std::to_string(maxClients) + " clients already connected";
  encodePipeFrameInto(PipeMessageType::Error, reason, out);
}

void PipeSession::otherUserRefusal(PipeFrame& out) {
  encodePipeFrameInto(PipeMessageType::Error, "refused: the peer runs as another user", out);
}

void PipeSession::fill(PipeServerStats& s) const {
  auto get = [](const std::atomic<std::uint64_t>& a) { return a.load(std::memory_order_relaxed); };
  for (std::size_t i = 0; i < 5; ++i) s.requestsByType[i] = get(byType_[i]);
  s.errors.badLength = get(badLength_);
  s.errors.badSize = get(badSize_);
  s.errors.unknownType = get(unknownType_);
  s.errors.badPadding = get(badPadding_);
  s.errors.badPayload = get(badPayload_);
  s.errors.handlerFailed = get(handlerFailed_);
  s.laterReplies = get(later_);
  s.laterDropped = get(laterDropped_);
  s.handlerNs = handlerNs_.summary();
}

// --- the client's reading of what the server sent ------------------------------------

PipeReplyResult pipeReplyFailure(PipeError e, std::string detail) {
  PipeReplyResult r;
  r.error = e;
  r.detail = std::move(detail);
  return r;
}

PipeReplyResult pipeReplyOf(const std::uint8_t* bytes, std::size_t length) {
  PipeDecodeResult d = decodePipeFrame(bytes, length);
  if (!d.ok()) return pipeReplyFailure(d.error, "malformed reply: " + d.detail);
  PipeReplyResult r;
  r.reply = std::move(d.message);
  return r;
}

PipeResult pipeClosedByServer(const std::uint8_t* last, std::size_t length) {
  if (length > 0) {
    const PipeDecodeResult d = decodePipeFrame(last, length);
    if (d.ok() && d.message.type == PipeMessageType::Error)
      return pipeFailure(isBusyRefusal(d.message) ? PipeError::ServerBusy : PipeError::Closed,
                         "the server closed the connection: " + d.message.data);
  }
  return pipeFailure(PipeError::Closed, "the server closed the connection");
}

// --- PipeClient: the request logic over the backend's transport ----------------------

PipeClient::PipeClient() : impl_(Impl::create()) {}
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
  if (!impl_) impl_ = Impl::create();
  impl_->close();
  return impl_->connect(path, timeout);
}

PipeReplyResult PipeClient::request(PipeMessageType type, std::string_view data, std::chrono::milliseconds timeout) {
  PipeFrame frame;
  if (encodePipeFrameInto(type, data, frame) != PipeError::None)
    return pipeReplyFailure(PipeError::TooLarge, "data is " + std::to_string(data.size()) + " bytes, at most " +
                                                     std::to_string(kPipeDataCapacity) + " fit in a frame; nothing sent");
  if (!connected()) return pipeReplyFailure(PipeError::NotConnected, "not connected");
  const TimePoint start = SteadyClock::now();
  const TimePoint deadline = start + timeout;
  if (PipeResult sent = impl_->send(frame.data(), frame.size(), deadline); !sent.ok())
    return pipeReplyFailure(sent.error, std::move(sent.detail));
  // Sent at once (the usual case): the reply may be waited for in one blocking read of
  // `timeout`, which ends within a millisecond of the deadline.
  const bool sentAtOnce = SteadyClock::now() - start < std::chrono::milliseconds(1);
  PipeReplyResult r = impl_->receive(deadline, sentAtOnce ? timeout : std::chrono::milliseconds{});
  // The refusal a full server sends on accept is no reply to this request: one outcome,
  // however the request raced with it.
  if (r.ok() && isBusyRefusal(r.reply)) {
    impl_->close();
    return pipeReplyFailure(PipeError::ServerBusy, "the server closed the connection: " + r.reply.data);
  }
  return r;
}

PipeResult PipeClient::sendRaw(std::span<const std::uint8_t> bytes, std::chrono::milliseconds timeout) {
  if (!connected()) return pipeFailure(PipeError::NotConnected, "not connected");
  return impl_->send(bytes.data(), bytes.size(), SteadyClock::now() + timeout);
}

PipeReplyResult PipeClient::receive(std::chrono::milliseconds timeout) {
  if (!connected()) return pipeReplyFailure(PipeError::NotConnected, "not connected");
  return impl_->receive(SteadyClock::now() + timeout, std::chrono::milliseconds{});
}

bool PipeClient::connected() const noexcept { return impl_ && impl_->open(); }

void PipeClient::close() noexcept {
  if (impl_) impl_->close();
}

}  // namespace gamesrv
