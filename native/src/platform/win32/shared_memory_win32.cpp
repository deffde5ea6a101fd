// Win32 shared memory: named file mappings backed by the paging file
// (CreateFileMappingW / OpenFileMappingW / MapViewOfFile).
//
// Win32 has no unlink: a named kernel object lives, name included, while any process
// holds a handle or a view of it. POSIX semantics (a name removed while mappings stay
// valid; a fresh segment under the same name at once; ownership that dies with its
// holder) are rebuilt from objects whose lifetimes are chosen carefully, all in the
// per-session Local\ namespace and created with an owner-only DACL:
//
//   Local\<name>               the index: a one-page mapping whose first word is the
//                              current generation (0 = no segment; "unlinked"). Held by
//                              the owner and by every mapping of any generation, so it
//                              outlives a dead owner while someone still maps its data.
//   Local\<name>:<gen>         the data of one generation: a 64-byte prefix
//                              (magic, size, generation) then the caller's bytes.
//   Local\<name>:claim         an event held by the owner of the name only, from
//                              acquireOwner() to unlink() or close(). Creating it is the
//                              atomic claim; the kernel drops it when the owner dies.
//   Local\<name>:<gen>:alive   an event held by the owner of one generation until
//                              close(); ownerAlive() asks whether it exists (the OFD
//                              lock test of the POSIX backend).
//
// So ':' is reserved and refused in portable names here. Readers probe :alive but never
// :claim, so a probe can never make a starting owner see AlreadyOwned.
//
// Differs from POSIX: a segment whose owner died survives only while another process
// still maps it; with no reader left, the next acquireOwner() starts a brand new segment
// (previousSize 0) instead of taking the old bytes over. The ProcessMutex and how it
// reports a dead holder: process_mutex_win32.cpp.
#include <atomic>
#include <cstring>
#include <memory>
#include <string>
#include <utility>

#include "shared_memory_win32.hpp"

namespace gamesrv::platform {

using win32::UniqueHandle;
using namespace win32shm;

namespace {

constexpr std::size_t kMaxNameLength = 200;  // + "Local\" and suffixes stays under MAX_PATH
constexpr std::size_t kIndexSize = 4096;
constexpr std::size_t kPrefixSize = 64;  // keeps data() 64-byte aligned in the view
constexpr std::uint64_t kSegmentMagic = 0x31304753574d4753ull;  // "SGMWSG01"

struct Prefix {
  std::uint64_t magic;
  std::uint64_t size;
  std::uint64_t generation;
};

bool validName(std::string_view name) {
  if (name.empty() || name.size() > kMaxNameLength) return false;
  for (char c : name)
    if (c == '/' || c == '\\' || c == '\0' || c == ':') return false;
  return true;
}


std::atomic_ref<std::uint64_t> generationWord(void* indexView) {
  return std::atomic_ref<std::uint64_t>(*static_cast<std::uint64_t*>(indexView));
}

// Every handle and view behind one SharedSegment; SharedSegment::handle_ points here.
struct Segment {
  UniqueHandle index;
  void* indexView = nullptr;  // owner only
  UniqueHandle data;
  void* base = nullptr;  // view of the data: prefix, then the caller's bytes
  UniqueHandle claim;    // owner only, until unlink()
  UniqueHandle alive;    // owner only
  std::uint64_t generation = 0;

