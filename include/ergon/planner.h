// Planners turn a goal into a Plan (or questions). A planner never acts.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "ergon/clock.h"
#include "ergon/json.h"
#include "ergon/model.h"
#include "ergon/plan.h"
#include "ergon/result.h"
#include "ergon/workspace.h"

namespace ergon {

// One skill as a candidate for a goal.
struct SkillMatch {
  std::string skill;
  // Raw similarity of the goal to the skill's best phrasing, 0..1: soft
  // TF-IDF cosine (synonyms, typos) blended with character trigrams.
  double score = 0;
  // Calibrated probability, 0..1, that this is the skill the person meant:
  // a logistic model (PlannerCalibration) fitted when the planner is built,
  // on each example held out and matched against the rest of the library.
  double confidence = 0;
  std::string example;  // the skill's phrasing closest to the goal (its description when none)
};

// How SkillPlanner turns a confidence into a decision.
struct SkillPlannerOptions {
  // At or above: the skill is planned. Two skills at or above it: ask which.
  double accept = 0.7;
  // Below accept and at or above this: ErrorCode::kNeedsPerson "Did you mean
  // ...?" naming up to two candidates. Below: ErrorCode::kNotFound.
  double ask = 0.2;
};

// The fitted confidence model: confidence = sigmoid(w_score * score +
// w_coverage * coverage + w_margin * margin + w_core * core + w_values *
// values + bias), where coverage is the share of the goal's words the skill
// knows, core the share of the skill's characteristic words the goal mentions,
// and values +1..-1 as the goal's typed values (dates, amounts, codes ...) fit
// the skill's slots or not (0 when it has none).
struct PlannerCalibration {
  double w_score = 0;
  double w_coverage = 0;
  double w_margin = 0;
  double w_core = 0;
  double w_values = 0;
  double bias = 0;
  size_t matches = 0;  // held-out examples scored against their own skill
  // ... against the best other skills, and without their skill's key word
  size_t non_matches = 0;
  bool fitted = false;  // false: too few examples of too few skills; the prior is used
};

class Planner {
 public:
  virtual ~Planner() = default;
  // A plan whose `questions` lists what is still missing. kNotFound when no
  // skill fits, with the closest skills named in the message.
  virtual Result<Plan> plan(const std::string& goal, const Json& known_slots) = 0;
};

// The builtin, offline planner: picks the skill whose example phrasings best
// match the goal and extracts typed slot values from the goal text. Words
// that stand for each other are learned from the examples of the whole library
// (and a small built-in lexicon); word order does not matter; typos are
// tolerated. A goal it is unsure about gets a question, never a guess.
// Constant after construction; safe for concurrent use.
class SkillPlanner final : public Planner {
 public:
  // `clock`, when given, resolves relative dates in goals ("tomorrow", "next
  // Tuesday"); it is not owned and must outlive the planner.
  explicit SkillPlanner(std::vector<Skill> skills, SkillPlannerOptions options = {},
                        const Clock* clock = nullptr);
  ~SkillPlanner() override;
  SkillPlanner(SkillPlanner&&) noexcept;
  SkillPlanner& operator=(SkillPlanner&&) noexcept;
  // known_slots: slot name -> value from the user; they win over the goal text.
  // A string for a typed slot is parsed like an answer ("15%").
  // The best skill is planned when its confidence reaches options.accept;
  // below that, kNeedsPerson asks "Did you mean ...?" (down to options.ask),
  // else kNotFound names the closest skills.
  Result<Plan> plan(const std::string& goal, const Json& known_slots) override;
  // Plans `skill` (by exact name) for the goal without ranking: the person
  // chose it (`--skill NAME`). kNotFound naming similar skill names when
  // there is no such skill.
  Result<Plan> plan_with_skill(const std::string& skill, const std::string& goal,
                               const Json& known_slots) const;
  // All skills ranked by confidence, best first (ties by score, then in
  // declaration order).
  std::vector<SkillMatch> rank(const std::string& goal) const;
  // The library's words that `word` may stand for, with a strength in 0..1
  // (learned from the examples or from the lexicon), strongest first.
  std::vector<std::pair<std::string, double>> synonyms(const std::string& word) const;
  const PlannerCalibration& calibration() const;

 private:
  struct Index;  // term statistics, synonyms and the calibration over the skills' phrasings

  Result<Plan> fill(size_t skill, const std::string& goal, const Json& known_slots,
                    const std::vector<double>& example_scores) const;

