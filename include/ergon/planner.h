// Planners turn a goal into a Plan (or questions). A planner never acts.
#pragma once

#include <string>
#include <vector>

#include "ergon/json.h"
#include "ergon/plan.h"
#include "ergon/result.h"
#include "ergon/workspace.h"

namespace ergon {

struct SkillMatch {
  std::string skill;
  double score = 0;  // 0..1
};

class Planner {
 public:
  virtual ~Planner() = default;
  // A plan whose `questions` lists what is still missing. kNotFound when no
  // skill fits, with the closest skills named in the message.
  virtual Result<Plan> plan(const std::string& goal, const Json& known_slots) = 0;
};

// The builtin, offline planner: picks the skill whose example phrasings best
// match the goal and extracts typed slot values from the goal text.
// Constant after construction; safe for concurrent use.
class SkillPlanner final : public Planner {
 public:
  explicit SkillPlanner(std::vector<Skill> skills, double min_score = 0.2);
  Result<Plan> plan(const std::string& goal, const Json& known_slots) override;
  // All skills ranked by score, best first.
  std::vector<SkillMatch> rank(const std::string& goal) const;

 private:
  std::vector<Skill> skills_;
  double min_score_;
};

// Typed value recognisers: parse a slot value from free text or a person's
// answer. A percent "15%" -> 15; money "$1,200" -> 1200; date "3/4/2027" ->
// "2027-03-04". kInvalidInput with a hint when the text holds no such value.
Result<Json> parse_slot_value(const SlotSpec& slot, const std::string& text);
// Finds a value for `slot` inside a longer goal text; nullopt when absent.
std::optional<Json> extract_slot_value(const SlotSpec& slot, const std::string& goal);

}  // namespace ergon
