// What the pipe tests share (test_pipe.cpp, test_pipe_posix.cpp, test_pipe_win32.cpp):
// a server on a port drained by gs-iocp threads, frame helpers, and paths that are
// unique per process on either platform (defaultPipePath gives the platform's form).
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <random>
#include <string>
#include <string_view>
#include <thread>

#include "gamesrv/iocp_workers.hpp"
#include "gamesrv/pipe.hpp"
#include "eventually.hpp"
#include "harness.hpp"

namespace gamesrv {
inline std::ostream& operator<<(std::ostream& os, PipeMessageType t) { return os << toString(t); }
}  // namespace gamesrv

namespace pipetest {

using namespace gamesrv;
using namespace std::chrono_literals;

// "<platform dir or \\.\pipe\>gamesrv-test-<process nonce>-<tag>-<n>[.sock]".
inline std::string testPath(const char* tag) {
  static const std::string nonce = [] {
    std::random_device rd;
    const std::uint64_t v = (std::uint64_t{rd()} << 32) ^ rd() ^
                            static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
    return std::string(buf, 10);
  }();
  static std::atomic<int> n{0};
  return defaultPipePath("test-" + nonce + "-" + tag + "-" + std::to_string(n.fetch_add(1)));
}

inline PipeFrame frameOf(PipeMessageType type, std::string_view data) {
  PipeEncodeResult e = encodePipeFrame(type, data);
  CHECK(e.ok());
  return e.frame;
}

inline void putLe32(std::uint8_t* p, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<std::uint8_t>(v >> (8 * i));
}

// Echoes the request: ACK "<TYPE> <data>", or a STATUS_REPLY JSON for SERVER_STATUS.
inline PipeReply echoHandler(const PipeRequest& r) {
  if (r.type == PipeMessageType::ServerStatus) return PipeReply::status("{\"echo\":\"" + r.data + "\"}");
  return PipeReply::ack(std::string(toString(r.type)) + " " + r.data);
}

// A CompletionPort, a PipeServer on it, and gs-iocp threads dispatching to the server.
// Members are destroyed in reverse: threads first, then the server, then the port.
struct Rig {
  explicit Rig(PipeHandler handler, std::size_t threads = 3, std::size_t maxClients = 1024, std::string path = {})
      : port(CompletionPortConfig{}),
        server(PipeServerConfig{path.empty() ? testPath("rig") : std::move(path), maxClients, &port}, std::move(handler)),
        workers(port, [d = server.dispatcher()](const CompletionPacket& p) { d(p); },
                IocpWorkersConfig{threads, 16, "gs-iocp"}) {
    startResult = server.start();
    workers.start();
  }
  CompletionPort port;
  PipeServer server;
  IocpWorkers workers;
  PipeResult startResult;
};

inline PipeClient connected(const std::string& path) {
  PipeClient c;
  PipeResult r = c.connect(path, 5s);
  CHECK_MSG(r.ok(), toString(r.error) << ": " << r.detail);
  return c;
}

// For a condition the server reaches asynchronously; pipe tests wait up to 5 s.
using gstest::eventually;

// std::latch's arrive_and_wait, on a mutex: GCC 12's std::atomic wait (which std::latch
// uses) can miss a wake-up on mingw-w64, where it has no futex.
class Rendezvous {
 public:
  explicit Rendezvous(std::size_t count) : left_(count) {}
  void arriveAndWait() {
    std::unique_lock lock(mu_);
    if (--left_ == 0) {
      all_.notify_all();
      return;
    }
    all_.wait(lock, [&] { return left_ == 0; });
  }

 private:
  std::mutex mu_;
  std::condition_variable all_;
  std::size_t left_;  // guarded by mu_
};

inline std::size_t requestsPerClient() {
  if (const char* env = std::getenv("GAMESRV_PIPE_REQUESTS")) return std::max<std::size_t>(1, std::strtoull(env, nullptr, 10));
  return 1000;
}

}  // namespace pipetest
