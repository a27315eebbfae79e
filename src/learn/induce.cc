// Skill induction: one or several demonstrations of a task become a skill.
//
// 1. Align the demonstrations' steps (LCS over action + target identity) into
//    columns; a column is one skill step, present in some or all demos.
// 2. For every value a step was given (a `with` leaf, a part of a URL), decide
//    what produces it: a slot (the value is in the instruction, or differs
//    across demos), a reference to an earlier step's result (API demos), a
//    template over existing slots (free text that contains them), or a
//    constant. Each template is rendered back for every demonstration and
//    must reproduce what the person did, or a simpler reading is used.
// 3. Columns present in only some demos get a `when` over a slot that tells
//    the two groups apart, or are left out.
// 4. The whole skill is replayed against every demonstration (templates,
//    lookups, conditions) and checked like a skill file.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ergon/expression.h"
#include "ergon/learn.h"
#include "ergon/planner.h"

namespace ergon {

namespace {

// ---------------------------------------------------------------------------
// Text helpers.

bool is_alnum(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0;
}

std::string lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

std::string trim(const std::string& text) {
  size_t b = text.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  size_t e = text.find_last_not_of(" \t\r\n");
  return text.substr(b, e - b + 1);
}

// "Member ID (as on card)" -> "member_id_as_on_card"; "" when nothing is left.
std::string snake(const std::string& text, size_t max = 40) {
  std::string out;
  char previous = ' ';
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    if (u < 128 && std::isalnum(u)) {
      // camelCase boundaries: memberId -> member_id (but "ID" stays "id")
      if (std::isupper(u) && std::islower(static_cast<unsigned char>(previous)) && !out.empty() &&
          out.back() != '_') {
        out += '_';
      }
      out += static_cast<char>(std::tolower(u));
    } else if (!out.empty() && out.back() != '_') {
      out += '_';
    }
    previous = c;
  }
  while (!out.empty() && out.back() == '_') out.pop_back();
  if (out.size() > max) {
    // At a word boundary when there is one.
    size_t cut = out.rfind('_', max);
    out.resize(cut != std::string::npos && cut > max / 2 ? cut : max);
    while (!out.empty() && out.back() == '_') out.pop_back();
  }
  if (!out.empty() && std::isdigit(static_cast<unsigned char>(out[0]))) out = "v_" + out;
  return out;
}

std::string singular(const std::string& word) {
  if (word.size() > 4 && word.ends_with("ies")) return word.substr(0, word.size() - 3) + "y";
  if (word.size() > 3 && word.ends_with("ses")) return word.substr(0, word.size() - 2);
  if (word.size() > 2 && word.ends_with("s") && !word.ends_with("ss")) {
    return word.substr(0, word.size() - 1);
  }
  return word;
}

std::string lua_quote(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '"': out += "\\\""; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\0': out += "\\0"; break;
      default: out += c;
    }
  }
  return out + "\"";
}

std::string lua_literal(const Json& value) {
  if (value.is_string()) return lua_quote(value.get<std::string>());
  if (value.is_boolean()) return value.get<bool>() ? "true" : "false";
  if (value.is_number()) return value.dump();
  return "nil";
}

// A constant inside a template string: "${" must not start a template.
std::string escape_template(const std::string& text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text.compare(i, 2, "${") == 0) out += "$";
    out += text[i];
  }
  return out;
}

Json escape_constants(const Json& value) {
  if (value.is_string()) return escape_template(value.get<std::string>());
  if (value.is_array() || value.is_object()) {
    Json out = value;
    for (auto& item : out) item = escape_constants(item);
    return out;
  }
  return value;
}

std::string shown(const Json& value) {
  std::string text = value.is_string() ? value.get<std::string>() : value.dump();
  if (text.size() > 60) text = text.substr(0, 57) + "...";
  return "'" + text + "'";
}

// Whether [at, at + length) is a whole word of `text`: not glued to letters
// or digits, nor to a joiner that continues the token ("dev" in "web-dev-2").
bool whole_word_at(const std::string& text, size_t at, size_t length) {
  auto joiner = [](char c) { return c == '-' || c == '_' || c == '.' || c == '@' || c == '/'; };
  size_t end = at + length;
  bool starts = at == 0 || !is_alnum(text[at]) || !is_alnum(text[at - 1]);
  if (starts && at >= 2 && is_alnum(text[at]) && joiner(text[at - 1]) && is_alnum(text[at - 2])) {
    starts = false;
  }
  bool ends = end >= text.size() || !is_alnum(text[end - 1]) || !is_alnum(text[end]);
  if (ends && end + 1 < text.size() && is_alnum(text[end - 1]) && joiner(text[end]) &&
      is_alnum(text[end + 1])) {
    ends = false;
  }
  return starts && ends;
}

// Case-insensitive whole-word occurrence of `needle` in `haystack`.
std::optional<size_t> find_word(const std::string& haystack, const std::string& needle) {
  if (needle.empty()) return std::nullopt;
  const std::string h = lower(haystack), n = lower(needle);
  for (size_t at = h.find(n); at != std::string::npos; at = h.find(n, at + 1)) {
    if (whole_word_at(h, at, n.size())) return at;
  }
  return std::nullopt;
}

bool numbers_equal(const Json& a, const Json& b) {
  if (!a.is_number() || !b.is_number()) return false;
  double x = a.get<double>(), y = b.get<double>();
  return std::fabs(x - y) <= 1e-9 * std::max(1.0, std::fabs(x));
}

// Two values that mean the same: equal JSON, numbers equal, strings equal
// ignoring case.
bool same_value(const Json& a, const Json& b) {
  if (a == b || numbers_equal(a, b)) return true;
  if (a.is_string() && b.is_string())
    return lower(a.get<std::string>()) == lower(b.get<std::string>());
  return false;
}

// Rendered equals recorded: numbers and their text are the same value.
bool reproduces(const Json& rendered, const Json& recorded) {
  if (rendered == recorded || numbers_equal(rendered, recorded)) return true;
  if (rendered.is_number() && recorded.is_string()) {
    Json parsed = Json::parse(recorded.get<std::string>(), nullptr, false);
    return !parsed.is_discarded() && numbers_equal(rendered, parsed) &&
           rendered.dump() == recorded.get<std::string>();
  }
  return false;
}

// ---------------------------------------------------------------------------
// Values and how they were written.

struct Reading {
  SlotType type = SlotType::kString;
  Json canonical;  // date "YYYY-MM-DD", numbers as numbers, text as typed
};

SlotSpec spec_of(SlotType type) {
  SlotSpec spec;
  spec.type = type;
  return spec;
}

constexpr SlotType kTypedOrder[] = {SlotType::kEmail, SlotType::kDate, SlotType::kPercent,
                                    SlotType::kMoney, SlotType::kCode, SlotType::kNumber};

// What a value typed or passed is, by its shape: the one typed value that
// spans the whole text, else plain text.
std::optional<Reading> read_value(const Json& value, int64_t now_ms) {
  if (value.is_number()) return Reading{SlotType::kNumber, value};
  if (!value.is_string()) return std::nullopt;
  const std::string text = value.get<std::string>();
  const std::string trimmed = trim(text);
  if (trimmed.empty()) return std::nullopt;
  size_t offset = text.find(trimmed);
  for (SlotType type : kTypedOrder) {
    auto found = find_slot_values(spec_of(type), text, now_ms);
    if (found.size() == 1 && found[0].begin == offset && found[0].end == offset + trimmed.size() &&
        !found[0].value.is_null()) {
      return Reading{type, found[0].value};
    }
  }
  return Reading{SlotType::kString, value};
}

std::optional<std::string> date_expr(const std::string& var, const std::string& canonical,
                                     const std::string& typed);

// A value found in an instruction.
struct Mention {
  SlotType type = SlotType::kString;
  Json value;
  size_t begin = 0;
  size_t end = 0;
};

std::vector<Mention> typed_mentions(const std::string& text, int64_t now_ms) {
  std::vector<Mention> out;
  for (SlotType type : kTypedOrder) {
    for (SlotValueMatch& match : find_slot_values(spec_of(type), text, now_ms)) {
      if (match.value.is_null()) continue;
      out.push_back({type, std::move(match.value), match.begin, match.end});
    }
  }
  return out;
}

bool numeric(SlotType type) {
  return type == SlotType::kNumber || type == SlotType::kMoney || type == SlotType::kPercent;
}

