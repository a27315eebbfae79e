// care-portal: page templates, static assets and the template language.
#include "site.h"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

namespace care {
namespace {

namespace fs = std::filesystem;

// What each layout directory must hold, and what common/ must hold.
const std::vector<std::string> kLayoutPages = {
    "layout",   "banner",      "login",        "dashboard", "preauth_new", "preauth", "facilities",
    "schedule", "appointment", "appointments", "captcha",   "not_found",   "logout"};
const std::vector<std::string> kCommonPages = {"big", "dialogs"};
constexpr int kMaxPartialDepth = 16;

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\n'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n'))
    s.remove_suffix(1);
  return s;
}

bool truthy(const json& v) {
  switch (v.type()) {
    case json::value_t::null: return false;
    case json::value_t::boolean: return v.get<bool>();
    case json::value_t::string: return !v.get_ref<const std::string&>().empty();
    case json::value_t::array: return !v.empty();
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
    case json::value_t::number_float: return v.get<double>() != 0;
    default: return true;
  }
}

std::string text_of(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_null()) return "";
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  return v.dump();
}

using Partials = std::function<const std::string*(const std::string&)>;

class Renderer {
 public:
  Renderer(const Partials& partial) : partial_(partial) {}

  void render(std::string_view text, std::vector<const json*>& stack, std::string& out, int depth) {
    std::size_t pos = 0;
    while (pos < text.size()) {
      std::size_t open = text.find("{{", pos);
      if (open == std::string_view::npos) {
        out.append(text.substr(pos));
        return;
      }
      out.append(text.substr(pos, open - pos));
      if (text.substr(open, 3) == "{{{") {
        std::size_t close = text.find("}}}", open + 3);
        if (close == std::string_view::npos) return fail(text.substr(open), out);
        out += text_of(lookup(trim(text.substr(open + 3, close - open - 3)), stack));
        pos = close + 3;
        continue;
      }
      std::size_t close = text.find("}}", open + 2);
      if (close == std::string_view::npos) return fail(text.substr(open), out);
      std::string_view tag = trim(text.substr(open + 2, close - open - 2));
      pos = close + 2;
      const char sigil = tag.empty() ? '\0' : tag.front();
      std::string_view name = trim(tag.substr(sigil == '\0' ? 0 : 1));
      switch (sigil) {
        case '!': break;
        case '&': out += text_of(lookup(name, stack)); break;
        case '>': {
          const std::string* body = partial_(std::string(name));
          if (body == nullptr || depth >= kMaxPartialDepth) {
            out += "<!-- missing partial " + std::string(name) + " -->";
          } else {
            render(*body, stack, out, depth + 1);
          }
          break;
        }
        case '#':
        case '^': {
          auto [inner_end, after] = section_end(text, pos, name);
          if (inner_end == std::string_view::npos) return fail(tag, out);
          std::string_view inner = text.substr(pos, inner_end - pos);
          const json& value = lookup(name, stack);
          if (sigil == '^') {
            if (!truthy(value)) render(inner, stack, out, depth);
          } else if (value.is_array()) {
            for (const json& item : value) {
              stack.push_back(&item);
              render(inner, stack, out, depth);
              stack.pop_back();
            }
          } else if (truthy(value)) {
            stack.push_back(&value);
            render(inner, stack, out, depth);
            stack.pop_back();
          }
          pos = after;
          break;
        }
        case '/': break;  // a stray close tag
        default: out += html_escape(text_of(lookup(tag, stack)));
      }
    }
  }

 private:
  // Where the section opened just before `from` ends: the start of its
  // {{/name}} and the position after it; npos when unclosed.
  static std::pair<std::size_t, std::size_t> section_end(std::string_view text, std::size_t from,
                                                         std::string_view name) {
    int depth = 1;
    std::size_t pos = from;
    while (true) {
      std::size_t open = text.find("{{", pos);
      if (open == std::string_view::npos) return {std::string_view::npos, std::string_view::npos};
      std::size_t close = text.find("}}", open + 2);
      if (close == std::string_view::npos) return {std::string_view::npos, std::string_view::npos};
      std::string_view tag = trim(text.substr(open + 2, close - open - 2));
      if (!tag.empty() && (tag.front() == '#' || tag.front() == '^') &&
          trim(tag.substr(1)) == name) {
        ++depth;
      } else if (!tag.empty() && tag.front() == '/' && trim(tag.substr(1)) == name) {
        if (--depth == 0) return {open, close + 2};
      }
      pos = close + 2;
    }
  }

