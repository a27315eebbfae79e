// care-portal: the site's files — page templates and static assets — loaded
// from disk once at start-up, and the small template language they are
// written in.
//
// Templates are a subset of Mustache: {{name}} (HTML-escaped), {{{name}}} and
// {{&name}} (raw), {{#name}}…{{/name}} (a list repeats, an object or any other
// truthy value renders once with it pushed on the context), {{^name}}…{{/name}}
// (renders when name is falsy: absent, null, false, "", 0 or an empty list),
// {{> partial}}, {{! comment}}; names may be dotted (facility.name; errors.0 is
// a list's first item) and {{.}} is the current item. A layout's templates are
// looked up in site/<layout>/, then in site/common/.
//
// A Site is immutable after load() and safe to use from many threads.
#pragma once

#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace care {

using json = nlohmann::json;

class Site {
 public:
  // Reads every *.html, *.css and *.js file of dir/v1, dir/v2 and dir/common.
  // nullopt with `error` set when the directory or a page a layout needs is missing.
  static std::optional<Site> load(const std::string& dir, std::string* error);

  // Renders template `name` ("login") of `layout` ("v1") with `context`.
  // A missing template or partial renders as an HTML comment saying so.
  std::string render(const std::string& layout, const std::string& name, const json& context) const;

  // A static file "v1/style.css" or "common/portal.js"; nullptr when absent.
  const std::string* asset(const std::string& path) const;

  const std::string& dir() const { return dir_; }

 private:
  const std::string* find_template(const std::string& layout, const std::string& name) const;

  std::string dir_;
  std::map<std::string, std::string> templates_;  // "v1/login" -> text
  std::map<std::string, std::string> assets_;     // "v1/style.css" -> bytes
};

// Mustache rendering of `text`. `partial(name)` returns a partial's text or nullptr.
std::string render_template(std::string_view text, const json& context,
                            const std::function<const std::string*(const std::string&)>& partial);

std::string html_escape(std::string_view text);

}  // namespace care