// Where the value `raw` (read as `reading`) is in an instruction.
std::optional<Mention> find_in_text(const std::string& text, const std::vector<Mention>& mentions,
                                    const Reading& reading, const Json& raw,
                                    bool typed_only = false) {
  // Typed first: the same date, amount, code... however it is written.
  std::optional<Mention> best;
  int best_rank = 100;
  for (const Mention& m : mentions) {
    int rank = 100;
    if (reading.type == m.type && same_value(reading.canonical, m.value)) {
      rank = 0;
    } else if (numeric(reading.type) && numeric(m.type) && reading.type == SlotType::kNumber &&
               numbers_equal(reading.canonical, m.value)) {
      rank = m.type == SlotType::kMoney ? 1 : m.type == SlotType::kPercent ? 2 : 3;
    }
    if (rank < best_rank) {
      best_rank = rank;
      best = m;
    }
  }
  if (best) return best;
  if (!raw.is_string()) return std::nullopt;
  // A date of the instruction in a format the recognisers do not read
  // ("04.03.2027"): the format can be rebuilt from the date.
  for (const Mention& m : mentions) {
    if (m.type == SlotType::kDate && m.value.is_string() && reading.type != SlotType::kDate &&
        date_expr("d", m.value.get<std::string>(), raw.get<std::string>())) {
      return m;
    }
  }
  if (typed_only) return std::nullopt;
  // Text: a whole-word, case-insensitive occurrence of what was typed; not
  // a short word that any sentence has ("on", "to").
  const std::string value = trim(raw.get<std::string>());
  bool digit = std::any_of(value.begin(), value.end(),
                           [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
  if ((value.size() < 3 && !digit) || std::none_of(value.begin(), value.end(), is_alnum)) {
    return std::nullopt;
  }
  if (auto at = find_word(text, value)) {
    return Mention{SlotType::kString, raw.get<std::string>(), *at, *at + value.size()};
  }
  return std::nullopt;
}

// ---------------------------------------------------------------------------
// Lua expressions that write a slot's canonical value the way the person did.

const char* const kMonths[] = {"January",   "February", "March",    "April",
                               "May",       "June",     "July",     "August",
                               "September", "October",  "November", "December"};

std::string cased(const std::string& word, const std::string& like) {
  bool all_upper = std::all_of(like.begin(), like.end(),
                               [](char c) { return std::isupper(static_cast<unsigned char>(c)); });
  bool all_lower = std::all_of(like.begin(), like.end(),
                               [](char c) { return std::islower(static_cast<unsigned char>(c)); });
  std::string out = word;
  for (char& c : out) {
    auto u = static_cast<unsigned char>(c);
    c = static_cast<char>(all_upper ? std::toupper(u) : all_lower ? std::tolower(u) : c);
  }
  return out;
}

// A date "YYYY-MM-DD" in `var` written like `typed`; nullopt when the
// format is not recognised.
std::optional<std::string> date_expr(const std::string& var, const std::string& canonical,
                                     const std::string& typed) {
  if (typed == canonical) return var;
  bool shaped = canonical.size() == 10 && canonical[4] == '-' && canonical[7] == '-' &&
                std::all_of(canonical.begin(), canonical.end(), [](char c) {
                  return c == '-' || std::isdigit(static_cast<unsigned char>(c));
                });
  if (!shaped) return std::nullopt;
  const std::string year = canonical.substr(0, 4);
  const int month = std::stoi(canonical.substr(5, 2));
  const int day = std::stoi(canonical.substr(8, 2));
  // Runs of digits, of letters, and of anything else.
  std::vector<std::string> runs;
  for (size_t i = 0; i < typed.size();) {
    size_t j = i + 1;
    auto cls = [](char c) {
      auto u = static_cast<unsigned char>(c);
      return std::isdigit(u) ? 0 : std::isalpha(u) ? 1 : 2;
    };
    while (j < typed.size() && cls(typed[j]) == cls(typed[i])) ++j;
    runs.push_back(typed.substr(i, j - i));
    i = j;
  }
  std::string expr;
  bool have_year = false, have_month = false, have_day = false;
  auto append = [&](const std::string& piece) { expr += (expr.empty() ? "" : " .. ") + piece; };
  const std::string y4 = "string.sub(" + var + ", 1, 4)";
  const std::string m2 = "string.sub(" + var + ", 6, 7)";
  const std::string d2 = "string.sub(" + var + ", 9, 10)";
  for (const std::string& run : runs) {
    auto u = static_cast<unsigned char>(run[0]);
    if (std::isdigit(u)) {
      int number = run.size() <= 4 ? std::stoi(run) : -1;
      if (!have_year && run == year) {
        append(y4);
        have_year = true;
      } else if (!have_year && run.size() == 2 && run == year.substr(2)) {
        // "03/04/27": only when the run cannot be the month or day still missing
        bool could_be_other = (!have_month && number == month) || (!have_day && number == day);
        if (could_be_other && !(have_month && have_day)) {
          if (!have_month && number == month) {
            append(run.size() == 2 ? m2 : "tostring(tonumber(" + m2 + "))");
            have_month = true;
          } else {
            append(run.size() == 2 ? d2 : "tostring(tonumber(" + d2 + "))");
            have_day = true;
          }
        } else {
          append("string.sub(" + var + ", 3, 4)");
          have_year = true;
        }
      } else if (!have_month && number == month && (run.size() <= 2)) {
        append(run.size() == 2 ? m2 : "tostring(tonumber(" + m2 + "))");
        have_month = true;
      } else if (!have_day && number == day && (run.size() <= 2)) {
        append(run.size() == 2 ? d2 : "tostring(tonumber(" + d2 + "))");
        have_day = true;
      } else {
        return std::nullopt;
      }
    } else if (std::isalpha(u)) {
      const std::string name = kMonths[month - 1];
      if (!have_month && lower(run) == lower(name)) {
        std::string list;
        for (const char* m : kMonths) list += (list.empty() ? "" : ", ") + lua_quote(cased(m, run));
        append("({" + list + "})[tonumber(" + m2 + ")]");
        have_month = true;
      } else if (!have_month && run.size() == 3 && lower(run) == lower(name.substr(0, 3))) {
        std::string list;
        for (const char* m : kMonths) {
          list += (list.empty() ? "" : ", ") + lua_quote(cased(std::string(m).substr(0, 3), run));
        }
        append("({" + list + "})[tonumber(" + m2 + ")]");
        have_month = true;
      } else {
        return std::nullopt;  // a weekday or words: not a format we rebuild
      }
    } else {
      append(lua_quote(run));
    }
  }
  if (!have_month || !have_day) return std::nullopt;
  return expr;
}

// A number in `var` with `decimals` places, thousands separated by commas
// when `commas`.
std::string number_text_expr(const std::string& var, int decimals, bool commas) {
  std::string format = "string.format(\"%." + std::to_string(decimals) + "f\", " + var + ")";
  if (!commas) return format;
  return "(string.gsub(" + format +
         ", \"^(%d+)\", function(i) return (string.gsub(string.reverse((string.gsub("
         "string.reverse(i), \"(%d%d%d)\", \"%1,\"))), \"^,\", \"\")) end))";
}

// A number in `var` written like `typed` ("$1,200.00", "15%", "1200").
std::optional<std::string> number_expr(const std::string& var, const std::string& typed) {
  size_t first = typed.find_first_of("0123456789");
  if (first == std::string::npos) return std::nullopt;
  size_t last = first;
  for (size_t i = first; i < typed.size(); ++i) {
    char c = typed[i];
    if (std::isdigit(static_cast<unsigned char>(c))) {
      last = i;
    } else if (c != ',' && c != '.') {
      break;
    }
  }
  std::string prefix = typed.substr(0, first);
  std::string digits = typed.substr(first, last - first + 1);
  std::string suffix = typed.substr(last + 1);
  if (!prefix.empty() && prefix.back() == '-') return std::nullopt;
  size_t dot = digits.find('.');
  int decimals = dot == std::string::npos ? 0 : static_cast<int>(digits.size() - dot - 1);
  bool commas = digits.find(',') != std::string::npos;
  std::string expr;
  if (!prefix.empty()) expr += lua_quote(prefix) + " .. ";
  expr += number_text_expr(var, decimals, commas);
  if (!suffix.empty()) expr += " .. " + lua_quote(suffix);
  return expr;
}

// An expression over `var` (a slot of `type` holding `canonical`) that
// yields `typed`, the value as the demonstration had it.
std::optional<std::string> format_expr(SlotType type, const std::string& var, const Json& canonical,
                                       const Json& typed) {
  if (!typed.is_string()) return var;  // a number stays a number
  const std::string text = typed.get<std::string>();
  if (type == SlotType::kDate && canonical.is_string()) {
    return date_expr(var, canonical.get<std::string>(), text);
  }
  if (numeric(type) && canonical.is_number()) return number_expr(var, text);
  return var;
}

// ---------------------------------------------------------------------------
// Alignment.

std::string short_action(const std::string& action) {
  size_t dot = action.find('.');
  return dot == std::string::npos ? action : action.substr(dot + 1);
}

std::string target_identity(const Json& target) {
  if (!target.is_object()) return "";
  auto text = [&](const char* key) { return target.value(key, std::string()); };
  if (!text("role").empty() && !text("name").empty()) return text("role") + "|" + text("name");
  if (!text("name_attr").empty()) return "@" + text("name_attr");
  if (!text("id").empty()) return "#" + text("id");
  if (!text("name").empty()) return "=" + text("name");
  return "~" + text("text");
}

std::string step_key(const DemoStep& step, bool browser) {
  if (!browser) return step.action;
  auto it = step.with.find("target");
  if (it == step.with.end()) return step.action;
  return step.action + "|" + target_identity(*it);
}

// One skill step: which step of each demonstration it stands for.
struct Column {
  std::string key;
  std::vector<int> index;  // per demo; -1 when the demo has no such step
};

// Merges demo `d`'s steps into the columns by longest common subsequence.
// Returns how many steps matched.
size_t align(std::vector<Column>& columns, const std::vector<std::string>& keys, size_t d,
             size_t demos) {
  const size_t n = columns.size(), m = keys.size();
  std::vector<std::vector<size_t>> lcs(n + 1, std::vector<size_t>(m + 1, 0));
  for (size_t i = n; i-- > 0;) {
    for (size_t j = m; j-- > 0;) {
      lcs[i][j] = columns[i].key == keys[j] ? lcs[i + 1][j + 1] + 1
                                            : std::max(lcs[i + 1][j], lcs[i][j + 1]);
    }
  }
  std::vector<Column> merged;
  size_t i = 0, j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && columns[i].key == keys[j] && lcs[i][j] == lcs[i + 1][j + 1] + 1) {
      merged.push_back(columns[i]);
      merged.back().index[d] = static_cast<int>(j);
      ++i;
      ++j;
    } else if (i < n && (j == m || lcs[i + 1][j] >= lcs[i][j + 1])) {
      merged.push_back(columns[i++]);
    } else {
      Column column{keys[j], std::vector<int>(demos, -1)};
      column.index[d] = static_cast<int>(j);
      merged.push_back(std::move(column));
      ++j;
    }
  }
  columns = std::move(merged);
  return lcs[0][0];
}

// ---------------------------------------------------------------------------
// Induction.

struct SlotInfo {
  SlotSpec spec;
  std::vector<Json> values;  // per demo; null when the demo does not give it
  std::vector<std::optional<std::pair<size_t, size_t>>> spans;  // in each instruction
  std::string origin;                                           // for the notes
  std::vector<std::string> used_by;                             // step ids
};

// What a step's value becomes.
struct Fill {
  bool templated = false;
  Json value;  // the template string, or the constant
  std::set<std::string> needs;
};

struct LookupStep {
  Step step;
  size_t before_column = 0;   // inserted right before this column's step
  std::vector<size_t> users;  // columns that read its result
  std::vector<Json> items;    // per demo: the object it finds (null where absent)
};

