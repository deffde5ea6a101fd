// PipeSession: the pipe's request handling, the same on every platform (pipe_session.hpp).
#include "gamesrv/pipe_session.hpp"

#include <exception>

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

void PipeSession::answer(std::uint64_t connectionId, const std::uint8_t* in, std::uint64_t length, PipeFrame& out) {
  PipeDecodeResult decoded = decodePipeFrame(in, static_cast<std::size_t>(length));
  if (!decoded.ok()) return answerError(decoded.error, decoded.detail, out);
  const PipeMessageType type = decoded.message.type;
  if (!isPipeRequest(type))
    return answerError(PipeError::UnknownType,
                       "message type " + std::to_string(decoded.rawType) + " (" + toString(type) +
                           ") is a reply type; requests are 1..5",
                       out);
  PipeRequest request{type, std::move(decoded.message.data), std::nullopt, connectionId};
  if (carriesPlayerPayload(type)) {
    PlayerPayloadResult parsed = parsePlayerPayload(type, request.data);
    if (!parsed.ok()) return answerError(PipeError::BadPayload, parsed.detail, out);
    request.player = std::move(parsed.payload);
  }
  byType_[static_cast<std::size_t>(type) - 1].fetch_add(1, std::memory_order_relaxed);
  PipeReply reply;
  const std::uint64_t t0 = nowNs();
  try {
    reply = handler_(request);
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
