#include "core/internal/yaml_json.h"

#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <system_error>

namespace ergon::internal {

namespace {

const std::string kStrTag = "tag:yaml.org,2002:str";

bool is_decimal_int(const std::string& s) {
  size_t i = (!s.empty() && (s[0] == '-' || s[0] == '+')) ? 1 : 0;
  if (i == s.size()) return false;
  for (size_t j = i; j < s.size(); ++j) {
    if (s[j] < '0' || s[j] > '9') return false;
  }
  return true;
}

bool has_leading_zero(const std::string& s) {
  size_t i = (!s.empty() && (s[0] == '-' || s[0] == '+')) ? 1 : 0;
  return s.size() > i + 1 && s[i] == '0' && s[i + 1] >= '0' && s[i + 1] <= '9';
}

bool all_digits(const std::string& s, size_t begin, size_t end) {
  if (begin >= end) return false;
  for (size_t i = begin; i < end; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
  }
  return true;
}

// [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?
bool is_core_float(const std::string& s) {
  size_t i = (!s.empty() && (s[0] == '-' || s[0] == '+')) ? 1 : 0;
  size_t exponent = s.find_first_of("eE", i);
  size_t mantissa_end = exponent == std::string::npos ? s.size() : exponent;
  size_t dot = s.find('.', i);
  bool mantissa = false;
  if (dot == std::string::npos || dot >= mantissa_end) {
    mantissa = all_digits(s, i, mantissa_end);
  } else if (dot == i) {
    mantissa = all_digits(s, dot + 1, mantissa_end);
  } else {
    mantissa =
        all_digits(s, i, dot) && (dot + 1 == mantissa_end || all_digits(s, dot + 1, mantissa_end));
  }
  if (!mantissa) return false;
  if (exponent == std::string::npos) return true;
  size_t j = exponent + 1;
  if (j < s.size() && (s[j] == '-' || s[j] == '+')) ++j;
  return all_digits(s, j, s.size());
}

// The YAML 1.2 core schema for a plain scalar. Infinities and NaN have no JSON
// form, so ".inf" and ".nan" stay strings.
Json infer_scalar(const std::string& s) {
  if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") return nullptr;
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  if (has_leading_zero(s)) return s;
  if (is_decimal_int(s)) {
    errno = 0;
    char* end = nullptr;
    long long value = std::strtoll(s.c_str(), &end, 10);
    if (errno == 0 && end == s.c_str() + s.size()) return value;
    // Out of int64 range: keep the magnitude as a double.
    return std::strtod(s.c_str(), nullptr);
  }
  errno = 0;
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'o')) {
    int base = s[1] == 'x' ? 16 : 8;
    char* end = nullptr;
    long long value = std::strtoll(s.c_str() + 2, &end, base);
    bool digits_only =
        std::isalnum(static_cast<unsigned char>(s[2])) && end == s.c_str() + s.size();
    if (digits_only && errno == 0) return value;
    return s;
  }
  if (is_core_float(s)) {
    double value = std::strtod(s.c_str(), nullptr);
    if (std::isfinite(value)) return value;
  }
  return s;
}

std::string syntax_error(const std::string& file, const YAML::Mark& mark, const std::string& msg) {
  std::string where = file;
  if (!mark.is_null()) {
    where += ":" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1);
  }
  return where + ": " + msg + " — fix the YAML syntax";
}

// Aliases can make a small file expand exponentially (or, with a self-reference,
// forever), so conversion stops at these bounds; real workspace files are far
// below them.
constexpr int kMaxDepth = 128;
constexpr size_t kMaxValues = 1'000'000;

class Converter {
 public:
  explicit Converter(YamlDocument& doc) : doc_(doc) {}