// A value decided once every slot is known.
struct Pending {
  size_t column = 0;
  std::string pointer;
  std::vector<const Json*> values;
  std::string hint, label, what;
};

struct UrlParts {
  std::string prefix;                                       // scheme://host, kept
  std::vector<std::pair<std::string, std::string>> pieces;  // {separator+key text, raw value}
};

std::string url_decode(const std::string& text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '+') {
      out += ' ';
    } else if (text[i] == '%' && i + 2 < text.size() &&
               std::isxdigit(static_cast<unsigned char>(text[i + 1])) &&
               std::isxdigit(static_cast<unsigned char>(text[i + 2]))) {
      out += static_cast<char>(std::stoi(text.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

// "/schedule?date=2027-03-04&q=a" -> prefix "", pieces {"/", "schedule"},
// {"?date=", "2027-03-04"}, {"&q=", "a"}. A fragment stays in the last piece.
UrlParts split_url(const std::string& url) {
  UrlParts parts;
  std::string rest = url;
  if (size_t scheme = rest.find("://"); scheme != std::string::npos && scheme < 10) {
    size_t path = rest.find_first_of("/?#", scheme + 3);
    parts.prefix = rest.substr(0, path == std::string::npos ? rest.size() : path);
    rest = path == std::string::npos ? "" : rest.substr(path);
  }
  size_t query = rest.find('?');
  std::string path = rest.substr(0, query);
  std::string search = query == std::string::npos ? "" : rest.substr(query);
  size_t i = 0;
  while (i < path.size()) {
    size_t slash = path.find('/', i);
    if (slash == i) {
      size_t next = path.find('/', i + 1);
      std::string segment =
          path.substr(i + 1, next == std::string::npos ? std::string::npos : next - i - 1);
      parts.pieces.push_back({"/", segment});
      i = next == std::string::npos ? path.size() : next;
    } else {
      size_t end = slash == std::string::npos ? path.size() : slash;
      parts.pieces.push_back({"", path.substr(i, end - i)});
      i = end;
    }
  }
  size_t j = 0;
  while (j < search.size()) {
    size_t amp = search.find('&', j + 1);
    std::string pair = search.substr(j, amp == std::string::npos ? std::string::npos : amp - j);
    size_t eq = pair.find('=');
    if (eq == std::string::npos) {
      parts.pieces.push_back({pair, ""});
    } else {
      parts.pieces.push_back({pair.substr(0, eq + 1), pair.substr(eq + 1)});
    }
    j = amp == std::string::npos ? search.size() : amp;
  }
  return parts;
}

bool looks_like_url(const std::string& key, const std::string& value) {
  return key == "url" || key == "href" || value.starts_with("http://") ||
         value.starts_with("https://") ||
         (value.starts_with("/") && value.find(' ') == std::string::npos);
}

std::string pointer_key(const std::string& pointer) {
  size_t slash = pointer.rfind('/');
  return slash == std::string::npos ? pointer : pointer.substr(slash + 1);
}

// Lua path from a JSON pointer into a step's result: "/instances/0/id" ->
// ".instances[1].id".
std::string lua_path(const Json& root, const std::string& pointer) {
  std::string out;
  const Json* at = &root;
  size_t pos = 0;
  while (pos < pointer.size()) {
    size_t next = pointer.find('/', pos + 1);
    std::string token =
        pointer.substr(pos + 1, next == std::string::npos ? std::string::npos : next - pos - 1);
    for (size_t k; (k = token.find("~1")) != std::string::npos;) token.replace(k, 2, "/");
    for (size_t k; (k = token.find("~0")) != std::string::npos;) token.replace(k, 2, "~");
    if (at->is_array()) {
      size_t index = std::stoul(token);
      out += "[" + std::to_string(index + 1) + "]";
      at = &(*at)[index];
    } else {
      bool identifier =
          !token.empty() &&
          (std::isalpha(static_cast<unsigned char>(token[0])) || token[0] == '_') &&
          std::all_of(token.begin(), token.end(), [](char c) { return is_alnum(c) || c == '_'; });
      out += identifier ? "." + token : "[" + lua_quote(token) + "]";
      at = &(*at)[token];
    }
    pos = next == std::string::npos ? pointer.size() : next;
  }
  return out;
}

// Every pointer in `json` whose value equals `value`.
void find_pointers(const Json& json, const Json& value, const std::string& pointer,
                   std::vector<std::string>& out) {
  if (json.is_object()) {
    for (const auto& [key, item] : json.items()) {
      find_pointers(item, value, pointer + json_pointer_token(key), out);
    }
  } else if (json.is_array()) {
    for (size_t i = 0; i < json.size(); ++i) {
      find_pointers(json[i], value, pointer + "/" + std::to_string(i), out);
    }
  } else if (json == value) {
    out.push_back(pointer);
  }
}

// A value worth looking for in a result: not a flag or a tiny number.
bool referenceable(const Json& value) {
  if (value.is_string()) return value.get<std::string>().size() >= 3;
  if (value.is_number_integer() || value.is_number_unsigned()) {
    return std::llabs(value.get<long long>()) >= 1000;
  }
  return false;
}

class Inducer {
 public:
  Inducer(const std::vector<Demonstration>& demos, const InduceOptions& options)
      : demos_(demos), options_(options), n_(demos.size()) {}

  Result<InducedSkill> run();

 private:
  // --- slots
  size_t add_slot(SlotType type, const std::vector<Json>& values,
                  const std::vector<std::optional<std::pair<size_t, size_t>>>& spans,
                  const std::string& hint, const std::string& label, const std::string& origin);
  std::string unique_slot_name(const std::string& hint);
  void use_slot(size_t slot, const std::string& step_id);
  // Drops slots added since `count` that no step uses (a reading that did not hold).
  void rollback(size_t count);

  // --- values
  // `typed_only`: dates, amounts, codes... but not plain words (URL paths).
  std::optional<Fill> from_instruction(const std::vector<const Json*>& values,
                                       const std::string& hint, const std::string& label,
                                       const std::string& step_id, bool typed_only = false);
  std::optional<Fill> from_results(size_t column, const std::vector<const Json*>& values,
                                   const std::string& step_id);
  std::optional<Fill> from_slots_in_text(const std::vector<const Json*>& values,
                                         const std::string& step_id);
  // A field of the object a lookup this step needs has found.
  std::optional<Fill> from_found_object(const std::set<std::string>& needs,
                                        const std::vector<const Json*>& values,
                                        const std::string& step_id, const std::string& what);
  bool in_instruction(const std::vector<const Json*>& values) const;
  Fill differing_or_constant(const std::vector<const Json*>& values, const std::string& hint,
                             const std::string& label, const std::string& step_id,
                             const std::string& what);
  std::optional<Fill> url_fill(const std::vector<const Json*>& values, const std::string& hint,
                               const std::string& label, const std::string& step_id,
                               const std::string& what);
  bool renders_all(const std::string& template_text, const std::vector<const Json*>& values);
  Json env_for(size_t demo) const;

  // --- steps
  // The instruction's value a browser step's element is named by ("click
  // 10:30" for "... at 10:30"): such a step is the same step with another
  // value, and its target is found by a slot.
  std::optional<Mention> target_mention(const DemoStep& step, size_t demo) const;
  std::string key_of(const DemoStep& step, size_t demo) const;
  void parameterize_target(size_t column, Step& step, Json& with);
  std::string step_id_for(const DemoStep& step, size_t demo);
  Status build_steps();
  void infer_branches();
  Status replay();

  const DemoStep* demo_step(size_t column, size_t demo) const {
    int index = columns_[column].index[demo];
    return index < 0 ? nullptr : &steps_[demo][static_cast<size_t>(index)];
  }

  const std::vector<Demonstration>& demos_;
  InduceOptions options_;
  size_t n_;
  bool browser_ = false;
  std::vector<std::vector<DemoStep>> steps_;    // per demo, with a synthesised opening
  std::vector<std::vector<Mention>> mentions_;  // per demo instruction
  std::vector<Column> columns_;
  std::vector<Step> built_;  // per column
  std::vector<bool> keep_;   // per column
  std::vector<LookupStep> lookups_;
  std::vector<Pending> pending_;
  std::map<std::string, std::string> lookup_ids_;  // lookup key -> step id
  std::vector<SlotInfo> slots_;
  std::set<std::string> step_ids_;
  std::vector<std::string> notes_;
  std::vector<std::string> value_notes_;
  Sandbox sandbox_;
};

std::string Inducer::unique_slot_name(const std::string& hint) {
  std::string base = snake(hint);
  if (base.empty()) base = "value";
  std::string name = base;
  for (int k = 2;; ++k) {
    bool taken = std::any_of(slots_.begin(), slots_.end(),
                             [&](const SlotInfo& s) { return s.spec.name == name; });
    if (!taken) return name;
    name = base + "_" + std::to_string(k);
  }
}

void Inducer::rollback(size_t count) {
  while (slots_.size() > count && slots_.back().used_by.empty()) slots_.pop_back();
}

void Inducer::use_slot(size_t slot, const std::string& step_id) {
  auto& used = slots_[slot].used_by;
  if (std::find(used.begin(), used.end(), step_id) == used.end()) used.push_back(step_id);
}

size_t Inducer::add_slot(SlotType type, const std::vector<Json>& values,
                         const std::vector<std::optional<std::pair<size_t, size_t>>>& spans,
                         const std::string& hint, const std::string& label,
                         const std::string& origin) {
  for (size_t s = 0; s < slots_.size(); ++s) {
    SlotInfo& slot = slots_[s];
    if (slot.spec.type != type) continue;
    bool overlap = false, agree = true;
    for (size_t d = 0; d < n_; ++d) {
      if (slot.values[d].is_null() || values[d].is_null()) continue;
      overlap = true;
      agree = agree && same_value(slot.values[d], values[d]);
    }
    if (!overlap || !agree) continue;
    for (size_t d = 0; d < n_; ++d) {
      if (slot.values[d].is_null()) slot.values[d] = values[d];
      if (!slot.spans[d]) slot.spans[d] = spans[d];
    }
    return s;
  }
  SlotInfo slot;
  slot.spec.name = unique_slot_name(hint.empty() ? to_string(type) : hint);
  slot.spec.type = type;
  slot.spec.required = true;
  std::string example;
  for (const Json& value : values) {
    if (!value.is_null()) {
      example = value.is_string() ? value.get<std::string>() : value.dump();
      break;
    }
  }
  const std::string what = label.empty() ? slot.spec.name : label;
  // Typed values get an example of their form; names and free text do not.
  bool typed = type != SlotType::kString && type != SlotType::kEnum && !example.empty();
  slot.spec.question =
      "What should " + what + " be" + (typed ? " (e.g. " + example + ")" : "") + "?";
  slot.values = values;
  slot.spans = spans;
  slot.origin = origin;
  slots_.push_back(std::move(slot));
  return slots_.size() - 1;
}

Json Inducer::env_for(size_t demo) const {
  Json slots = Json::object();
  for (const SlotInfo& slot : slots_) {
    if (!slot.values[demo].is_null()) slots[slot.spec.name] = slot.values[demo];
  }
  return {{"slots", std::move(slots)}, {"steps", Json::object()}};
}

bool Inducer::renders_all(const std::string& template_text,
                          const std::vector<const Json*>& values) {
  if (!sandbox_.check_templates(Json(template_text))) return false;
  for (size_t d = 0; d < n_; ++d) {
    if (values[d] == nullptr) continue;
    auto rendered = sandbox_.render(Json(template_text), env_for(d));
    if (!rendered || !reproduces(*rendered, *values[d])) return false;
  }
  return true;
}

std::optional<Fill> Inducer::from_instruction(const std::vector<const Json*>& values,
                                              const std::string& hint, const std::string& label,
                                              const std::string& step_id, bool typed_only) {
  std::vector<Json> slot_values(n_);
  std::vector<std::optional<std::pair<size_t, size_t>>> spans(n_);
  std::optional<SlotType> type;
  std::string typed;
  size_t first = n_;
  for (size_t d = 0; d < n_; ++d) {
    if (values[d] == nullptr) continue;
    auto reading = read_value(*values[d], options_.now_ms);
    if (!reading) return std::nullopt;
    auto mention =
        find_in_text(demos_[d].instruction, mentions_[d], *reading, *values[d], typed_only);
    if (mention) {
      if (!type) {
        type = mention->type;
        typed = demos_[d].instruction.substr(mention->begin, mention->end - mention->begin);
      }
      spans[d] = std::pair{mention->begin, mention->end};
      slot_values[d] = mention->type == SlotType::kString ? *values[d] : mention->value;
    } else {
      slot_values[d] = reading->canonical;
    }
    if (first == n_) first = d;
  }
  if (!type) return std::nullopt;
  // A value of another type where the others matched: not one slot.
  for (size_t d = 0; d < n_; ++d) {
    if (values[d] == nullptr || spans[d]) continue;
    auto reading = read_value(*values[d], options_.now_ms);
    bool compatible = reading->type == *type || (numeric(*type) && numeric(reading->type)) ||
                      *type == SlotType::kString;
    if (!compatible) return std::nullopt;
    if (*type == SlotType::kString) slot_values[d] = *values[d];
  }
  const size_t count = slots_.size();
  size_t slot =
      add_slot(*type, slot_values, spans, hint, label, "from '" + typed + "' in the instruction");
  const std::string var = "slots." + slots_[slot].spec.name;
  auto expr = format_expr(*type, var, slots_[slot].values[first], *values[first]);
  std::string text = expr ? "${" + *expr + "}" : "";
  if (!expr || !renders_all(text, values)) {
    rollback(count);
    return std::nullopt;
  }
  use_slot(slot, step_id);
  if (*expr != var) {
    value_notes_.push_back("step " + step_id + " writes slot " + slots_[slot].spec.name + " as " +
                           shown(*values[first]) + " did (template reformats it)");
  }
  return Fill{true, text, {}};
}

std::optional<Fill> Inducer::from_results(size_t column, const std::vector<const Json*>& values,
                                          const std::string& step_id) {
  size_t first = n_;
  for (size_t d = 0; d < n_; ++d) {
    if (values[d] == nullptr) continue;
    if (!referenceable(*values[d])) return std::nullopt;
    if (first == n_) first = d;
  }
  if (first == n_) return std::nullopt;
  // Earlier columns present wherever this one is, nearest first.
  for (size_t c = column; c-- > 0;) {
    if (!keep_[c] || built_[c].kind != StepKind::kAction) continue;
    bool present = true;
    for (size_t d = 0; d < n_ && present; ++d) {
      present = values[d] == nullptr || demo_step(c, d) != nullptr;
    }
    if (!present) continue;
    const Json& result = demo_step(c, first)->result;
    std::vector<std::string> pointers;
    find_pointers(result, *values[first], "", pointers);
    // A lookup: the value is a field of an object in a list, and another
    // field of that object is named in the instruction.
    for (const std::string& pointer : pointers) {
      size_t field_at = pointer.rfind('/');
      std::string item_pointer = pointer.substr(0, field_at);
      std::string field = pointer.substr(field_at + 1);
      size_t index_at = item_pointer.rfind('/');
      if (index_at == std::string::npos && item_pointer.empty()) continue;
      std::string list_pointer = item_pointer.substr(0, index_at);
      const Json& list = result.at(Json::json_pointer(list_pointer));
      if (!list.is_array()) continue;
      const Json& item = result.at(Json::json_pointer(item_pointer));
      if (!item.is_object()) continue;
      std::vector<std::string> keys;
      for (const auto& [key, unused] : item.items()) {
        if (key == "name" || key == "title")
          keys.insert(keys.begin(), key);
        else
          keys.push_back(key);
      }
      for (const std::string& key : keys) {
        if (key == field) continue;
        // In every demo: an item of that list with this value, whose `key` is
        // in the instruction.
        std::vector<Json> slot_values(n_);
        std::vector<std::optional<std::pair<size_t, size_t>>> spans(n_);
        SlotType type = SlotType::kString;
        std::vector<Json> items(n_);
        bool ok = true;
        for (size_t d = 0; d < n_ && ok; ++d) {
          if (values[d] == nullptr) continue;
          const Json& res = demo_step(c, d)->result;
          Json::json_pointer at(list_pointer);
          if (!res.contains(at) || !res.at(at).is_array()) {
            ok = false;
            break;
          }
          bool found = false;
          for (const Json& candidate : res.at(at)) {
            if (!candidate.is_object() || !candidate.contains(field) ||
                candidate[field] != *values[d] || !candidate.contains(key)) {
              continue;
            }
            auto reading = read_value(candidate[key], options_.now_ms);
            if (!reading) continue;
            auto mention =
                find_in_text(demos_[d].instruction, mentions_[d], *reading, candidate[key]);
            if (!mention) continue;
            type = mention->type;
            slot_values[d] = mention->type == SlotType::kString ? candidate[key] : mention->value;
            spans[d] = std::pair{mention->begin, mention->end};
            items[d] = candidate;
            found = true;
            break;
          }
          ok = found;
        }
        if (!ok) continue;
        std::string list_name = list_pointer.empty() ? "item" : singular(pointer_key(list_pointer));
        size_t slot = add_slot(
            type, slot_values, spans, snake(list_name) + "_" + key, list_name + " " + key,
            "from the instruction, the " + key + " of " +
                (std::string("aeiou").find(list_name[0]) != std::string::npos ? "an " : "a ") +
                list_name + " in " + built_[c].id + "'s result");
        const std::string& slot_name = slots_[slot].spec.name;
        std::string lookup_key = built_[c].id + "|" + list_pointer + "|" + key + "|" + slot_name;
        std::string find_id;
        if (auto it = lookup_ids_.find(lookup_key); it != lookup_ids_.end()) {
          find_id = it->second;
          for (LookupStep& lookup : lookups_) {
            if (lookup.step.id == find_id) lookup.users.push_back(column);
          }
        } else {
          std::string base = "find_" + snake(list_name);
          find_id = base;
          for (int k = 2; step_ids_.contains(find_id); ++k)
            find_id = base + "_" + std::to_string(k);
          step_ids_.insert(find_id);
          lookup_ids_[lookup_key] = find_id;
          Step find;
          find.id = find_id;
          find.kind = StepKind::kCompute;
          find.needs = {built_[c].id};
          find.description = "the " + list_name + " in " + built_[c].id + "'s result whose " + key +
                             " is slot " + slot_name;
          find.compute = "for _, entry in ipairs(steps." + built_[c].id + ".result" +
                         lua_path(result, list_pointer) +
                         ") do\n"
                         "  if string.lower(tostring(entry" +
                         lua_path(item, json_pointer_token(key)) +
                         ")) == string.lower(tostring(slots." + slot_name +
                         ")) then return entry end\n"
                         "end\n"
                         "return nil\n";
          find.expect = "result ~= nil";
          lookups_.push_back({find, column, {column}, items});
          notes_.push_back("step " + find_id + " finds the " + list_name + " whose " + key +
                           " is slot " + slot_name + " in " + built_[c].id + "'s result");
        }
        use_slot(slot, find_id);
        std::string text =
            "${steps." + find_id + ".result" + lua_path(item, json_pointer_token(field)) + "}";
        value_notes_.push_back("step " + step_id + " takes " + field + " " + shown(*values[first]) +
                               " from the " + list_name + " found by " + find_id);
        return Fill{true, text, {find_id}};
      }
    }
    // A path into the result, the same in every demo.
    for (const std::string& pointer : pointers) {
      bool same = true;
      for (size_t d = 0; d < n_ && same; ++d) {
        if (values[d] == nullptr) continue;
        const Json& res = demo_step(c, d)->result;
        Json::json_pointer at(pointer);
        same = res.contains(at) && res.at(at) == *values[d];
      }
      if (!same) continue;
      std::string text = "${steps." + built_[c].id + ".result" + lua_path(result, pointer) + "}";
      value_notes_.push_back("step " + step_id + " takes " + shown(*values[first]) + " from " +
                             built_[c].id + "'s result (" + pointer + ")");
      return Fill{true, text, {built_[c].id}};
    }
  }
  return std::nullopt;
}

bool Inducer::in_instruction(const std::vector<const Json*>& values) const {
  for (size_t d = 0; d < n_; ++d) {
    if (values[d] == nullptr) continue;
    auto reading = read_value(*values[d], options_.now_ms);
    if (reading && find_in_text(demos_[d].instruction, mentions_[d], *reading, *values[d])) {
      return true;
    }
  }
  return false;
}

std::optional<Fill> Inducer::from_found_object(const std::set<std::string>& needs,
                                               const std::vector<const Json*>& values,
                                               const std::string& step_id,
                                               const std::string& what) {
  size_t first = n_;
  for (size_t d = 0; d < n_; ++d) {
    if (values[d] == nullptr) continue;
    bool text = values[d]->is_string() && !values[d]->get<std::string>().empty();
    if (!text && !referenceable(*values[d])) return std::nullopt;
    if (first == n_) first = d;
  }
  if (first == n_) return std::nullopt;
  for (const LookupStep& lookup : lookups_) {
    if (!needs.contains(lookup.step.id) || lookup.items[first].is_null()) continue;
    std::vector<std::string> pointers;
    find_pointers(lookup.items[first], *values[first], "", pointers);
    for (const std::string& pointer : pointers) {
      bool same = true;
      for (size_t d = 0; d < n_ && same; ++d) {
        if (values[d] == nullptr) continue;
        Json::json_pointer at(pointer);
        same = lookup.items[d].is_object() && lookup.items[d].contains(at) &&
               lookup.items[d].at(at) == *values[d];
      }
      if (!same) continue;
      value_notes_.push_back("step " + step_id + " takes " + what + " " + shown(*values[first]) +
                             " from the object " + lookup.step.id +
                             " found (the service's value, not the demonstration's)");
      return Fill{
          true,
          "${steps." + lookup.step.id + ".result" + lua_path(lookup.items[first], pointer) + "}",
          {lookup.step.id}};
    }
  }
  return std::nullopt;
}

std::optional<Fill> Inducer::from_slots_in_text(const std::vector<const Json*>& values,
                                                const std::string& step_id) {
  size_t first = n_;
  for (size_t d = 0; d < n_; ++d) {
    if (values[d] == nullptr) continue;
    if (!values[d]->is_string()) return std::nullopt;
    if (first == n_) first = d;
  }
  if (first == n_ || slots_.empty()) return std::nullopt;
  const std::string text = values[first]->get<std::string>();
  // Occurrences of slot values in the first demo's text, leftmost first.
  struct Piece {
    size_t begin, end, slot;
    std::string expr;
  };
  std::vector<Piece> pieces;
  for (size_t s = 0; s < slots_.size(); ++s) {
    const SlotInfo& slot = slots_[s];
    const Json& value = slot.values[first];
    if (value.is_null()) continue;
    const std::string var = "slots." + slot.spec.name;
    if (slot.spec.type == SlotType::kString || slot.spec.type == SlotType::kCode ||
        slot.spec.type == SlotType::kEmail) {
      if (!value.is_string() || value.get<std::string>().size() < 3) continue;
      const std::string needle = value.get<std::string>();
      for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) {
        if (whole_word_at(text, at, needle.size())) {
          pieces.push_back({at, at + needle.size(), s, var});
        }
      }
    } else {
      for (const SlotValueMatch& match : find_slot_values(slot.spec, text, options_.now_ms)) {
        if (!same_value(match.value, value)) continue;
        auto expr = format_expr(slot.spec.type, var, value,
                                Json(text.substr(match.begin, match.end - match.begin)));
        if (expr) pieces.push_back({match.begin, match.end, s, *expr});
      }
    }
  }
  if (pieces.empty()) return std::nullopt;
  std::sort(pieces.begin(), pieces.end(), [](const Piece& a, const Piece& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end > b.end;
  });
  std::string out;
  size_t at = 0;
  std::set<size_t> used;
  for (const Piece& piece : pieces) {
    if (piece.begin < at) continue;
    out += escape_template(text.substr(at, piece.begin - at)) + "${" + piece.expr + "}";
    at = piece.end;
    used.insert(piece.slot);
  }
  out += escape_template(text.substr(at));
  if (!renders_all(out, values)) return std::nullopt;
  std::string names;
  for (size_t s : used) {
    use_slot(s, step_id);
    names += (names.empty() ? "" : ", ") + slots_[s].spec.name;
  }
  value_notes_.push_back("step " + step_id + " fills slot(s) " + names + " into the text " +
                         shown(*values[first]));
  return Fill{true, out, {}};
}

Fill Inducer::differing_or_constant(const std::vector<const Json*>& values, const std::string& hint,
                                    const std::string& label, const std::string& step_id,
                                    const std::string& what) {
  size_t first = n_;
  bool differ = false;
  for (size_t d = 0; d < n_; ++d) {
    if (values[d] == nullptr) continue;
    if (first == n_) {
      first = d;
    } else if (*values[d] != *values[first]) {
      differ = true;
    }
  }
  if (first == n_) return Fill{false, nullptr, {}};
  if (!differ || values[first]->is_boolean() || values[first]->is_object() ||
      values[first]->is_array() || values[first]->is_null()) {
    if (differ) {
      value_notes_.push_back("step " + step_id + ": " + what +
                             " differs across the "
                             "demonstrations but is not a text or number; kept " +
                             shown(*values[first]) + " — edit the draft if it should vary");
    } else if (values[first]->is_string() || values[first]->is_number()) {
      value_notes_.push_back("constant: step " + step_id + " " + what + " " +
                             shown(*values[first]) + " (not in the instruction)");
    }
    return Fill{false, escape_constants(*values[first]), {}};
  }
  // Typed when every demo's value reads as the same type.
  std::optional<SlotType> type;
  std::vector<Json> slot_values(n_);
  std::vector<std::optional<std::pair<size_t, size_t>>> spans(n_);
  for (size_t d = 0; d < n_; ++d) {
    if (values[d] == nullptr) continue;
    auto reading = read_value(*values[d], options_.now_ms);
    SlotType t = reading ? reading->type : SlotType::kString;
    if (!type) type = t;
    if (*type != t) type = SlotType::kString;
    slot_values[d] = reading ? reading->canonical : *values[d];
  }
  std::string listed;
  for (size_t d = 0; d < n_; ++d) {
    if (values[d] != nullptr) listed += (listed.empty() ? "" : ", ") + shown(*values[d]);
  }
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (attempt == 1) {  // as typed, whatever it looks like
      type = SlotType::kString;
      for (size_t d = 0; d < n_; ++d) {
        if (values[d] != nullptr) slot_values[d] = *values[d];
      }
    } else if (*type == SlotType::kString) {
      continue;
    }
    if (attempt == 1 && values[first]->is_number()) type = SlotType::kNumber;
    const size_t count = slots_.size();
    size_t slot = add_slot(*type, slot_values, spans, hint, label,
                           "differs across the demonstrations (" + listed + ")");
    const std::string var = "slots." + slots_[slot].spec.name;
    auto expr = format_expr(*type, var, slots_[slot].values[first], *values[first]);
    std::string text = expr ? "${" + *expr + "}" : "";
    if (!expr || !renders_all(text, values)) {
      rollback(count);
      continue;
    }
    use_slot(slot, step_id);
    return Fill{true, text, {}};
  }
  // Cannot happen: a string slot holding each value as typed renders it.
  return Fill{false, escape_constants(*values[first]), {}};
}

std::optional<Fill> Inducer::url_fill(const std::vector<const Json*>& values,
                                      const std::string& hint, const std::string& label,
                                      const std::string& step_id, const std::string& what) {
  std::vector<std::optional<UrlParts>> parts(n_);
  size_t first = n_;
  for (size_t d = 0; d < n_; ++d) {
    if (values[d] == nullptr) continue;
    if (!values[d]->is_string()) return std::nullopt;
    parts[d] = split_url(values[d]->get<std::string>());
    if (first == n_) first = d;
  }
  if (first == n_) return std::nullopt;
  // The same shape everywhere: same origin, same keys in the same order.
  for (size_t d = 0; d < n_; ++d) {
    if (!parts[d]) continue;
    if (parts[d]->prefix != parts[first]->prefix ||
        parts[d]->pieces.size() != parts[first]->pieces.size()) {
      return std::nullopt;
    }
    for (size_t p = 0; p < parts[d]->pieces.size(); ++p) {
      if (parts[d]->pieces[p].first != parts[first]->pieces[p].first) return std::nullopt;
    }
  }
  std::string out = escape_template(parts[first]->prefix);
  bool templated = false;
  for (size_t p = 0; p < parts[first]->pieces.size(); ++p) {
    const std::string& lead = parts[first]->pieces[p].first;
    out += escape_template(lead);
    std::vector<Json> decoded(n_);
    std::vector<const Json*> piece_values(n_, nullptr);
    bool encoded = false;
    for (size_t d = 0; d < n_; ++d) {
      if (!parts[d]) continue;
      const std::string& raw = parts[d]->pieces[p].second;
      decoded[d] = url_decode(raw);
      encoded = encoded || decoded[d].get<std::string>() != raw;
      piece_values[d] = &decoded[d];
    }
    std::string key = lead.size() > 1 && lead.back() == '=' ? lead.substr(1, lead.size() - 2) : "";
    std::string piece_hint = !key.empty() ? key : "";
    std::string piece_label =
        !key.empty() ? key + " (in the " + label + " URL)" : label + " URL part";
    std::optional<Fill> fill;
    const std::string& raw_first = parts[first]->pieces[p].second;
    if (!raw_first.empty()) {
      fill = from_instruction(piece_values, piece_hint, piece_label, step_id,
                              lead.empty() || lead == "/");
      if (!fill) {
        bool differ = false;
        for (size_t d = 0; d < n_; ++d) {
          if (piece_values[d] != nullptr && *piece_values[d] != *piece_values[first]) differ = true;
        }
        if (differ) {
          Fill f =
              differing_or_constant(piece_values, piece_hint.empty() ? hint + "_part" : piece_hint,
                                    piece_label, step_id, what);
          if (f.templated) fill = f;
        }
      }
    }
    if (fill && fill->templated) {
      std::string inner = fill->value.get<std::string>();
      // "${expr}" -> expr, URL-encoded when the demonstration encoded it.
      std::string expr = inner.substr(2, inner.size() - 3);
      if (encoded) {
        expr = "(string.gsub(tostring(" + expr +
               "), \"[^%w%-%._~]\", function(c) return string.format(\"%%%02X\", "
               "string.byte(c)) end))";
      }
      std::string piece = "${" + expr + "}";
      std::vector<const Json*> raw_values(n_, nullptr);
      std::vector<Json> raws(n_);
      for (size_t d = 0; d < n_; ++d) {
        if (!parts[d]) continue;
        raws[d] = parts[d]->pieces[p].second;
        raw_values[d] = &raws[d];
      }
      if (!encoded || renders_all(piece, raw_values)) {
        out += piece;
        templated = true;
        continue;
      }
    }
    out += escape_template(raw_first);
  }
  if (!templated) return std::nullopt;
  if (!renders_all(out, values)) return std::nullopt;
  return Fill{true, out, {}};
}

std::optional<Mention> Inducer::target_mention(const DemoStep& step, size_t demo) const {
  if (!browser_) return std::nullopt;
  auto target = step.with.find("target");
  if (target == step.with.end() || !target->is_object()) return std::nullopt;
  auto name = target->find("name");
  if (name == target->end() || !name->is_string()) return std::nullopt;
  const std::string text = name->get<std::string>();
  auto reading = read_value(*name, options_.now_ms);
  if (!reading) return std::nullopt;
  auto mention = find_in_text(demos_[demo].instruction, mentions_[demo], *reading, *name);
  if (!mention) return std::nullopt;
  // Typed values and anything with a digit; plain words only when they are
  // several, written exactly so, and not the instruction's first word
  // ("Jane Doe", not "Search" in "search for ...").
  bool digit = std::any_of(text.begin(), text.end(),
                           [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
  if (mention->type == SlotType::kString && !digit) {
    const std::string& instruction = demos_[demo].instruction;
    bool exact = instruction.compare(mention->begin, text.size(), text) == 0;
    if (text.find(' ') == std::string::npos || !exact || mention->begin == 0) return std::nullopt;
  }
  return mention;
}

std::string Inducer::key_of(const DemoStep& step, size_t demo) const {
  if (auto mention = target_mention(step, demo)) {
    return step.action + "|" + step.with["target"].value("role", std::string()) + "|{" +
           to_string(mention->type) + "}";
  }
  return step_key(step, browser_);
}

void Inducer::parameterize_target(size_t column, Step& step, Json& with) {
  std::vector<const Json*> names(n_, nullptr);
  std::vector<const Json*> targets(n_, nullptr);
  size_t first = n_, present = 0;
  for (size_t d = 0; d < n_; ++d) {
    const DemoStep* s = demo_step(column, d);
    if (s == nullptr) continue;
    if (!target_mention(*s, d)) return;
    targets[d] = &s->with["target"];
    names[d] = &(*targets[d])["name"];
    if (first == n_) first = d;
    ++present;
  }
  if (first == n_) return;
  const Json& model = *targets[first];
  const std::string name = names[first]->get<std::string>();
  std::string hint = model.value("name_attr", std::string());
  bool clock = name.size() >= 4 && name.size() <= 5 && name[name.size() - 3] == ':' &&
               std::all_of(name.begin(), name.end(), [](char c) {
                 return c == ':' || std::isdigit(static_cast<unsigned char>(c));
               });
  if (clock) hint = "time";
  if (snake(hint).empty()) hint = model.value("role", std::string("choice"));
  auto fill = from_instruction(names, hint, "the " + hint, step.id);
  if (!fill) return;
  Json target = model;
  const std::string alnum = [&] {
    std::string out;
    for (char c : name) {
      if (is_alnum(c)) out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    return out;
  }();
  for (const auto& [key, value] : model.items()) {
    bool same_as_name = true, same_everywhere = true;
    for (size_t d = 0; d < n_; ++d) {
      if (targets[d] == nullptr) continue;
      const Json& other = targets[d]->value(key, Json());
      same_as_name = same_as_name && other == *names[d];
      same_everywhere = same_everywhere && other == value;
    }
    if (same_as_name) {
      target[key] = fill->value;  // the element's own words: from the slot
    } else if (!same_everywhere) {
      target.erase(key);  // differs with the value: not the element's identity
    } else if (present == 1) {
      // One demonstration: what depends on which element it was (where it
      // is, ids made of the value) cannot be told apart; leave it out.
      bool positional = key == "x" || key == "y" || key == "dom_path";
      bool made_of_value = value.is_string() && !alnum.empty() && [&] {
        std::string v;
        for (char c : value.get<std::string>()) {
          if (is_alnum(c)) {
            v += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
          }
        }
        return v.find(alnum) != std::string::npos;
      }();
      if (positional || made_of_value) target.erase(key);
    }
  }
  with["target"] = target;
  notes_.push_back("step " + step.id + " acts on the " +
                   model.value("role", std::string("element")) + " named by the instruction's " +
                   shown(*names[first]) + ": its target is found by slot " +
                   fill->value.get<std::string>());
}

std::string Inducer::step_id_for(const DemoStep& step, size_t demo) {
  std::string action = short_action(step.action);
  std::string base;
  auto target = step.with.find("target");
  if (target_mention(step, demo)) {
    // Named by a value that changes: named after what kind of element it is.
    base = snake(action) + "_" + snake(target->value("role", std::string("element")), 30);
  } else if (target != step.with.end() && target->is_object()) {
    for (const char* key : {"name", "name_attr", "id", "text", "placeholder", "aria_label"}) {
      std::string text = snake(target->value(key, std::string()), 30);
      if (!text.empty()) {
        base = snake(action) + "_" + text;
        break;
      }
    }
  }
  if (base.empty() && action == "navigate") {
    auto found = step.with.find("url");
    std::string url =
        found != step.with.end() && found->is_string() ? found->get<std::string>() : "";
    UrlParts parts = split_url(url);
    std::string segment;
    for (const auto& [lead, raw] : parts.pieces) {
      if (lead == "/" && !raw.empty()) {
        segment = snake(raw, 30);
        break;
      }
    }
    base = "open_" + (segment.empty() ? std::string("start") : segment);
  }
  if (base.empty()) base = snake(action, 60);
  if (base.empty() || !std::isalpha(static_cast<unsigned char>(base[0]))) base = "step_" + base;
  std::string id = base;
  for (int k = 2; step_ids_.contains(id); ++k) id = base + "_" + std::to_string(k);
  step_ids_.insert(id);
  return id;
}

Status Inducer::build_steps() {
  built_.resize(columns_.size());
  keep_.assign(columns_.size(), true);
  for (size_t c = 0; c < columns_.size(); ++c) {
    size_t first = n_;
    for (size_t d = 0; d < n_ && first == n_; ++d) {
      if (demo_step(c, d) != nullptr) first = d;
    }
    const DemoStep& model = *demo_step(c, first);
    Step& step = built_[c];
    step.kind = StepKind::kAction;
    step.action = model.action;
    step.id = step_id_for(model, first);
  }
  for (size_t c = 0; c < columns_.size(); ++c) {
    Step& step = built_[c];
    size_t first = n_;
    for (size_t d = 0; d < n_ && first == n_; ++d) {
      if (demo_step(c, d) != nullptr) first = d;
    }
    const DemoStep& model = *demo_step(c, first);
    const Json target = model.with.value("target", Json());
    std::string label, hint;
    if (target.is_object()) {
      label = target.value("name", std::string());
      if (label.empty()) label = target.value("placeholder", std::string());
      if (label.empty()) label = target.value("name_attr", std::string());
      hint = target.value("name_attr", std::string());
      if (snake(hint).empty()) hint = label;
      if (snake(hint).empty()) hint = target.value("id", std::string());
    }
    std::set<std::string> needs;
    Json with = Json::object();
    // Leaves of the first present demo's `with`, by JSON pointer.
    std::vector<std::string> pointers;
    std::function<void(const Json&, const std::string&)> collect = [&](const Json& json,
                                                                       const std::string& at) {
      if (json.is_object() && !json.empty()) {
        for (const auto& [key, item] : json.items()) collect(item, at + json_pointer_token(key));
      } else if (json.is_array() && !json.empty()) {
        for (size_t i = 0; i < json.size(); ++i) collect(json[i], at + "/" + std::to_string(i));
      } else {
        pointers.push_back(at);
      }
    };
    for (const auto& [key, item] : model.with.items()) {
      if (browser_ && (key == "target" || key == "secret")) {
        with[key] = item;  // a fingerprint as recorded; a vault reference
        if (key == "secret") {
          notes_.push_back("step " + step.id + " types vault secret " +
                           (item.is_string() ? item.get<std::string>() : item.dump()) +
                           " (never a value)");
        }
        continue;
      }
      collect(item, json_pointer_token(key));
    }
    // The value at `pointer` in each demonstration's step (null where the
    // demonstration lacks the step or the value); `structure` false when a
    // demonstration has the step but not the value.
    auto values_at = [&](const std::string& pointer, bool& structure) {
      const Json::json_pointer at(pointer);
      std::vector<const Json*> values(n_, nullptr);
      structure = true;
      for (size_t d = 0; d < n_; ++d) {
        const DemoStep* s = demo_step(c, d);
        if (s == nullptr) continue;
        if (!s->with.contains(at)) {
          structure = false;
          continue;
        }
        values[d] = &s->with.at(at);
      }
      return values;
    };
    // API steps: references into results first (they may find the object
    // the step acts on), then the other values, which may be fields of it.
    std::map<std::string, Fill> early;
    if (!browser_) {
      for (const std::string& pointer : pointers) {
        bool structure = true;
        const std::vector<const Json*> values = values_at(pointer, structure);
        if (!structure || values[first] == nullptr || in_instruction(values)) continue;
        if (auto fill = from_results(c, values, step.id)) {
          early[pointer] = *fill;
          needs.insert(fill->needs.begin(), fill->needs.end());
        }
      }
    }
    for (const std::string& pointer : pointers) {
      if (auto it = early.find(pointer); it != early.end()) {
        with[Json::json_pointer(pointer)] = it->second.value;
        continue;
      }
      bool structure = true;
      const std::vector<const Json*> values = values_at(pointer, structure);
      const std::string key = pointer_key(pointer);
      const std::string top = pointer.substr(1, pointer.find('/', 1) - 1);
      std::string what = pointer.substr(1);
      std::replace(what.begin(), what.end(), '/', '.');
      if (!structure) {
        value_notes_.push_back("step " + step.id + ": " + what +
                               " is missing in some demonstrations; kept " + shown(*values[first]));
      }
      // Names: the field the value went into (browser), else the argument.
      bool browser_value = browser_ && (top == "value" || top == "option");
      std::string slot_hint = browser_value && !snake(hint).empty() ? hint : key;
      if (!browser_ && std::all_of(key.begin(), key.end(), [](char ch) {
            return std::isdigit(static_cast<unsigned char>(ch));
          })) {
        slot_hint = top;
      }
      std::string slot_label = browser_value && !label.empty() ? label : what;
      if (!browser_) slot_label = "the " + what + " for " + short_action(step.action);

      std::optional<Fill> fill;
      const Json& v = *values[first];
      if (v.is_string() || v.is_number()) {
        if (!browser_ && structure) fill = from_found_object(needs, values, step.id, what);
        if (!fill) fill = from_instruction(values, slot_hint, slot_label, step.id);
        if (!fill && !browser_) fill = from_results(c, values, step.id);
        if (!fill && v.is_string() && looks_like_url(key, v.get<std::string>())) {
          fill = url_fill(values, slot_hint, slot_label, step.id, what);
        }
      }
      if (!fill) fill = Fill{false, Json(), {}};
      if (!fill->templated) {
        // Deferred until every slot is known: free text made of slots.
        pending_.push_back({c, pointer, values, slot_hint, slot_label, what});
        with[Json::json_pointer(pointer)] = nullptr;
        continue;
      }
      with[Json::json_pointer(pointer)] = fill->value;
      needs.insert(fill->needs.begin(), fill->needs.end());
    }
    if (browser_) parameterize_target(c, step, with);
    step.with = with;
    step.needs.assign(needs.begin(), needs.end());
  }
  // Free text over slots, then differing values, then constants.
  for (Pending& p : pending_) {
    Step& step = built_[p.column];
    std::optional<Fill> fill = from_slots_in_text(p.values, step.id);
    if (!fill) {
      fill = differing_or_constant(p.values, p.hint, p.label, step.id, p.what);
    }
    step.with[Json::json_pointer(p.pointer)] = fill->value;
  }
  return {};
}

void Inducer::infer_branches() {
  for (size_t c = 0; c < columns_.size(); ++c) {
    std::vector<bool> present(n_);
    size_t count = 0;
    for (size_t d = 0; d < n_; ++d) {
      present[d] = demo_step(c, d) != nullptr;
      count += present[d] ? 1 : 0;
    }
    if (count == n_) continue;
    std::string in, out;
    for (size_t d = 0; d < n_; ++d) {
      (present[d] ? in : out) +=
          (present[d] ? (in.empty() ? "" : ", ") : (out.empty() ? "" : ", ")) + demos_[d].id;
    }
    Step& step = built_[c];
    std::string when, why;
    // Given exactly where the step happened.
    for (const SlotInfo& slot : slots_) {
      bool exact = true;
      for (size_t d = 0; d < n_; ++d) exact = exact && (slot.values[d].is_null() != present[d]);
      if (!exact) continue;
      const std::string var = "slots." + slot.spec.name;
      when = var + " ~= nil and " + var + " ~= \"\"";
      why = "slot " + slot.spec.name + " is given";
      break;
    }
    // One value, or a set of values, of a slot every demonstration gives.
    // Switch-like slots first: fewest distinct values; then the slot set
    // closest before this step (the choice that led to it). A slot with a
    // different value in each of three or more demonstrations identifies
    // the case rather than choosing the path, and explains nothing.
    struct Candidate {
      size_t distinct, distance, slot;
      std::vector<Json> inside;
    };
    std::vector<Candidate> candidates;
    for (size_t s = 0; s < slots_.size(); ++s) {
      const SlotInfo& slot = slots_[s];
      bool everywhere = std::none_of(slot.values.begin(), slot.values.end(),
                                     [](const Json& v) { return v.is_null(); });
      if (!everywhere) continue;
      std::vector<Json> inside, outside, all;
      for (size_t d = 0; d < n_; ++d) {
        for (auto* group : {present[d] ? &inside : &outside, &all}) {
          if (std::none_of(group->begin(), group->end(),
                           [&](const Json& v) { return same_value(v, slot.values[d]); })) {
            group->push_back(slot.values[d]);
          }
        }
      }
      bool disjoint = std::none_of(inside.begin(), inside.end(), [&](const Json& v) {
        return std::any_of(outside.begin(), outside.end(),
                           [&](const Json& o) { return same_value(v, o); });
      });
      if (!disjoint || (n_ >= 3 && all.size() == n_)) continue;
      size_t distance = columns_.size() + 1;
      for (const std::string& id : slot.used_by) {
        for (size_t o = 0; o < c; ++o) {
          if (built_[o].id == id) distance = std::min(distance, c - o);
        }
      }
      candidates.push_back({all.size(), distance, s, inside});
    }
    std::stable_sort(candidates.begin(), candidates.end(),
                     [](const Candidate& a, const Candidate& b) {
                       if (a.distinct != b.distinct) return a.distinct < b.distinct;
                       if (a.distance != b.distance) return a.distance < b.distance;
                       return a.inside.size() < b.inside.size();
                     });
    if (when.empty() && !candidates.empty()) {
      const Candidate& best = candidates.front();
      const std::string var = "slots." + slots_[best.slot].spec.name;
      std::string shown_values;
      for (const Json& v : best.inside) {
        when += (when.empty() ? "" : " or ") + var + " == " + lua_literal(v);
        shown_values += (shown_values.empty() ? "" : ", ") + shown(v);
      }
      why = "slot " + slots_[best.slot].spec.name +
            (best.inside.size() == 1 ? " is " : " is one of ") + shown_values;
    }
    if (!when.empty()) {
      step.when = when;
      notes_.push_back("step " + step.id + " runs only when " + why + " (done in " + in +
                       ", not in " + out + "): when: " + when);
    } else {
      keep_[c] = false;
      notes_.push_back("step " + step.id + " (" + step.action + ") left out: done in " + in +
                       " but not in " + out +
                       ", and no slot tells when — add it by hand with a "
                       "`when` if it belongs");
    }
  }
  // Steps that read a left-out step's result go too.
  for (bool changed = true; changed;) {
    changed = false;
    for (size_t c = 0; c < columns_.size(); ++c) {
      if (!keep_[c]) continue;
      for (const std::string& need : built_[c].needs) {
        bool gone = false;
        for (size_t o = 0; o < columns_.size(); ++o)
          gone = gone || (!keep_[o] && built_[o].id == need);
        if (!gone) continue;
        keep_[c] = false;
        changed = true;
        notes_.push_back("step " + built_[c].id + " left out: it reads " + need +
                         ", which was left out");
        break;
      }
    }
  }
  // Lookups: kept while a kept step reads them, under the same condition.
  for (LookupStep& lookup : lookups_) {
    std::vector<size_t> users;
    for (size_t u : lookup.users) {
      if (keep_[u]) users.push_back(u);
    }
    lookup.users = users;
    if (users.empty()) continue;
    bool same_when = std::all_of(users.begin(), users.end(),
                                 [&](size_t u) { return built_[u].when == built_[users[0]].when; });
    if (same_when) lookup.step.when = built_[users[0]].when;
  }
}

Status Inducer::replay() {
  for (size_t d = 0; d < n_; ++d) {
    Json env = env_for(d);
    for (size_t c = 0; c < columns_.size(); ++c) {
      for (const LookupStep& lookup : lookups_) {
        if (lookup.before_column != c || lookup.users.empty()) continue;
        bool runs = true;
        if (!lookup.step.when.empty()) {
          auto test = sandbox_.test(lookup.step.when, env);
          runs = test && *test;
        }
        if (!runs) continue;
        auto result = sandbox_.run(lookup.step.compute, env);
        if (!result || result->is_null()) {
          notes_.push_back("check: step " + lookup.step.id + " finds nothing for demonstration " +
                           demos_[d].id + " — review it");
          continue;
        }
        env["steps"][lookup.step.id] = {{"result", *result}};
      }
      if (!keep_[c]) continue;
      const Step& step = built_[c];
      const DemoStep* recorded = demo_step(c, d);
      bool runs = true;
      if (!step.when.empty()) {
        auto test = sandbox_.test(step.when, env);
        runs = test && *test;
      }
      if (runs != (recorded != nullptr)) {
        notes_.push_back("check: step " + step.id + (runs ? " would run" : " would not run") +
                         " for demonstration " + demos_[d].id + ", which " +
                         (recorded ? "did" : "did not") + " do it — review its when");
        continue;
      }
      if (!runs) continue;
      auto rendered = sandbox_.render(step.with, env);
      if (!rendered) {
        notes_.push_back("check: step " + step.id + " cannot be rendered for demonstration " +
                         demos_[d].id + ": " + rendered.error().message);
        continue;
      }
      for (const auto& [key, value] : recorded->with.items()) {
        if (browser_ && (key == "target" || key == "secret")) continue;
        Json got = rendered->value(key, Json());
        bool ok = reproduces(got, value);
        if (!ok && value.is_object() && got.is_object()) {
          ok = true;
          for (const auto& [k, v] : value.items()) ok = ok && reproduces(got.value(k, Json()), v);
        }
        if (!ok && value == got) ok = true;
        if (!ok) {
          notes_.push_back("check: step " + step.id + " gives " + key + " " + shown(got) +
                           " where demonstration " + demos_[d].id + " had " + shown(value) +
                           " — review it");
        }
      }
      env["steps"][step.id] = {{"result", recorded->result}};
    }
  }
  return {};
}

Result<InducedSkill> Inducer::run() {
  if (demos_.empty()) {
    return fail(ErrorCode::kInvalidInput, "no demonstrations — name at least one to learn from");
  }
  const std::string& name = options_.name;
  bool name_ok = !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
  });
  if (!name_ok) {
    return fail(ErrorCode::kInvalidInput,
                "'" + name +
                    "' is not a valid skill name — use lower-case letters, digits and "
                    "'-', e.g. book-mri");
  }
  const Demonstration& lead = demos_[0];
  for (const Demonstration& demo : demos_) {
    if (demo.kind != lead.kind) {
      return fail(ErrorCode::kInvalidInput,
                  "demonstrations " + lead.id + " (" + lead.kind + ") and " + demo.id + " (" +
                      demo.kind +
                      ") are of different kinds — learn a skill from demonstrations "
                      "of one kind, all browser or all api");
    }
    if (demo.connector != lead.connector) {
      return fail(ErrorCode::kInvalidInput,
                  "demonstrations " + lead.id + " (connector '" + lead.connector + "') and " +
                      demo.id + " (connector '" + demo.connector +
                      "') were recorded against different connectors — learn from "
                      "demonstrations of one connector");
    }
    if (demo.steps.empty()) {
      return fail(ErrorCode::kInvalidInput,
                  "demonstration " + demo.id + " has no steps — record the task again");
    }
    for (size_t i = 0; i < demo.steps.size(); ++i) {
      const DemoStep& step = demo.steps[i];
      std::string where = "demonstration " + demo.id + ", step " + std::to_string(i + 1) + ": ";
      if (step.action.find('.') == std::string::npos) {
        return fail(ErrorCode::kInvalidInput,
                    where + "'" + step.action + "' is not an action — use <connector>.<action>");
      }
      if (!step.with.is_object() && !step.with.is_null()) {
        return fail(ErrorCode::kInvalidInput, where + "`with` must be a mapping of arguments");
      }
      if (step.with.is_object() && step.with.contains("target")) {
        if (auto fp = fingerprint_from_json(step.with["target"]); !fp) {
          return fail(ErrorCode::kInvalidInput, where + "target: " + fp.error().message);
        }
      }
    }
  }
  for (size_t i = 0; i < n_; ++i) {
    for (size_t j = i + 1; j < n_; ++j) {
      if (demos_[i].id == demos_[j].id && !demos_[i].id.empty()) {
        return fail(ErrorCode::kInvalidInput,
                    "demonstration " + demos_[i].id + " is named twice — name each once");
      }
    }
  }
  browser_ = lead.kind == "browser";

  // Where a browser recording began, as a first navigation (relative to the
  // connector's base URL), unless the person navigated first.
  for (const Demonstration& demo : demos_) {
    std::vector<DemoStep> steps = demo.steps;
    for (DemoStep& step : steps) {
      if (step.with.is_null()) step.with = Json::object();
    }
    if (browser_ && !demo.start_url.empty() && short_action(steps[0].action) != "navigate") {
      UrlParts parts = split_url(demo.start_url);
      std::string path = demo.start_url.substr(parts.prefix.size());
      if (path.empty()) path = "/";
      DemoStep open;
      open.action = demo.connector + ".navigate";
      open.with = {{"url", path}};
      steps.insert(steps.begin(), open);
    }
    steps_.push_back(std::move(steps));
    mentions_.push_back(typed_mentions(demo.instruction, options_.now_ms));
  }

  // Align.
  for (size_t i = 0; i < steps_[0].size(); ++i) {
    Column column{key_of(steps_[0][i], 0), std::vector<int>(n_, -1)};
    column.index[0] = static_cast<int>(i);
    columns_.push_back(std::move(column));
  }
  for (size_t d = 1; d < n_; ++d) {
    std::vector<std::string> keys;
    for (const DemoStep& step : steps_[d]) keys.push_back(key_of(step, d));
    if (align(columns_, keys, d, n_) == 0) {
      return fail(ErrorCode::kInvalidInput,
                  "demonstration " + demos_[d].id + " has no step in common with " + demos_[0].id +
                      " (no same action on the same element) — are they the same task? "
                      "Learn different tasks as different skills");
    }
  }
  size_t common = 0;
  for (const Column& column : columns_) {
    common += std::all_of(column.index.begin(), column.index.end(), [](int i) { return i >= 0; });
  }
  if (common == 0) {
    return fail(ErrorCode::kInvalidInput,
                "the demonstrations share no step (no action on the same element in all of "
                "them) — learn different tasks as different skills");
  }

  if (auto ok = build_steps(); !ok) return fail(ok.error());
  infer_branches();

  // Slots no kept step uses are dropped.
  std::set<std::string> kept_ids;
  for (size_t c = 0; c < columns_.size(); ++c) {
    if (keep_[c]) kept_ids.insert(built_[c].id);
  }
  for (const LookupStep& lookup : lookups_) {
    if (!lookup.users.empty()) kept_ids.insert(lookup.step.id);
  }
  std::vector<SlotInfo> slots;
  for (SlotInfo& slot : slots_) {
    std::vector<std::string> used;
    for (const std::string& id : slot.used_by) {
      if (kept_ids.contains(id)) used.push_back(id);
    }
    if (used.empty()) continue;
    slot.used_by = used;
    slot.spec.required = std::none_of(slot.values.begin(), slot.values.end(),
                                      [](const Json& v) { return v.is_null(); });
    slots.push_back(std::move(slot));
  }
  slots_ = std::move(slots);

  InducedSkill induced;
  Skill& skill = induced.skill;
  skill.name = name;
  for (const SlotInfo& slot : slots_) skill.slots.push_back(slot.spec);
  for (size_t c = 0; c < columns_.size(); ++c) {
    for (const LookupStep& lookup : lookups_) {
      if (lookup.before_column == c && !lookup.users.empty()) skill.steps.push_back(lookup.step);
    }
    if (keep_[c]) skill.steps.push_back(built_[c]);
  }

  // Examples: each instruction with its slot values replaced by {slot}.
  for (size_t d = 0; d < n_; ++d) {
    const std::string& text = demos_[d].instruction;
    std::vector<std::pair<std::pair<size_t, size_t>, std::string>> spans;
    for (const SlotInfo& slot : slots_) {
      if (slot.spans[d]) spans.push_back({*slot.spans[d], slot.spec.name});
    }
    std::sort(spans.begin(), spans.end());
    std::string example;
    size_t at = 0;
    auto plain = [](std::string piece) {
      for (char& c : piece) {
        if (c == '{') c = '(';
        if (c == '}') c = ')';
        if (c == '\n' || c == '\r') c = ' ';
      }
      return piece;
    };
    for (const auto& [span, slot] : spans) {
      if (span.first < at) continue;
      example += plain(text.substr(at, span.first - at)) + "{" + slot + "}";
      at = span.second;
    }
    example += plain(text.substr(at));
    example = trim(example);
    if (!example.empty() &&
        std::find(skill.examples.begin(), skill.examples.end(), example) == skill.examples.end()) {
      skill.examples.push_back(example);
    }
  }
  std::string ids;
  for (const Demonstration& demo : demos_) ids += (ids.empty() ? "" : ", ") + demo.id;
  // The first instruction with its values as slots: one person's data is not
  // what the skill is about.
  skill.description =
      !options_.description.empty()
          ? options_.description
          : (skill.examples.empty() ? trim(demos_[0].instruction) : skill.examples.front()) +
                " (learned from " + (n_ == 1 ? "demonstration " : "demonstrations ") + ids + ")";

  // Notes: the slots, then what was kept, then conditions and checks.
  for (const SlotInfo& slot : slots_) {
    std::string used;
    for (const std::string& id : slot.used_by) used += (used.empty() ? "" : ", ") + id;
    induced.notes.push_back("slot " + slot.spec.name + " (" + to_string(slot.spec.type) +
                            (slot.spec.required ? "" : ", optional") + ") " + slot.origin +
                            ", used by step " + used);
  }
  for (const std::string& note : value_notes_) {
    bool about_kept = true;
    if (note.starts_with("step ") || note.starts_with("constant: step ")) {
      std::string rest = note.substr(note.find("step ") + 5);
      std::string id = rest.substr(0, rest.find_first_of(" :"));
      about_kept = kept_ids.contains(id);
    }
    if (about_kept) induced.notes.push_back(note);
  }
  if (auto ok = replay(); !ok) return fail(ok.error());
  for (const std::string& note : notes_) induced.notes.push_back(note);

  // The skill must load as a skill file would.
  Plan plan;
  plan.skill = skill.name;
  plan.slot_specs = skill.slots;
  for (const SlotSpec& slot : skill.slots) {
    if (slot.required) plan.questions.push_back({slot.name, slot.question});
  }
  plan.steps = skill.steps;
  if (auto ok = validate_plan(plan); !ok) {
    return fail(ErrorCode::kInternal, "the induced skill is not valid (" + ok.error().message +
                                          ") — please report this with the demonstrations");
  }
  for (const Step& step : skill.steps) {
    for (const std::string* code : {&step.when, &step.expect}) {
      if (!code->empty() && !sandbox_.check(*code, false)) {
        return fail(ErrorCode::kInternal,
                    "the induced skill's step " + step.id + " has invalid Lua: " + *code);
      }
    }
    if (!step.compute.empty() && !sandbox_.check(step.compute, true)) {
      return fail(ErrorCode::kInternal,
                  "the induced skill's step " + step.id + " has an invalid compute chunk");
    }
    if (auto ok = sandbox_.check_templates(step.with); !ok) {
      return fail(ErrorCode::kInternal, "the induced skill's step " + step.id +
                                            " has an invalid template: " + ok.error().message);
    }
  }
  return induced;
}

}  // namespace

Result<InducedSkill> induce_skill(const std::vector<Demonstration>& demos,
                                  const InduceOptions& options) {
  // Demonstrations are checked up front; an exception here would be a bug,
  // and is reported as one rather than crossing the library's boundary.
  try {
    Inducer inducer(demos, options);
    return inducer.run();
  } catch (const std::exception& e) {
    return fail(ErrorCode::kInternal, std::string("skill induction failed: ") + e.what() +
                                          " — please report this with the demonstrations");
  }
}

std::string skill_drafts_dir(const std::string& workspace_dir) {
  return (std::filesystem::path(workspace_dir.empty() ? "." : workspace_dir) / "skills" / "drafts")
      .lexically_normal()
      .string();
}

}  // namespace ergon
