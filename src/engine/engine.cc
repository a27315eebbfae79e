#include "ergon/engine.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cassert>
#include <charconv>
#include <cmath>
#include <map>
#include <optional>
#include <random>
#include <set>

#include "ergon/agent.h"
#include "ergon/expression.h"
#include "ergon/planner.h"

namespace ergon {
namespace {

constexpr int kWholeStep = -1;
// How long events of read-only steps may wait in memory before a commit.
constexpr int64_t kCommitIntervalMs = 50;

// Identifies one execution of a step: the whole step, or one for_each item.
struct ItemKey {
  std::string step;
  int item = kWholeStep;
  auto operator<=>(const ItemKey&) const = default;
};

ItemKey key_of(const Json& data) {
  return {data.value("step", std::string()), data.value("item", kWholeStep)};
}

// A completed action that can be undone, in the order it happened.
struct SagaEntry {
  ItemKey key;
  std::string action;
  Json args;
  Json result;
};

// An action whose request may have reached the system but whose outcome was
// never journaled (the process died in between).
struct InFlight {
  std::string action;
  Json args;
  std::string idempotency_key;
};

// How a step ended, for the step loop.
enum class StepEnd { kDone, kSkipped, kAbort, kWait, kRetry };

std::string describe(const ItemKey& key) {
  return key.item == kWholeStep ? fmt::format("step '{}'", key.step)
                                : fmt::format("step '{}' item {}", key.step, key.item + 1);
}

// Runs a session's steps between the connectors' begin_session and
// end_session, so per-session state (a browser) lives exactly that long.
template <typename Body>
Result<SessionReport> with_connectors(const ConnectorSet& connectors, const std::string& session,
                                      Body&& body) {
  for (Connector* connector : connectors.all()) connector->begin_session(session);
  Result<SessionReport> report = body();
  bool finished = report && report->status != SessionStatus::kWaiting;
  for (Connector* connector : connectors.all()) connector->end_session(session, finished);
  return report;
}

// The Lua sandbox of the calling thread, which the runs it carries out share in
// turn: starting a Lua state per session cost more than a short session's
// steps. Every evaluation starts from fresh globals, so runs cannot see each
// other's values.
Sandbox& thread_sandbox() {
  thread_local Sandbox sandbox;
  return sandbox;
}

// Appends every string in `value` (object keys and string values, unescaped),
// each followed by a newline: what the secret check searches.
void append_strings(const Json& value, std::string& out) {
  if (value.is_string()) {
    out += value.get_ref<const std::string&>();
    out += '\n';
  } else if (value.is_array()) {
    for (const Json& element : value) append_strings(element, out);
  } else if (value.is_object()) {
    for (const auto& [key, element] : value.get_ref<const Json::object_t&>()) {
      out += key;
      out += '\n';
      append_strings(element, out);
    }
  }
}

// JSON already written in canonical form, with its strings (append_strings).
struct CanonicalText {
  std::string text;
  std::string strings;
};

// An event's data written straight into canonical JSON, for the events every
// call records: building a Json only to serialise it cost more than the rest
// of a read step. Fields must be added in the byte order of their keys, the
// order canonical_json writes them in.
class EventText {
 public:
  EventText& text(std::string_view key, std::string_view value) {
    start(key);
    append_json_string(out_.text, value);
    keep(value);
    return *this;
  }
  EventText& number(std::string_view key, int64_t value) {
    start(key);
    std::array<char, 24> digits{};
    out_.text.append(digits.data(), std::to_chars(digits.begin(), digits.end(), value).ptr);
    return *this;
  }
  EventText& boolean(std::string_view key, bool value) {
    start(key);
    out_.text += value ? "true" : "false";
    return *this;
  }
  EventText& json(std::string_view key, const Json& value) {
    start(key);
    append_canonical_json(out_.text, value);
    append_strings(value, out_.strings);
    return *this;
  }
  EventText& canonical(std::string_view key, const CanonicalText& value) {
    start(key);
    out_.text += value.text;
    out_.strings += value.strings;
    return *this;
  }
  // Closes the object and hands it over; the EventText is spent.
  CanonicalText finish() {
    out_.text += '}';
    return std::move(out_);
  }

 private:
  void start(std::string_view key) {
    assert(last_key_.empty() || last_key_ < key);  // canonical order
    out_.text += last_key_.empty() ? "" : ",";
    append_json_string(out_.text, key);
    out_.text += ':';
    keep(key);
    last_key_ = key;
  }
  void keep(std::string_view text) {
    out_.strings += text;
    out_.strings += '\n';
  }

  CanonicalText out_ = [] {
    CanonicalText out;
    out.text.reserve(256);
    out.strings.reserve(256);
    out.text += '{';
    return out;
  }();
  std::string_view last_key_;  // keys are string literals
};

// The guard chain's decisions, [{guard, reason, verdict}].
CanonicalText decisions_text(const std::vector<Decision>& decisions) {
  CanonicalText list;
  list.text.reserve(128 * decisions.size());
  list.strings.reserve(128 * decisions.size());
  list.text += '[';
  for (const Decision& d : decisions) {
    const char* verdict = to_string(d.verdict);
    list.text += list.text.size() > 1 ? R"(,{"guard":)" : R"({"guard":)";
    append_json_string(list.text, d.guard);
    list.text += R"(,"reason":)";
    append_json_string(list.text, d.reason);
    list.text += R"(,"verdict":)";
    append_json_string(list.text, verdict);
    list.text += '}';
    for (std::string_view text :
         {std::string_view("guard"), std::string_view(d.guard), std::string_view("reason"),
          std::string_view(d.reason), std::string_view("verdict"), std::string_view(verdict)}) {
      list.strings += text;
      list.strings += '\n';
    }
  }
  list.text += ']';
  return list;
}

std::string truncate(std::string text, size_t max = 200) {
  if (text.size() > max) text = text.substr(0, max) + "...";
  return text;
}

}  // namespace

std::string new_session_id() {
  // Opening the device costs more than reading it; each id still takes fresh
  // entropy, so forked processes do not repeat each other's ids.
  thread_local std::random_device device;
  uint64_t bits = (static_cast<uint64_t>(device()) << 32) | device();
  return fmt::format("s-{:012x}", bits & 0xffffffffffffULL);
}

Json to_json(const SessionReport& report) {
  Json questions = Json::array();
  for (const Question& q : report.questions)
    questions.push_back({{"slot", q.slot}, {"text", q.text}});
  return {{"session", report.session},
          {"status", to_string(report.status)},
          {"error", report.error},
          {"questions", questions},
          {"steps", report.steps},
          {"slots", report.slots},
          {"actions", report.actions},
          {"approvals_asked", report.approvals_asked},
          {"approvals_granted", report.approvals_granted},
          {"denials", report.denials},
          {"retries", report.retries},
          {"compensations", report.compensations},
          {"model", to_json(report.model)},
          {"head", report.head}};
}

// One session being carried out: its plan, working memory and what the
// journal says has already happened. Lives for one start() or resume().
class Engine::Run {
 public:
  Run(const EngineParts& parts, const std::function<void(const Event&)>& sink,
      const std::function<std::string(const std::string&)>& stop_when, std::string session)
      : parts_(parts), sink_(sink), stop_when_(stop_when), session_(std::move(session)) {
    report_.session = session_;
  }