  Result<Json> convert(const YAML::Node& node, const std::string& pointer, int line,
                       int depth = 0) {
    if (!node.Mark().is_null()) line = node.Mark().line + 1;
    if (depth > kMaxDepth || ++values_ > kMaxValues) {
      return fail(ErrorCode::kInvalidInput,
                  doc_.file + ":" + std::to_string(line) + ": the document nests deeper than " +
                      std::to_string(kMaxDepth) + " levels or expands to more than " +
                      std::to_string(kMaxValues) + " values (aliases?) — simplify it");
    }
    if (!doc_.lines.contains(pointer)) doc_.lines[pointer] = line;
    switch (node.Type()) {
      case YAML::NodeType::Undefined:
      case YAML::NodeType::Null: return Json(nullptr);
      case YAML::NodeType::Scalar: {
        const std::string& tag = node.Tag();
        // "?" marks a plain scalar; "!" a quoted or block one, which is a string.
        if (tag == "?" || tag.empty() || tag.rfind("tag:yaml.org,2002:", 0) == 0) {
          if (tag == kStrTag) return Json(node.Scalar());
          return infer_scalar(node.Scalar());
        }
        return Json(node.Scalar());
      }
      case YAML::NodeType::Sequence: {
        Json out = Json::array();
        size_t index = 0;
        for (const YAML::Node& item : node) {
          auto value = convert(item, pointer_append(pointer, index++), line, depth + 1);
          if (!value) return value;
          out.push_back(std::move(*value));
        }
        return out;
      }
      case YAML::NodeType::Map: {
        Json out = Json::object();
        for (auto it = node.begin(); it != node.end(); ++it) {
          // Copies: the iterator hands out a temporary pair of node handles.
          const YAML::Node key = it->first;
          const YAML::Node value_node = it->second;
          int key_line = key.Mark().is_null() ? line : key.Mark().line + 1;
          if (!key.IsScalar()) {
            return fail(ErrorCode::kInvalidInput,
                        doc_.file + ":" + std::to_string(key_line) +
                            ": a mapping key must be a plain value, not a list or mapping — "
                            "fix the YAML");
          }
          const std::string& name = key.Scalar();
          if (out.contains(name)) {
            return fail(ErrorCode::kInvalidInput,
                        doc_.file + ":" + std::to_string(key_line) + ": duplicate key '" + name +
                            "' — each key may appear once per mapping; remove or merge one");
          }
          doc_.key_order[pointer].push_back(name);
          std::string child = pointer_append(pointer, name);
          doc_.lines[child] = key_line;
          auto value = convert(value_node, child, key_line, depth + 1);
          if (!value) return value;
          out[name] = std::move(*value);
        }
        return out;
      }
    }
    return Json(nullptr);
  }

 private:
  YamlDocument& doc_;
  size_t values_ = 0;
};

std::string unescape_segment(std::string_view segment) {
  std::string out;
  for (size_t i = 0; i < segment.size(); ++i) {
    if (segment[i] == '~' && i + 1 < segment.size() &&
        (segment[i + 1] == '0' || segment[i + 1] == '1')) {
      out += segment[i + 1] == '0' ? '~' : '/';
      ++i;
    } else {
      out += segment[i];
    }
  }
  return out;
}

}  // namespace

int YamlDocument::line(std::string_view pointer) const {
  std::string prefix(pointer);
  while (true) {
    auto it = lines.find(prefix);
    if (it != lines.end()) return it->second;
    if (prefix.empty()) return 1;
    prefix.erase(prefix.rfind('/') == std::string::npos ? 0 : prefix.rfind('/'));
  }
}

std::vector<std::string> YamlDocument::keys(const std::string& pointer, const Json& object) const {
  std::vector<std::string> out;
  if (!object.is_object()) return out;
  auto it = key_order.find(pointer);
  if (it != key_order.end() && it->second.size() == object.size()) return it->second;
  for (const auto& [key, value] : object.items()) out.push_back(key);
  return out;
}

std::unexpected<Error> YamlDocument::error(std::string_view pointer,
                                           const std::string& what) const {
  std::string field = field_name(value, pointer);
  return fail(ErrorCode::kInvalidInput, file + ":" + std::to_string(line(pointer)) + ": " +
                                            (field.empty() ? "" : field + ": ") + what);
}

Status YamlDocument::check_fields(const Json& object, const std::string& pointer,
                                  const std::vector<std::string>& known, Speller closest) const {
  for (const std::string& key : keys(pointer, object)) {
    if (std::find(known.begin(), known.end(), key) != known.end()) continue;
    std::string hint = closest(key, known);
    std::string all;
    for (const std::string& name : known) all += (all.empty() ? "" : ", ") + name;
    return error(pointer_append(pointer, key),
                 hint.empty() ? "unknown field — use " + all
                              : "unknown field — did you mean '" + hint + "'?");
  }
  return {};
}

