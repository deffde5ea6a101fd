#include "gamesrv/game_server.hpp"

#include <charconv>
#include <cmath>
#include <stdexcept>

#include "gamesrv/clock.hpp"
#include "gamesrv/game_protocol.hpp"
#include "gamesrv/platform/thread.hpp"

namespace gamesrv {

namespace {

game::Bytes bytesOf(std::span<const std::byte> s) noexcept {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

// A frame the codec encoded whole (header included), as the transport sends it.
template <class Message>
GameFrame frameOf(const Message& m) {
  std::string out;
  if (!game::encode(out, m)) return GameFrame{};
  const auto* p = reinterpret_cast<const std::byte*>(out.data());
  return GameFrame::copyOf(static_cast<std::uint8_t>(out[game::kLengthBytes]),
                           std::span<const std::byte>(p + game::kFrameHeaderBytes, out.size() - game::kFrameHeaderBytes));
}

std::uint64_t cellKey(CellCoord c) noexcept {
  return (static_cast<std::uint64_t>(static_cast<std::uint32_t>(c.cx)) << 32) | static_cast<std::uint32_t>(c.cy);
}

// With auth "none": "<playerId>" or "<playerId>:<name>".
bool parseUnsignedTicket(std::string_view t, std::uint32_t& id, std::string& name) {
  const auto colon = t.find(':');
  const std::string_view digits = t.substr(0, colon);
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), id);
  if (ec != std::errc() || end != digits.data() + digits.size() || digits.empty()) return false;
  name = colon == std::string_view::npos ? std::string() : std::string(t.substr(colon + 1));
  return true;
}

std::uint64_t unixSeconds() { return unixMs() / 1000; }

}  // namespace

GameServer::GameServer(GameServerHooks hooks, const WorldConfig& world)
    : hooks_(std::move(hooks)), bounds_{-world.worldSize, world.worldSize} {}

GameServer::~GameServer() = default;

void GameServer::configure(const GameServerConfig& config, double tickRateHz, const World& world) {
  if (!config.enabled) {
    std::lock_guard lock(mu_);
    config_ = config;
    std::lock_guard ops(opsMu_);
    transport_.reset();
    return;
  }
  if (config.auth == GameAuth::Ticket && config.ticketSecret.empty()) {
    throw std::invalid_argument("the game port needs a ticket secret (or game auth none)");
  }
  if (!(config.aoiRadius > 0) || !std::isfinite(config.aoiRadius)) throw std::invalid_argument("aoiRadius must be > 0");
  const double replicationHz = config.replicationHz > 0 ? std::min(config.replicationHz, tickRateHz) : tickRateHz;
  auto grid = std::make_unique<AoiGrid>(AoiConfig{bounds_.min, bounds_.max, config.aoiRadius});
  for (const Player& p : world.players()) {
    if (p.online) grid->add(p.id, p.x, p.y, p.hp);
  }
  {
    std::lock_guard lock(gridMu_);
    grid_ = std::move(grid);
    std::lock_guard staging(stageMu_);
    staged_.clear();
    chats_.clear();
  }
  std::lock_guard lock(mu_);
  config_ = config;
  tickRateHz_ = tickRateHz;
  ticksPerReplication_ = std::max<std::uint64_t>(1, static_cast<std::uint64_t>(std::llround(tickRateHz / replicationHz)));
  if (config.auth == GameAuth::Ticket) {
    tickets_.emplace(std::span<const std::uint8_t>(config.ticketSecret));
  } else {
    tickets_.reset();
  }
  sessions_.clear();
  byPlayer_.clear();
  draining_.store(false, std::memory_order_relaxed);
  lastReplicatedTick_.store(0, std::memory_order_relaxed);
  std::lock_guard ops(opsMu_);
  transport_ = std::make_shared<GameSessions>(config.sessions, *this);
}

std::shared_ptr<GameSessions> GameServer::ops() const {
  std::lock_guard lock(opsMu_);
  return transport_;
}

GameSessions* GameServer::sessions() noexcept { return transport_.get(); }

