// Errors are values: every expected failure is a Result carrying an Error whose
// code says whether retrying the same call can help.
#pragma once

#include <expected>
#include <string>
#include <utility>

namespace ergon {

enum class ErrorCode {
  kInvalidInput,        // malformed file, argument, plan or response: fix the input
  kNotFound,            // a named thing does not exist
  kDenied,              // a guard, a policy or a person said no
  kFailedPrecondition,  // an expectation did not hold; retrying the same call will not help
  kUnavailable,         // transient (503, 429, connection refused): retry may help
  kTimeout,             // deadline passed: retry may help
  kAborted,             // the session was aborted
  kNeedsPerson,         // only a person can go on (a CAPTCHA, a login wall, an ambiguous
                        // element): the message says what to do; the engine asks and
                        // retries with the answer in ActionCall::person_answer
  kInternal,            // a bug or an unexpected environment failure
};

const char* to_string(ErrorCode code);

// An error names what failed, where, and what to do about it.
struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;

  bool retryable() const { return code == ErrorCode::kUnavailable || code == ErrorCode::kTimeout; }
  // Prefixes context ("step 'stop': ") onto the message, keeping the code.
  Error with_context(const std::string& context) const { return {code, context + message}; }
};

template <typename T>
using Result = std::expected<T, Error>;
using Status = std::expected<void, Error>;

inline std::unexpected<Error> fail(ErrorCode code, std::string message) {
  return std::unexpected(Error{code, std::move(message)});
}
inline std::unexpected<Error> fail(Error error) {
  return std::unexpected(std::move(error));
}

// Exit code for the command line: 2 for input/usage errors, 3 when only a
// person can go on (a question: "Did you mean …?"), 1 otherwise.
int exit_code_for(const Error& error);

}  // namespace ergon