std::string type_name(const Json& value) {
  switch (value.type()) {
    case Json::value_t::null: return "nothing";
    case Json::value_t::boolean: return "true/false";
    case Json::value_t::string: return "a string";
    case Json::value_t::object: return "a mapping";
    case Json::value_t::array: return "a list";
    default: return "a number";
  }
}

Result<YamlDocument> parse_yaml(std::string_view text, const std::string& file) {
  YamlDocument doc;
  doc.file = file;
  try {
    YAML::Node root = YAML::Load(std::string(text));
    Converter converter(doc);
    auto value = converter.convert(root, "", 1);
    if (!value) return fail(value.error());
    doc.value = std::move(*value);
  } catch (const YAML::Exception& e) {
    return fail(ErrorCode::kInvalidInput, syntax_error(file, e.mark, e.msg));
  } catch (const std::exception& e) {
    return fail(ErrorCode::kInvalidInput, file + ": cannot read YAML: " + e.what());
  }
  return doc;
}

Result<YamlDocument> load_yaml_file(const std::filesystem::path& path, const std::string& file) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return fail(ErrorCode::kInvalidInput,
                "cannot read " + path.string() + ": " + std::strerror(errno));
  }
  std::ostringstream text;
  text << in.rdbuf();
  return parse_yaml(text.str(), file);
}

Status write_file_atomically(const std::filesystem::path& path, const std::string& text) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(path.parent_path(), ec);
  if (ec) {
    return fail(ErrorCode::kInternal,
                "cannot create " + path.parent_path().string() + ": " + ec.message());
  }
  fs::path temp = path;
  temp += ".tmp-" + std::to_string(::getpid());
  {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    if (!out) {
      return fail(ErrorCode::kInternal,
                  "cannot write " + temp.string() + ": " + std::strerror(errno));
    }
    out << text;
    if (!out.flush()) {
      fs::remove(temp, ec);
      return fail(ErrorCode::kInternal, "cannot write " + temp.string());
    }
  }
  fs::rename(temp, path, ec);
  if (ec) {
    const std::string why = ec.message();
    fs::remove(temp, ec);
    return fail(ErrorCode::kInternal, "cannot write " + path.string() + ": " + why);
  }
  return {};
}

std::string pointer_append(std::string_view pointer, std::string_view key) {
  return std::string(pointer) + json_pointer_token(key);
}

std::string pointer_append(std::string_view pointer, size_t index) {
  return std::string(pointer) + "/" + std::to_string(index);
}

std::string field_name(const Json& root, std::string_view pointer) {
  std::string out;
  const Json* at = &root;
  size_t pos = 0;
  while (pos < pointer.size() && pointer[pos] == '/') {
    size_t next = pointer.find('/', pos + 1);
    if (next == std::string_view::npos) next = pointer.size();
    std::string segment = unescape_segment(pointer.substr(pos + 1, next - pos - 1));
    pos = next;
    if (at != nullptr && at->is_array()) {
      out += "[" + segment + "]";
      char* end = nullptr;
      unsigned long index = std::strtoul(segment.c_str(), &end, 10);
      at = (end != segment.c_str() && *end == '\0' && index < at->size()) ? &(*at)[index] : nullptr;
      continue;
    }
    if (!out.empty()) out += '.';
    out += segment;
    if (at != nullptr && at->is_object()) {
      auto it = at->find(segment);
      at = it == at->end() ? nullptr : &*it;
    } else {
      at = nullptr;
    }
  }
  return out;
}

std::pair<std::string, std::string> split_pointer_message(std::string_view message) {
  if (message.starts_with(": ")) return {"", std::string(message.substr(2))};
  if (!message.starts_with("/")) return {"", std::string(message)};
  size_t colon = message.find(": ");
  if (colon == std::string_view::npos) return {"", std::string(message)};
  return {std::string(message.substr(0, colon)), std::string(message.substr(colon + 2))};
}

}  // namespace ergon::internal