  Status begin(const Plan& plan, const Json& model_calls, const Principal& principal) {
    plan_ = plan;
    principal_ = principal;
    init_memory();
    if (auto s = journal(event::kSessionStarted, {{"goal", plan.goal},
                                                  {"workspace", parts_.workspace->dir},
                                                  {"principal", principal_.id},
                                                  {"roles", principal_.roles}});
        !s) {
      return s;
    }
    Json made = {{"plan", to_json(plan_)}};
    if (model_calls.is_array() && !model_calls.empty()) {
      made["model_calls"] = model_calls;
      count_model_calls(model_calls);
    }
    if (auto s = journal(event::kPlanMade, std::move(made)); !s) return s;
    started_ = true;
    return commit();
  }

  // Rebuilds the session's state from its journal.
  Status replay(const std::vector<Event>& events) {
    bool have_plan = false;
    for (const Event& e : events) {
      const Json& d = e.data;
      if (e.type == event::kSessionStarted) {
        principal_.id = d.value("principal", principal_.id);
        principal_.roles = d.value("roles", std::vector<std::string>());
      } else if (e.type == event::kPlanMade) {
        auto plan = plan_from_json(d.at("plan"));
        if (!plan) return fail(plan.error().with_context("journal: plan_made: "));
        plan_ = std::move(*plan);
        init_memory();
        have_plan = true;
        if (auto calls = d.find("model_calls"); calls != d.end()) count_model_calls(*calls);
      } else if (e.type == event::kModelCall) {
        report_.model += usage_from_json(d.value("usage", Json::object()));
      } else if (e.type == event::kAgentTurn) {
        agent_turns_[d.value("step", "")].push_back(d);
      } else if (e.type == event::kAnswer) {
        memory_["slots"][d.value("slot", "")] = d.at("value");
      } else if (e.type == event::kStepState) {
        ItemKey key = key_of(d);
        std::string state = d.value("state", "");
        if (state == "done" || state == "skipped") {
          Json result = d.contains("result") ? d["result"] : results_[key];
          finished_[key] = {{"state", state}, {"result", std::move(result)}};
          in_flight_.erase(key);
          results_.erase(key);
          if (key.item == kWholeStep) memory_["steps"][key.step] = finished_[key];
        }
      } else if (e.type == event::kApproval) {
        if (d.value("answer", "") == "all") yes_to_all_.insert(d.value("action", ""));
        ++report_.approvals_asked;
        if (d.value("approved", false)) ++report_.approvals_granted;
      } else if (e.type == event::kIntent || e.type == event::kActionStarted) {
        ItemKey key = key_of(d);
        in_flight_[key] = {d.value("action", ""), d.value("args", Json::object()),
                           d.value("idempotency_key", "")};
        if (d.contains("charges")) ergon::apply(usage_, charges_from_json(d["charges"]));
        if (e.type == event::kActionStarted) ++report_.actions;
      } else if (e.type == event::kOutcome) {
        ItemKey key = key_of(d);
        if (d.value("ok", false)) {
          in_flight_.erase(key);
          results_[key] = d.value("result", Json());
          if (d.value("confirmed_by_person", false)) confirmed_by_person_.insert(key);
          remember_for_saga(key, d.value("action", ""), d.value("args", Json::object()),
                            results_[key]);
        } else {
          in_flight_.erase(key);
        }
      } else if (e.type == event::kDone) {
        in_flight_.erase(key_of(d));
      } else if (e.type == event::kCompensation) {
        ItemKey key = key_of(d);
        std::erase_if(saga_, [&](const SagaEntry& s) { return s.key == key; });
        ++report_.compensations;
      } else if (e.type == event::kSessionEnded) {
        ended_ = d.value("status", "done");
      }
    }
    if (!have_plan) {
      return fail(ErrorCode::kFailedPrecondition,
                  "session " + session_ + " has no plan in its journal; nothing to resume");
    }
    return {};
  }

  const std::string& ended() const { return ended_; }

  Status answer(const Json& answers) {
    for (const auto& [slot, value] : answers.items()) {
      Json parsed = value;
      if (const SlotSpec* spec = slot_spec(slot); spec != nullptr && value.is_string()) {
        auto v = parse_slot_value(*spec, value.get<std::string>());
        if (!v) return fail(v.error().with_context("answer for '" + slot + "': "));
        parsed = *v;
      }
      if (auto s = journal(event::kAnswer, {{"slot", slot}, {"value", parsed}}); !s) return s;
      memory_["slots"][slot] = parsed;
      answers_[slot] = parsed;
    }
    return {};
  }

  Result<SessionReport> execute() {
    // A session begun by this run was created running.
    if (!started_) {
      if (auto s = parts_.store->set_status(session_, SessionStatus::kRunning); !s) {
        return fail(s.error());
      }
    }
    if (std::string why = stop_reason(); !why.empty()) return abort(why);
    if (auto end = ask_open_questions(); !end)
      return fail(end.error());
    else if (*end == StepEnd::kWait)
      return finish(SessionStatus::kWaiting, "");

    for (const std::string& id : topological_order(plan_)) {
      const Step& step = *plan_.step(id);
      if (auto it = finished_.find({id, kWholeStep}); it != finished_.end()) continue;
      if (std::string why = stop_reason(); !why.empty()) return abort(why);
      auto end = run_step(step);
      if (!end) return fail(end.error());
      if (parts_.clock->now_ms() - last_commit_ms_ >= kCommitIntervalMs) {
        if (auto s = commit(); !s) return fail(s.error());
      }
      if (*end == StepEnd::kWait) return finish(SessionStatus::kWaiting, "");
      if (*end == StepEnd::kAbort) {
        if (auto s = compensate(); !s) return fail(s.error());
        return finish(SessionStatus::kAborted, error_);
      }
    }
    return finish(SessionStatus::kDone, "");
  }

  std::string stop_reason() const { return stop_when_ ? stop_when_(session_) : ""; }

  // Ends the session as aborted for `why`, compensating what it completed.
  Result<SessionReport> abort(const std::string& why) {
    error_ = why;
    if (auto s = compensate(); !s) return fail(s.error());
    return finish(SessionStatus::kAborted, error_);
  }

 private:
  void init_memory() {
    memory_ = {{"goal", plan_.goal},
               {"session", session_},
               {"slots", plan_.slots},
               {"steps", Json::object()}};
    report_.slots = plan_.slots;
  }

  const SlotSpec* slot_spec(const std::string& name) const {
    for (const SlotSpec& s : plan_.slot_specs) {
      if (s.name == name) return &s;
    }
    return nullptr;
  }

  // Records one event (secrets redacted) and shows it to the sink. Events
  // are buffered and written in one transaction at the next commit point, so
  // the store's write lock is never held across a call to the outside world.
  // Each event is serialised once, here: the store hashes and keeps that text.
  Status journal(const char* type, Json data) {
    strings_.clear();
    append_strings(data, strings_);
    if (may_hold_secret(strings_)) data = parts_.vault->redact(data);
    pending_.emplace_back(type, canonical_json(data));
    if (sink_) sink_(Event{0, session_, type, parts_.clock->now_ms(), std::move(data), "", ""});
    return {};
  }

  // journal() for data already written as canonical text.
  Status journal(const char* type, EventText data) {
    CanonicalText written = data.finish();
    if (may_hold_secret(written.strings)) return journal(type, Json::parse(written.text));
    if (sink_) {
      sink_(Event{0, session_, type, parts_.clock->now_ms(), Json::parse(written.text), "", ""});
    }
    pending_.emplace_back(type, std::move(written.text));
    return {};
  }

