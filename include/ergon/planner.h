// Planners turn a goal into a Plan (or questions). A planner never acts.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ergon/clock.h"
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
  // `clock`, when given, resolves relative dates in goals ("tomorrow"); it is
  // not owned and must outlive the planner.
  explicit SkillPlanner(std::vector<Skill> skills, double min_score = 0.2,
                        const Clock* clock = nullptr);
  ~SkillPlanner() override;
  SkillPlanner(SkillPlanner&&) noexcept;
  SkillPlanner& operator=(SkillPlanner&&) noexcept;
  // known_slots: slot name -> value from the user; they win over the goal text.
  // A string for a typed slot is parsed like an answer ("15%").
  Result<Plan> plan(const std::string& goal, const Json& known_slots) override;
  // All skills ranked by score, best first (ties in declaration order).
  std::vector<SkillMatch> rank(const std::string& goal) const;

 private:
  struct Index;  // term statistics over the skills' phrasings

  std::vector<Skill> skills_;
  double min_score_;
  const Clock* clock_;
  std::unique_ptr<const Index> index_;
};

// Typed value recognisers: parse a slot value from free text or a person's
// answer. A percent "15%" -> 15; money "$1,200" -> 1200; date "3/4/2027" ->
// "2027-03-04". kInvalidInput with a hint when the text holds no such value.
// `now_ms` (milliseconds since the Unix epoch, UTC) resolves relative dates
// ("today", "tomorrow", "March 4" without a year); 0 means they are unsupported.
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
};
// Every value of the slot's type in `text`, in order of appearance. A number
// inside a date, a percentage or an amount of money is not a number on its own.
std::vector<SlotValueMatch> find_slot_values(const SlotSpec& slot, const std::string& text,
                                             int64_t now_ms = 0);

}  // namespace ergon
