#include "ergon/json.h"

#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <memory>

namespace ergon {

namespace {

// nlohmann's compact dump, which defines the canonical form (its objects are
// std::map-backed, so keys come sorted).
std::string nlohmann_dump(const Json& value) {
  return value.dump(-1, ' ', false, Json::error_handler_t::replace);
}

}  // namespace

// Writes what nlohmann_dump(value) would, byte for byte, without its per-call
// setup and per-byte UTF-8 decoding: the journal serialises every event. Floats,
// binary values and strings other than printable ASCII are left to nlohmann.
void append_canonical_json(std::string& out, const Json& value) {
  switch (value.type()) {
    case Json::value_t::null: out += "null"; return;
    case Json::value_t::boolean: out += value.get<bool>() ? "true" : "false"; return;
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned: {
      std::array<char, 24> digits{};
      auto end =
          value.is_number_unsigned()
              ? std::to_chars(digits.begin(), digits.end(), value.get<Json::number_unsigned_t>())
                    .ptr
              : std::to_chars(digits.begin(), digits.end(), value.get<Json::number_integer_t>())
                    .ptr;
      out.append(digits.data(), end);
      return;
    }
    case Json::value_t::string:
      append_json_string(out, value.get_ref<const std::string&>());
      return;
    case Json::value_t::array: {
      const auto& array = value.get_ref<const Json::array_t&>();
      out += '[';
      for (size_t i = 0; i < array.size(); ++i) {
        if (i > 0) out += ',';
        append_canonical_json(out, array[i]);
      }
      out += ']';
      return;
    }
    case Json::value_t::object: {
      out += '{';
      bool first = true;
      for (const auto& [key, element] : value.get_ref<const Json::object_t&>()) {
        if (!first) out += ',';
        first = false;
        append_json_string(out, key);
        out += ':';
        append_canonical_json(out, element);
      }
      out += '}';
      return;
    }
    default: out += nlohmann_dump(value); return;
  }
}

std::string canonical_json(const Json& value) {
  std::string out;
  out.reserve(256);
  append_canonical_json(out, value);
  return out;
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

void append_json_string(std::string& out, std::string_view text) {
  // Printable ASCII other than '"' and '\\' is written as is by nlohmann's
  // serialiser; anything else takes the serialiser itself.
  static constexpr auto kPlain = [] {
    std::array<bool, 256> plain{};
    for (int c = 0x20; c <= 0x7e; ++c) plain[c] = c != '"' && c != '\\';
    return plain;
  }();
  bool plain = std::all_of(text.begin(), text.end(),
                           [](char c) { return kPlain[static_cast<unsigned char>(c)]; });
  if (!plain) {
    out += nlohmann_dump(Json(text));
    return;
  }
  out += '"';
  out += text;
  out += '"';
}

std::string sha256_hex(std::string_view bytes) {
  return sha256_hex({bytes});
}

std::string sha256_hex(std::initializer_list<std::string_view> parts) {
  // Fetching the algorithm is a lookup OpenSSL 3 would otherwise repeat for
  // every digest; the fetched EVP_MD is immutable and safe to share. Each
  // thread reuses one context rather than allocating one per digest.
  static EVP_MD* const sha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  struct FreeContext {
    void operator()(EVP_MD_CTX* context) const { EVP_MD_CTX_free(context); }
  };
  thread_local std::unique_ptr<EVP_MD_CTX, FreeContext> context(EVP_MD_CTX_new());
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  EVP_DigestInit_ex2(context.get(), sha256, nullptr);
  for (std::string_view part : parts) EVP_DigestUpdate(context.get(), part.data(), part.size());
  EVP_DigestFinal_ex(context.get(), digest.data(), &length);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(length * 2, '0');
  for (unsigned int i = 0; i < length; ++i) {
    out[2 * i] = kHex[digest[i] >> 4];
    out[2 * i + 1] = kHex[digest[i] & 0xf];
  }
  return out;
}

}  // namespace ergon
