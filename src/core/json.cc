#include "ergon/json.h"

#include <openssl/evp.h>

#include <array>

namespace ergon {

std::string canonical_json(const Json& value) {
  // nlohmann::json objects are std::map-backed, so keys are already sorted.
  return value.dump(-1, ' ', false, Json::error_handler_t::replace);
}

std::string json_pointer_token(std::string_view key) {
  std::string out = "/";
  for (char c : key) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
  return out;
}

std::string sha256_hex(std::string_view bytes) {
  // Fetching the algorithm is a lookup OpenSSL 3 would otherwise repeat for
  // every digest; the fetched EVP_MD is immutable and safe to share.
  static EVP_MD* const sha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  EVP_Digest(bytes.data(), bytes.size(), digest.data(), &length, sha256, nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(length * 2, '0');
  for (unsigned int i = 0; i < length; ++i) {
    out[2 * i] = kHex[digest[i] >> 4];
    out[2 * i + 1] = kHex[digest[i] & 0xf];
  }
  return out;
}

}  // namespace ergon
