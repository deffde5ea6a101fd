// Helpers shared by the monitor test files (portable and per platform).
#pragma once
#include <memory>
#include <optional>
#include <string>

#include "gamesrv/monitor.hpp"
#include "gamesrv/platform/shared_memory.hpp"
#include "gamesrv/platform/sysinfo.hpp"
#include "harness.hpp"

namespace montest {

using namespace gamesrv;
namespace plat = gamesrv::platform;

inline std::string uniqueName(const char* test) {
  return "t" + std::to_string(plat::currentProcessId()) + "-" + test;
}

// Removes a test segment however the test ends: once no writer is left, claiming the
// name and unlinking it works on every platform.
struct SegmentCleanup {
  std::string segment;
  ~SegmentCleanup() {
    plat::SharedSegment s;
    if (plat::SharedSegment::acquireOwner(segment, kMonitorSegmentSize, s).error == plat::ShmError::None) s.unlink();
  }
};

inline std::unique_ptr<MonitorWriter> mustCreate(const std::string& name, std::uint32_t maxPlayers) {
  MonitorCreateResult r = MonitorWriter::create(name, maxPlayers);
  CHECK_MSG(r.error == MonitorError::None, toString(r.error) << ": " << r.detail);
  CHECK(r.writer != nullptr);
  return std::move(r.writer);
}

inline MonitorReader mustOpen(const std::string& name) {
  MonitorOpenResult r = MonitorReader::open(name);
  CHECK_MSG(r.error == MonitorError::None, toString(r.error) << ": " << r.detail);
  return std::move(*r.reader);
}

inline MonitorSnapshot mustRead(const MonitorReader& reader, ReadMode mode = ReadMode::Fast) {
  MonitorReadResult r = reader.read(mode);
  CHECK_MSG(r.error == MonitorError::None, toString(r.error));
  return r.snapshot;
}

inline bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

}  // namespace montest
