// HMAC-SHA256 through OpenSSL's one-shot HMAC(). In the Node addon the symbols come from
// the node executable, which exports its OpenSSL for addons (nothing is linked); the
// native tests link libcrypto (CMakeLists.txt).
#include "gamesrv/platform/hmac.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

namespace gamesrv::platform {

bool hmacSha256(std::span<const std::uint8_t> key, std::span<const std::uint8_t> data, HmacSha256& out) noexcept {
  // OpenSSL refuses a null key pointer even with length 0.
  static constexpr unsigned char kEmpty = 0;
  unsigned int length = 0;
  const unsigned char* digest = HMAC(EVP_sha256(), key.empty() ? &kEmpty : key.data(), static_cast<int>(key.size()),
                                     data.data(), data.size(), out.data(), &length);
  return digest != nullptr && length == out.size();
}

}  // namespace gamesrv::platform
