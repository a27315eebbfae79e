// Demonstrations on disk: demonstrations/<id>.yaml (instruction + steps, a
// person may edit it) and demonstrations/<id>/pages/*.json (the pages a
// browser step saw).
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

#include "core/internal/yaml_json.h"
#include "ergon/learn.h"
#include "learn/internal/yaml_emit.h"

namespace ergon {

namespace {

namespace fs = std::filesystem;
using internal::pointer_append;
using internal::type_name;
using internal::YamlDocument;

const std::vector<std::string> kDemoFields = {"instruction", "kind",     "connector",
                                              "start_url",   "recorded", "steps"};
const std::vector<std::string> kStepFields = {"do",     "with",  "result",
                                              "before", "after", "url_after"};
const std::vector<std::string> kKinds = {"browser", "api"};

bool contains(const std::vector<std::string>& items, const std::string& item) {
  return std::find(items.begin(), items.end(), item) != items.end();
}

bool valid_id(const std::string& id) {
  if (id.empty() || id.size() > 100) return false;
  auto ok_char = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!ok_char(id[0])) return false;
  return std::all_of(id.begin(), id.end(), [&](char c) { return ok_char(c) || c == '-'; });
}

Status check_id(const std::string& id) {
  if (valid_id(id)) return {};
  return fail(ErrorCode::kInvalidInput,
              "'" + id +
                  "' is not a valid demonstration id — use lower-case letters, digits and '-', "
                  "starting with a letter or digit (e.g. book-mri-1)");
}

// A page file name: one path component ending in .json.
Status check_page_name(const std::string& name) {
  bool ok = !name.empty() && name.size() > 5 && name.ends_with(".json") &&
            name.find('/') == std::string::npos && name.find('\\') == std::string::npos &&
            name.front() != '.';
  if (ok) return {};
  return fail(ErrorCode::kInvalidInput,
              "'" + name +
                  "' is not a page file name — use a plain file name ending in .json, e.g. "
                  "03-before.json (pages live in demonstrations/<id>/pages/)");
}

// "file:line: field: what" for one demonstration file.
class DemoSource {
 public:
  explicit DemoSource(const YamlDocument& doc) : doc_(doc) {}

  std::unexpected<Error> error(const std::string& pointer, const std::string& what) const {
    return doc_.error(pointer, what);
  }

  int line(const std::string& pointer) const { return doc_.line(pointer); }

  Status check_fields(const Json& object, const std::string& pointer,
                      const std::vector<std::string>& known) const {
    return doc_.check_fields(object, pointer, known, closest_spelling);
  }

  // An optional string ("" when absent); required when `if_missing` is given.
  Result<std::string> string_at(const Json& object, const std::string& pointer,
                                const std::string& key, const std::string& if_missing = "") const {
    std::string at = pointer_append(pointer, key);
    auto it = object.find(key);
    if (it == object.end() || it->is_null()) {
      if (!if_missing.empty()) return error(at, "missing — " + if_missing);
      return std::string();
    }
    if (!it->is_string()) return error(at, "expected a string, got " + type_name(*it));
    if (it->get<std::string>().empty() && !if_missing.empty()) {
      return error(at, "empty — " + if_missing);
    }
    return it->get<std::string>();
  }