  ~Segment() {
    if (base != nullptr) ::UnmapViewOfFile(base);
    if (indexView != nullptr) ::UnmapViewOfFile(indexView);
  }
};

Segment* segmentOf(std::intptr_t handle) { return handle == -1 ? nullptr : reinterpret_cast<Segment*>(handle); }

// Maps a whole data mapping and checks its prefix. Fills seg.base; returns the size.
ShmResult mapData(Segment& seg, DWORD access, const std::string& os, std::size_t& size) {
  seg.base = ::MapViewOfFile(seg.data.get(), access, 0, 0, 0);
  if (seg.base == nullptr) return failFromLastError("cannot map " + os);
  MEMORY_BASIC_INFORMATION info{};
  const std::size_t viewSize = ::VirtualQuery(seg.base, &info, sizeof info) ? info.RegionSize : 0;
  Prefix p;
  std::memcpy(&p, seg.base, sizeof p);
  if (p.magic == 0) return fail(ShmError::Empty, 0, os + " exists but is still empty");
  if (p.magic != kSegmentMagic || p.size == 0 || kPrefixSize + p.size > viewSize)
    return fail(ShmError::System, ERROR_INVALID_DATA, os + " is not a gamesrv segment");
  size = static_cast<std::size_t>(p.size);
  return {};
}

}  // namespace

void SharedSegment::close() noexcept {
  delete segmentOf(handle_);  // unmaps, then closes claim and alive: ownership ends here
  forget();
}

ShmResult SharedSegment::acquireOwner(std::string_view name, std::size_t size, SharedSegment& out) {
  if (!validName(name)) return fail(ShmError::InvalidName, 0, "invalid segment name '" + std::string(name) + "'");
  if (size == 0) return fail(ShmError::System, ERROR_INVALID_PARAMETER, "segment size 0 for " + std::string(name));
  win32::OwnerOnlySecurity security;
  if (!security.valid()) return fail(ShmError::System, security.error(), "owner-only security descriptor");
  auto seg = std::make_unique<Segment>();

  const std::string claim = claimName(name);
  seg->claim.reset(::CreateEventW(security.get(), TRUE, FALSE, win32::widen(claim).c_str()));
  if (!seg->claim) return failFromLastError("cannot create " + claim);
  if (::GetLastError() == ERROR_ALREADY_EXISTS)
    return fail(ShmError::AlreadyOwned, 0, indexName(name) + " is owned by a live process");

  const std::string index = indexName(name);
  seg->index.reset(::CreateFileMappingW(INVALID_HANDLE_VALUE, security.get(), PAGE_READWRITE, 0, kIndexSize,
                                        win32::widen(index).c_str()));
  if (!seg->index) return failFromLastError("cannot create " + index);
  seg->indexView = ::MapViewOfFile(seg->index.get(), FILE_MAP_READ | FILE_MAP_WRITE, 0, 0, kIndexSize);
  if (seg->indexView == nullptr) return failFromLastError("cannot map " + index);

  // An earlier generation is still mapped somewhere (its owner died or closed without
  // unlink): keep it if it has the size asked for, as POSIX keeps an abandoned file.
  std::size_t previous = 0;
  if (const std::uint64_t gen = generationWord(seg->indexView).load(std::memory_order_acquire); gen != 0) {
    const std::string os = dataName(name, gen);
    seg->data.reset(::OpenFileMappingW(FILE_MAP_READ | FILE_MAP_WRITE, FALSE, win32::widen(os).c_str()));
    std::size_t oldSize = 0;
    if (seg->data && mapData(*seg, FILE_MAP_READ | FILE_MAP_WRITE, os, oldSize).error == ShmError::None &&
        oldSize == size) {
      previous = size;
      seg->generation = gen;
    } else {
      if (seg->base != nullptr) ::UnmapViewOfFile(std::exchange(seg->base, nullptr));
      seg->data.reset();
    }
  }
  for (int attempt = 0; seg->generation == 0 && attempt < kAttempts; ++attempt) {
    const std::uint64_t gen = freshTag();
    const std::string os = dataName(name, gen);
    const std::uint64_t total = kPrefixSize + size;
    seg->data.reset(::CreateFileMappingW(INVALID_HANDLE_VALUE, security.get(), PAGE_READWRITE,
                                         static_cast<DWORD>(total >> 32), static_cast<DWORD>(total),
                                         win32::widen(os).c_str()));
    if (!seg->data) return failFromLastError("cannot create " + os);
    if (::GetLastError() == ERROR_ALREADY_EXISTS) continue;  // a leftover of a reused pid
    seg->base = ::MapViewOfFile(seg->data.get(), FILE_MAP_READ | FILE_MAP_WRITE, 0, 0, 0);
    if (seg->base == nullptr) return failFromLastError("cannot map " + os);
    const Prefix p{kSegmentMagic, size, gen};
    std::memcpy(seg->base, &p, sizeof p);
    seg->generation = gen;
  }
  if (seg->generation == 0) return fail(ShmError::System, ERROR_ALREADY_EXISTS, "no free generation for " + index);

  const std::string alive = aliveName(name, seg->generation);
  seg->alive.reset(::CreateEventW(security.get(), TRUE, FALSE, win32::widen(alive).c_str()));
  if (!seg->alive) return failFromLastError("cannot create " + alive);
  // Published last: a reader that sees the generation finds its data complete.
  generationWord(seg->indexView).store(seg->generation, std::memory_order_release);

  out.close();
  out.data_ = static_cast<unsigned char*>(seg->base) + kPrefixSize;
  out.size_ = size;
  out.previousSize_ = previous;
  out.owner_ = true;
  out.handle_ = reinterpret_cast<std::intptr_t>(seg.release());
  out.name_ = std::string(name);
  return {};
}

ShmResult SharedSegment::open(std::string_view name, ShmAccess access, SharedSegment& out) {
  if (!validName(name)) return fail(ShmError::InvalidName, 0, "invalid segment name '" + std::string(name) + "'");
  const DWORD mapAccess = access == ShmAccess::ReadWrite ? FILE_MAP_READ | FILE_MAP_WRITE : FILE_MAP_READ;
  const std::string index = indexName(name);
  auto seg = std::make_unique<Segment>();
  seg->index.reset(::OpenFileMappingW(FILE_MAP_READ, FALSE, win32::widen(index).c_str()));
  if (!seg->index) return failFromLastError("cannot open " + index);
  void* view = ::MapViewOfFile(seg->index.get(), FILE_MAP_READ, 0, 0, kIndexSize);
  if (view == nullptr) return failFromLastError("cannot map " + index);
  // A generation can be replaced between reading it and opening it (a new owner after
  // an unlink); the index then names the new one.
  ShmResult r = fail(ShmError::NotFound, 0, index + " has no segment");
  std::size_t size = 0;
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    const std::uint64_t gen = generationWord(view).load(std::memory_order_acquire);
    if (gen == 0) break;
    const std::string os = dataName(name, gen);
    seg->data.reset(::OpenFileMappingW(mapAccess, FALSE, win32::widen(os).c_str()));
    if (!seg->data) {
      r = failFromLastError("cannot open " + os);
      if (r.error == ShmError::NotFound) continue;
      break;
    }
    seg->generation = gen;
    r = mapData(*seg, mapAccess, os, size);
    break;
  }
  ::UnmapViewOfFile(view);
  if (r.error != ShmError::None) return r;
  out.close();
  out.data_ = static_cast<unsigned char*>(seg->base) + kPrefixSize;
  out.size_ = size;
  out.previousSize_ = size;
  out.owner_ = false;
  out.handle_ = reinterpret_cast<std::intptr_t>(seg.release());
  out.name_ = std::string(name);
  return {};
}

std::optional<bool> SharedSegment::ownerAlive() const {
  const Segment* seg = segmentOf(handle_);
  if (seg == nullptr) return std::nullopt;
  if (owner_) return true;
  HANDLE h = ::OpenEventW(SYNCHRONIZE, FALSE, win32::widen(aliveName(name_, seg->generation)).c_str());
  if (h != nullptr) {
    ::CloseHandle(h);
    return true;
  }
  if (::GetLastError() == ERROR_FILE_NOT_FOUND) return false;
  return std::nullopt;
}

// Win32 cannot remove a name, so the index stops naming this generation, and the claim
// is dropped so that a new owner may start another generation at once.
bool SharedSegment::unlink() {
  Segment* seg = segmentOf(handle_);
  if (!owner_ || seg == nullptr || seg->indexView == nullptr) return false;
  std::uint64_t expected = seg->generation;
  const bool removed = generationWord(seg->indexView).compare_exchange_strong(expected, 0, std::memory_order_acq_rel);
  seg->claim.reset();
  return removed;
}

}  // namespace gamesrv::platform
