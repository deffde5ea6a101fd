// BotDriver on Linux (see bot_driver.hpp): `threads` threads, each with its own epoll set
// holding its bots' sockets (EPOLLIN|EPOLLOUT|EPOLLRDHUP, edge-triggered from the connect
// on, so writability needs no epoll_ctl) and an eventfd that finish() writes. A thread
// blocks in epoll_wait with the earliest due time of its bots as the timeout (a min-heap
// of due times; each bot has at most one entry), so nothing polls. Reads and writes run
// until EAGAIN, as edge triggering requires. What the bytes mean is the Bot's (core).
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <functional>
#include <queue>
#include <thread>
#include <vector>

#include "gamesrv/bots.hpp"
#include "gamesrv/clock.hpp"
#include "gamesrv/platform/bot_driver.hpp"

namespace gamesrv {
namespace {

constexpr std::uint64_t kWakeData = ~0ull;
constexpr int kMaxEvents = 256;
constexpr std::size_t kReadChunk = 64 * 1024;
constexpr std::uint64_t kNever = ~0ull;

std::string osError(const char* what, int err) { return std::string(what) + ": " + std::strerror(err); }

struct Due {
  std::uint64_t at;
  std::uint32_t slot;
  bool operator>(const Due& o) const noexcept { return at > o.at; }
};

class Worker {
 public:
  Worker(const sockaddr_storage& addr, socklen_t addrLen, std::atomic<std::uint32_t>& lingerMs)
      : addr_(addr), addrLen_(addrLen), lingerMs_(lingerMs) {}
  ~Worker() {
    if (ep_ >= 0) ::close(ep_);
    if (wake_ >= 0) ::close(wake_);
  }

  std::string open() {
    ep_ = ::epoll_create1(EPOLL_CLOEXEC);
    if (ep_ < 0) return osError("epoll_create1", errno);
    wake_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (wake_ < 0) return osError("eventfd", errno);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = kWakeData;
    if (::epoll_ctl(ep_, EPOLL_CTL_ADD, wake_, &ev) != 0) return osError("epoll_ctl", errno);
    return {};
  }
  void add(Bot& bot) {
    bots_.push_back(&bot);
    fds_.push_back(-1);
    scheduled_.push_back(0);
  }
  void launch() { thread_ = std::thread([this] { run(); }); }
  void wake() {
    const std::uint64_t one = 1;
    (void)!::write(wake_, &one, sizeof one);
  }
  void join() {
    if (thread_.joinable()) thread_.join();
  }

 private:
  void run();
  void connectAll();
  void serve(std::uint32_t slot, std::uint32_t events, std::uint64_t now);
  void readAll(std::uint32_t slot, std::uint64_t now);
  void flush(std::uint32_t slot);
  void end(std::uint32_t slot, std::string_view why);
  void schedule(std::uint32_t slot, std::uint64_t now);
  int waitMs(std::uint64_t until, std::uint64_t now) const;
  bool anyOpen() const;

  const sockaddr_storage addr_;
  const socklen_t addrLen_;
  std::atomic<std::uint32_t>& lingerMs_;
  int ep_ = -1, wake_ = -1;
  std::thread thread_;
  std::atomic<bool> finishing_{false};
  std::vector<Bot*> bots_;
  std::vector<int> fds_;
  std::vector<char> scheduled_;
  std::priority_queue<Due, std::vector<Due>, std::greater<>> due_;
  std::vector<char> buf_ = std::vector<char>(kReadChunk);

  friend class PosixBotDriver;
};

void Worker::connectAll() {
  for (std::uint32_t i = 0; i < bots_.size(); ++i) {
    const int fd = ::socket(addr_.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      bots_[i]->closed(osError("socket", errno));
      continue;
    }
    const int one = 1;
    (void)::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fds_[i] = fd;
    bots_[i]->setConnecting();
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr_), addrLen_) != 0 && errno != EINPROGRESS) {
      end(i, osError("connect", errno));
      continue;
    }
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    ev.data.u64 = i;
    if (::epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev) != 0) end(i, osError("epoll_ctl", errno));
  }
}

void Worker::end(std::uint32_t slot, std::string_view why) {
  if (fds_[slot] >= 0) {
    ::close(fds_[slot]);  // also leaves the epoll set
    fds_[slot] = -1;
  }
  bots_[slot]->closed(why);
}

void Worker::flush(std::uint32_t slot) {
  Bot& bot = *bots_[slot];
  while (fds_[slot] >= 0 && !bot.pending().empty()) {
    const std::string_view p = bot.pending();
    const ssize_t n = ::send(fds_[slot], p.data(), p.size(), MSG_NOSIGNAL);
    if (n > 0) {
      bot.consumed(static_cast<std::size_t>(n));
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      return;  // the next EPOLLOUT edge resumes
    } else {
      end(slot, osError("send", errno));
    }
  }
}

void Worker::readAll(std::uint32_t slot, std::uint64_t now) {
  while (fds_[slot] >= 0) {
    const ssize_t n = ::recv(fds_[slot], buf_.data(), buf_.size(), 0);
    if (n > 0) {
      if (!bots_[slot]->received(reinterpret_cast<const std::uint8_t*>(buf_.data()), static_cast<std::size_t>(n), now)) {
        end(slot, "");  // the bot recorded why
      }
    } else if (n == 0) {
      end(slot, "the server closed the connection");
    } else if (errno == EINTR) {
      continue;
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      return;
    } else {
      end(slot, osError("recv", errno));
    }
  }
}