 private:
  const YamlDocument& doc_;
};

Result<DemoStep> parse_step(const DemoSource& src, const Json& json, const std::string& at,
                            const std::string& kind) {
  if (!json.is_object()) {
    return src.error(at, "expected a step (a mapping with do, with...), got " + type_name(json));
  }
  if (auto ok = src.check_fields(json, at, kStepFields); !ok) return fail(ok.error());
  DemoStep step;
  step.loc.line = src.line(at);
  auto action = src.string_at(json, at, "do",
                              "name the action done, e.g. do: portal.click or "
                              "do: cloud.stop_instance");
  if (!action) return fail(action.error());
  if (action->find('.') == std::string::npos || action->front() == '.' || action->back() == '.') {
    return src.error(pointer_append(at, "do"),
                     "'" + *action + "' is not a qualified action — write <connector>.<action>");
  }
  step.action = *action;

  if (auto it = json.find("with"); it != json.end() && !it->is_null()) {
    std::string with_at = pointer_append(at, "with");
    if (!it->is_object()) {
      return src.error(with_at, "expected a mapping of arguments, got " + type_name(*it));
    }
    step.with = *it;
    if (auto target = it->find("target"); target != it->end()) {
      if (auto fp = fingerprint_from_json(*target); !fp) {
        std::string message = fp.error().message;
        if (message.starts_with("fingerprint: ")) message.erase(0, 13);
        return src.error(pointer_append(with_at, "target"),
                         message +
                             " — a target is an element fingerprint (role, name, tag, "
                             "id, ...)");
      }
    }
    if (auto secret = it->find("secret"); secret != it->end()) {
      if (!secret->is_string() || secret->get<std::string>().empty()) {
        return src.error(pointer_append(with_at, "secret"),
                         "expected the name of a vault secret, got " + type_name(*secret));
      }
      if (it->contains("value")) {
        return src.error(pointer_append(with_at, "value"),
                         "a step with a secret never holds the typed value — remove value");
      }
    }
  }
  if (auto it = json.find("result"); it != json.end()) step.result = *it;

  auto before = src.string_at(json, at, "before");
  if (!before) return fail(before.error());
  auto after = src.string_at(json, at, "after");
  if (!after) return fail(after.error());
  for (auto [key, name] : {std::pair{"before", &*before}, std::pair{"after", &*after}}) {
    if (name->empty()) continue;
    if (kind != "browser") {
      return src.error(pointer_append(at, key),
                       "only browser demonstrations record pages — remove " + std::string(key));
    }
    if (auto ok = check_page_name(*name); !ok) {
      return src.error(pointer_append(at, key), ok.error().message);
    }
  }
  step.page_before = *before;
  step.page_after = *after;
  auto url_after = src.string_at(json, at, "url_after");
  if (!url_after) return fail(url_after.error());
  step.url_after = *url_after;
  return step;
}

Result<Demonstration> parse_demonstration(const YamlDocument& doc, const std::string& id) {
  DemoSource src(doc);
  const Json& root = doc.value;
  if (!root.is_object()) {
    return src.error("",
                     "expected a demonstration (a mapping with instruction, kind, steps), "
                     "got " +
                         type_name(root));
  }
  if (auto ok = src.check_fields(root, "", kDemoFields); !ok) return fail(ok.error());
  Demonstration demo;
  demo.id = id;
  auto instruction = src.string_at(
      root, "", "instruction",
      "say what the task was, with its values, e.g. instruction: stop instance web-dev-2");
  if (!instruction) return fail(instruction.error());
  demo.instruction = *instruction;
  auto kind = src.string_at(root, "", "kind", "write kind: browser or kind: api");
  if (!kind) return fail(kind.error());
  if (!contains(kKinds, *kind)) {
    return src.error("/kind", "unknown kind '" + *kind + "' — use browser or api");
  }
  demo.kind = *kind;
  auto connector = src.string_at(
      root, "", "connector",
      demo.kind == "browser" ? "name the browser connector it was recorded against" : "");
  if (!connector) return fail(connector.error());
  demo.connector = *connector;
  auto start_url = src.string_at(root, "", "start_url");
  if (!start_url) return fail(start_url.error());
  demo.start_url = *start_url;
  auto recorded = src.string_at(root, "", "recorded");
  if (!recorded) return fail(recorded.error());
  demo.recorded = *recorded;

  if (auto it = root.find("steps"); it != root.end() && !it->is_null()) {
    if (!it->is_array()) {
      return src.error("/steps", "expected a list of steps, got " + type_name(*it));
    }
    for (size_t i = 0; i < it->size(); ++i) {
      std::string at = pointer_append("/steps", i);
      auto step = parse_step(src, (*it)[i], at, demo.kind);
      if (!step) return fail(step.error());
      step->loc.file = doc.file;
      if (demo.kind == "browser" && !demo.connector.empty() &&
          !step->action.starts_with(demo.connector + ".")) {
        return src.error(pointer_append(at, "do"),
                         "'" + step->action + "' is not an action of connector '" + demo.connector +
                             "' — a browser demonstration records one connector");
      }
      demo.steps.push_back(std::move(*step));
    }
  }
  return demo;
}

std::string demo_yaml(const Demonstration& demo) {
  YAML::Emitter out;
  out.SetIndent(2);
  out << YAML::BeginMap;
  auto put = [&](const char* key, const std::string& value) {
    if (value.empty()) return;
    out << YAML::Key << key << YAML::Value;
    internal::emit_string(out, value);
  };
  put("instruction", demo.instruction);
  put("kind", demo.kind);
  put("connector", demo.connector);
  put("start_url", demo.start_url);
  put("recorded", demo.recorded);
  out << YAML::Key << "steps" << YAML::Value;
  if (demo.steps.empty()) {
    out << YAML::Flow << YAML::BeginSeq << YAML::EndSeq;
  } else {
    out << YAML::BeginSeq;
    for (const DemoStep& step : demo.steps) {
      out << YAML::BeginMap;
      put("do", step.action);
      if (step.with.is_object() && !step.with.empty()) {
        out << YAML::Key << "with" << YAML::Value;
        internal::emit_with(out, step.with);
      }
      if (!step.result.is_null()) {
        out << YAML::Key << "result" << YAML::Value;
        internal::emit_json(out, step.result);
      }
      put("before", step.page_before);
      put("after", step.page_after);
      put("url_after", step.url_after);
      out << YAML::EndMap;
    }
    out << YAML::EndSeq;
  }
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

std::string slugify(const std::string& text) {
  std::string out;
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) && u < 128) {
      out += static_cast<char>(std::tolower(u));
    } else if (!out.empty() && out.back() != '-') {
      out += '-';
    }
  }
  while (!out.empty() && out.back() == '-') out.pop_back();
  if (out.size() > 60) {
    out.resize(60);
    while (!out.empty() && out.back() == '-') out.pop_back();
  }
  return out;
}

