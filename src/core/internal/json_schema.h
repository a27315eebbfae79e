// Reading valijson's results: the one error worth showing, at a JSON pointer.
#pragma once

#include <optional>
#include <string>
#include <valijson/validation_results.hpp>
#include <vector>

namespace ergon::internal {

struct SchemaError {
  std::string pointer;      // "/steps/2/on_fail"
  std::string description;  // valijson's words
};

// valijson's context ["<root>", "[steps]", "[2]", "[on_fail]"] -> "/steps/2/on_fail".
std::string schema_pointer(const std::vector<std::string>& context);

// The most specific error of a failed validation: the deepest one that is not
// merely an enclosing failure ("Failed to validate item #2 in array."). At
// equal depth, one `prefer` says true for wins. nullopt when there is none.
std::optional<SchemaError> most_specific_error(const valijson::ValidationResults& results,
                                               bool (*prefer)(const std::string&) = nullptr);

}  // namespace ergon::internal