void Worker::schedule(std::uint32_t slot, std::uint64_t now) {
  if (scheduled_[slot] || bots_[slot]->phase() != Bot::Phase::Playing || finishing_.load()) return;
  const std::uint64_t at = bots_[slot]->tick(now);
  flush(slot);
  if (at == kNever) return;
  scheduled_[slot] = 1;
  due_.push(Due{at, slot});
}

void Worker::serve(std::uint32_t slot, std::uint32_t events, std::uint64_t now) {
  if (fds_[slot] < 0) return;
  Bot& bot = *bots_[slot];
  if (bot.phase() == Bot::Phase::Connecting) {
    int err = 0;
    socklen_t len = sizeof err;
    if (::getsockopt(fds_[slot], SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
    if (err != 0) return end(slot, osError("connect", err));
    if ((events & (EPOLLOUT | EPOLLIN)) == 0) return end(slot, "connect: hang-up");
    bot.connected(now);
  }
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) readAll(slot, now);
  flush(slot);
  schedule(slot, now);
}

int Worker::waitMs(std::uint64_t until, std::uint64_t now) const {
  if (until == kNever) return -1;
  if (until <= now) return 0;
  return static_cast<int>(std::min<std::uint64_t>((until - now + 999'999) / 1'000'000, 60'000));
}

bool Worker::anyOpen() const {
  for (int fd : fds_)
    if (fd >= 0) return true;
  return false;
}

void Worker::run() {
  connectAll();
  epoll_event events[kMaxEvents];
  std::uint64_t deadline = kNever;  // set by finish: the linger's end
  for (;;) {
    std::uint64_t now = nowNs();
    if (deadline == kNever) {
      while (!due_.empty() && due_.top().at <= now) {
        const Due d = due_.top();
        due_.pop();
        scheduled_[d.slot] = 0;
        if (fds_[d.slot] < 0) continue;
        const std::uint64_t at = bots_[d.slot]->tick(now);
        flush(d.slot);
        if (at != kNever && fds_[d.slot] >= 0) {
          scheduled_[d.slot] = 1;
          due_.push(Due{at, d.slot});
        }
      }
    } else if (now >= deadline || !anyOpen()) {
      break;
    }
    const std::uint64_t until = deadline != kNever ? deadline : (due_.empty() ? kNever : due_.top().at);
    const int n = ::epoll_wait(ep_, events, kMaxEvents, waitMs(until, now));
    if (n < 0 && errno != EINTR) break;
    now = nowNs();
    for (int i = 0; i < n; ++i) {
      if (events[i].data.u64 != kWakeData) {
        serve(static_cast<std::uint32_t>(events[i].data.u64), events[i].events, now);
        continue;
      }
      std::uint64_t v = 0;
      (void)!::read(wake_, &v, sizeof v);
      if (finishing_.load() && deadline == kNever) {
        // The end: BYE on every bot, then wait for the server to close (or the linger).
        deadline = now + std::uint64_t{lingerMs_.load()} * 1'000'000;
        for (std::uint32_t s = 0; s < bots_.size(); ++s) {
          bots_[s]->finish();
          flush(s);
        }
      }
    }
  }
  for (std::uint32_t s = 0; s < bots_.size(); ++s) {
    bots_[s]->finish();
    end(s, "");
  }
}

class PosixBotDriver final : public BotDriver {
 public:
  explicit PosixBotDriver(BotFleet& fleet) : fleet_(fleet) {}
  ~PosixBotDriver() override { finish(0); }

  std::string start() override {
    const BotsConfig& c = fleet_.config();
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    addrinfo* found = nullptr;
    const int rc = ::getaddrinfo(c.host.c_str(), std::to_string(c.port).c_str(), &hints, &found);
    if (rc != 0 || found == nullptr) return "cannot resolve " + c.host + ": " + ::gai_strerror(rc);
    sockaddr_storage addr{};
    std::memcpy(&addr, found->ai_addr, found->ai_addrlen);
    const auto addrLen = static_cast<socklen_t>(found->ai_addrlen);
    ::freeaddrinfo(found);
    const std::uint32_t threads = std::min<std::uint32_t>(c.threads, static_cast<std::uint32_t>(fleet_.size()));
    for (std::uint32_t t = 0; t < threads; ++t) {
      workers_.push_back(std::make_unique<Worker>(addr, addrLen, lingerMs_));
      if (std::string err = workers_.back()->open(); !err.empty()) {
        workers_.clear();
        return err;
      }
    }
    for (std::size_t i = 0; i < fleet_.size(); ++i) workers_[i % threads]->add(fleet_.bot(i));
    for (auto& w : workers_) w->launch();
    return {};
  }

  void finish(std::uint32_t lingerMs) override {
    lingerMs_.store(lingerMs);
    for (auto& w : workers_) {
      w->finishing_.store(true);
      w->wake();
    }
    for (auto& w : workers_) w->join();
    workers_.clear();
  }

 private:
  BotFleet& fleet_;
  std::atomic<std::uint32_t> lingerMs_{0};
  std::vector<std::unique_ptr<Worker>> workers_;
};

}  // namespace

std::unique_ptr<BotDriver> BotDriver::create(BotFleet& fleet) { return std::make_unique<PosixBotDriver>(fleet); }

}  // namespace gamesrv