bool id_taken(const fs::path& dir, const std::string& id) {
  std::error_code ec;
  return fs::exists(dir / (id + ".yaml"), ec) || fs::exists(dir / id, ec);
}

Result<std::string> read_text(const fs::path& path, const std::string& label) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return fail(ErrorCode::kNotFound, label + ": cannot read (" + std::strerror(errno) + ")");
  }
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

std::string demonstrations_dir(const std::string& workspace_dir) {
  return (fs::path(workspace_dir.empty() ? "." : workspace_dir) / "demonstrations")
      .lexically_normal()
      .string();
}

Result<Demonstration> load_demonstration(const std::string& workspace_dir, const std::string& id) {
  if (auto ok = check_id(id); !ok) return fail(ok.error());
  fs::path path = fs::path(demonstrations_dir(workspace_dir)) / (id + ".yaml");
  std::string label = "demonstrations/" + id + ".yaml";
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) {
    return fail(ErrorCode::kNotFound, "no demonstration '" + id + "' (" + path.string() +
                                          " does not exist) — `ergon record` makes one");
  }
  auto doc = internal::load_yaml_file(path, label);
  if (!doc) return fail(doc.error());
  auto demo = parse_demonstration(*doc, id);
  if (!demo) return fail(demo.error());
  demo->file = fs::absolute(path, ec).lexically_normal().string();
  return demo;
}

Result<std::vector<Demonstration>> load_demonstrations(const std::string& workspace_dir) {
  std::vector<Demonstration> demos;
  fs::path dir = demonstrations_dir(workspace_dir);
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return demos;
  std::vector<std::string> ids;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const fs::path& path = entry.path();
    if (path.extension() != ".yaml" || !entry.is_regular_file(ec)) continue;
    std::string stem = path.stem().string();
    if (stem.starts_with(".")) continue;
    ids.push_back(stem);
  }
  if (ec) return fail(ErrorCode::kInternal, "cannot list " + dir.string() + ": " + ec.message());
  std::sort(ids.begin(), ids.end());
  for (const std::string& id : ids) {
    if (!valid_id(id)) {
      return fail(ErrorCode::kInvalidInput,
                  "demonstrations/" + id + ".yaml: '" + id +
                      "' is not a valid demonstration id — rename the file to lower-case "
                      "letters, digits and '-'");
    }
    auto demo = load_demonstration(workspace_dir, id);
    if (!demo) return fail(demo.error());
    demos.push_back(std::move(*demo));
  }
  return demos;
}