  // False when redacting an event would change nothing: no secret the vault
  // has handed out occurs in any of its strings (keys and values, joined by
  // append_strings). Each appears there verbatim, so one search of one string
  // decides, rather than redact()'s copy of the whole event.
  bool may_hold_secret(const std::string& strings) const {
    return parts_.vault->redact(strings) != strings;
  }

  // A commit point: everything recorded so far becomes durable. Called before
  // any action that changes the world, before a person is asked, before a
  // backoff sleep and when the session stops; after read steps only once
  // kCommitIntervalMs has passed (a crash re-runs those reads on resume).
  Status commit() { return commit_with(std::nullopt); }

  // commit(), setting the session's status in the same transaction when
  // `status` is given, so the status is never seen without the events.
  Status commit_with(std::optional<SessionStatus> status) {
    if (pending_.empty()) return status ? parts_.store->set_status(session_, *status) : Status{};
    if (auto s = parts_.store->begin_batch(); !s) return fail(s.error().with_context("journal: "));
    for (const auto& [type, data] : pending_) {
      auto hash = parts_.store->append_canonical(session_, type, data);
      if (!hash) return fail(hash.error().with_context("journal: "));
      report_.head = std::move(*hash);
    }
    pending_.clear();
    last_commit_ms_ = parts_.clock->now_ms();
    if (status) {
      if (auto s = parts_.store->set_status(session_, *status); !s) return s;
    }
    if (auto s = parts_.store->commit_batch(); !s) return fail(s.error().with_context("journal: "));
    return {};
  }

  Result<SessionReport> finish(SessionStatus status, const std::string& error) {
    report_.status = status;
    report_.error = error;
    // The run ends here: its memory can move into the report.
    report_.slots = std::move(memory_["slots"]);
    report_.steps = std::move(memory_["steps"]);
    if (status != SessionStatus::kWaiting) {
      Json summary = {{"status", to_string(status)},
                      {"error", error},
                      {"actions", report_.actions},
                      {"compensations", report_.compensations}};
      if (auto s = journal(event::kSessionEnded, summary); !s) return fail(s.error());
    }
    if (auto s = commit_with(status); !s) return fail(s.error());
    return std::move(report_);
  }

  // Asks for the slots the planner could not fill.
  Result<StepEnd> ask_open_questions() {
    for (const Question& q : plan_.questions) {
      if (memory_["slots"].contains(q.slot)) continue;
      const SlotSpec* spec = slot_spec(q.slot);
      QuestionRequest request{session_, q.slot, q.text,
                              spec ? spec->choices : std::vector<std::string>{}};
      Result<Json> value = fail(ErrorCode::kUnavailable, "");
      for (int tries = 0; tries < 3; ++tries) {
        if (auto s = commit(); !s) return fail(s.error());
        auto text = parts_.approver->answer(request);
        if (!text) break;
        if (spec == nullptr) {
          value = Json(*text);
          break;
        }
        value = parse_slot_value(*spec, *text);
        if (value) break;
        request.text = q.text + " (" + value.error().message + ")";
      }
      if (!value) {
        if (auto s = journal(event::kQuestion, {{"slot", q.slot}, {"text", q.text}}); !s) {
          return fail(s.error());
        }
        report_.questions.push_back(q);
        continue;
      }
      if (auto s = answer({{q.slot, *value}}); !s) return fail(s.error());
    }
    return report_.questions.empty() ? StepEnd::kDone : StepEnd::kWait;
  }

  Result<StepEnd> run_step(const Step& step) {
    memory_.erase("item");
    memory_.erase("index");
    if (!step.when.empty()) {
      auto go = sandbox_.test(step.when, memory_);
      if (!go) return fail_step(step, kWholeStep, go.error().with_context("when: "));
      if (!*go) return skip({step.id, kWholeStep}, "when is false: " + step.when);
    }
    Json result;
    if (!step.for_each.empty()) {
      auto list = sandbox_.eval(step.for_each, memory_);
      if (!list) return fail_step(step, kWholeStep, list.error().with_context("for_each: "));
      if (list->is_object() && list->empty()) *list = Json::array();
      if (!list->is_array()) {
        return fail_step(step, kWholeStep,
                         Error{ErrorCode::kFailedPrecondition,
                               "for_each: expected a list, got " + truncate(list->dump())});
      }
      result = Json::array();
      for (size_t i = 0; i < list->size(); ++i) {
        ItemKey key{step.id, static_cast<int>(i)};
        if (auto it = finished_.find(key); it != finished_.end()) {
          result.push_back(it->second["result"]);
          continue;
        }
        if (std::string why = stop_reason(); !why.empty()) {
          error_ = why;  // execute() compensates and ends the session
          return StepEnd::kAbort;
        }
        memory_["item"] = (*list)[i];
        memory_["index"] = i + 1;
        auto end = run_body(step, key);
        if (!end) return fail(end.error());
        if (*end == StepEnd::kAbort || *end == StepEnd::kWait) return *end;
        result.push_back(finished_[key]["result"]);
      }
      memory_.erase("item");
      memory_.erase("index");
    } else {
      auto end = run_body(step, {step.id, kWholeStep});
      if (!end) return fail(end.error());
      if (*end != StepEnd::kDone) return *end;
      return StepEnd::kDone;  // run_body recorded the whole step
    }
    return complete({step.id, kWholeStep}, result);
  }

  static std::string failed_slot(const ItemKey& key) {
    return "failed:" + key.step + (key.item == kWholeStep ? "" : ":" + std::to_string(key.item));
  }

  // Runs one execution of the step's body, applying on_fail to failures.
  Result<StepEnd> run_body(const Step& step, const ItemKey& key) {
    // A person answered an earlier failure of this step ("retry, skip or
    // abort?") through resume: running it again is the retry.
    if (auto it = answers_.find(failed_slot(key)); it != answers_.end()) {
      std::string choice = it->second.is_string() ? it->second.get<std::string>() : "";
      answers_.erase(it);
      if (choice == "skip" || choice == "s")
        return skip(key, "a person chose to skip it after it failed");
      if (choice == "abort" || choice == "a") {
        if (auto s = journal(event::kStepState, {{"step", step.id},
                                                 {"item", key.item},
                                                 {"state", "failed"},
                                                 {"error", "a person chose to abort"}});
            !s) {
          return fail(s.error());
        }
        error_ = describe(key) + ": a person chose to abort after it failed";
        return StepEnd::kAbort;
      }
    }
    while (true) {
      Result<Json> result = body(step, key);
      if (waiting_) return StepEnd::kWait;
      if (result) {
        if (auto s = complete(key, *result, step.kind == StepKind::kAction); !s) {
          return fail(s.error());
        }
        return StepEnd::kDone;
      }
      auto end = fail_step(step, key.item, result.error());
      if (!end || *end != StepEnd::kRetry) return end;  // skipped, aborted or waiting
    }
  }

  // Records a finished execution. `in_outcome`: the result is already in the
  // journal as an action's outcome, so it is not written twice.
  Result<StepEnd> complete(const ItemKey& key, const Json& result, bool in_outcome = false) {
    EventText data;
    data.number("item", key.item);
    if (!in_outcome) data.json("result", result);
    data.text("state", "done").text("step", key.step);
    if (auto s = journal(event::kStepState, std::move(data)); !s) return fail(s.error());
    Json state = Json::object();
    state["state"] = "done";
    state["result"] = result;
    if (key.item == kWholeStep) memory_["steps"][key.step] = state;
    finished_[key] = std::move(state);
    return StepEnd::kDone;
  }

