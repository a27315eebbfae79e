// YAML workspace files as JSON: every parser downstream (steps, slots, plans,
// connector bindings) speaks JSON and reports problems as JSON pointers, so the
// converter keeps the YAML line of every pointer and errors can name file:line.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ergon/json.h"
#include "ergon/result.h"

namespace ergon::internal {

// One YAML document converted to JSON. Immutable after parse_yaml.
struct YamlDocument {
  std::string file;  // how errors name the source, e.g. "skills/reduce.yaml"
  Json value;        // null for an empty document
  // 1-based line of each value by JSON pointer ("" is the document). A mapping
  // entry's line is its key's line, so a missing or wrong value points at its key.
  std::map<std::string, int> lines;
  // The keys of each mapping in file order (Json objects sort their keys).
  std::map<std::string, std::vector<std::string>> key_order;

  // The line of `pointer`, or of its longest known prefix; 1 when none is known.
  int line(std::string_view pointer) const;
  // The keys of the mapping `object` found at `pointer`, in file order when
  // known, else in `object`'s order.
  std::vector<std::string> keys(const std::string& pointer, const Json& object) const;

  // kInvalidInput "file:line: field: what" for the value at `pointer` (the
  // field part left out for the document itself).
  std::unexpected<Error> error(std::string_view pointer, const std::string& what) const;

  // Suggests the closest known spelling, "" when none is close: the caller
  // passes ergon::closest_spelling (core does not depend on plan).
  using Speller = std::string (*)(const std::string& word,
                                  const std::vector<std::string>& candidates);
  // The first key (in file order) of the mapping `object` at `pointer` that is
  // not in `known` as an error(): "unknown field — did you mean 'x'?", else
  // "unknown field — use a, b, c".
  Status check_fields(const Json& object, const std::string& pointer,
                      const std::vector<std::string>& known, Speller closest) const;
};

// How a value's type reads in a message: "nothing", "true/false", "a string",
// "a mapping", "a list" or "a number".
std::string type_name(const Json& value);

// Converts YAML text. Plain scalars get the YAML 1.2 core types (null, ~, true,
// false, integers, floats); quoted and block scalars stay strings, and so do
// plain numbers with leading zeros ("007"), which are nearly always ids.
// Errors are kInvalidInput: "file:line:column: <problem> — fix the YAML syntax"
// for syntax, "file:line: duplicate key 'k'" for repeated keys.
Result<YamlDocument> parse_yaml(std::string_view text, const std::string& file);

// Reads `path` and parses it; `file` names it in errors.
Result<YamlDocument> load_yaml_file(const std::filesystem::path& path, const std::string& file);

// Writes `text` to `path` atomically (a temp file beside it, then a rename),
// creating missing directories; kInternal naming the file when it cannot.
Status write_file_atomically(const std::filesystem::path& path, const std::string& text);

// JSON pointer helpers (RFC 6901 escaping of '~' and '/').
std::string pointer_append(std::string_view pointer, std::string_view key);
std::string pointer_append(std::string_view pointer, size_t index);

// How a person reads a pointer into `root`: "/steps/2/on_fail" ->
// "steps[2].on_fail". Segments that do not exist in `root` are shown as keys.
std::string field_name(const Json& root, std::string_view pointer);

// Splits a parser's message "<json pointer>: <text>" (the convention of
// step_from_json and friends) into {pointer, text}; the pointer is "" when the
// message does not start with one.
std::pair<std::string, std::string> split_pointer_message(std::string_view message);

}  // namespace ergon::internal
