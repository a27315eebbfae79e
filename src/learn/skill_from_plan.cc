// A plan that worked, kept as a skill: `ergon skills save SESSION`.
#include <algorithm>
#include <cctype>
#include <string>

#include "ergon/learn.h"
#include "ergon/planner.h"

namespace ergon {
namespace {

std::string lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

bool word_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0;
}

// [begin, end) of `value` in `text` as a whole word or phrase, ignoring case;
// npos when absent.
std::pair<size_t, size_t> find_phrase(const std::string& text, const std::string& value) {
  if (value.empty()) return {std::string::npos, 0};
  std::string haystack = lower(text);
  std::string needle = lower(value);
  for (size_t at = haystack.find(needle); at != std::string::npos;
       at = haystack.find(needle, at + 1)) {
    size_t end = at + needle.size();
    bool starts = at == 0 || !word_char(haystack[at - 1]) || !word_char(needle.front());
    bool ends = end == haystack.size() || !word_char(haystack[end]) || !word_char(needle.back());
    if (starts && ends) return {at, end};
  }
  return {std::string::npos, 0};
}

// Where the goal states the slot's value: typed values (dates, amounts,
// percentages, codes ...) are found by meaning ("15%" for 15), strings as
// written.
std::pair<size_t, size_t> find_value(const std::string& goal, const SlotSpec& slot,
                                     const Json& value) {
  if (slot.type != SlotType::kString && slot.type != SlotType::kEnum) {
    for (const SlotValueMatch& match : find_slot_values(slot, goal)) {
      if (match.value == value) return {match.begin, match.end};
    }
  }
  if (value.is_string()) return find_phrase(goal, value.get<std::string>());
  if (value.is_number()) return find_phrase(goal, value.dump());
  return {std::string::npos, 0};
}

}  // namespace

Result<Skill> skill_from_plan(const Plan& plan, const std::string& name) {
  if (!plan.skill.empty()) {
    return fail(ErrorCode::kInvalidInput,
                "the plan came from skill '" + plan.skill + "'; there is nothing new to save");
  }
  if (plan.steps.empty()) {
    return fail(ErrorCode::kInvalidInput, "the plan has no steps; there is nothing to save");
  }
  Skill skill;
  skill.name = name;
  skill.description = plan.goal;
  skill.slots = plan.slot_specs;
  skill.steps = plan.steps;
  for (Step& step : skill.steps) step.loc = {};
  // The example phrasing: the goal, each stated slot value a placeholder.
  // Replaced from the back so earlier positions stay valid.
  std::vector<std::tuple<size_t, size_t, std::string>> spans;
  for (const SlotSpec& slot : plan.slot_specs) {
    auto value = plan.slots.find(slot.name);
    if (value == plan.slots.end()) continue;
    auto [begin, end] = find_value(plan.goal, slot, *value);
    if (begin == std::string::npos) continue;
    bool overlaps = std::any_of(spans.begin(), spans.end(), [&](const auto& span) {
      return begin < std::get<1>(span) && std::get<0>(span) < end;
    });
    if (!overlaps) spans.emplace_back(begin, end, slot.name);
  }
  std::sort(spans.begin(), spans.end(),
            [](const auto& a, const auto& b) { return std::get<0>(a) > std::get<0>(b); });
  std::string example = plan.goal;
  for (const auto& [begin, end, slot] : spans) {
    example.replace(begin, end - begin, "{" + slot + "}");
  }
  skill.examples.push_back(example);
  return skill;
}

}  // namespace ergon