  Result<StepEnd> skip(const ItemKey& key, const std::string& why) {
    Json state = {{"state", "skipped"}, {"result", nullptr}};
    if (auto s = journal(
            event::kStepState,
            {{"step", key.step}, {"item", key.item}, {"state", "skipped"}, {"detail", why}});
        !s) {
      return fail(s.error());
    }
    finished_[key] = state;
    if (key.item == kWholeStep) memory_["steps"][key.step] = state;
    return StepEnd::kSkipped;
  }

  // Applies the step's on_fail to an error: kRetry (a person said so),
  // kSkipped, or kAbort.
  Result<StepEnd> fail_step(const Step& step, int item, const Error& error) {
    ItemKey key{step.id, item};
    std::string message = describe(key) + ": " + error.message;
    if (!step.loc.file.empty()) message += " (" + step.loc.str() + ")";
    OnFail on_fail = step.on_fail;
    if (on_fail == OnFail::kAsk) {
      QuestionRequest request{
          session_, "", message + " — retry, skip or abort?", {"retry", "skip", "abort"}};
      request.slot = failed_slot(key);
      if (auto s = commit(); !s) return fail(s.error());
      auto answer = parts_.approver->answer(request);
      if (!answer) {
        // Nobody here to decide: the session waits; resume's answer decides.
        if (auto s = journal(event::kQuestion,
                             {{"slot", request.slot}, {"text", request.text}, {"step", step.id}});
            !s) {
          return fail(s.error());
        }
        report_.questions.push_back({request.slot, request.text});
        waiting_ = true;
        return StepEnd::kWait;
      }
      std::string choice = *answer;
      if (choice == "retry" || choice == "r") return StepEnd::kRetry;
      if (choice == "skip" || choice == "s")
        on_fail = OnFail::kSkip;
      else
        on_fail = OnFail::kAbort;
    }
    if (on_fail == OnFail::kSkip) {
      return skip(key, "failed: " + error.message);
    }
    if (auto s = journal(event::kStepState, {{"step", step.id},
                                             {"item", item},
                                             {"state", "failed"},
                                             {"error", error.message},
                                             {"code", to_string(error.code)}});
        !s) {
      return fail(s.error());
    }
    error_ = message;
    return StepEnd::kAbort;
  }

  Result<Json> body(const Step& step, const ItemKey& key) {
    switch (step.kind) {
      case StepKind::kCompute: return sandbox_.run(step.compute, memory_);
      case StepKind::kAsk: return ask_step(step);
      case StepKind::kAction: return act(step, key);
      case StepKind::kAgent: return run_agent(step);
    }
    return fail(ErrorCode::kInternal, "unknown step kind");
  }

  // Sums the planner's model calls (plan_made's model_calls) into the report.
  void count_model_calls(const Json& calls) {
    if (!calls.is_array()) return;
    for (const Json& call : calls) {
      if (call.is_object()) report_.model += usage_from_json(call.value("usage", Json::object()));
    }
  }

  // Journals one call to the model and counts it.
  Status journal_model_call(const std::string& step, int turn, const std::string& purpose,
                            const Result<ChatResponse>& response) {
    Json data = {{"step", step},
                 {"turn", turn},
                 {"purpose", purpose},
                 {"model", parts_.model->config().model},
                 {"ok", response.has_value()}};
    if (response) {
      data["usage"] = to_json(response->usage);
      report_.model += response->usage;
    } else {
      data["error"] = response.error().message;
      // A failed call still took an attempt: count it, with no tokens.
      ModelUsage failed;
      failed.calls = 1;
      data["usage"] = to_json(failed);
      report_.model += failed;
    }
    return journal(event::kModelCall, std::move(data));
  }

  // An agent step (ergon/agent.h): observe → the model picks an action →
  // guards → act, until the model says done or fail, or the budget is spent.
  // Each turn's choice is journaled (agent_turn) before its call is guarded;
  // the call runs as item turn-1 of the step, so a resumed session knows
  // which turns happened and does not repeat them.
  Result<Json> run_agent(const Step& step) {
    const AgentTask& task = step.agent;
    std::string where = "agent step '" + step.id + "'";
    if (parts_.model == nullptr) {
      return fail(ErrorCode::kFailedPrecondition,
                  where +
                      " needs a language model: configure `model:` in ergon.yaml "
                      "(docs/model.md)");
    }
    Connector* connector = parts_.connectors->connector(task.connector);
    if (connector == nullptr) {
      return fail(ErrorCode::kNotFound, where + ": no connector named '" + task.connector + "'");
    }
    std::vector<const ActionSpec*> actions;
    for (const ActionSpec& spec : connector->actions()) actions.push_back(&spec);
    auto goal = sandbox_.render(Json(task.goal), memory_);
    if (!goal) return fail(goal.error().with_context(where + ": goal: "));

    const ModelConfig& config = parts_.model->config();
    AgentState state;
    state.goal = goal->is_string() ? goal->get<std::string>() : goal->dump();
    state.plan_goal = plan_.goal;
    state.actions = &actions;
    state.allow = task.allow;
    state.secrets = secret_names(*parts_.workspace, *parts_.vault);
    state.max_steps = task.max_steps > 0 ? task.max_steps : config.agent_max_steps;

    // Turns a resumed session already took. A turn whose call has no outcome
    // yet runs again through perform(), which knows how to recover it.
    std::optional<ActionCall> unfinished;
    for (const Json& turn : agent_turns_[step.id]) {
      std::string kind = turn.value("kind", "act");
      if (kind != "act") {
        if (kind == "done")
          return Json{{"status", "done"},
                      {"summary", turn.value("summary", "")},
                      {"answer", turn.value("answer", Json())},
                      {"turns", turn.value("turn", 0)}};
        return fail(ErrorCode::kFailedPrecondition,
                    where + ": the agent gave up: " + turn.value("summary", ""));
      }
      AgentTurn past;
      past.index = turn.value("turn", 0);
      past.thought = turn.value("thought", "");
      past.action = turn.value("action", "");
      past.args = turn.value("args", Json::object());
      past.element = turn.value("element", -1);
      ItemKey key{step.id, past.index - 1};
      auto result = results_.find(key);
      past.ok = result != results_.end();
      past.outcome = past.ok ? truncate(result->second.dump()) : "failed";
      // Cut short by a crash, or waiting for the person whose answer came
      // with this resume: either way the turn's call goes on.
      if (in_flight_.contains(key) || (!past.ok && answers_.contains(person_slot(key)))) {
        unfinished = ActionCall{past.action, past.args, ""};
      }
      state.history.push_back(std::move(past));
    }
    if (unfinished) {
      // The last journaled turn was cut short: finish it before asking anew.
      AgentTurn& last = state.history.back();
      Result<Json> result = perform(std::move(*unfinished), step, {step.id, last.index - 1});
      if (waiting_) return fail(ErrorCode::kUnavailable, "waiting for a person");
      last.ok = result.has_value();
      last.outcome = truncate(result ? result->dump() : result.error().message);
    }

    LoopDetector loops;
    int failures = 0;  // in a row
    int replans = 0;
    constexpr int kFailuresBeforeReplan = 3;
    constexpr int kMaxReplans = 2;
    for (int turn = static_cast<int>(state.history.size()) + 1;; ++turn) {
      ItemKey key{step.id, turn - 1};
      if (turn > state.max_steps) {
        return fail(ErrorCode::kFailedPrecondition,
                    fmt::format("{}: the agent used its budget of {} actions without finishing; "
                                "raise agent.max_steps or split the task",
                                where, state.max_steps));
      }
      state.step = turn;
      auto observation = connector->observe();
      if (!observation) return fail(observation.error().with_context(where + ": observe: "));
      auto decision = decide(state, *observation, actions, step.id, turn, config);
      if (!decision) return fail(decision.error().with_context(where + ": "));
      Json record = {{"step", step.id},
                     {"turn", turn},
                     {"thought", decision->thought},
                     {"kind", decision->kind == AgentDecision::Kind::kAct    ? "act"
                              : decision->kind == AgentDecision::Kind::kDone ? "done"
                                                                             : "fail"}};
      if (decision->kind != AgentDecision::Kind::kAct) {
        record["summary"] = decision->summary;
        if (decision->kind == AgentDecision::Kind::kDone) record["answer"] = decision->answer;
        if (auto s = journal(event::kAgentTurn, std::move(record)); !s) return fail(s.error());
        if (decision->kind == AgentDecision::Kind::kFail) {
          return fail(ErrorCode::kFailedPrecondition,
                      where + ": the agent gave up: " + decision->summary);
        }
        Json result = {{"status", "done"},
                       {"summary", decision->summary},
                       {"answer", decision->answer},
                       {"turns", turn}};
        if (auto ok = check_expect(step, Json::object(), result); !ok) return fail(ok.error());
        return result;
      }
      const ActionCall& call = decision->call;
      record["action"] = call.action;
      record["args"] = call.args;
      record["element"] = decision->element;
      if (auto s = journal(event::kAgentTurn, std::move(record)); !s) return fail(s.error());
      state.history.push_back(
          {turn, decision->thought, call.action, call.args, decision->element, false, ""});
      if (loops.record(*observation, call)) {
        state.history.back().outcome =
            "not sent: the same action on the same page again, without progress";
        if (++replans > kMaxReplans) {
          return fail(ErrorCode::kFailedPrecondition, where + ": the agent kept repeating " +
                                                          call.action +
                                                          " on the same page without progress");
        }
        state.replan = "You chose " + call.action +
                       " with the same arguments on the same page several times and nothing "
                       "changed. Choose a different way, or answer \"fail\" with the reason.";
        loops.reset();
        continue;
      }
      Result<Json> result = perform(call, step, key);
      if (waiting_) return fail(ErrorCode::kUnavailable, "waiting for a person");
      AgentTurn& taken = state.history.back();
      taken.ok = result.has_value();
      taken.outcome = truncate(result ? result->dump() : result.error().message);
      if (result) {
        failures = 0;
        state.replan.clear();
        continue;
      }
      if (result.error().code == ErrorCode::kAborted) return result;
      if (++failures >= kFailuresBeforeReplan) {
        if (++replans > kMaxReplans) {
          return fail(result.error().with_context(
              where + ": the agent's actions kept failing; the last: "));
        }
        state.replan = fmt::format(
            "Your last {} actions failed (the last: {}). Rethink the approach from what the page "
            "shows now, or answer \"fail\" with the reason.",
            failures, taken.outcome);
        failures = 0;
      }
    }
  }

