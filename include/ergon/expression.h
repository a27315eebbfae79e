// Expressions: one embedded, sandboxed Lua 5.4 for every condition, postcondition,
// argument template, compute step and policy predicate.
//
// The sandbox offers only pure functions (base without load/dofile/require/
// collectgarbage/print, string, table, math, utf8); no io, os, debug, package or
// bytecode. Every evaluation runs under an instruction budget and a memory cap;
// exceeding either is an error, never a hang. Working memory is passed as
// read-only tables: a chunk that assigns into them gets an error.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "ergon/json.h"
#include "ergon/result.h"

namespace ergon {

struct SandboxLimits {
  long instruction_budget = 1'000'000;  // VM instructions per evaluation
  size_t memory_bytes = 16 << 20;       // total Lua heap
};

// One Lua state, reused across evaluations; compiled chunks are cached by source
// text. Each evaluation gets fresh globals, so nothing a chunk stores survives it.
//
// What expressions see: each top-level key of `env` as a global. Objects and
// arrays are read-only views (1-based arrays; `#`, ipairs and pairs work; assigning
// into them is an error). A JSON null inside an array is the global `null`; a null
// object member reads as nil. Results convert back: integers stay integers, floats
// stay floats, a table with keys exactly 1..n (or an empty table) becomes an array,
// any other table an object, `null` and nil become null.
//
// Errors: a syntax error is kInvalidInput; a runtime error, an exhausted
// instruction budget, an exceeded memory cap or a result JSON cannot hold is
// kFailedPrecondition. After any error the Sandbox stays usable.
//
// Known limit: the budget counts VM instructions, so a pathological Lua pattern
// (string.find/gsub backtracking) spends time inside one C call, bounded only by
// its input size.
//
// Not thread-safe: use one per thread (the engine owns one).
class Sandbox {
 public:
  explicit Sandbox(SandboxLimits limits = {});
  ~Sandbox();
  Sandbox(const Sandbox&) = delete;
  Sandbox& operator=(const Sandbox&) = delete;

  // Evaluates one expression ("slots.pct > 10") with each top-level key of `env`
  // (an object) visible as a read-only global. Returns its value as JSON
  // (nil -> null; a table with keys 1..n -> array; other tables -> object).
  Result<Json> eval(std::string_view expression, const Json& env);

  // Runs a chunk of statements ("local x = ... return x") with the same globals.
  Result<Json> run(std::string_view chunk, const Json& env);

  // Renders templates: every string in `value` (recursively through arrays and
  // objects) has its "${ expr }" parts evaluated. A string that is exactly one
  // template keeps the value's JSON type; otherwise values are spliced as text.
  Result<Json> render(const Json& value, const Json& env);

  // Truthiness as Lua sees it: nil/null and false are false, all else true.
  Result<bool> test(std::string_view expression, const Json& env);

  // Compiles without running: a statement chunk when `is_chunk`, else an
  // expression. A syntax error is kInvalidInput carrying Lua's message. Used to
  // validate workspace files before anything runs; also warms the chunk cache.
  Status check(std::string_view code, bool is_chunk);

  // check() for every "${ expr }" inside `value` (recursively through arrays and
  // objects); an unterminated template is kInvalidInput naming its string.
  Status check_templates(const Json& value);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// True when `text` contains a "${" template ("$${" is an escaped, literal "${").
bool has_template(std::string_view text);

}  // namespace ergon
