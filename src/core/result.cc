#include "ergon/result.h"

namespace ergon {

const char* to_string(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidInput: return "invalid_input";
    case ErrorCode::kNotFound: return "not_found";
    case ErrorCode::kDenied: return "denied";
    case ErrorCode::kFailedPrecondition: return "failed_precondition";
    case ErrorCode::kUnavailable: return "unavailable";
    case ErrorCode::kTimeout: return "timeout";
    case ErrorCode::kAborted: return "aborted";
    case ErrorCode::kNeedsPerson: return "needs_person";
    case ErrorCode::kInternal: return "internal";
  }
  return "internal";
}

int exit_code_for(const Error& error) {
  if (error.code == ErrorCode::kNeedsPerson) return 3;
  return error.code == ErrorCode::kInvalidInput || error.code == ErrorCode::kNotFound ? 2 : 1;
}

}  // namespace ergon
