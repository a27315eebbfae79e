// JSON is the lingua franca of ergon: action arguments, results, working memory
// and journal events are all Json values.
#pragma once

#include <initializer_list>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace ergon {

using Json = nlohmann::json;

// Canonical form used for hashing: keys sorted (nlohmann's object is ordered by
// key), no insignificant whitespace, UTF-8 kept as is (invalid bytes become
// U+FFFD). Byte for byte nlohmann's compact dump, written faster.
std::string canonical_json(const Json& value);
// Appends canonical_json(value) to `out`.
void append_canonical_json(std::string& out, const Json& value);

// One reference token of a JSON pointer, with its leading '/': "a/b" -> "/a~1b"
// (RFC 6901 escaping).
std::string json_pointer_token(std::string_view key);

// Lowercase hex SHA-256 of the bytes.
std::string sha256_hex(std::string_view bytes);
// Lowercase hex SHA-256 of the parts, concatenated (without copying them).
std::string sha256_hex(std::initializer_list<std::string_view> parts);

// Appends canonical_json(Json(text)) to `out`: `text` quoted and escaped.
void append_json_string(std::string& out, std::string_view text);

}  // namespace ergon
