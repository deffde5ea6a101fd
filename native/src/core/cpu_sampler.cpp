// CpuSampler: the same arithmetic on every platform, over the backend's processCpuNs()
// and cpuCount() (native/src/platform/*/sysinfo_*.cpp) and the steady clock.
#include "gamesrv/clock.hpp"
#include "gamesrv/platform/sysinfo.hpp"

namespace gamesrv::platform {

CpuSampler::CpuSampler() noexcept : lastCpuNs_(processCpuNs()), lastWallNs_(nowNs()) {
  last_.cores = cpuCount();
}

CpuSampler::Sample CpuSampler::sample() noexcept {
  const std::uint64_t cpu = processCpuNs();
  const std::uint64_t wall = nowNs();
  if (wall <= lastWallNs_) return last_;
  Sample s;
  s.cores = cpuCount();
  s.wallNs = wall - lastWallNs_;
  s.cpuNs = cpu >= lastCpuNs_ ? cpu - lastCpuNs_ : 0;
  s.percent = 100.0 * static_cast<double>(s.cpuNs) / static_cast<double>(s.wallNs);
  s.percentOfHost = s.percent / static_cast<double>(s.cores);
  lastCpuNs_ = cpu;
  lastWallNs_ = wall;
  last_ = s;
  return s;
}

}  // namespace gamesrv::platform