  // One turn's decision from the model, with corrections when its answer is
  // invalid (at most config.repair_rounds).
  Result<AgentDecision> decide(const AgentState& state, const Json& observation,
                               const std::vector<const ActionSpec*>& actions,
                               const std::string& step, int turn, const ModelConfig& config) {
    ChatRequest request;
    request.messages = agent_messages(state, observation);
    request.response_format =
        ResponseFormat{"ergon_agent_action", agent_answer_schema(actions), false};
    request.purpose = "agent";
    for (int round = 0;; ++round) {
      Result<ChatResponse> response = parts_.model->chat(request);
      if (auto s = journal_model_call(step, turn, request.purpose, response); !s) {
        return fail(s.error());
      }
      if (!response) return fail(response.error().with_context("the model: "));
      auto decision = parse_agent_answer(response->message.content, state, observation);
      if (decision) return decision;
      if (round >= config.repair_rounds) {
        return fail(decision.error().with_context(fmt::format(
            "the model's answer is still invalid after {} corrections: ", config.repair_rounds)));
      }
      request.messages.push_back({"assistant", response->message.content, {}, ""});
      request.messages.push_back(
          {"user",
           "Your answer is invalid: " + decision.error().message + " Answer again.",
           {},
           ""});
      request.purpose = "repair";
    }
  }

  Result<Json> ask_step(const Step& step) {
    std::string slot = step.ask_slot.empty() ? step.id : step.ask_slot;
    if (auto it = answers_.find(slot); it != answers_.end()) return it->second;
    if (!step.ask_slot.empty() && memory_["slots"].contains(step.ask_slot)) {
      return memory_["slots"][step.ask_slot];
    }
    if (auto s = commit(); !s) return fail(s.error());
    auto text = parts_.approver->answer({session_, slot, step.ask, {}});
    if (!text) {
      if (auto s =
              journal(event::kQuestion, {{"slot", slot}, {"text", step.ask}, {"step", step.id}});
          !s) {
        return fail(s.error());
      }
      report_.questions.push_back({slot, step.ask});
      waiting_ = true;
      return fail(ErrorCode::kUnavailable, "waiting for an answer");
    }
    Json value = *text;
    if (const SlotSpec* spec = slot_spec(step.ask_slot)) {
      auto parsed = parse_slot_value(*spec, *text);
      if (!parsed) return fail(parsed.error());
      value = *parsed;
    }
    if (!step.ask_slot.empty()) {
      if (auto s = answer({{step.ask_slot, value}}); !s) return fail(s.error());
    }
    return value;
  }

  // Guard chain, approval and journal for one call. Returns an error when the
  // call may not run. What each guard said is journaled: as a guard_decision
  // event when a guard denied or asked (before the person is asked), else in
  // the action_started event of the call they let through (see send).
  Status authorize(const ActionCall& call, const ActionSpec& spec, Connector& connector,
                   const Step* step, const ItemKey& key, bool compensation) {
    GuardContext context;
    context.session = session_;
    context.principal = principal_;
    context.spec = &spec;
    context.plan = &plan_;
    context.step = step;
    if (step != nullptr && step->kind == StepKind::kAgent) {
      context.agent = &step->agent;  // the model proposed it; the plan derives nothing
    } else {
      context.expected = Json::object();
      context.expected["action"] = call.action;
      context.expected["args"] = call.args;
    }
    context.slots = &memory_["slots"];
    context.usage = &usage_;
    context.sandbox = &sandbox_;
    if (spec.supports_dry_run) {
      context.dry_run = [&connector, &call] { return connector.dry_run(call); };
    }
    pending_decisions_.reset();
    std::vector<Decision> decisions = parts_.guards->check(call, context);
    CanonicalText list = decisions_text(decisions);
    if (!compensation && !decisions.empty() && decisions.back().verdict == Verdict::kAllow) {
      pending_decisions_ = std::move(list);
    } else {
      EventText data;
      data.text("action", call.action);
      if (compensation) data.boolean("compensation", true);
      data.canonical("decisions", list).number("item", key.item).text("step", key.step);
      if (auto s = journal(event::kGuardDecision, std::move(data)); !s) return s;
    }
    if (decisions.empty()) return fail(ErrorCode::kDenied, "no guard allowed " + call.action);
    const Decision& final = decisions.back();
    if (final.verdict == Verdict::kDeny) {
      ++report_.denials;
      return fail(ErrorCode::kDenied,
                  fmt::format("{} guard denied {}: {}", final.guard, call.action, final.reason));
    }
    if (final.verdict == Verdict::kAsk) {
      ApprovalDecision decision;
      if (!final.needs_person && yes_to_all_.contains(call.action)) {
        decision = {ApprovalAnswer::kYes, "earlier yes-to-all", "approved for the whole session"};
      } else {
        ++report_.approvals_asked;
        // Flush first: the person may take a while, and what led here is durable.
        if (auto s = commit(); !s) return s;
        auto asked = parts_.approver->approve(
            {session_, key.step, call.action, spec.effect, parts_.vault->redact(call.args),
             final.reason, parts_.vault->redact(final.preview), final.needs_person});
        if (!asked) return fail(asked.error());
        decision = *asked;
        if (decision.approved()) ++report_.approvals_granted;
      }
      const char* answer = decision.answer == ApprovalAnswer::kYesToAll ? "all"
                           : decision.approved()                        ? "yes"
                                                                        : "no";
      if (auto s = journal(event::kApproval, {{"step", key.step},
                                              {"item", key.item},
                                              {"action", call.action},
                                              {"args", call.args},
                                              {"approved", decision.approved()},
                                              {"answer", answer},
                                              {"by", decision.by},
                                              {"reason", decision.reason}});
          !s) {
        return s;
      }
      if (decision.answer == ApprovalAnswer::kYesToAll) yes_to_all_.insert(call.action);
      if (!decision.approved()) {
        return fail(ErrorCode::kDenied, fmt::format("{} was not approved (by {}: {})", call.action,
                                                    decision.by, decision.reason));
      }
    }
    pending_charges_ = context.policy.charges;
    return {};
  }

