// The planner's paraphrase sets (tests/data/paraphrases/*.yaml) and a scorer
// over them, shared by the precision test and the planner benchmark.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "core/internal/yaml_json.h"
#include "ergon/planner.h"

namespace ergon::testing {

struct Paraphrase {
  std::string goal;
  std::string skill;
  Json slots = Json::object();
};

struct ParaphraseSet {
  std::vector<Skill> skills;
  std::vector<Paraphrase> paraphrases;
  std::vector<std::string> unrelated;
  int64_t now_ms = 0;  // reference time of relative dates
};

// Loads skills.yaml, paraphrases.yaml and unrelated.yaml from `dir`.
inline Result<ParaphraseSet> load_paraphrase_set(const std::string& dir) {
  ParaphraseSet set;
  auto load = [&](const std::string& name) -> Result<Json> {
    auto doc = internal::load_yaml_file(dir + "/" + name, name);
    if (!doc) return fail(doc.error());
    return doc->value;
  };
  auto skills = load("skills.yaml");
  if (!skills) return fail(skills.error());
  for (const Json& entry : (*skills)["skills"]) {
    Skill skill;
    skill.name = entry.at("name").get<std::string>();
    skill.description = entry.value("description", "");
    for (const Json& example : entry.at("examples")) skill.examples.push_back(example);
    if (entry.contains("slots")) {
      for (const auto& [name, spec] : entry["slots"].items()) {
        auto slot = slot_from_json(name, spec);
        if (!slot) {
          return fail(slot.error().with_context("skills.yaml: skill " + skill.name + ": slot " +
                                                name + ": "));
        }
        skill.slots.push_back(*slot);
      }
    }
    set.skills.push_back(std::move(skill));
  }
  auto paraphrases = load("paraphrases.yaml");
  if (!paraphrases) return fail(paraphrases.error());
  // "2027-03-04T10:30:00Z" (g++ 12 has no std::chrono::parse).
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  const std::string now = (*paraphrases)["now"].get<std::string>();
  if (std::sscanf(now.c_str(), "%d-%d-%dT%d:%d:%dZ", &year, &month, &day, &hour, &minute,
                  &second) != 6) {
    return fail(ErrorCode::kInvalidInput,
                "paraphrases.yaml: now: not a UTC time like 2027-03-04T10:30:00Z");
  }
  namespace chrono = std::chrono;
  auto at = chrono::sys_days{chrono::year{year} / month / day} + chrono::hours{hour} +
            chrono::minutes{minute} + chrono::seconds{second};
  set.now_ms = chrono::duration_cast<chrono::milliseconds>(at.time_since_epoch()).count();
  for (const Json& entry : (*paraphrases)["goals"]) {
    set.paraphrases.push_back({entry.at("goal").get<std::string>(),
                               entry.at("skill").get<std::string>(),
                               entry.value("slots", Json::object())});
  }
  auto unrelated = load("unrelated.yaml");
  if (!unrelated) return fail(unrelated.error());
  for (const Json& goal : (*unrelated)["goals"]) set.unrelated.push_back(goal);
  return set;
}

// How a planner did on a set.
struct ParaphraseReport {
  size_t paraphrases = 0;
  size_t planned = 0;        // a plan was returned
  size_t planned_right = 0;  // ... of the labelled skill
  size_t asked = 0;          // "Did you mean ...?"
  size_t asked_right = 0;    // ... naming the labelled skill first
  size_t not_found = 0;
  size_t slots = 0;  // labelled slot values of correctly planned goals
  size_t slots_right = 0;
  size_t unrelated = 0;
  size_t unrelated_planned = 0;  // a plan for an unrelated goal: a wrong skill
  size_t unrelated_asked = 0;
  double brier = 0;  // mean squared error of the top confidence against "top is right"
  std::vector<std::string> mistakes;  // one line each, for a person to read

  double precision() const { return planned ? double(planned_right) / double(planned) : 1.0; }
  double recall() const { return paraphrases ? double(planned_right) / double(paraphrases) : 0; }
  double slot_accuracy() const { return slots ? double(slots_right) / double(slots) : 1.0; }
};

inline ParaphraseReport score_paraphrases(SkillPlanner& planner, const ParaphraseSet& set) {
  ParaphraseReport report;
  for (const Paraphrase& p : set.paraphrases) {
    ++report.paraphrases;
    std::vector<SkillMatch> ranked = planner.rank(p.goal);
    if (!ranked.empty()) {
      double right = ranked.front().skill == p.skill ? 1.0 : 0.0;
      report.brier += (ranked.front().confidence - right) * (ranked.front().confidence - right);
    }
    auto plan = planner.plan(p.goal, Json::object());
    if (plan) {
      ++report.planned;
      if (plan->skill != p.skill) {
        report.mistakes.push_back("WRONG  " + p.goal + " -> " + plan->skill + " (want " + p.skill +
                                  ")");
        continue;
      }
      ++report.planned_right;
      for (const auto& [name, value] : p.slots.items()) {
        ++report.slots;
        if (plan->slots.contains(name) && plan->slots[name] == value) {
          ++report.slots_right;
        } else {
          report.mistakes.push_back(
              "SLOT   " + p.goal + " : " + name + " = " +
              (plan->slots.contains(name) ? plan->slots[name].dump() : std::string("(none)")) +
              " (want " + value.dump() + ")");
        }
      }
    } else if (plan.error().code == ErrorCode::kNeedsPerson) {
      ++report.asked;
      bool first = !ranked.empty() && ranked.front().skill == p.skill;
      report.asked_right += first ? 1 : 0;
      report.mistakes.push_back("ASKED  " + p.goal + " : " + plan.error().message);
    } else {
      ++report.not_found;
      report.mistakes.push_back("NONE   " + p.goal + " : " + plan.error().message);
    }
  }
  if (report.paraphrases) report.brier /= double(report.paraphrases);
  for (const std::string& goal : set.unrelated) {
    ++report.unrelated;
    auto plan = planner.plan(goal, Json::object());
    if (plan) {
      ++report.unrelated_planned;
      report.mistakes.push_back("UNREL  " + goal + " -> " + plan->skill);
    } else if (plan.error().code == ErrorCode::kNeedsPerson) {
      ++report.unrelated_asked;
    }
  }
  return report;
}

}  // namespace ergon::testing