void GameServer::shutdown() {
  {
    // The run is over and its queue stopped accepting: what was still held is not applied.
    std::lock_guard lock(heldMu_);
    heldSessions_.clear();
    anyHeld_.store(false, std::memory_order_release);
  }
  std::lock_guard lock(mu_);
  sessions_.clear();
  byPlayer_.clear();
  boundPort_.store(0, std::memory_order_relaxed);
}

std::shared_ptr<GameServer::Session> GameServer::find(std::uint32_t sessionId) const {
  std::lock_guard lock(mu_);
  auto it = sessions_.find(sessionId);
  return it == sessions_.end() ? nullptr : it->second;
}

bool GameServer::onOpen(std::uint32_t sessionId, const std::string&) {
  auto s = std::make_shared<Session>();
  s->id = sessionId;
  const auto link = transport_->find(sessionId);  // registered before the handler is asked
  if (!link) return false;
  s->link = link;
  link->handlerContext = s;  // before any frame of it: onFrame() needs no lookup
  std::lock_guard lock(mu_);
  sessions_.emplace(sessionId, std::move(s));
  return true;
}

void GameServer::refuse(std::uint32_t sessionId, game::ErrorCode code, std::string_view text) {
  transport_->send(sessionId, GameFrame::error(static_cast<game_wire::ErrorCode>(code), text), false);
  transport_->close(sessionId);
}

void GameServer::onFrame(GameSession& transportSession, std::uint8_t type, std::span<const std::byte> payload) {
  const std::shared_ptr<Session> s = std::static_pointer_cast<Session>(transportSession.handlerContext);
  if (!s) return;
  if (s->admitting.load(std::memory_order_acquire)) {
    std::unique_lock lock(s->admitMu);
    if (s->admitting.load(std::memory_order_relaxed)) {  // kept for completeHello(), in order
      if (s->preLogin.size() >= kMaxPreLoginFrames) {
        lock.unlock();
        return refuse(s->id, game::ErrorCode::RateLimited, "too many messages before WELCOME");
      }
      s->preLogin.emplace_back(type, std::vector<std::byte>(payload.begin(), payload.end()));
      return;
    }
  }
  dispatch(s, type, payload);
}

void GameServer::dispatch(const std::shared_ptr<Session>& s, std::uint8_t type, std::span<const std::byte> payload) {
  const std::uint32_t sessionId = s->id;
  const bool live = s->hello.load(std::memory_order_acquire);
  if (type == static_cast<std::uint8_t>(game::MessageType::Hello)) {
    if (live) return refuse(sessionId, game::ErrorCode::HelloTwice, "HELLO was already accepted");
    return hello(s, payload);
  }
  if (!live) {
    if (!game::isClientType(type)) return refuse(sessionId, game::ErrorCode::UnknownType, "unknown message type");
    return refuse(sessionId, game::ErrorCode::NotHelloFirst, "send HELLO first");
  }
  game::ClientMessage msg;
  const game::ErrorCode err = game::parseClientMessage(type, bytesOf(payload), bounds_, msg);
  if (err != game::ErrorCode::None) return refuse(sessionId, err, game::toString(err));
  const std::uint32_t player = s->playerId;
  if (const auto* m = std::get_if<game::Move>(&msg)) {
    GameEvent e;
    e.type = EventType::PlayerMove;
    e.playerId = player;
    e.num1 = m->x;
    e.num2 = m->y;
    e.clientSeq = m->clientSeq;
    return input(s, std::move(e));
  }
  if (const auto* m = std::get_if<game::Attack>(&msg)) {
    GameEvent e;
    e.type = EventType::PlayerAttack;
    e.playerId = player;
    e.num1 = m->targetPlayerId;
    e.num2 = config_.attackDamage;
    return input(s, std::move(e));
  }
  if (const auto* m = std::get_if<game::Chat>(&msg)) {
    GameEvent e;
    e.type = EventType::PlayerChat;
    e.playerId = player;
    e.text = std::string(m->text);
    return input(s, std::move(e));
  }
  if (const auto* m = std::get_if<game::Ping>(&msg)) {
    transport_->send(sessionId, frameOf(game::Pong{m->t, nowNs() / 1000}), false);
    return;
  }
  if (std::holds_alternative<game::Bye>(msg)) transport_->close(sessionId);
}

