// JSON is the lingua franca of ergon: action arguments, results, working memory
// and journal events are all Json values.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace ergon {

using Json = nlohmann::json;

// Canonical form used for hashing: keys sorted (nlohmann's object is ordered by
// key), no insignificant whitespace, UTF-8 kept as is.
std::string canonical_json(const Json& value);

// One reference token of a JSON pointer, with its leading '/': "a/b" -> "/a~1b"
// (RFC 6901 escaping).
std::string json_pointer_token(std::string_view key);

// Lowercase hex SHA-256 of the bytes.
std::string sha256_hex(std::string_view bytes);

}  // namespace ergon
