#include "ergon/vault.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>

namespace ergon {

namespace {

// Values shorter than this are not redacted: replacing every "ab" or "1" in
// every message would mangle output while hiding nothing worth hiding.
constexpr size_t kMinRedactedLength = 4;

std::string trim(const std::string& text) {
  size_t begin = 0, end = text.size();
  while (begin < end && std::isspace(static_cast<unsigned char>(text[begin]))) ++begin;
  while (end > begin && std::isspace(static_cast<unsigned char>(text[end - 1]))) --end;
  return text.substr(begin, end - begin);
}

bool valid_name(const std::string& name) {
  if (name.empty() || std::isdigit(static_cast<unsigned char>(name[0]))) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
  });
}

void replace_all(std::string& text, const std::string& needle, std::string_view with) {
  for (size_t at = text.find(needle); at != std::string::npos;
       at = text.find(needle, at + with.size())) {
    text.replace(at, needle.size(), with);
  }
}

}  // namespace

Result<std::unique_ptr<Vault>> Vault::open(const std::string& file) {
  auto vault = std::make_unique<Vault>();
  if (file.empty()) return vault;
  vault->file_ = file;
  std::ifstream in(file);
  if (!in) {
    return fail(ErrorCode::kNotFound, "cannot read vault file " + file + ": " +
                                          std::strerror(errno) +
                                          " — create it or fix vault.file in ergon.yaml");
  }
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    std::string text = trim(line);
    if (text.empty() || text[0] == '#') continue;
    auto eq = text.find('=');
    std::string name = eq == std::string::npos ? "" : trim(text.substr(0, eq));
    if (!valid_name(name)) {
      // The line may hold a secret, so the message shows its position, never its text.
      return fail(ErrorCode::kInvalidInput,
                  file + ":" + std::to_string(number) +
                      ": expected NAME=value (NAME of letters, digits and '_'; '#' starts a "
                      "comment)");
    }
    std::string value = trim(text.substr(eq + 1));
    // NAME="value with spaces" as in .env files.
    if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') &&
        value.back() == value.front()) {
      value = value.substr(1, value.size() - 2);
    }
    vault->file_values_[name] = std::move(value);
  }
  return vault;
}

Result<std::string> Vault::get(const std::string& name) const {
  std::optional<std::string> value;
  {
    std::lock_guard lock(mu_);
    auto it = file_values_.find(name);
    if (it != file_values_.end()) value = it->second;
  }
  if (!value) {
    const char* env = std::getenv(name.c_str());
    if (env == nullptr) {
      std::string what = "set the environment variable " + name;
      if (!file_.empty()) what += " or add " + name + "=... to " + file_;
      return fail(ErrorCode::kNotFound, "secret " + name + " is not in the vault: " + what);
    }
    value = env;
  }
  std::lock_guard lock(mu_);
  if (std::find(handed_out_.begin(), handed_out_.end(), *value) == handed_out_.end()) {
    // Longest first, so a secret that contains another is replaced whole.
    auto at = std::find_if(handed_out_.begin(), handed_out_.end(),
                           [&](const std::string& v) { return v.size() < value->size(); });
    handed_out_.insert(at, *value);
  }
  return *value;
}

std::string Vault::redact(std::string text) const {
  std::lock_guard lock(mu_);
  for (const std::string& secret : handed_out_) {
    if (secret.size() < kMinRedactedLength) break;  // sorted longest first
    replace_all(text, secret, "***");
  }
  return text;
}

Json Vault::redact(const Json& value) const {
  {
    std::lock_guard lock(mu_);  // sorted longest first: nothing to hide when the first is short
    if (handed_out_.empty() || handed_out_.front().size() < kMinRedactedLength) return value;
  }
  if (value.is_string()) return redact(value.get<std::string>());
  if (value.is_array()) {
    Json out = Json::array();
    for (const Json& element : value) out.push_back(redact(element));
    return out;
  }
  if (value.is_object()) {
    Json out = Json::object();
    for (const auto& [key, element] : value.items()) out[redact(key)] = redact(element);
    return out;
  }
  return value;
}

std::vector<std::string> Vault::names() const {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  for (const auto& [name, value] : file_values_) out.push_back(name);
  return out;
}

void Vault::put(const std::string& name, const std::string& value) {
  std::lock_guard lock(mu_);
  file_values_[name] = value;
}

}  // namespace ergon