void GameServer::hello(const std::shared_ptr<Session>& s, std::span<const std::byte> payload) {
  game::Hello h;
  game::ErrorCode err = game::parseHello(bytesOf(payload), h);
  if (err != game::ErrorCode::None) {
    helloRefused_.fetch_add(1, std::memory_order_relaxed);
    return refuse(s->id, err, game::toString(err));
  }
  if (draining_.load(std::memory_order_acquire)) {
    helloRefused_.fetch_add(1, std::memory_order_relaxed);
    return refuse(s->id, game::ErrorCode::Draining, "this server is draining: connect to another one");
  }
  std::uint32_t playerId = 0;
  std::string name;
  if (tickets_) {
    TicketCheck check = tickets_->verify(h.ticket, unixSeconds());
    if (check.status != TicketStatus::Ok) {
      helloRefused_.fetch_add(1, std::memory_order_relaxed);
      const auto code = check.status == TicketStatus::Expired ? game::ErrorCode::TicketExpired : game::ErrorCode::BadTicket;
      return refuse(s->id, code, check.status == TicketStatus::Expired ? "the ticket has expired" : "the ticket is not valid here");
    }
    playerId = check.claims.playerId;
    name = std::move(check.claims.name);
  } else if (!parseUnsignedTicket(h.ticket, playerId, name)) {
    helloRefused_.fetch_add(1, std::memory_order_relaxed);
    return refuse(s->id, game::ErrorCode::BadTicket, "with game auth none, the ticket is <playerId> or <playerId>:<name>");
  }
  if (hooks_.admit) {
    // Before the hook: its answer may come at once from another thread. Live for the
    // transport (no hello_timeout while the lease is awaited); reads paused meanwhile.
    s->admitting.store(true, std::memory_order_release);
    transport_->markLive(s->id);
    transport_->pauseReading(s->id);
    const std::weak_ptr<Session> weak = s;
    const bool waits = hooks_.admit(playerId, [this, weak, playerId, name](LoginAdmission outcome, std::string why) {
      completeHello(weak, playerId, name, outcome, why);
    });
    if (waits) return;
    std::lock_guard lock(s->admitMu);
    s->admitting.store(false, std::memory_order_release);
    transport_->resumeReading(s->id);
  }
  welcome(s, playerId, std::move(name));
}

void GameServer::completeHello(const std::weak_ptr<Session>& weak, std::uint32_t playerId, std::string name,
                               LoginAdmission outcome, const std::string& why) {
  const std::shared_ptr<Session> s = weak.lock();
  if (!s) return;
  {
    std::lock_guard lock(mu_);
    auto it = sessions_.find(s->id);
    if (it == sessions_.end() || it->second != s) return;  // closed meanwhile, or the run ended
  }
  const std::shared_ptr<GameSessions> transport = ops();
  if (!transport) return;
  std::lock_guard lock(s->admitMu);  // the I/O thread keeps frames until this hands them on
  if (outcome == LoginAdmission::Admitted && draining_.load(std::memory_order_acquire)) outcome = LoginAdmission::Cancelled;
  if (outcome != LoginAdmission::Admitted) {
    helloRefused_.fetch_add(1, std::memory_order_relaxed);
    s->preLogin.clear();
    s->admitting.store(false, std::memory_order_release);
    const game::ErrorCode code = outcome == LoginAdmission::OwnedElsewhere ? game::ErrorCode::OwnedElsewhere
                                 : outcome == LoginAdmission::Cancelled    ? game::ErrorCode::Draining
                                                                           : game::ErrorCode::ServerFull;
    transport->send(s->id, GameFrame::error(static_cast<game_wire::ErrorCode>(code), why), false);
    transport->close(s->id);
    return;
  }
  welcome(s, playerId, std::move(name));
  for (auto& [type, bytes] : s->preLogin) dispatch(s, type, bytes);
  s->preLogin.clear();
  s->admitting.store(false, std::memory_order_release);
  // Unless an input it handed on found the queue full (then retryHeld() resumes it).
  if (!s->holding.load(std::memory_order_acquire)) transport->resumeReading(s->id);
}

