// API tokens: roles, and the tokens file that keeps only their hashes.
#include <fcntl.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "ergon/json.h"
#include "ergon/serve.h"

namespace ergon {

const char* to_string(Role role) {
  switch (role) {
    case Role::kViewer: return "viewer";
    case Role::kOperator: return "operator";
    case Role::kApprover: return "approver";
    case Role::kAdmin: return "admin";
  }
  return "viewer";
}

Result<Role> parse_role(const std::string& text) {
  for (Role role : {Role::kViewer, Role::kOperator, Role::kApprover, Role::kAdmin}) {
    if (text == to_string(role)) return role;
  }
  return fail(ErrorCode::kInvalidInput,
              "unknown role '" + text + "': use viewer, operator, approver or admin");
}

std::string default_tokens_path(const std::string& workspace_dir) {
  return workspace_dir + "/.ergon/tokens.json";
}

Result<std::vector<ApiToken>> load_tokens(const std::string& path) {
  std::vector<ApiToken> tokens;
  std::ifstream in(path);
  if (!in) {
    if (!std::filesystem::exists(path)) return tokens;
    return fail(ErrorCode::kInvalidInput, path + ": cannot read the tokens file");
  }
  std::stringstream text;
  text << in.rdbuf();
  Json json = Json::parse(text.str(), nullptr, false);
  if (json.is_discarded() || !json.is_object() || !json.contains("tokens") ||
      !json["tokens"].is_array()) {
    return fail(ErrorCode::kInvalidInput,
                path +
                    ": not a tokens file (expected {\"tokens\": [...]}); recreate it with "
                    "`ergon serve token add NAME --role ROLE`");
  }
  size_t index = 0;
  for (const Json& row : json["tokens"]) {
    std::string where = path + ": tokens[" + std::to_string(index++) + "]";
    if (!row.is_object() || !row.contains("name") || !row["name"].is_string() ||
        !row.contains("hash") || !row["hash"].is_string() || !row.contains("role") ||
        !row["role"].is_string()) {
      return fail(ErrorCode::kInvalidInput, where + ": needs name, role and hash (strings)");
    }
    auto role = parse_role(row["role"].get<std::string>());
    if (!role) return fail(role.error().with_context(where + ": role: "));
    tokens.push_back({row["name"].get<std::string>(), *role, row["hash"].get<std::string>(),
                      row.value("created_ms", int64_t{0})});
  }
  return tokens;
}

Result<std::string> add_token(const std::string& path, const std::string& name, Role role,
                              int64_t now_ms) {
  if (name.empty()) return fail(ErrorCode::kInvalidInput, "a token needs a NAME (its principal)");
  auto tokens = load_tokens(path);
  if (!tokens) return fail(tokens.error());
  unsigned char bytes[24];
  if (RAND_bytes(bytes, sizeof bytes) != 1) {
    return fail(ErrorCode::kInternal, "no randomness for a new token (RAND_bytes failed)");
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string secret = "ergon_";
  for (unsigned char b : bytes) {
    secret += kHex[b >> 4];
    secret += kHex[b & 15];
  }
  Json rows = Json::array();
  for (const ApiToken& t : *tokens) {
    if (t.name == name) continue;
    rows.push_back({{"name", t.name},
                    {"role", to_string(t.role)},
                    {"hash", t.hash},
                    {"created_ms", t.created_ms}});
  }
  rows.push_back({{"name", name},
                  {"role", to_string(role)},
                  {"hash", sha256_hex(secret)},
                  {"created_ms", now_ms}});
  std::error_code ec;
  std::filesystem::path file(path);
  if (file.has_parent_path()) std::filesystem::create_directories(file.parent_path(), ec);
  std::string tmp = path + ".tmp";
  {
    // 0600 from its creation: never readable by others, even for a moment.
    ::unlink(tmp.c_str());
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) return fail(ErrorCode::kInvalidInput, path + ": cannot write the tokens file");
    ::close(fd);
    std::ofstream out(tmp, std::ios::trunc);
    out << Json{{"tokens", rows}}.dump(2) << "\n";
    out.close();
    if (!out) return fail(ErrorCode::kInvalidInput, path + ": cannot write the tokens file");
  }
  std::filesystem::rename(tmp, path, ec);
  if (ec) return fail(ErrorCode::kInvalidInput, path + ": " + ec.message());
  return secret;
}

}  // namespace ergon