  // Sends the call, retrying retryable errors when that is safe.
  Result<Json> send(const ActionCall& call, const ActionSpec& spec, Connector& connector,
                    const RetryPolicy& retry, bool retry_allowed, const ItemKey& key) {
    int attempts = retry_allowed ? std::max(1, retry.max_attempts) : 1;
    for (int attempt = 1;; ++attempt) {
      EventText started;
      started.text("action", call.action).json("args", call.args).number("attempt", attempt);
      if (attempt == 1 && !pending_charges_.empty()) {
        started.json("charges", to_json(pending_charges_));
        ergon::apply(usage_, pending_charges_);
        pending_charges_.clear();
      }
      if (attempt == 1 && pending_decisions_) {
        started.canonical("decisions", *pending_decisions_);
        pending_decisions_.reset();
      }
      if (!call.idempotency_key.empty()) started.text("idempotency_key", call.idempotency_key);
      started.number("item", key.item).text("step", key.step);
      if (auto s = journal(event::kActionStarted, std::move(started)); !s) return fail(s.error());
      // The request must not reach the system before the journal knows it was sent.
      if (spec.effect != Effect::kRead) {
        if (auto s = commit(); !s) return fail(s.error());
      }
      ++report_.actions;
      Result<Json> result = connector.execute(call);
      EventText outcome;
      outcome.text("action", call.action).json("args", call.args).number("attempt", attempt);
      if (result) {
        outcome.number("item", key.item).boolean("ok", true).json("result", *result);
      } else {
        outcome.text("error", result.error().message).number("item", key.item).boolean("ok", false);
        outcome.boolean("retryable", result.error().retryable());
      }
      outcome.text("step", key.step);
      if (auto s = journal(event::kOutcome, std::move(outcome)); !s) return fail(s.error());
      // Without this outcome a resume would have to ask a person what happened.
      if (spec.effect != Effect::kRead) {
        if (auto s = commit(); !s) return fail(s.error());
      }
      if (result || !result.error().retryable() || attempt >= attempts) {
        if (!result && result.error().retryable() && attempts > 1) {
          return fail(result.error().with_context(fmt::format("after {} attempts: ", attempt)));
        }
        return result;
      }
      double backoff = retry.initial_backoff_ms * std::pow(retry.multiplier, attempt - 1);
      backoff = std::min<double>(backoff, retry.max_backoff_ms);
      ++report_.retries;
      if (auto s = commit(); !s) return fail(s.error());
      parts_.clock->sleep_for(std::chrono::milliseconds(static_cast<int64_t>(backoff)));
    }
  }

  Result<Json> act(const Step& step, const ItemKey& key) {
    auto args = sandbox_.render(step.with, memory_);
    if (!args) return fail(args.error().with_context("arguments: "));
    return perform(ActionCall{step.action, std::move(*args), ""}, step, key);
  }

  // Carries out one call of `step` (derived from the plan, or proposed by the
  // model in an agent step): resume bookkeeping, inspection, guards and
  // approval, sending, asking a person when only one can go on, verifying.
  Result<Json> perform(ActionCall call, const Step& step, const ItemKey& key) {
    auto found = parts_.connectors->find(call.action);
    if (!found) return fail(found.error());
    auto [connector, declared] = *found;
    const ActionSpec* spec = declared;
    std::optional<ActionSpec> adjusted;  // as inspect() re-classified it; `spec` may point here
    if (!spec->idempotency_key.empty()) {
      Json env = {
          {"args", call.args}, {"session", session_}, {"step", key.step}, {"item", key.item}};
      auto rendered = sandbox_.render(Json(spec->idempotency_key), env);
      if (!rendered) return fail(rendered.error().with_context("idempotency_key: "));
      call.idempotency_key =
          rendered->is_string() ? rendered->get<std::string>() : rendered->dump();
    }

    // Resume: the journal may already hold this call's outcome, or show it
    // was sent without an outcome.
    Result<Json> result = fail(ErrorCode::kInternal, "not sent");
    if (auto done = results_.find(key); done != results_.end()) {
      result = done->second;
    } else if (auto flight = in_flight_.find(key); flight != in_flight_.end()) {
      auto recovered = recover_in_flight(call, *spec, *connector, step, key, flight->second);
      if (!recovered) return recovered;
      result = std::move(recovered);
    } else {
      std::string slot = person_slot(key);
      if (auto it = answers_.find(slot); it != answers_.end()) {
        call.person_answer =
            it->second.is_string() ? it->second.get<std::string>() : it->second.dump();
        answers_.erase(it);
        if (call.person_answer == "abort") {
          return fail(ErrorCode::kAborted, "a person chose to abort at " + describe(key));
        }
      }
      auto guarded = inspect_and_authorize(call, *declared, *connector, step, key, adjusted);
      if (!guarded) return fail(guarded.error());
      spec = *guarded;
      auto retry_allowed = [&] {
        return step.on_fail == OnFail::kRetry || spec->effect == Effect::kRead ||
               !call.idempotency_key.empty();
      };
      result = send(call, *spec, *connector, step.retry, retry_allowed(), key);
      // Only a person can clear the way (a CAPTCHA, a login wall, an
      // ambiguous element): ask, then send again with the answer. The answer
      // can change what the call does (the element a person picked may submit
      // a form), so it is inspected and guarded again first.
      while (!result && result.error().code == ErrorCode::kNeedsPerson) {
        auto answer = ask_person(key, slot, result.error().message);
        if (!answer) return fail(answer.error());
        call.person_answer = *answer;
        guarded = inspect_and_authorize(call, *declared, *connector, step, key, adjusted);
        if (!guarded) return fail(guarded.error());
        spec = *guarded;
        result = send(call, *spec, *connector, step.retry, retry_allowed(), key);
      }
      if (!result) return result;
      if (spec->effect == Effect::kIrreversible) {
        if (auto s = journal(event::kDone,
                             {{"step", key.step}, {"item", key.item}, {"action", call.action}});
            !s) {
          return fail(s.error());
        }
      }
      remember_for_saga(key, call.action, call.args, *result);
    }
    // A person who says an interrupted action happened vouches for its effect;
    // there is no result to check.
    if (!confirmed_by_person_.contains(key)) {
      if (auto ok = verify(*spec, step, call.args, *result); !ok) return fail(ok.error());
    }
    return result;
  }