  std::vector<Skill> skills_;
  SkillPlannerOptions options_;
  const Clock* clock_;
  std::unique_ptr<const Index> index_;
};

// What ModelPlanner sees of the world.
struct ModelPlannerInput {
  std::vector<const ActionSpec*> actions;       // the catalog: name, description, params, effect
  const std::vector<Skill>* skills = nullptr;   // offered as composite actions "skill.<name>"
  std::vector<std::string> browser_connectors;  // connectors an agent step may use
  std::vector<std::string> secrets;  // vault secret names (never values) the plan may refer to
};

// The whole workspace as the model planner sees it: every declared action,
// the skills, the browser connectors and the secret names (secret_names()).
// The workspace must outlive the result.
ModelPlannerInput model_planner_input(const Workspace& workspace, const Vault& vault);

// Plans with a language model. The model is given the goal (quoted as data),
// the action catalog and the skills, and answers with a plan constrained by
// model_plan_schema(). Its answer is parsed and validated exactly like any
// plan (plan_from_json + validate_plan + the checks below); an invalid answer
// is sent back with the validator's error for at most config.repair_rounds
// corrections, then kFailedPrecondition "the model's plan is still invalid
// after N corrections: <last error>". Missing information comes back as
// questions (slots without values), never guesses.
// Beyond validate_plan, a model's plan may not: set an action's `effect`
// argument (it cannot make itself look safer), use a skill step next to other
// steps (a skill is the whole plan: {"steps": [{"do": "skill.X", "with":
// {slot: value}}]}, expanded with plan_from_skill), name an agent connector
// that is not a browser connector. Plan.planner is "model".
// `calls()` lists every model call of the last plan() as journal records
// {purpose, model, ok, error?, usage: to_json(ModelUsage)}; ok is false when
// the call failed or its answer was not a valid plan (error says why).
class ModelPlanner final : public Planner {
 public:
  ModelPlanner(ModelClient& client, ModelPlannerInput input);
  Result<Plan> plan(const std::string& goal, const Json& known_slots) override;
  const Json& calls() const { return calls_; }
  ModelUsage usage() const;  // summed over calls()

  // The messages of the first request, for tests and the docs.
  std::vector<ChatMessage> messages(const std::string& goal, const Json& known_slots) const;

 private:
  ModelClient& client_;
  ModelPlannerInput input_;
  Json calls_ = Json::array();
};

// The schema the model's plan must satisfy: plan_schema() with `agent` steps
// and `do` limited to the catalog's action names and "skill.<name>".
Json model_plan_schema(const ModelPlannerInput& input);

// Typed value recognisers: parse a slot value from free text or a person's
// answer. A percent "15%" -> 15; money "$1,200", "1.2k USD", "EUR 300" ->
// 1200, 1200, 300; date "3/4/2027" -> "2027-03-04"; code "MBR-123456" (see
// slot_values.cc for what is and is not a code); e-mail "ana@example.com".
// kInvalidInput with a hint when the text holds no such value.
// `now_ms` (milliseconds since the Unix epoch, UTC) resolves relative dates
// ("today", "tomorrow", "next Tuesday", "this Friday", "in 3 days", "March 4"
// without a year); 0 means they are unsupported.
// Thread-safe.
Result<Json> parse_slot_value(const SlotSpec& slot, const std::string& text, int64_t now_ms = 0);
// Finds a value for `slot` inside a longer goal text; nullopt when absent.
// A string slot is never found this way (the planner aligns it with a skill
// example instead); an enum slot only when exactly one choice is mentioned.
std::optional<Json> extract_slot_value(const SlotSpec& slot, const std::string& goal,
                                       int64_t now_ms = 0);

// A typed value found in a text, at bytes [begin, end).
struct SlotValueMatch {
  Json value;
  size_t begin = 0;
  size_t end = 0;
  SlotType type = SlotType::kString;  // what was found (for find_typed_values)
};
// Every value of the slot's type in `text`, in order of appearance. A number
// inside a date, a percentage or an amount of money is not a number on its own.
std::vector<SlotValueMatch> find_slot_values(const SlotSpec& slot, const std::string& text,
                                             int64_t now_ms = 0);
// Every typed value in `text` — dates (null when shaped like one but not
// usable), percentages, amounts, numbers, codes, e-mail addresses — in order.
// A plain run of five or more digits is reported as a number here.
std::vector<SlotValueMatch> find_typed_values(const std::string& text, int64_t now_ms = 0);

}  // namespace ergon
