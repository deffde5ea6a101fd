// The pipe on POSIX only: the AF_UNIX socket file (mode 0600, removal on stop, stale
// files replaced, other files left alone), XDG_RUNTIME_DIR paths, and a raw
// SOCK_SEQPACKET peer. The cases every backend shares are in test_pipe.cpp.
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <fstream>
#include <thread>

#include "gamesrv/event.hpp"
#include "pipe_test_support.hpp"

using namespace gamesrv;
using namespace pipetest;
using namespace std::chrono_literals;

namespace {

bool exists(const std::string& path) {
  struct stat st{};
  return ::lstat(path.c_str(), &st) == 0;
}

}  // namespace

TEST(default_pipe_path_follows_xdg_runtime_dir) {
  const char* old = std::getenv("XDG_RUNTIME_DIR");
  const std::string saved = old ? old : "";
  ::setenv("XDG_RUNTIME_DIR", "/run/user/1234", 1);
  CHECK_EQ(defaultPipePath("zone1"), "/run/user/1234/gamesrv-zone1.sock");
  ::unsetenv("XDG_RUNTIME_DIR");
  CHECK_EQ(defaultPipePath("zone1"), "/tmp/gamesrv-" + std::to_string(::geteuid()) + "-zone1.sock");
  if (old) ::setenv("XDG_RUNTIME_DIR", saved.c_str(), 1);
}

TEST(pipelined_requests_with_a_slow_reader_are_answered_in_order) {
  Rig rig(echoHandler, 2);
  CHECK_MSG(rig.startResult.ok(), rig.startResult.detail);
  // A raw socket: one thread writes 3,000 requests without reading, then the replies are read.
  const int fd = ::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, rig.server.path().c_str(), sizeof addr.sun_path - 1);
  CHECK(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  constexpr int kFrames = 3000;
  std::atomic<int> sendFailures{0};
  std::thread writer([&] {
    for (int i = 0; i < kFrames; ++i) {
      const PipeFrame f = frameOf(PipeMessageType::ServerStatus, std::to_string(i));
      if (::send(fd, f.data(), f.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(f.size())) sendFailures.fetch_add(1);
    }
  });
  // The server must hit a full socket and hold the reply back before we read.
  CHECK(eventually([&] { return rig.server.stats().deferredWrites > 0; }, 5s));
  std::uint8_t buf[2048];
  for (int i = 0; i < kFrames; ++i) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    const PipeDecodeResult d = decodePipeFrame(buf, n < 0 ? 0 : static_cast<std::size_t>(n));
    CHECK_MSG(d.ok(), "reply " << i << ": " << d.detail);
    CHECK_EQ(d.message.data, "{\"echo\":\"" + std::to_string(i) + "\"}");
  }
  writer.join();
  ::close(fd);
  CHECK_EQ(sendFailures.load(), 0);
  CHECK_EQ(rig.server.stats().framesOut, std::uint64_t{kFrames});
}


TEST(socket_file_is_owner_only_and_removed_on_stop) {
  const mode_t old = ::umask(0);  // the most permissive umask: the mode must still be 0600
  Rig rig(echoHandler, 2);
  ::umask(old);
  CHECK_MSG(rig.startResult.ok(), rig.startResult.detail);
  struct stat st{};
  CHECK(::lstat(rig.server.path().c_str(), &st) == 0);
  CHECK(S_ISSOCK(st.st_mode));
  CHECK_EQ(st.st_mode & 07777, mode_t{0600});
  CHECK_EQ(st.st_uid, ::geteuid());
  rig.server.stop();
  CHECK(!exists(rig.server.path()));
}


TEST(stale_socket_file_is_replaced_and_other_files_are_left_alone) {
  const std::string path = testPath("stale");
  {  // a socket file whose server is gone
    const int fd = ::socket(AF_UNIX, SOCK_SEQPACKET, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
    CHECK(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    ::close(fd);
    CHECK(exists(path));
  }
  {
    Rig rig(echoHandler, 2, 1024, path);
    CHECK_MSG(rig.startResult.ok(), rig.startResult.detail);
    PipeClient c = connected(path);
    CHECK(c.request(PipeMessageType::ServerStatus, "x").ok());
  }
  CHECK(!exists(path));
  { std::ofstream(path) << "not a socket"; }
  CompletionPort port;
  PipeServer server(PipeServerConfig{path, 16, &port}, echoHandler);
  const PipeResult r = server.start();
  CHECK(r.error == PipeError::InvalidPath);
  CHECK_MSG(r.detail.find("not a socket") != std::string::npos, r.detail);
  CHECK(exists(path));
  ::unlink(path.c_str());
}

TEST(socket_file_outlives_a_failed_second_server_and_goes_with_a_stop_from_the_handler) {
  PipeServer* self = nullptr;
  Rig rig([&](const PipeRequest& r) {
    if (r.type == PipeMessageType::Shutdown) self->stop();
    return PipeReply::ack();
  }, 2);
  self = &rig.server;
  CHECK_MSG(rig.startResult.ok(), rig.startResult.detail);
  {
    CompletionPort port;
    PipeServer second(PipeServerConfig{rig.server.path(), 16, &port}, echoHandler);
    CHECK(second.start().error == PipeError::AddressInUse);
  }
  CHECK(exists(rig.server.path()));
  PipeClient c = connected(rig.server.path());
  CHECK(c.request(PipeMessageType::Shutdown, "", 5s).error == PipeError::Closed);
  rig.server.stop();
  CHECK(!exists(rig.server.path()));
}

GS_TEST_MAIN()