  // Asks the connector about a call before the guards see it. It may refuse
  // the call (journaled as that connector's guard decision) or say the call
  // is riskier than its spec — a click on "Confirm" is irreversible. Returns
  // the spec to guard and run the call with (`adjusted` when it differs).
  Result<const ActionSpec*> inspect(Connector& connector, const ActionSpec& spec,
                                    const ActionCall& call, const ItemKey& key,
                                    std::optional<ActionSpec>& adjusted) {
    auto facts = connector.inspect(call);
    if (!facts) {
      if (facts.error().code != ErrorCode::kDenied) return fail(facts.error());
      Json decision = {
          {"guard", connector.name()}, {"verdict", "deny"}, {"reason", facts.error().message}};
      if (auto s = journal(event::kGuardDecision, {{"step", key.step},
                                                   {"item", key.item},
                                                   {"action", call.action},
                                                   {"decisions", Json::array({decision})}});
          !s) {
        return fail(s.error());
      }
      ++report_.denials;
      return fail(facts.error().with_context(connector.name() + " refused " + call.action + ": "));
    }
    auto effect = facts->find("effect");
    if (effect == facts->end() || !effect->is_string()) return &spec;
    auto parsed = parse_effect(effect->get<std::string>());
    if (!parsed) return fail(parsed.error().with_context(connector.name() + ": "));
    if (*parsed == spec.effect) return &spec;
    adjusted = spec;
    adjusted->effect = *parsed;
    return &*adjusted;
  }

  // What a call must pass before it is sent: the connector's inspection, the
  // guard chain and approval, and for an irreversible call its intent in the
  // journal. Returns the spec the call runs under.
  Result<const ActionSpec*> inspect_and_authorize(const ActionCall& call,
                                                  const ActionSpec& declared, Connector& connector,
                                                  const Step& step, const ItemKey& key,
                                                  std::optional<ActionSpec>& adjusted) {
    auto spec = inspect(connector, declared, call, key, adjusted);
    if (!spec) return fail(spec.error());
    if (auto s = authorize(call, **spec, connector, &step, key, false); !s) return fail(s.error());
    if ((*spec)->effect == Effect::kIrreversible) {
      Json intent = {{"step", key.step},
                     {"item", key.item},
                     {"action", call.action},
                     {"args", call.args},
                     {"idempotency_key", call.idempotency_key}};
      if (auto s = journal(event::kIntent, std::move(intent)); !s) return fail(s.error());
    }
    return *spec;
  }

  static std::string person_slot(const ItemKey& key) {
    return "person:" + key.step + (key.item == kWholeStep ? "" : ":" + std::to_string(key.item));
  }

  // A connector said only a person can go on. Asks now when someone can
  // answer; otherwise journals the question and leaves the session waiting
  // (the answer comes back through resume).
  Result<std::string> ask_person(const ItemKey& key, const std::string& slot,
                                 const std::string& what) {
    std::string question = describe(key) + ": " + what;
    if (auto s = commit(); !s) return fail(s.error());
    auto text = parts_.approver->answer({session_, slot, question, {}});
    if (!text) {
      if (auto s =
              journal(event::kQuestion, {{"slot", slot}, {"text", question}, {"step", key.step}});
          !s) {
        return fail(s.error());
      }
      report_.questions.push_back({slot, question});
      waiting_ = true;
      return fail(ErrorCode::kUnavailable, "waiting for a person");
    }
    if (auto s = journal(event::kAnswer, {{"slot", slot}, {"value", *text}}); !s)
      return fail(s.error());
    if (*text == "abort") return fail(ErrorCode::kAborted, "a person chose to abort: " + what);
    return *text;
  }

  // An action sent before a crash with no recorded outcome: re-send only when
  // that is safe; otherwise a person says what happened.
  Result<Json> recover_in_flight(const ActionCall& call, const ActionSpec& spec,
                                 Connector& connector, const Step& step, const ItemKey& key,
                                 const InFlight& flight) {
    ActionCall resend = call;
    resend.args = flight.args;
    resend.idempotency_key = flight.idempotency_key;
    if (spec.effect == Effect::kRead || !flight.idempotency_key.empty()) {
      if (auto s = authorize(resend, spec, connector, &step, key, false); !s)
        return fail(s.error());
      auto result = send(resend, spec, connector, step.retry, true, key);
      if (!result) return result;
      if (spec.effect == Effect::kIrreversible) {
        if (auto s = journal(event::kDone, {{"step", key.step},
                                            {"item", key.item},
                                            {"action", call.action},
                                            {"recovered", true}});
            !s) {
          return fail(s.error());
        }
      }
      remember_for_saga(key, resend.action, resend.args, *result);
      return result;
    }
    std::string question = fmt::format(
        "{} was sending {} {} when ergon stopped; it may or may not have happened. Check the "
        "system, then answer: happened, retry or abort",
        describe(key), call.action, truncate(parts_.vault->redact(flight.args).dump()));
    std::string slot =
        "recover:" + key.step + (key.item == kWholeStep ? "" : ":" + std::to_string(key.item));
    std::string choice;
    if (auto it = answers_.find(slot); it != answers_.end() && it->second.is_string()) {
      choice = it->second.get<std::string>();
    } else if (auto s = commit(); !s) {
      return fail(s.error());
    } else if (auto text = parts_.approver->answer(
                   {session_, slot, question, {"happened", "retry", "abort"}})) {
      choice = *text;
    } else {
      if (auto s =
              journal(event::kQuestion, {{"slot", slot}, {"text", question}, {"step", key.step}});
          !s) {
        return fail(s.error());
      }
      report_.questions.push_back({slot, question});
      waiting_ = true;
      return fail(ErrorCode::kUnavailable, "waiting for a person");
    }
    if (auto s = journal(event::kAnswer, {{"slot", slot}, {"value", choice}}); !s)
      return fail(s.error());
    if (choice == "happened") {
      Json result = Json::object();
      if (auto s = journal(event::kOutcome, {{"step", key.step},
                                             {"item", key.item},
                                             {"action", call.action},
                                             {"args", flight.args},
                                             {"ok", true},
                                             {"result", result},
                                             {"confirmed_by_person", true}});
          !s) {
        return fail(s.error());
      }
      if (spec.effect == Effect::kIrreversible) {
        if (auto s = journal(event::kDone,
                             {{"step", key.step}, {"item", key.item}, {"action", call.action}});
            !s) {
          return fail(s.error());
        }
      }
      remember_for_saga(key, resend.action, resend.args, result);
      confirmed_by_person_.insert(key);
      return result;
    }
    if (choice == "retry") {
      if (auto s = authorize(resend, spec, connector, &step, key, false); !s)
        return fail(s.error());
      auto result = send(resend, spec, connector, step.retry, false, key);
      if (result) remember_for_saga(key, resend.action, resend.args, *result);
      return result;
    }
    return fail(ErrorCode::kAborted, "a person chose to abort after an interrupted " + call.action);
  }

