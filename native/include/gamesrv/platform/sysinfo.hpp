// Process and system figures, measured (seed defect 9: CPU usage was a random number).
// Implemented once per platform under native/src/platform/.
//
// Thread safety: the free functions are safe from any thread. A CpuSampler is not
// synchronized: give each consumer its own, or guard it.
#pragma once
#include <cstdint>
#include <optional>

namespace gamesrv::platform {

std::uint32_t currentProcessId() noexcept;

// Logical CPUs this process may run on (affinity mask), at least 1.
unsigned cpuCount() noexcept;

// CPU time (user + system) consumed by every thread of this process so far, ns.
std::uint64_t processCpuNs() noexcept;

// Resident set size of this process in bytes; nullopt if the OS will not say.
std::optional<std::uint64_t> residentBytes() noexcept;

struct SystemMemory {
  std::uint64_t totalBytes = 0;
  std::uint64_t availableBytes = 0;  // what can be allocated without swapping
};
std::optional<SystemMemory> systemMemory() noexcept;

// Bytes written to the stream socket `fd` that its peer has not acknowledged yet (the
// kernel's send queue: Linux SIOCOUTQ); nullopt where the platform will not say or `fd`
// is not such a socket. With what the application still buffers, it is how far a reader
// is behind: a client that stopped reading fills it first.
std::optional<std::uint64_t> socketUnackedBytes(std::intptr_t fd) noexcept;

// Is a process with this id alive? (Alive includes "exists but is not ours to signal".)
// A pid can be reused after its process is reaped; prefer SharedSegment::ownerAlive()
// where an exact answer exists.
bool processAlive(std::uint32_t pid) noexcept;

// Process CPU usage as the CPU time consumed between two samples over the wall time
// between them. 100 % = one core busy; N cores busy = N * 100 %.
class CpuSampler {
 public:
  struct Sample {
    double percent = 0;         // of one core
    double percentOfHost = 0;   // percent / cores: 100 = every core this process may use
    unsigned cores = 1;
    std::uint64_t cpuNs = 0;    // CPU time in the interval
    std::uint64_t wallNs = 0;   // length of the interval
  };

  CpuSampler() noexcept;  // the first interval starts here

  // Usage since the previous sample() (or construction), and starts the next interval.
  // Called again within the same clock tick it returns the previous figure unchanged.
  Sample sample() noexcept;

 private:
  std::uint64_t lastCpuNs_;
  std::uint64_t lastWallNs_;
  Sample last_;
};

}  // namespace gamesrv::platform