Status save_demonstration(const std::string& workspace_dir, const Demonstration& demo) {
  if (auto ok = check_id(demo.id); !ok) return ok;
  if (!contains(kKinds, demo.kind)) {
    return fail(ErrorCode::kInvalidInput, "demonstration '" + demo.id + "': unknown kind '" +
                                              demo.kind + "' — use browser or api");
  }
  for (size_t i = 0; i < demo.steps.size(); ++i) {
    const DemoStep& step = demo.steps[i];
    if (step.with.is_object() && step.with.contains("secret") && step.with.contains("value")) {
      return fail(ErrorCode::kInvalidInput,
                  "demonstration '" + demo.id + "': step " + std::to_string(i + 1) +
                      " has both a secret and a typed value — a secret's value is never stored");
    }
    for (const std::string* name : {&step.page_before, &step.page_after}) {
      if (name->empty()) continue;
      if (auto ok = check_page_name(*name); !ok) return ok;
    }
  }
  fs::path path = fs::path(demonstrations_dir(workspace_dir)) / (demo.id + ".yaml");
  return internal::write_file_atomically(path, demo_yaml(demo));
}

std::string new_demonstration_id(const std::string& workspace_dir, const std::string& wanted) {
  fs::path dir = demonstrations_dir(workspace_dir);
  std::string slug = slugify(wanted);
  if (valid_id(slug) && !id_taken(dir, slug)) return slug;
  for (int n = 1;; ++n) {
    std::string id = "demo-" + std::to_string(n);
    if (!id_taken(dir, id)) return id;
  }
}

Status save_demo_page(const std::string& workspace_dir, const std::string& demo_id,
                      const std::string& file_name, const DemoPage& page) {
  if (auto ok = check_id(demo_id); !ok) return ok;
  if (auto ok = check_page_name(file_name); !ok) return ok;
  Json json = {{"url", page.url}, {"title", page.title}, {"target", page.target}};
  Json elements = Json::array();
  for (const Fingerprint& fp : page.elements) elements.push_back(to_json(fp));
  json["elements"] = std::move(elements);
  fs::path path = fs::path(demonstrations_dir(workspace_dir)) / demo_id / "pages" / file_name;
  return internal::write_file_atomically(path, json.dump(1) + "\n");
}

Result<DemoPage> load_demo_page(const std::string& workspace_dir, const std::string& demo_id,
                                const std::string& file_name) {
  if (auto ok = check_id(demo_id); !ok) return fail(ok.error());
  if (auto ok = check_page_name(file_name); !ok) return fail(ok.error());
  fs::path path = fs::path(demonstrations_dir(workspace_dir)) / demo_id / "pages" / file_name;
  std::string label = "demonstrations/" + demo_id + "/pages/" + file_name;
  auto text = read_text(path, label);
  if (!text) return fail(text.error());
  Json json = Json::parse(*text, nullptr, false);
  auto bad = [&](const std::string& what) {
    return fail(ErrorCode::kInvalidInput,
                label + ": " + what + " — a page file is {url, title, target, elements}");
  };
  if (json.is_discarded()) return bad("not valid JSON");
  if (!json.is_object()) return bad("expected a JSON object");
  for (const auto& [key, value] : json.items()) {
    if (key != "url" && key != "title" && key != "target" && key != "elements") {
      return bad("unknown field '" + key + "'");
    }
  }
  DemoPage page;
  if (json.contains("url")) {
    if (!json["url"].is_string()) return bad("url: expected a string");
    page.url = json["url"].get<std::string>();
  }
  if (json.contains("title")) {
    if (!json["title"].is_string()) return bad("title: expected a string");
    page.title = json["title"].get<std::string>();
  }
  if (json.contains("elements")) {
    const Json& elements = json["elements"];
    if (!elements.is_array()) return bad("elements: expected a list of fingerprints");
    for (size_t i = 0; i < elements.size(); ++i) {
      auto fp = fingerprint_from_json(elements[i]);
      if (!fp) return bad("elements[" + std::to_string(i) + "]: " + fp.error().message);
      page.elements.push_back(std::move(*fp));
    }
  }
  if (json.contains("target")) {
    const Json& target = json["target"];
    if (!target.is_number_integer()) return bad("target: expected an element index or -1");
    page.target = target.get<int>();
    if (page.target < -1 || page.target >= static_cast<int>(page.elements.size())) {
      return bad("target: " + std::to_string(page.target) + " is not an index into elements (" +
                 std::to_string(page.elements.size()) + " elements)");
    }
  }
  return page;
}

}  // namespace ergon