  Status verify(const ActionSpec& spec, const Step& step, const Json& args, const Json& result) {
    if (!spec.expect.empty()) {
      Json env = {{"args", args}, {"result", result}};
      auto ok = sandbox_.test(spec.expect, env);
      if (!ok) return fail(ok.error().with_context("expect of " + spec.name + ": "));
      if (!*ok) {
        return fail(ErrorCode::kFailedPrecondition,
                    fmt::format("{} did not have its expected effect ({}); result: {}", spec.name,
                                spec.expect, truncate(result.dump())));
      }
    }
    // An agent step's expect is about what the whole step achieved.
    if (step.kind == StepKind::kAgent) return {};
    return check_expect(step, args, result);
  }

  // The step's own postcondition over `result` (and `args`, and working memory).
  Status check_expect(const Step& step, const Json& args, const Json& result) {
    if (!step.expect.empty()) {
      memory_["result"] = result;
      memory_["args"] = args;
      auto ok = sandbox_.test(step.expect, memory_);
      memory_.erase("result");
      memory_.erase("args");
      if (!ok) return fail(ok.error().with_context("expect: "));
      if (!*ok) {
        return fail(ErrorCode::kFailedPrecondition,
                    fmt::format("expectation failed: {}; result: {}", step.expect,
                                truncate(result.dump())));
      }
    }
    return {};
  }

  void remember_for_saga(const ItemKey& key, const std::string& action, const Json& args,
                         const Json& result) {
    auto found = parts_.connectors->find(action);
    if (!found || !found->second->compensate) return;
    std::erase_if(saga_, [&](const SagaEntry& s) { return s.key == key; });
    saga_.push_back({key, action, args, result});
  }

  // Undoes completed reversible actions, newest first. A compensation that
  // fails is journaled and reported; the others still run.
  Status compensate() {
    if (auto s = commit(); !s) return s;
    while (!saga_.empty()) {
      SagaEntry entry = saga_.back();
      saga_.pop_back();
      auto original = parts_.connectors->find(entry.action);
      if (!original) continue;
      const Compensation& how = *original->second->compensate;
      auto target = parts_.connectors->find(how.action);
      Json data = {{"step", entry.key.step},
                   {"item", entry.key.item},
                   {"action", how.action},
                   {"undoes", entry.action}};
      auto args = sandbox_.render(how.with, {{"args", entry.args}, {"result", entry.result}});
      Status status;
      Result<Json> result = fail(ErrorCode::kInternal, "");
      if (!target) {
        status = fail(target.error());
      } else if (!args) {
        status = fail(args.error());
      } else {
        ActionCall call{how.action, *args, ""};
        data["args"] = call.args;
        status = authorize(call, *target->second, *target->first, nullptr, entry.key, true);
        if (status) {
          RetryPolicy retry;
          result = send(call, *target->second, *target->first, retry, true, entry.key);
          if (!result) status = fail(result.error());
        }
      }
      data["ok"] = status.has_value();
      if (status) {
        data["result"] = *result;
      } else {
        data["error"] = status.error().message;
        error_ += "; compensation " + how.action + " failed: " + status.error().message;
      }
      if (auto s = journal(event::kCompensation, data); !s) return s;
      ++report_.compensations;
      if (auto s = commit(); !s) return s;
    }
    return commit();
  }

  const EngineParts& parts_;
  const std::function<void(const Event&)>& sink_;
  const std::function<std::string(const std::string&)>& stop_when_;
  std::string session_;
  Principal principal_;
  Plan plan_;
  Json memory_ = Json::object();
  Sandbox& sandbox_ = thread_sandbox();
  PolicyUsage usage_;
  std::vector<PolicyCharge> pending_charges_;
  // An allowed call's guard decisions, for its action_started.
  std::optional<CanonicalText> pending_decisions_;
  std::set<std::string> yes_to_all_;
  std::map<ItemKey, Json> finished_;  // {state, result} of done or skipped executions
  std::map<ItemKey, Json> results_;   // action results journaled, step not yet finished
  std::map<ItemKey, InFlight> in_flight_;
  std::set<ItemKey> confirmed_by_person_;  // outcomes a person vouched for, without a result
  std::map<std::string, Json> answers_;
  std::map<std::string, std::vector<Json>> agent_turns_;  // step -> agent_turn events replayed
  std::vector<SagaEntry> saga_;
  SessionReport report_;
  std::string error_;
  std::string ended_;
  bool waiting_ = false;
  bool started_ = false;  // begin() created the session, rather than resuming it
  // Recorded, not yet committed: each event's type and canonical JSON data.
  std::vector<std::pair<std::string, std::string>> pending_;
  std::string strings_;  // journal()'s buffer for the secret check, kept for its capacity
  int64_t last_commit_ms_ = 0;
};

Engine::Engine(EngineParts parts) : parts_(parts) {}
Engine::~Engine() = default;

void Engine::on_event(std::function<void(const Event&)> sink) {
  sink_ = std::move(sink);
}

void Engine::stop_when(std::function<std::string(const std::string&)> reason) {
  stop_when_ = std::move(reason);
}

Result<SessionReport> Engine::start(const Plan& plan, const std::string& session_id,
                                    const Json& model_calls, const Principal& principal) {
  std::vector<std::string> known;
  for (const ActionSpec* spec : parts_.connectors->all_actions()) known.push_back(spec->name);
  if (auto s = validate_plan(plan, known); !s) return fail(s.error());
  if (parts_.model == nullptr) {
    for (const Step& step : plan.steps) {
      if (step.kind != StepKind::kAgent) continue;
      return fail(ErrorCode::kFailedPrecondition,
                  "step '" + step.id +
                      "' is an agent step and needs a language model: configure `model:` in "
                      "ergon.yaml (docs/model.md)");
    }
  }
  std::string id = session_id.empty() ? new_session_id() : session_id;
  auto created = parts_.store->create_session(id, plan.goal, parts_.workspace->dir);
  if (!created) return fail(created.error());
  Run run(parts_, sink_, stop_when_, id);
  if (auto s = run.begin(plan, model_calls, principal); !s) return fail(s.error());
  return with_connectors(*parts_.connectors, id, [&] { return run.execute(); });
}

Status Engine::replay(Run& run, const std::string& session_id, const char* doing) {
  auto events = parts_.store->events(session_id);
  if (!events) return fail(events.error());
  if (events->empty()) {
    return fail(ErrorCode::kNotFound, "session " + session_id + " has no events");
  }
  if (auto s = verify_chain(*events); !s) {
    return fail(s.error().with_context(std::string("refusing to ") + doing + " " + session_id +
                                       ": journal does not verify: "));
  }
  if (auto s = run.replay(*events); !s) return s;
  if (!run.ended().empty()) {
    return fail(ErrorCode::kFailedPrecondition, "session " + session_id + " already ended (" +
                                                    run.ended() + "); nothing to " + doing);
  }
  return {};
}

Result<SessionReport> Engine::resume(const std::string& session_id, const Json& answers) {
  Run run(parts_, sink_, stop_when_, session_id);
  if (auto s = replay(run, session_id, "resume"); !s) return fail(s.error());
  if (auto s = run.answer(answers); !s) return fail(s.error());
  return with_connectors(*parts_.connectors, session_id, [&] { return run.execute(); });
}

Result<SessionReport> Engine::cancel(const std::string& session_id, const std::string& why) {
  Run run(parts_, sink_, stop_when_, session_id);
  if (auto s = replay(run, session_id, "cancel"); !s) return fail(s.error());
  return with_connectors(*parts_.connectors, session_id, [&] { return run.abort(why); });
}

}  // namespace ergon