void GameServer::welcome(const std::shared_ptr<Session>& s, std::uint32_t playerId, std::string name) {
  std::uint32_t previous = 0;
  {
    std::lock_guard lock(mu_);
    auto [it, inserted] = byPlayer_.try_emplace(playerId, s->id);
    if (!inserted) {
      previous = it->second;
      it->second = s->id;
      if (auto old = sessions_.find(previous); old != sessions_.end()) old->second->replaced = true;
    }
    s->playerId = playerId;
    s->hello.store(true, std::memory_order_release);
  }
  hellos_.fetch_add(1, std::memory_order_relaxed);
  transport_->markLive(s->id);  // (already, after a pending login: no change)
  transport_->send(s->id,
                   frameOf(game::Welcome{s->id, playerId, static_cast<std::uint16_t>(std::lround(tickRateHz_)),
                                         static_cast<std::uint16_t>(std::lround(tickRateHz_ / static_cast<double>(ticksPerReplication_))),
                                         bounds_.min, bounds_.max, config_.aoiRadius}),
                   false);
  if (previous != 0) {
    replacedCount_.fetch_add(1, std::memory_order_relaxed);
    transport_->kick(previous, game_wire::KickReason::Replaced, "another session of this player logged in");
    return;  // the player stays online, now on this session
  }
  GameEvent e;
  e.type = EventType::PlayerLogin;
  e.playerId = playerId;
  e.text = std::move(name);
  input(s, std::move(e));
}

