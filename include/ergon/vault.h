// Secrets (tokens, passwords) live in a vault and are injected by connectors.
// They never appear in a plan, a prompt, a log or the journal: everything that
// leaves the process passes through redact().
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "ergon/json.h"
#include "ergon/result.h"

namespace ergon {

// Thread-safe.
class Vault {
 public:
  // Secrets come from the process environment, plus `file` when non-empty
  // (lines NAME=value; '#' comments). The file wins over the environment.
  static Result<std::unique_ptr<Vault>> open(const std::string& file = "");

  // The secret's value; kNotFound naming the secret (never its value) otherwise.
  Result<std::string> get(const std::string& name) const;
  // Replaces every secret value handed out by get() with "***".
  std::string redact(std::string text) const;
  Json redact(const Json& value) const;
  // The names (never the values) of the secrets in the vault file and those
  // put(): what a workspace has declared as secrets. The environment's are not
  // listed.
  std::vector<std::string> names() const;
  // For tests: add a secret directly.
  void put(const std::string& name, const std::string& value);

 private:
  std::string file_;  // constant after open(); named in "not found" messages
  mutable std::mutex mu_;
  std::map<std::string, std::string> file_values_;  // guarded by mu_
  mutable std::vector<std::string> handed_out_;     // guarded by mu_; longest first
};

}  // namespace ergon
