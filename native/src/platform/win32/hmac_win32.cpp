// HMAC-SHA256 through CNG (bcrypt.dll): an HMAC algorithm provider, opened once, and a
// hash object per call (BCryptHash would do it in one call, but is Windows 10+ only and
// missing from older mingw import libraries).
#include "win32_support.hpp"  // windows.h first: bcrypt.h relies on it

#include <bcrypt.h>

#include "gamesrv/platform/hmac.hpp"

namespace gamesrv::platform {
namespace {

// The provider handle is safe to share between threads (CNG documents algorithm handles
// as usable concurrently); it lives until the process ends.
BCRYPT_ALG_HANDLE hmacProvider() noexcept {
  static const BCRYPT_ALG_HANDLE provider = [] {
    BCRYPT_ALG_HANDLE h = nullptr;
    if (!BCRYPT_SUCCESS(::BCryptOpenAlgorithmProvider(&h, BCRYPT_SHA256_ALGORITHM, nullptr, BCRYPT_ALG_HANDLE_HMAC_FLAG))) h = nullptr;
    return h;
  }();
  return provider;
}

}  // namespace

bool hmacSha256(std::span<const std::uint8_t> key, std::span<const std::uint8_t> data, HmacSha256& out) noexcept {
  BCRYPT_ALG_HANDLE provider = hmacProvider();
  if (provider == nullptr) return false;
  static UCHAR kEmpty = 0;
  BCRYPT_HASH_HANDLE hash = nullptr;
  // A null hash-object buffer lets CNG allocate (and free) the object itself.
  if (!BCRYPT_SUCCESS(::BCryptCreateHash(provider, &hash, nullptr, 0,
                                         key.empty() ? &kEmpty : const_cast<PUCHAR>(key.data()),
                                         static_cast<ULONG>(key.size()), 0)))
    return false;
  bool ok = BCRYPT_SUCCESS(::BCryptHashData(hash, const_cast<PUCHAR>(data.data()), static_cast<ULONG>(data.size()), 0)) &&
            BCRYPT_SUCCESS(::BCryptFinishHash(hash, out.data(), static_cast<ULONG>(out.size()), 0));
  ::BCryptDestroyHash(hash);
  return ok;
}

}  // namespace gamesrv::platform