void GameServer::input(const std::shared_ptr<Session>& s, GameEvent&& e) {
  e.session = s->id;
  EnqueueStatus status = EnqueueStatus::QueueFull;
  // Nothing held (the usual case): straight to the queue, without heldMu_. Only this
  // session's reader (the caller) adds held inputs, so nothing can be held ahead of it.
  if (!s->holding.load(std::memory_order_acquire)) {
    status = hooks_.enqueue(std::move(e)).status;
    if (status == EnqueueStatus::Ok) {
      inputs_.add();
      return;
    }
  }
  std::unique_lock lock(heldMu_);
  // Behind the inputs held already, in order (or, in the moment retryHeld() empties them,
  // held for the next tick: nothing is ahead of it either way).
  if (status == EnqueueStatus::QueueFull && s->held.size() < kMaxHeldInputs) {
    // Back-pressure: keep it (the queue left it as it was), stop reading this session
    // until the game loop finds room (retryHeld()).
    if (s->held.empty()) {
      heldSessions_.push_back(s);
      anyHeld_.store(true, std::memory_order_release);
      s->holding.store(true, std::memory_order_release);
      transport_->pauseReading(s->id);
    }
    s->held.push_back(std::move(e));
    inputsHeld_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  lock.unlock();
  refuseInput(s);
}

void GameServer::refuseInput(const std::shared_ptr<Session>& s) {
  inputsRefused_.fetch_add(1, std::memory_order_relaxed);
  // Nothing of it was applied: say so, and keep the session.
  transport_->send(s->id, GameFrame::error(game_wire::ErrorCode::RateLimited, "server busy: input not applied"), false);
}

void GameServer::onClose(std::uint32_t sessionId, GameCloseInfo) {
  std::shared_ptr<Session> s;
  bool logout = false;
  {
    std::lock_guard lock(mu_);
    auto it = sessions_.find(sessionId);
    if (it == sessions_.end()) return;
    s = std::move(it->second);
    sessions_.erase(it);
    if (sessions_.empty()) noSessions_.notify_all();
    if (s->hello && !s->replaced) {
      auto p = byPlayer_.find(s->playerId);
      if (p != byPlayer_.end() && p->second == sessionId) {
        byPlayer_.erase(p);
        logout = true;
      }
    }
  }
  if (!logout) return;
  GameEvent e;
  e.type = EventType::PlayerLogout;
  e.playerId = s->playerId;
  e.session = sessionId;
  {
    // After the inputs it still holds, and never dropped for a full queue: a lost
    // LOGOUT would leave the player online.
    std::lock_guard lock(heldMu_);
    if (!s->held.empty()) {
      s->held.push_back(std::move(e));
      return;
    }
  }
  const EnqueueStatus status = hooks_.enqueue(std::move(e)).status;
  if (status == EnqueueStatus::Ok) {
    inputs_.add();
  } else if (status == EnqueueStatus::QueueFull) {
    std::lock_guard lock(heldMu_);
    s->held.push_back(std::move(e));
    s->holding.store(true, std::memory_order_release);
    heldSessions_.push_back(s);
    anyHeld_.store(true, std::memory_order_release);
  }
  // NotAccepting: only while the engine stops, and then the stop ends the run.
}

void GameServer::onStateDropped(std::uint32_t sessionId) {
  if (auto s = find(sessionId)) s->viewer.invalidate();
}

void GameServer::sendTo(std::uint32_t playerId, const GameFrame& frame) {
  std::uint32_t sid = 0;
  {
    std::lock_guard lock(mu_);
    auto it = byPlayer_.find(playerId);
    if (it == byPlayer_.end()) return;
    sid = it->second;
  }
  transport_->send(sid, frame, false);
}

void GameServer::onApplied(const GameEvent& e, InvalidReason why, const World& world) {
  if (why != InvalidReason::None || !transport_) return;
  switch (e.type) {
    case EventType::PlayerLogin: {
      const auto p = world.player(e.playerId);
      if (!p) return;
      return stage(GridOp{GridOp::Kind::Add, p->id, p->hp, 0, 0, p->x, p->y});
    }
    case EventType::PlayerLogout:
      return stage(GridOp{GridOp::Kind::Remove, e.playerId, 0, 0, 0, 0, 0});
    case EventType::PlayerMove: {
      double x = e.num1, y = e.num2;
      if (e.session == 0 && !parseCoordinatePair(e.text, x, y)) return;
      return stage(GridOp{GridOp::Kind::Move, e.playerId, 0, e.session, e.clientSeq, x, y});
    }
    case EventType::PlayerAttack: {
      const auto target = static_cast<std::uint32_t>(e.num1);
      const auto victim = world.player(target);
      if (!victim) return;
      stage(GridOp{GridOp::Kind::SetHp, target, victim->hp, 0, 0, 0, 0});
      const GameFrame hit = frameOf(game::Hit{e.playerId, target, static_cast<std::int32_t>(e.num2), victim->hp});
      sendTo(e.playerId, hit);
      sendTo(target, hit);
      if (victim->hp == 0) {
        const GameFrame death = frameOf(game::Death{e.playerId, target});
        sendTo(e.playerId, death);
        sendTo(target, death);
      }
      return;
    }
    case EventType::PlayerChat: {
      std::lock_guard lock(stageMu_);
      chats_.push_back(PendingChat{e.playerId, e.text});
      return;
    }
  }
}

void GameServer::stage(GridOp&& op) {
  {
    std::lock_guard lock(stageMu_);
    staged_.push_back(std::move(op));
    if (staged_.size() < kMaxStagedGridOps) return;
  }
  // No round has taken them for a while: apply them here (in the lock order, so that no
  // round applies newer changes before these).
  std::lock_guard lock(gridMu_);
  applyStagedLocked();
}

void GameServer::applyStagedLocked() {
  {
    std::lock_guard lock(stageMu_);
    applying_.swap(staged_);
  }
  for (GridOp& op : applying_) {
    if (!grid_) break;
    switch (op.kind) {
      case GridOp::Kind::Add: grid_->add(op.playerId, op.x, op.y, op.hp); break;
      case GridOp::Kind::Remove: grid_->remove(op.playerId); break;
      case GridOp::Kind::SetHp: grid_->setHp(op.playerId, op.hp); break;
      case GridOp::Kind::Move: grid_->move(op.playerId, op.x, op.y, op.session, op.clientSeq); break;
    }
  }
  applying_.clear();  // keeps its capacity (and the staged vector, swapped back next time, its own)
}

void GameServer::retryHeld() {
  std::lock_guard lock(heldMu_);
  while (!heldSessions_.empty()) {
    const std::shared_ptr<Session>& s = heldSessions_.front();
    while (!s->held.empty()) {
      if (hooks_.enqueue(std::move(s->held.front())).status != EnqueueStatus::Ok) break;
      s->held.pop_front();
      inputs_.add();
    }
    if (!s->held.empty()) break;  // still full: the next tick tries again
    s->holding.store(false, std::memory_order_release);
    // Under heldMu_, as input() pauses it: were the resume after the lock, the session's
    // reader (still in a buffer read before the pause) could find the queue full again and
    // pause, and this late resume would let it read on while it holds, past any bound.
    transport_->resumeReading(s->id);
    heldSessions_.pop_front();
  }
  anyHeld_.store(!heldSessions_.empty(), std::memory_order_release);
}

void GameServer::onTick(std::uint64_t tick) {
  if (transport_ && anyHeld_.load(std::memory_order_acquire)) retryHeld();
  if (!transport_ || tick % ticksPerReplication_ != 0) return;
  // Several game-loop threads may tick: the first to reach a tick replicates it.
  std::uint64_t last = lastReplicatedTick_.load(std::memory_order_relaxed);
  do {
    if (tick <= last) return;
  } while (!lastReplicatedTick_.compare_exchange_weak(last, tick, std::memory_order_acq_rel));
  replicate(tick);
}

void GameServer::replicate(std::uint64_t tick) {
  const std::uint64_t t0 = nowNs();
  const std::uint64_t cpu0 = platform::currentThreadCpuNs();
  {
    // One hand-over of every session's new frames to the I/O threads, at the end of the
    // round (and inside its measured time).
    GameSessions::WakeBatch batch(*transport_);
    replicateRound(tick);
  }
  replicating_.clear();  // keeps its capacity; holds no session between rounds
  replicationNs_.record(nowNs() - t0);
  replicationCpuNs_.record(platform::currentThreadCpuNs() - cpu0);
}

void GameServer::replicateRound(std::uint64_t tick) {
  {
    std::lock_guard lock(mu_);
    replicating_.clear();
    for (const auto& [id, s] : sessions_) {
      if (s->hello && !s->replaced) replicating_.push_back(s);
    }
  }
  std::lock_guard lock(gridMu_);
  if (!grid_) return;
  applyStagedLocked();
  {
    std::lock_guard staging(stageMu_);
    roundChats_.swap(chats_);
  }
  const ReplicationStats rs = grid_->replicate(tick);
  (void)rs;
  viewersByCell_.clear();  // only this round's cells: a long run visits many
  const bool chats = !roundChats_.empty();  // the viewers' cells are needed only to route chat
  std::uint64_t bytes = 0;
  std::string head;
  for (const auto& s : replicating_) {
    const auto view = grid_->viewOf(s->playerId);
    if (!view) continue;  // logged in, LOGIN not applied yet
    const CellCoord* const cell = &view->cell;
    // The latest of its own inputs the grid shows (a move of the player by another
    // session, the one it replaced, acknowledges nothing of this one's).
    if (view->ackTag == s->id) s->lastClientSeq.store(view->ackSeq, std::memory_order_relaxed);
    if (chats) viewersByCell_[cellKey(*cell)].push_back(s->id);
    // At most one unwritten STATE a session: an older one still queued is superseded.
    const std::shared_ptr<GameSession> link = s->link.lock();
    if (!link) continue;  // closed meanwhile
    if (transport_->dropStates(*link) > 0) s->viewer.invalidate();
    grid_->collect(s->viewer, *cell, collected_);
    if (!collected_.leave.empty()) {
      transport_->send(*link, frameOf(game::Leave{collected_.leave}), false);
      leaveFrames_.fetch_add(1, std::memory_order_relaxed);
    }
    if (collected_.cells.empty()) continue;
    std::vector<GameBuffer> blocks;
    blocks.reserve(collected_.cells.size() + 1);  // + the frame's header (GameFrame::gather)
    std::size_t cellBytes = 0;
    for (CellBlock& b : collected_.cells) {
      // Moved, not copied: each copy of a block's reference is an atomic add on a count
      // that the I/O threads' releases also touch.
      const std::byte* data = b->data();
      const std::size_t size = b->size();
      blocks.push_back(GameBuffer{std::move(b), data, size});
      cellBytes += size;
    }
    head.clear();
    if (!game::encodeStateHeader(head, game::StateHeader{tick, s->lastClientSeq.load(std::memory_order_relaxed),
                                                          static_cast<std::uint16_t>(blocks.size())},
                                 cellBytes)) {
      continue;
    }
    const auto* h = reinterpret_cast<const std::byte*>(head.data()) + game::kFrameHeaderBytes;
    transport_->send(*link,
                     GameFrame::gather(static_cast<std::uint8_t>(game::MessageType::State),
                                       std::span<const std::byte>(h, head.size() - game::kFrameHeaderBytes), std::move(blocks)),
                     true);
    stateFrames_.fetch_add(1, std::memory_order_relaxed);
    bytes += cellBytes;
  }
  // Chat goes to every session whose 3x3 holds the speaker.
  for (const PendingChat& c : roundChats_) {
    const auto at = grid_->cellOfPlayer(c.from);
    if (!at) continue;
    const GameFrame frame = frameOf(game::ServerChat{c.from, c.text});
    for (std::int32_t dy = -1; dy <= 1; ++dy) {
      for (std::int32_t dx = -1; dx <= 1; ++dx) {
        auto it = viewersByCell_.find(cellKey(CellCoord{at->cx + dx, at->cy + dy}));
        if (it == viewersByCell_.end()) continue;
        for (std::uint32_t sid : it->second) {
          if (transport_->send(sid, frame, false)) chatsDelivered_.fetch_add(1, std::memory_order_relaxed);
        }
      }
    }
  }
  roundChats_.clear();
  replications_.fetch_add(1, std::memory_order_relaxed);
  replicationBytes_.fetch_add(bytes, std::memory_order_relaxed);
}

std::vector<GameSessionRow> GameServer::list(std::size_t offset, std::size_t limit) const {
  std::vector<GameSessionRow> rows;
  const auto transport = ops();
  if (!transport) return rows;
  for (GameSessionInfo& info : transport->sessions(offset, limit)) {
    GameSessionRow row;
    row.transport = std::move(info);
    if (auto s = find(row.transport.id)) {
      std::lock_guard lock(mu_);
      row.playerId = s->hello ? s->playerId : 0;
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

bool GameServer::kick(std::uint32_t sessionId, std::string_view text) {
  const auto transport = ops();
  return transport && transport->kick(sessionId, game_wire::KickReason::Operator, text);
}

std::size_t GameServer::broadcast(std::string_view text) {
  const auto transport = ops();
  if (!transport) return 0;
  return transport->broadcast(frameOf(game::Notice{text}), false);
}

void GameServer::beginDrain(std::string_view notice) {
  const auto transport = ops();
  if (!transport) return;
  draining_.store(true, std::memory_order_release);
  transport->stopAccepting();
  transport->broadcast(frameOf(game::Notice{notice}), false);
}

std::size_t GameServer::live() const {
  std::lock_guard lock(mu_);
  return sessions_.size();
}

bool GameServer::waitNoSessions(std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mu_);
  return noSessions_.wait_for(lock, timeout, [&] { return sessions_.empty(); });
}

void GameServer::kickAll(game::KickReason reason, std::string_view text) {
  const auto transport = ops();
  if (!transport) return;
  for (const GameSessionInfo& info : transport->sessions(0, SIZE_MAX)) {
    transport->kick(info.id, static_cast<game_wire::KickReason>(reason), text);
  }
}

GameServerStats GameServer::stats() const {
  GameServerStats st;
  const auto transport = ops();
  st.enabled = transport != nullptr;
  st.port = boundPort_.load(std::memory_order_relaxed);
  st.draining = draining_.load(std::memory_order_relaxed);
  if (transport) st.transport = transport->stats();
  st.hellos = hellos_.load(std::memory_order_relaxed);
  st.helloRefused = helloRefused_.load(std::memory_order_relaxed);
  st.replaced = replacedCount_.load(std::memory_order_relaxed);
  st.inputs = inputs_.load();
  st.inputsRefused = inputsRefused_.load(std::memory_order_relaxed);
  st.inputsHeld = inputsHeld_.load(std::memory_order_relaxed);
  st.replications = replications_.load(std::memory_order_relaxed);
  st.stateFrames = stateFrames_.load(std::memory_order_relaxed);
  st.leaveFrames = leaveFrames_.load(std::memory_order_relaxed);
  st.chatsDelivered = chatsDelivered_.load(std::memory_order_relaxed);
  st.replicationBytes = replicationBytes_.load(std::memory_order_relaxed);
  st.replicationNs = replicationNs_.summary();
  st.replicationCpuNs = replicationCpuNs_.summary();
  return st;
}

}  // namespace gamesrv
