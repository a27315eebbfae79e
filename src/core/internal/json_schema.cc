#include "core/internal/json_schema.h"

#include "ergon/json.h"

namespace ergon::internal {
namespace {

// valijson reports every enclosing failure too; those say nothing the
// innermost error does not.
bool is_wrapper_error(const std::string& description) {
  for (const char* prefix :
       {"Failed to validate item", "Failed to validate against schema",
        "Failed to validate value for property", "Failed to validate against child schema"}) {
    if (description.starts_with(prefix)) return true;
  }
  return false;
}

}  // namespace

std::string schema_pointer(const std::vector<std::string>& context) {
  std::string pointer;
  for (const std::string& part : context) {
    if (part.size() < 2 || part.front() != '[' || part.back() != ']') continue;
    pointer += json_pointer_token(part.substr(1, part.size() - 2));
  }
  return pointer;
}

std::optional<SchemaError> most_specific_error(const valijson::ValidationResults& results,
                                               bool (*prefer)(const std::string&)) {
  const valijson::ValidationResults::Error* best = nullptr;
  for (const auto& error : results) {
    if (is_wrapper_error(error.description)) continue;
    if (best == nullptr || error.context.size() > best->context.size() ||
        (prefer != nullptr && error.context.size() == best->context.size() &&
         prefer(error.description) && !prefer(best->description))) {
      best = &error;
    }
  }
  if (best == nullptr && results.numErrors() > 0) best = &*results.begin();
  if (best == nullptr) return std::nullopt;
  return SchemaError{schema_pointer(best->context), best->description};
}

}  // namespace ergon::internal
