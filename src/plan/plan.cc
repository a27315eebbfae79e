#include "ergon/plan.h"

#include <algorithm>
#include <cctype>
#include <functional>
#include <map>
#include <queue>
#include <set>
#include <utility>

#include "ergon/planner.h"

namespace ergon {

std::string SourceLoc::str() const {
  if (file.empty()) return "";
  if (line <= 0) return file;
  return file + ":" + std::to_string(line);
}

const char* to_string(SlotType type) {
  switch (type) {
    case SlotType::kString: return "string";
    case SlotType::kNumber: return "number";
    case SlotType::kPercent: return "percent";
    case SlotType::kMoney: return "money";
    case SlotType::kDate: return "date";
    case SlotType::kEnum: return "enum";
    case SlotType::kCode: return "code";
    case SlotType::kEmail: return "email";
  }
  return "string";
}

Result<SlotType> parse_slot_type(const std::string& text) {
  for (SlotType type : {SlotType::kString, SlotType::kNumber, SlotType::kPercent, SlotType::kMoney,
                        SlotType::kDate, SlotType::kEnum, SlotType::kCode, SlotType::kEmail}) {
    if (text == to_string(type)) return type;
  }
  return fail(ErrorCode::kInvalidInput,
              "unknown slot type '" + text +
                  "': use string, number, percent, money, date, enum, code or email");
}

const char* to_string(StepKind kind) {
  switch (kind) {
    case StepKind::kAction: return "action";
    case StepKind::kCompute: return "compute";
    case StepKind::kAsk: return "ask";
    case StepKind::kAgent: return "agent";
  }
  return "action";
}

const char* to_string(OnFail on_fail) {
  switch (on_fail) {
    case OnFail::kAbort: return "abort";
    case OnFail::kRetry: return "retry";
    case OnFail::kSkip: return "skip";
    case OnFail::kAsk: return "ask";
  }
  return "abort";
}

Result<OnFail> parse_on_fail(const std::string& text) {
  for (OnFail value : {OnFail::kAbort, OnFail::kRetry, OnFail::kSkip, OnFail::kAsk}) {
    if (text == to_string(value)) return value;
  }
  return fail(ErrorCode::kInvalidInput,
              "unknown on_fail '" + text + "': use abort, retry, skip or ask");
}

const Step* Plan::step(const std::string& id) const {
  for (const Step& s : steps) {
    if (s.id == id) return &s;
  }
  return nullptr;
}

// ---------------------------------------------------------------------------
// Spelling suggestions.

namespace {

std::string lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

// Optimal string alignment distance: Levenshtein plus adjacent transpositions,
// so "retyr" is one edit from "retry".
size_t edit_distance(const std::string& a, const std::string& b) {
  const size_t n = a.size(), m = b.size();
  std::vector<std::vector<size_t>> d(n + 1, std::vector<size_t>(m + 1, 0));
  for (size_t i = 0; i <= n; ++i) d[i][0] = i;
  for (size_t j = 0; j <= m; ++j) d[0][j] = j;
  for (size_t i = 1; i <= n; ++i) {
    for (size_t j = 1; j <= m; ++j) {
      size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[n][m];
}

// Dice coefficient over padded character trigrams: catches truncations and
// extensions ("cloud.stopp" ~ "cloud.stop_instance") that edit distance misses.
double trigram_dice(const std::string& a, const std::string& b) {
  auto grams = [](const std::string& word) {
    std::set<std::string> out;
    std::string padded = "  " + word + " ";
    for (size_t i = 0; i + 3 <= padded.size(); ++i) out.insert(padded.substr(i, 3));
    return out;
  };
  std::set<std::string> ga = grams(a), gb = grams(b);
  size_t common = 0;
  for (const std::string& g : ga) common += gb.count(g);
  return 2.0 * static_cast<double>(common) / static_cast<double>(ga.size() + gb.size());
}

}  // namespace

std::string closest_spelling(const std::string& word, const std::vector<std::string>& candidates) {
  constexpr size_t kLongest = 64;  // beyond this a name is no typo, and distance gets costly
  if (word.size() > kLongest) return "";
  const std::string needle = lower(word);
  std::string best;
  double best_score = 0;
  for (const std::string& candidate : candidates) {
    if (candidate.size() > kLongest) continue;
    const std::string hay = lower(candidate);
    if (hay == needle) return candidate;
    size_t distance = edit_distance(needle, hay);
    size_t allowed = std::max<size_t>(1, std::min(needle.size(), hay.size()) / 3);
    double dice = trigram_dice(needle, hay);
    // Either a small edit or a large shared part makes a plausible intent.
    double score = distance <= allowed ? 1.0 + 1.0 / static_cast<double>(distance + 1) : dice;
    if (score >= 0.5 && score > best_score) {
      best = candidate;
      best_score = score;
    }
  }
  return best;
}

// ---------------------------------------------------------------------------
// Shared step and slot parsers.

namespace {

const std::vector<std::string> kStepFields = {
    "id",   "do",       "compute", "ask",     "agent", "slot",        "with",  "needs",
    "when", "for_each", "expect",  "on_fail", "retry", "description", "source"};
const std::vector<std::string> kAgentFields = {"goal", "connector", "allow", "max_steps"};
const std::vector<std::string> kSlotFields = {"name",    "type",    "required",   "question",
                                              "choices", "default", "description"};
const std::vector<std::string> kRetryFields = {"max_attempts", "initial_backoff_ms", "multiplier",
                                               "max_backoff_ms"};
const std::vector<std::string> kPlanFields = {"goal",  "skill", "planner",  "slot_specs",
                                              "slots", "steps", "questions"};
const std::vector<std::string> kQuestionFields = {"slot", "text"};

std::unexpected<Error> invalid(const std::string& pointer, const std::string& what) {
  return fail(ErrorCode::kInvalidInput, pointer + ": " + what);
}

constexpr size_t kMaxNameLength = 128;  // the schema's maxLength for ids and names

// A name as it appears in a message: quoted, and cut short when long.
std::string quote(const std::string& text) {
  if (text.size() <= 60) return "'" + text + "'";
  return "'" + text.substr(0, 57) + "...' (" + std::to_string(text.size()) + " characters)";
}

std::string type_name(const Json& value) {
  switch (value.type()) {
    case Json::value_t::null: return "null";
    case Json::value_t::boolean: return "true/false";
    case Json::value_t::string: return "a string";
    case Json::value_t::object: return "an object";
    case Json::value_t::array: return "a list";
    case Json::value_t::binary: return "binary data";
    case Json::value_t::discarded: return "nothing";
    default: return "a number";
  }
}

std::string join(const std::vector<std::string>& items, const std::string& separator) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += separator;
    out += items[i];
  }
  return out;
}

std::string did_you_mean(const std::string& word, const std::vector<std::string>& candidates) {
  std::string close = closest_spelling(word, candidates);
  return close.empty() ? "" : "; did you mean '" + close + "'?";
}

Status reject_unknown_fields(const Json& object, const std::vector<std::string>& fields,
                             const std::string& what) {
  for (const auto& [key, value] : object.items()) {
    if (std::find(fields.begin(), fields.end(), key) != fields.end()) continue;
    std::string hint = did_you_mean(key, fields);
    // A runaway key is cut short; the message is for a person, not a resolver.
    std::string shown = key.size() > 60 ? key.substr(0, 57) + "..." : key;
    if (!hint.empty()) return invalid(json_pointer_token(shown), "unknown field" + hint);
    return invalid(json_pointer_token(shown),
                   "unknown field — " + what + " takes " + join(fields, ", "));
  }
  return {};
}

bool is_identifier(const std::string& text, bool allow_dash) {
  if (text.empty() || text.size() > kMaxNameLength) return false;
  unsigned char first = static_cast<unsigned char>(text[0]);
  if (!std::isalpha(first) && first != '_') return false;
  return std::all_of(text.begin(), text.end(), [&](char c) {
    unsigned char u = static_cast<unsigned char>(c);
    return std::isalnum(u) || u == '_' || (allow_dash && u == '-');
  });
}

bool is_step_id(const std::string& text) {
  return is_identifier(text, true);
}
bool is_slot_name(const std::string& text) {
  return is_identifier(text, false);
}

// <connector>.<action>, as in the schema's action_name pattern.
bool is_action_name(const std::string& text) {
  if (text.size() > kMaxNameLength) return false;
  size_t dot = text.find('.');
  if (dot == std::string::npos || !is_identifier(text.substr(0, dot), true)) return false;
  std::string action = text.substr(dot + 1);
  if (action.empty()) return false;
  unsigned char first = static_cast<unsigned char>(action[0]);
  if (!std::isalnum(first) && first != '_') return false;
  return std::all_of(action.begin(), action.end(), [](char c) {
    unsigned char u = static_cast<unsigned char>(c);
    return std::isalnum(u) || u == '_' || u == '.' || u == '-';
  });
}

// An optional string field; "" when absent.
Result<std::string> optional_string(const Json& object, const std::string& key,
                                    bool non_empty = false) {
  auto it = object.find(key);
  if (it == object.end()) return std::string();
  if (!it->is_string()) {
    return invalid(json_pointer_token(key), "expected a string, got " + type_name(*it));
  }
  std::string text = it->get<std::string>();
  if (non_empty && text.empty()) {
    return invalid(json_pointer_token(key), "is empty — give it a value or remove the field");
  }
  return text;
}

SourceLoc parse_source(const std::string& text) {
  SourceLoc loc;
  size_t colon = text.rfind(':');
  if (colon != std::string::npos && colon + 1 < text.size() &&
      std::all_of(text.begin() + static_cast<std::ptrdiff_t>(colon) + 1, text.end(),
                  [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; }) &&
      text.size() - colon - 1 <= 9) {
    loc.file = text.substr(0, colon);
    loc.line = std::stoi(text.substr(colon + 1));
  } else {
    loc.file = text;
  }
  return loc;
}

Result<int> bounded_int(const Json& retry, const std::string& key, int low, int high,
                        int fallback) {
  auto it = retry.find(key);
  if (it == retry.end()) return fallback;
  std::string range = "from " + std::to_string(low) + " to " + std::to_string(high);
  if (!it->is_number_integer()) {
    return invalid(json_pointer_token(key), "expected a whole number " + range + ", got " +
                                                (it->is_number() ? it->dump() : type_name(*it)));
  }
  int64_t value = it->get<int64_t>();
  if (value < low || value > high) {
    return invalid(json_pointer_token(key),
                   std::to_string(value) + " is out of range — use a value " + range);
  }
  return static_cast<int>(value);
}

Result<RetryPolicy> retry_from_json(const Json& json) {
  if (!json.is_object()) {
    return invalid("",
                   "expected an object such as {max_attempts: 4, initial_backoff_ms: 200}, "
                   "got " +
                       type_name(json));
  }
  if (auto ok = reject_unknown_fields(json, kRetryFields, "retry"); !ok) return fail(ok.error());
  RetryPolicy retry;
  auto attempts = bounded_int(json, "max_attempts", 1, 100, retry.max_attempts);
  if (!attempts) return fail(attempts.error());
  auto initial = bounded_int(json, "initial_backoff_ms", 0, 600000, retry.initial_backoff_ms);
  if (!initial) return fail(initial.error());
  auto maximum = bounded_int(json, "max_backoff_ms", 0, 3600000, retry.max_backoff_ms);
  if (!maximum) return fail(maximum.error());
  retry.max_attempts = *attempts;
  retry.initial_backoff_ms = *initial;
  retry.max_backoff_ms = *maximum;
  if (auto it = json.find("multiplier"); it != json.end()) {
    if (!it->is_number()) {
      return invalid("/multiplier", "expected a number from 1 to 10, got " + type_name(*it));
    }
    double multiplier = it->get<double>();
    if (!(multiplier >= 1.0 && multiplier <= 10.0)) {
      return invalid("/multiplier", it->dump() + " is out of range — use a value from 1 to 10");
    }
    retry.multiplier = multiplier;
  }
  if (retry.max_backoff_ms < retry.initial_backoff_ms) {
    return invalid("/max_backoff_ms", std::to_string(retry.max_backoff_ms) +
                                          " is below initial_backoff_ms (" +
                                          std::to_string(retry.initial_backoff_ms) +
                                          ") — raise max_backoff_ms or lower initial_backoff_ms");
  }
  return retry;
}

bool is_default(const RetryPolicy& retry) {
  RetryPolicy defaults;
  return retry.max_attempts == defaults.max_attempts &&
         retry.initial_backoff_ms == defaults.initial_backoff_ms &&
         retry.multiplier == defaults.multiplier && retry.max_backoff_ms == defaults.max_backoff_ms;
}

constexpr int kMaxAgentSteps = 1000;  // the schema's maximum of agent.max_steps

// `agent: {goal, connector, allow, max_steps}`; pointers relative to the object.
Result<AgentTask> agent_from_json(const Json& json) {
  if (!json.is_object()) {
    return invalid("",
                   "expected an object such as {goal: \"...\", connector: portal, allow: "
                   "[portal.click]}, got " +
                       type_name(json));
  }
  if (auto ok = reject_unknown_fields(json, kAgentFields, "agent"); !ok) return fail(ok.error());
  AgentTask task;
  if (!json.contains("goal")) {
    return invalid("", "agent has no 'goal' — say in plain words what it should achieve");
  }
  auto goal = optional_string(json, "goal", true);
  if (!goal) return fail(goal.error());
  task.goal = *goal;
  if (!json.contains("connector")) {
    return invalid("", "agent has no 'connector' — name the connector whose actions it may use");
  }
  auto connector = optional_string(json, "connector", true);
  if (!connector) return fail(connector.error());
  if (!is_identifier(*connector, true)) {
    return invalid("/connector", quote(*connector) +
                                     " is not a connector name — use the name it has under "
                                     "connectors in ergon.yaml, e.g. portal");
  }
  task.connector = *connector;
  if (auto allow = json.find("allow"); allow != json.end()) {
    if (!allow->is_array()) {
      return invalid("/allow", "expected a list of actions, e.g. [" + task.connector +
                                   ".click], got " + type_name(*allow));
    }
    for (size_t i = 0; i < allow->size(); ++i) {
      const Json& name = (*allow)[i];
      std::string pointer = "/allow/" + std::to_string(i);
      if (!name.is_string() || !is_action_name(name.get<std::string>())) {
        return invalid(pointer,
                       (name.is_string() ? quote(name.get<std::string>()) : type_name(name)) +
                           " is not an action name — use <connector>.<action>, e.g. " +
                           task.connector + ".click");
      }
      task.allow.push_back(name.get<std::string>());
    }
  }
  auto max_steps = bounded_int(json, "max_steps", 0, kMaxAgentSteps, 0);
  if (!max_steps) return fail(max_steps.error());
  task.max_steps = *max_steps;
  return task;
}

Json to_json(const AgentTask& task) {
  Json json = {{"goal", task.goal}, {"connector", task.connector}};
  if (!task.allow.empty()) json["allow"] = task.allow;
  if (task.max_steps != 0) json["max_steps"] = task.max_steps;
  return json;
}

}  // namespace

Result<Step> step_from_json(const Json& json) {
  if (!json.is_object()) {
    return invalid("",
                   "expected a step (an object with an 'id' and one of 'do', 'compute', "
                   "'ask', 'agent'), got " +
                       type_name(json));
  }
  if (auto ok = reject_unknown_fields(json, kStepFields, "a step"); !ok) return fail(ok.error());

  Step step;
  auto id = json.find("id");
  if (id == json.end()) {
    return invalid("", "step has no 'id' — give it a unique name, e.g. id: fetch_bill");
  }
  if (!id->is_string()) return invalid("/id", "expected a string, got " + type_name(*id));
  step.id = id->get<std::string>();
  if (!is_step_id(step.id)) {
    return invalid("/id", quote(step.id) +
                              " is not a valid step id — use up to 128 letters, digits, '_' and "
                              "'-', starting with a letter or '_'");
  }
  const std::string name = "step '" + step.id + "'";

  std::vector<std::string> kinds;
  for (const char* key : {"do", "compute", "ask", "agent"}) {
    if (json.contains(key)) kinds.emplace_back(key);
  }
  if (kinds.empty()) {
    return invalid("", name +
                           " has none of 'do', 'compute', 'ask', 'agent' — add exactly one: an "
                           "action to call, a Lua chunk to run, a question to ask or a task for "
                           "the model to carry out");
  }
  if (kinds.size() > 1) {
    return invalid(json_pointer_token(kinds[1]),
                   name + " has both '" + kinds[0] + "' and '" + kinds[1] +
                       "' — a step does exactly one thing; split it into two steps joined "
                       "by needs");
  }

  if (kinds[0] == "do") {
    step.kind = StepKind::kAction;
    auto action = optional_string(json, "do", true);
    if (!action) return fail(action.error());
    if (!is_action_name(*action)) {
      return invalid("/do", quote(*action) +
                                " is not an action name — use <connector>.<action>, e.g. "
                                "cloud.stop_instance");
    }
    step.action = *action;
  } else if (kinds[0] == "compute") {
    step.kind = StepKind::kCompute;
    auto chunk = optional_string(json, "compute", true);
    if (!chunk) return fail(chunk.error());
    step.compute = *chunk;
  } else if (kinds[0] == "ask") {
    step.kind = StepKind::kAsk;
    auto question = optional_string(json, "ask", true);
    if (!question) return fail(question.error());
    step.ask = *question;
  } else {
    step.kind = StepKind::kAgent;
    auto task = agent_from_json(json["agent"]);
    if (!task) return fail(task.error().with_context("/agent"));
    step.agent = std::move(*task);
  }

  if (auto with = json.find("with"); with != json.end()) {
    if (step.kind != StepKind::kAction) {
      return invalid("/with",
                     "only an action step ('do') takes arguments — remove 'with' or "
                     "make this a 'do' step");
    }
    if (!with->is_object()) {
      return invalid("/with", "expected an object of arguments, e.g. {id: \"${item.id}\"}, got " +
                                  type_name(*with));
    }
    step.with = *with;
  }

  if (auto slot = json.find("slot"); slot != json.end()) {
    if (step.kind != StepKind::kAsk) {
      return invalid("/slot",
                     "only an 'ask' step fills a slot — remove 'slot' or make this an "
                     "'ask' step");
    }
    if (!slot->is_string() || !is_slot_name(slot->get<std::string>())) {
      return invalid("/slot",
                     "expected a slot name (letters, digits and '_', starting with a "
                     "letter or '_'), got " +
                         (slot->is_string() ? quote(slot->get<std::string>()) : type_name(*slot)));
    }
    step.ask_slot = slot->get<std::string>();
  }

  if (auto needs = json.find("needs"); needs != json.end()) {
    if (!needs->is_array()) {
      return invalid("/needs",
                     "expected a list of step ids, e.g. [bill], got " + type_name(*needs));
    }
    for (size_t i = 0; i < needs->size(); ++i) {
      const Json& need = (*needs)[i];
      std::string pointer = "/needs/" + std::to_string(i);
      if (!need.is_string()) {
        return invalid(pointer, "expected a step id, got " + type_name(need));
      }
      if (!is_step_id(need.get<std::string>())) {
        return invalid(pointer, quote(need.get<std::string>()) + " is not a valid step id");
      }
      step.needs.push_back(need.get<std::string>());
    }
  }

  for (auto [key, field] :
       {std::pair{"when", &step.when}, std::pair{"for_each", &step.for_each},
        std::pair{"expect", &step.expect}, std::pair{"description", &step.description}}) {
    auto text = optional_string(json, key);
    if (!text) return fail(text.error());
    *field = *text;
  }

  if (auto on_fail = json.find("on_fail"); on_fail != json.end()) {
    if (!on_fail->is_string()) {
      return invalid("/on_fail",
                     "expected one of abort, retry, skip, ask, got " + type_name(*on_fail));
    }
    std::string text = on_fail->get<std::string>();
    auto parsed = parse_on_fail(text);
    if (!parsed) {
      return invalid("/on_fail", "unknown value " + quote(text) +
                                     did_you_mean(text, {"abort", "retry", "skip", "ask"}) +
                                     " — use abort, retry, skip or ask");
    }
    step.on_fail = *parsed;
  }

  if (auto retry = json.find("retry"); retry != json.end()) {
    auto parsed = retry_from_json(*retry);
    if (!parsed) return fail(parsed.error().with_context("/retry"));
    step.retry = *parsed;
  }

  if (auto source = optional_string(json, "source"); !source) {
    return fail(source.error());
  } else if (!source->empty()) {
    step.loc = parse_source(*source);
  }
  return step;
}

Json to_json(const Step& step) {
  Json json = Json::object();
  json["id"] = step.id;
  switch (step.kind) {
    case StepKind::kAction:
      json["do"] = step.action;
      if (!step.with.empty()) json["with"] = step.with;
      break;
    case StepKind::kCompute: json["compute"] = step.compute; break;
    case StepKind::kAsk:
      json["ask"] = step.ask;
      if (!step.ask_slot.empty()) json["slot"] = step.ask_slot;
      break;
    case StepKind::kAgent: json["agent"] = to_json(step.agent); break;
  }
  if (!step.needs.empty()) json["needs"] = step.needs;
  if (!step.when.empty()) json["when"] = step.when;
  if (!step.for_each.empty()) json["for_each"] = step.for_each;
  if (!step.expect.empty()) json["expect"] = step.expect;
  if (step.on_fail != OnFail::kAbort) json["on_fail"] = to_string(step.on_fail);
  if (step.on_fail == OnFail::kRetry || !is_default(step.retry)) {
    json["retry"] = {{"max_attempts", step.retry.max_attempts},
                     {"initial_backoff_ms", step.retry.initial_backoff_ms},
                     {"multiplier", step.retry.multiplier},
                     {"max_backoff_ms", step.retry.max_backoff_ms}};
  }
  if (!step.description.empty()) json["description"] = step.description;
  if (!step.loc.file.empty()) json["source"] = step.loc.str();
  return json;
}

Result<SlotSpec> slot_from_json(const std::string& name, const Json& json) {
  if (!json.is_object()) {
    return invalid("", "expected a slot (an object with a 'type'), got " + type_name(json));
  }
  if (auto ok = reject_unknown_fields(json, kSlotFields, "a slot"); !ok) return fail(ok.error());
  // A slot in a plan carries its name; in a skill file the name is the map key.
  const std::string name_pointer = json.contains("name") ? "/name" : "";
  if (auto it = json.find("name"); it != json.end()) {
    if (!it->is_string()) return invalid("/name", "expected a string, got " + type_name(*it));
    if (it->get<std::string>() != name) {
      return invalid("/name", quote(it->get<std::string>()) + " does not match the slot's key " +
                                  quote(name) + " — use one name");
    }
  }
  if (!is_slot_name(name)) {
    return invalid(name_pointer, quote(name) +
                                     " is not a valid slot name — use up to 128 letters, digits "
                                     "and '_', "
                                     "starting with a letter or '_' (it is read as slots." +
                                     "<name> in expressions)");
  }

  SlotSpec slot;
  slot.name = name;
  if (auto it = json.find("type"); it != json.end()) {
    if (!it->is_string()) {
      return invalid("/type", "expected a slot type name, got " + type_name(*it));
    }
    std::string text = it->get<std::string>();
    auto type = parse_slot_type(text);
    if (!type) {
      return invalid("/type",
                     "unknown slot type " + quote(text) +
                         did_you_mean(text, {"string", "number", "percent", "money", "date", "enum",
                                             "code", "email"}) +
                         " — use string, number, percent, money, date, enum, code or email");
    }
    slot.type = *type;
  }
  if (auto it = json.find("required"); it != json.end()) {
    if (!it->is_boolean()) {
      return invalid("/required", "expected true or false, got " + type_name(*it));
    }
    slot.required = it->get<bool>();
  }
  for (auto [key, field] :
       {std::pair{"question", &slot.question}, std::pair{"description", &slot.description}}) {
    auto text = optional_string(json, key);
    if (!text) return fail(text.error());
    *field = *text;
  }

  if (auto it = json.find("choices"); it != json.end()) {
    if (slot.type != SlotType::kEnum) {
      return invalid("/choices",
                     "only an enum slot has choices — set type: enum or remove "
                     "choices");
    }
    if (!it->is_array()) {
      return invalid("/choices", "expected a list such as [small, large], got " + type_name(*it));
    }
    std::set<std::string> seen;
    for (size_t i = 0; i < it->size(); ++i) {
      const Json& choice = (*it)[i];
      std::string pointer = "/choices/" + std::to_string(i);
      if (!choice.is_string() || choice.get<std::string>().empty()) {
        return invalid(pointer, "expected a non-empty string, got " +
                                    (choice.is_string() ? std::string("\"\"") : type_name(choice)));
      }
      if (!seen.insert(lower(choice.get<std::string>())).second) {
        return invalid(
            pointer, "'" + choice.get<std::string>() + "' is listed twice — list each choice once");
      }
      slot.choices.push_back(choice.get<std::string>());
    }
  }
  if (slot.type == SlotType::kEnum && slot.choices.empty()) {
    return invalid(json.contains("choices") ? "/choices" : "",
                   "enum slot '" + name + "' has no choices — list them, e.g. choices: [a, b]");
  }

  if (auto it = json.find("default"); it != json.end() && !it->is_null()) {
    // A default goes through the same recogniser as a person's answer, so it
    // is stored in the slot's canonical form (10% -> 10, "March 4, 2027" -> "2027-03-04").
    if (slot.type == SlotType::kString) {
      if (!it->is_string()) {
        return invalid("/default", "expected a string, got " + type_name(*it));
      }
      slot.default_value = *it;
    } else if (it->is_number() && slot.type != SlotType::kDate && slot.type != SlotType::kEnum) {
      slot.default_value = *it;
    } else if (it->is_string()) {
      auto value = parse_slot_value(slot, it->get<std::string>());
      if (!value) return fail(value.error().with_context("/default: "));
      slot.default_value = *value;
    } else {
      return invalid("/default", "expected a " + std::string(to_string(slot.type)) +
                                     " value, got " + type_name(*it));
    }
  }
  return slot;
}

Json to_json(const SlotSpec& slot) {
  Json json = {{"name", slot.name}, {"type", to_string(slot.type)}, {"required", slot.required}};
  if (!slot.question.empty()) json["question"] = slot.question;
  if (!slot.choices.empty()) json["choices"] = slot.choices;
  if (slot.default_value) json["default"] = *slot.default_value;
  if (!slot.description.empty()) json["description"] = slot.description;
  return json;
}

// ---------------------------------------------------------------------------
// Plans.

Json to_json(const Plan& plan) {
  Json json = Json::object();
  json["goal"] = plan.goal;
  json["skill"] = plan.skill;
  if (!plan.planner.empty()) json["planner"] = plan.planner;
  json["slot_specs"] = Json::array();
  for (const SlotSpec& slot : plan.slot_specs) json["slot_specs"].push_back(to_json(slot));
  json["slots"] = plan.slots.is_object() ? plan.slots : Json::object();
  json["steps"] = Json::array();
  for (const Step& step : plan.steps) json["steps"].push_back(to_json(step));
  json["questions"] = Json::array();
  for (const Question& question : plan.questions) {
    json["questions"].push_back({{"slot", question.slot}, {"text", question.text}});
  }
  return json;
}

namespace {

// The hand-written half of plan_from_json; its messages are the ones a person
// reads, so it is also consulted when the schema rejects a plan.
Result<Plan> parse_plan(const Json& json) {
  if (!json.is_object()) {
    return invalid("", "expected a plan object with 'steps', got " + type_name(json));
  }
  if (auto ok = reject_unknown_fields(json, kPlanFields, "a plan"); !ok) return fail(ok.error());
  Plan plan;
  for (auto [key, field] : {std::pair{"goal", &plan.goal}, std::pair{"skill", &plan.skill},
                            std::pair{"planner", &plan.planner}}) {
    auto text = optional_string(json, key);
    if (!text) return fail(text.error());
    *field = *text;
  }

  if (auto it = json.find("slot_specs"); it != json.end()) {
    if (!it->is_array()) return invalid("/slot_specs", "expected a list, got " + type_name(*it));
    for (size_t i = 0; i < it->size(); ++i) {
      const Json& item = (*it)[i];
      std::string pointer = "/slot_specs/" + std::to_string(i);
      if (!item.is_object() || !item.contains("name") || !item["name"].is_string()) {
        return invalid(pointer, "expected a slot object with a 'name' string");
      }
      auto slot = slot_from_json(item["name"].get<std::string>(), item);
      if (!slot) return fail(slot.error().with_context(pointer));
      plan.slot_specs.push_back(std::move(*slot));
    }
  }

  if (auto it = json.find("slots"); it != json.end()) {
    if (!it->is_object()) {
      return invalid("/slots", "expected an object of slot name to value, got " + type_name(*it));
    }
    for (const auto& [name, value] : it->items()) {
      if (!is_slot_name(name)) {
        return invalid("/slots" + json_pointer_token(name.substr(0, 60)),
                       quote(name) +
                           " is not a valid slot name — use up to 128 letters, digits "
                           "and '_', starting with a letter or '_'");
      }
    }
    plan.slots = *it;
  }

  auto steps = json.find("steps");
  if (steps == json.end()) return invalid("", "a plan has no 'steps' — add a list of steps");
  if (!steps->is_array()) return invalid("/steps", "expected a list, got " + type_name(*steps));
  for (size_t i = 0; i < steps->size(); ++i) {
    auto step = step_from_json((*steps)[i]);
    if (!step) return fail(step.error().with_context("/steps/" + std::to_string(i)));
    plan.steps.push_back(std::move(*step));
  }

  if (auto it = json.find("questions"); it != json.end()) {
    if (!it->is_array()) return invalid("/questions", "expected a list, got " + type_name(*it));
    for (size_t i = 0; i < it->size(); ++i) {
      const Json& item = (*it)[i];
      std::string pointer = "/questions/" + std::to_string(i);
      if (!item.is_object()) {
        return invalid(pointer, "expected {slot, text}, got " + type_name(item));
      }
      if (auto ok = reject_unknown_fields(item, kQuestionFields, "a question"); !ok) {
        return fail(ok.error().with_context(pointer));
      }
      Question question;
      for (auto [key, field] :
           {std::pair{"slot", &question.slot}, std::pair{"text", &question.text}}) {
        auto text = optional_string(item, key, true);
        if (!text) return fail(text.error().with_context(pointer));
        if (text->empty()) return invalid(pointer, std::string("question has no '") + key + "'");
        *field = *text;
      }
      plan.questions.push_back(std::move(question));
    }
  }
  return plan;
}

}  // namespace

Result<Plan> plan_from_json(const Json& json) {
  try {
    if (auto schema = check_plan_schema(json); !schema) {
      // The schema is the gate. When the parser finds a problem too, its
      // message (with a "did you mean") is the more useful one.
      auto parsed = parse_plan(json);
      if (!parsed) return fail(parsed.error());
      return fail(schema.error());
    }
    return parse_plan(json);
  } catch (const Json::exception& e) {
    return fail(ErrorCode::kInvalidInput, std::string(": unreadable plan: ") + e.what());
  }
}

// ---------------------------------------------------------------------------
// Structural validation.

namespace {

std::string step_label(const Step& step) {
  std::string label = "step " + quote(step.id);
  if (!step.loc.file.empty()) label += " (" + step.loc.str() + ")";
  return label;
}

// An agent step: a goal, a connector with actions, and `allow` naming only
// actions of that connector.
Status validate_agent(const Step& step, const std::vector<std::string>& known_actions) {
  const AgentTask& task = step.agent;
  auto error = [&](const std::string& what) {
    return fail(ErrorCode::kInvalidInput, step_label(step) + ": " + what);
  };
  if (task.goal.empty()) return error("agent has no goal — say in plain words what to achieve");
  if (task.max_steps < 0 || task.max_steps > kMaxAgentSteps) {
    return error("agent max_steps " + std::to_string(task.max_steps) +
                 " is out of range — use 1 to " + std::to_string(kMaxAgentSteps) +
                 ", or 0 for the model's agent_max_steps");
  }
  if (!is_identifier(task.connector, true)) {
    return error("agent connector " + quote(task.connector) +
                 " is not a connector name — name one declared under connectors");
  }
  const std::string prefix = task.connector + ".";
  std::vector<std::string> own;
  std::vector<std::string> connectors;
  for (const std::string& action : known_actions) {
    if (action.starts_with(prefix)) own.push_back(action);
    std::string connector = action.substr(0, action.find('.'));
    if (std::find(connectors.begin(), connectors.end(), connector) == connectors.end()) {
      connectors.push_back(connector);
    }
  }
  if (!known_actions.empty() && own.empty()) {
    return error("agent connector " + quote(task.connector) + " has no actions" +
                 did_you_mean(task.connector, connectors) +
                 " — name a connector declared under connectors (" + join(connectors, ", ") + ")");
  }
  for (const std::string& allowed : task.allow) {
    if (!allowed.starts_with(prefix)) {
      return error("agent allows " + quote(allowed) + ", which is not an action of its connector " +
                   quote(task.connector) + " — an agent step uses only its own connector's " +
                   "actions; allow " + prefix + "<action> or make another step for it");
    }
    if (!known_actions.empty() && std::find(own.begin(), own.end(), allowed) == own.end()) {
      return error("agent allows unknown action " + quote(allowed) + did_you_mean(allowed, own) +
                   " — allow actions " + quote(task.connector) + " declares");
    }
  }
  return {};
}

}  // namespace

Status validate_plan(const Plan& plan, const std::vector<std::string>& known_actions) {
  std::map<std::string, size_t> index;
  std::vector<std::string> ids;
  for (size_t i = 0; i < plan.steps.size(); ++i) {
    const Step& step = plan.steps[i];
    auto [it, inserted] = index.emplace(step.id, i);
    if (!inserted) {
      return fail(ErrorCode::kInvalidInput, step_label(step) + ": id is already used by step " +
                                                std::to_string(it->second + 1) +
                                                " — give each step a unique id");
    }
    ids.push_back(step.id);
  }

  for (const Step& step : plan.steps) {
    for (const std::string& need : step.needs) {
      if (index.count(need)) continue;
      std::string hint = did_you_mean(need, ids);
      return fail(ErrorCode::kInvalidInput, step_label(step) + ": needs " + quote(need) +
                                                ", which is not a step of this plan" + hint +
                                                " — list ids of steps in this plan");
    }
    if (step.kind == StepKind::kAction && !known_actions.empty() &&
        std::find(known_actions.begin(), known_actions.end(), step.action) == known_actions.end()) {
      std::string hint = did_you_mean(step.action, known_actions);
      return fail(ErrorCode::kInvalidInput, step_label(step) + ": unknown action " +
                                                quote(step.action) + hint +
                                                " — use an action a connector declares");
    }
    if (step.kind == StepKind::kAgent) {
      if (auto ok = validate_agent(step, known_actions); !ok) return ok;
    }
  }

  // Depth-first search in declaration order, iterative so a long chain of
  // steps cannot exhaust the stack; a grey node met again closes a cycle.
  enum class Mark { kWhite, kGrey, kBlack };
  std::vector<Mark> marks(plan.steps.size(), Mark::kWhite);
  for (size_t root = 0; root < plan.steps.size(); ++root) {
    if (marks[root] != Mark::kWhite) continue;
    std::vector<std::pair<size_t, size_t>> path = {{root, 0}};  // node, next `needs` entry
    marks[root] = Mark::kGrey;
    while (!path.empty()) {
      auto& [node, next_need] = path.back();
      const std::vector<std::string>& needs = plan.steps[node].needs;
      if (next_need == needs.size()) {
        marks[node] = Mark::kBlack;
        path.pop_back();
        continue;
      }
      size_t next = index.at(needs[next_need++]);
      if (marks[next] == Mark::kWhite) {
        marks[next] = Mark::kGrey;
        path.push_back({next, 0});
        continue;
      }
      if (marks[next] != Mark::kGrey) continue;
      // The path follows `needs` edges (a needs b); print it in run order
      // (b -> a), starting and ending at the step that closes the cycle.
      std::vector<std::string> names = {plan.steps[next].id};
      for (size_t i = path.size(); i-- > 0;) {
        names.push_back(plan.steps[path[i].first].id);
        if (path[i].first == next) break;
      }
      if (names.size() > 12) {  // keep the message readable: the ends and the length
        size_t steps = names.size() - 1;
        names.erase(names.begin() + 6, names.end() - 3);
        names.insert(names.begin() + 6, "... (" + std::to_string(steps) + " steps)");
      }
      return fail(ErrorCode::kInvalidInput, step_label(plan.steps[next]) + ": needs form a cycle " +
                                                join(names, " -> ") +
                                                " — remove one of these needs");
    }
  }

  std::set<std::string> declared;
  for (const SlotSpec& slot : plan.slot_specs) {
    if (!declared.insert(slot.name).second) {
      return fail(ErrorCode::kInvalidInput,
                  "slot '" + slot.name + "' is declared twice — declare each slot once");
    }
  }
  std::set<std::string> asked;
  for (const Question& question : plan.questions) {
    if (!declared.count(question.slot)) {
      std::vector<std::string> names(declared.begin(), declared.end());
      return fail(ErrorCode::kInvalidInput, "question for slot '" + question.slot +
                                                "', which the plan does not declare" +
                                                did_you_mean(question.slot, names) +
                                                " — declare it in slot_specs or drop the question");
    }
    asked.insert(question.slot);
  }
  for (const SlotSpec& slot : plan.slot_specs) {
    if (!slot.required || asked.count(slot.name)) continue;
    if (plan.slots.is_object() && plan.slots.contains(slot.name) &&
        !plan.slots[slot.name].is_null()) {
      continue;
    }
    return fail(ErrorCode::kInvalidInput, "required slot '" + slot.name +
                                              "' has no value and no question — set slots." +
                                              slot.name + " or add a question for it");
  }
  return {};
}

std::vector<std::string> topological_order(const Plan& plan) {
  // Kahn's algorithm with a min-heap of declaration indices: among the steps
  // that are ready, the one declared first goes first.
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < plan.steps.size(); ++i) index.emplace(plan.steps[i].id, i);
  std::vector<size_t> pending(plan.steps.size(), 0);
  std::vector<std::vector<size_t>> dependents(plan.steps.size());
  for (size_t i = 0; i < plan.steps.size(); ++i) {
    for (const std::string& need : plan.steps[i].needs) {
      auto it = index.find(need);
      if (it == index.end()) continue;
      ++pending[i];
      dependents[it->second].push_back(i);
    }
  }
  std::priority_queue<size_t, std::vector<size_t>, std::greater<>> ready;
  for (size_t i = 0; i < plan.steps.size(); ++i) {
    if (pending[i] == 0) ready.push(i);
  }
  std::vector<std::string> order;
  while (!ready.empty()) {
    size_t node = ready.top();
    ready.pop();
    order.push_back(plan.steps[node].id);
    for (size_t dependent : dependents[node]) {
      if (--pending[dependent] == 0) ready.push(dependent);
    }
  }
  return order;  // steps on a cycle never become ready and are left out
}

}  // namespace ergon