  static const json& lookup(std::string_view name, const std::vector<const json*>& stack) {
    static const json kNull;
    if (stack.empty()) return kNull;
    if (name == ".") return *stack.back();
    std::vector<std::string_view> parts;
    for (std::size_t start = 0;;) {
      std::size_t dot = name.find('.', start);
      parts.push_back(name.substr(start, dot == std::string_view::npos ? name.npos : dot - start));
      if (dot == std::string_view::npos) break;
      start = dot + 1;
    }
    const json* found = nullptr;
    for (auto it = stack.rbegin(); it != stack.rend(); ++it) {
      if ((*it)->is_object()) {
        auto member = (*it)->find(std::string(parts[0]));
        if (member != (*it)->end()) {
          found = &*member;
          break;
        }
      }
    }
    for (std::size_t i = 1; found != nullptr && i < parts.size(); ++i) {
      const std::string_view part = parts[i];
      if (found->is_array() && !part.empty() && part.size() < 6 &&
          part.find_first_not_of("0123456789") == std::string_view::npos) {
        const std::size_t index = std::stoul(std::string(part));
        found = index < found->size() ? &(*found)[index] : nullptr;
        continue;
      }
      if (!found->is_object()) return kNull;
      auto member = found->find(std::string(part));
      found = member == found->end() ? nullptr : &*member;
    }
    return found == nullptr ? kNull : *found;
  }

  static void fail(std::string_view where, std::string& out) {
    out += "<!-- template error near " + html_escape(where.substr(0, 40)) + " -->";
  }

  const Partials& partial_;
};

std::optional<std::string> slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

}  // namespace

std::string html_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string render_template(std::string_view text, const json& context, const Partials& partial) {
  std::vector<const json*> stack = {&context};
  std::string out;
  Renderer(partial).render(text, stack, out, 0);
  return out;
}

std::optional<Site> Site::load(const std::string& dir, std::string* error) {
  Site site;
  site.dir_ = dir;
  std::error_code ec;
  for (const char* part : {"v1", "v2", "common"}) {
    const fs::path sub = fs::path(dir) / part;
    if (!fs::is_directory(sub, ec)) {
      *error = "the site directory " + dir + " has no " + part +
               "/ — pass --site with the path of examples/care-portal/service/site";
      return std::nullopt;
    }
    for (const auto& entry : fs::directory_iterator(sub, ec)) {
      if (!entry.is_regular_file()) continue;
      const fs::path& path = entry.path();
      const std::string ext = path.extension().string();
      if (ext != ".html" && ext != ".css" && ext != ".js" && ext != ".svg") continue;
      auto text = slurp(path);
      if (!text) {
        *error = "cannot read " + path.string();
        return std::nullopt;
      }
      if (ext == ".html") {
        site.templates_[std::string(part) + "/" + path.stem().string()] = std::move(*text);
      } else {
        site.assets_[std::string(part) + "/" + path.filename().string()] = std::move(*text);
      }
    }
  }
  for (const char* layout : {"v1", "v2"}) {
    for (const std::string& page : kLayoutPages) {
      if (!site.templates_.contains(std::string(layout) + "/" + page)) {
        *error = "the site directory " + dir + " has no " + layout + "/" + page + ".html";
        return std::nullopt;
      }
    }
  }
  for (const std::string& page : kCommonPages) {
    if (!site.templates_.contains("common/" + page)) {
      *error = "the site directory " + dir + " has no common/" + page + ".html";
      return std::nullopt;
    }
  }
  return site;
}

const std::string* Site::find_template(const std::string& layout, const std::string& name) const {
  auto it = templates_.find(layout + "/" + name);
  if (it == templates_.end()) it = templates_.find("common/" + name);
  return it == templates_.end() ? nullptr : &it->second;
}

std::string Site::render(const std::string& layout, const std::string& name,
                         const json& context) const {
  const std::string* text = find_template(layout, name);
  if (text == nullptr) return "<!-- missing template " + html_escape(name) + " -->";
  return render_template(
      *text, context, [&](const std::string& partial) { return find_template(layout, partial); });
}

const std::string* Site::asset(const std::string& path) const {
  auto it = assets_.find(path);
  return it == assets_.end() ? nullptr : &it->second;
}

}  // namespace care
