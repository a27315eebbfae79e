// Learning from demonstrations: a person does a task once (in a browser, or
// as a sequence of `ergon call`s) and ergon keeps what was done; skill
// induction turns one or several demonstrations of a task into a skill with
// typed slots; the grounding model learns the fingerprint similarity weights
// from the recorded pages and synthetic redesigns of them.
//
// Files, all inside the workspace and all readable by a person:
//   demonstrations/<id>.yaml                   instruction + steps (editable)
//   demonstrations/<id>/pages/<NN>-before.json the page a browser step acted on
//   demonstrations/<id>/pages/<NN>-after.json  the page right after it
//   skills/drafts/<name>.yaml                  an induced skill, not yet accepted
//   .ergon/browser/grounding-model.json        learned grounding weights
//   .ergon/browser/picks.jsonl                 real pairs: a person's picks
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ergon/grounding.h"
#include "ergon/json.h"
#include "ergon/plan.h"
#include "ergon/result.h"
#include "ergon/workspace.h"

namespace ergon {

// ---------------------------------------------------------------------------
// Demonstrations.

// The page as it was around a browser step: where, and every element the
// observation saw (the element list grounding scores), with the index of the
// step's target in it (-1: no target, e.g. a navigation or a key press on
// the page).
struct DemoPage {
  std::string url;  // absolute
  std::string title;
  std::vector<Fingerprint> elements;
  int target = -1;
};

// One thing the person did. `with` is exactly what a plan step's `with` would
// hold for `action`: browser steps have `target` (a full fingerprint as JSON,
// see grounding.h) and `value` / `secret` / `option` / `checked` / `key` /
// `url` (relative to the connector's base URL when on its origin); API steps
// have the action's arguments.
struct DemoStep {
  std::string action;          // fully qualified: "portal.click", "cloud.stop_instance"
  Json with = Json::object();  // never holds a typed password: `secret: NAME` instead
  Json result;                 // API steps: the action's result; browser steps: null
  // Browser steps: file names (relative to demonstrations/<id>/pages/) of the
  // page before and after, "" when not recorded.
  std::string page_before;
  std::string page_after;
  std::string url_after;  // browser steps: the page's URL once the step settled
  SourceLoc loc;          // where the step is in its YAML file (when loaded)
};

struct Demonstration {
  std::string id;           // file stem under demonstrations/: [a-z0-9][a-z0-9-]*
  std::string instruction;  // what the person said the task was, values included
  std::string kind;         // "browser" or "api"
  std::string connector;    // browser: the connector recorded against; api: "" (any)
  std::string start_url;    // browser: where recording began
  std::string recorded;     // ISO-8601 UTC time the recording started
  std::vector<DemoStep> steps;
  std::string file;  // absolute path it was loaded from / saved to
};

// <workspace>/demonstrations
std::string demonstrations_dir(const std::string& workspace_dir);

// YAML round trip. load: every error is kInvalidInput "file:line: field: what
// is wrong — what to do"; unknown fields are errors. save writes the YAML
// atomically (temp file + rename), creating directories; pages are written by
// save_demo_page.
Result<Demonstration> load_demonstration(const std::string& workspace_dir, const std::string& id);
// Every demonstration of the workspace, sorted by id; an unreadable one is an error.
Result<std::vector<Demonstration>> load_demonstrations(const std::string& workspace_dir);
Status save_demonstration(const std::string& workspace_dir, const Demonstration& demo);
// A fresh id: `wanted` slugified when given and free, else "demo-N".
std::string new_demonstration_id(const std::string& workspace_dir, const std::string& wanted = "");

// Pages: JSON {"url", "title", "target", "elements": [fingerprint...]}.
Status save_demo_page(const std::string& workspace_dir, const std::string& demo_id,
                      const std::string& file_name, const DemoPage& page);
Result<DemoPage> load_demo_page(const std::string& workspace_dir, const std::string& demo_id,
                                const std::string& file_name);

// ---------------------------------------------------------------------------
// Skill induction.

struct InduceOptions {
  std::string name;         // the skill's name ([a-z0-9-]+)
  std::string description;  // "" → made from the first instruction
  int64_t now_ms = 0;       // reference date for relative dates in instructions
};

struct InducedSkill {
  Skill skill;
  // What induction inferred and why, one line each, for the person reviewing
  // the draft ("slot member_id (code) from 'MBR-123456' in the instruction,
  // used by step member").
  std::vector<std::string> notes;
};

// From one demonstration: values that appear in the instruction (after
// normalising dates, amounts, codes, names) become typed slots and the steps
// use them through templates; everything else stays a constant. From several
// of the same task: values that differ become slots too; steps present in
// only some demonstrations become `when` branches where a slot explains them;
// the instructions become example phrasings with {slot} placeholders.
// kInvalidInput when the demonstrations are empty, of different kinds or
// cannot be aligned (the message says which and why).
Result<InducedSkill> induce_skill(const std::vector<Demonstration>& demos,
                                  const InduceOptions& options);

// A skill as YAML a person can read and edit; load_skill_file reads it back
// to an equal skill. `notes` become comments at the top.
std::string skill_to_yaml(const Skill& skill, const std::vector<std::string>& notes = {});

// A skill from a plan that ran to the end (`ergon skills save SESSION`), so
// the next such goal is planned offline: the plan's slots and steps, the goal
// as description and example phrasing, with each slot value found in the goal
// replaced by "{slot}". kInvalidInput when the plan came from a skill (there
// is nothing new to save) or has no steps.
Result<Skill> skill_from_plan(const Plan& plan, const std::string& name);

// <workspace>/skills/drafts
std::string skill_drafts_dir(const std::string& workspace_dir);

// ---------------------------------------------------------------------------
// The grounding model.

// Learned weights and the thresholds chosen with them.
struct GroundingModel {
  GroundingOptions options;    // weights + min_score + min_margin
  Json meta = Json::object();  // seed, pages, pairs, accuracy before/after, trained time
};

// A page to learn from: its elements and which of them a demonstration acted on.
struct TrainingPage {
  std::string source;  // "demo-1/pages/03-before.json", for reports
  std::vector<Fingerprint> elements;
  std::vector<int> targets;
};

// A real labelled pair: when grounding was unsure, a person picked which of
// the scored candidates on a real page is the target. `elements` are the
// candidates exactly as they were scored, in order; `answer` indexes them.
struct LabelledPair {
  std::string source;  // "<path>/picks.jsonl:3", for reports and errors
  Fingerprint target;  // as the skill names it (not a healed copy)
  std::vector<Fingerprint> elements;
  int answer = -1;
  std::string url;  // the page the person looked at
};

struct TrainOptions {
  uint32_t seed = 1;
  int mutations_per_page = 40;  // synthetic redesigns of each page
  double holdout = 0.25;        // share of mutations kept for measuring
  int epochs = 200;
};

struct GroundingAccuracy {
  int correct = 0;  // found, and the right element
  int wrong = 0;    // found, but another element: a wrong click
  int asked = 0;    // ambiguous or weak: a person would be asked
  int total() const { return correct + wrong + asked; }
  double rate() const { return total() ? double(correct) / total() : 0; }
};

struct TrainReport {
  GroundingModel model;
  GroundingAccuracy before;  // published Similo weights, held-out mutations
  GroundingAccuracy after;   // learned model, the same held-out mutations
  int pages = 0;
  int training_pairs = 0;
  // The real pairs (a person's picks), which the model trained on: how the
  // published weights and the learned model ground each of them.
  int real_pairs = 0;
  GroundingAccuracy real_before;
  GroundingAccuracy real_after;
};

// Pages from every demonstration's recorded pages (targets = the elements
// steps acted on), deduplicated by URL + target.
Result<std::vector<TrainingPage>> training_pages(const std::string& workspace_dir);

// Fits the weights on mutations of the training pages and picks the
// thresholds; deterministic for a seed. kInvalidInput without targets.
Result<TrainReport> train_grounding(const std::vector<TrainingPage>& pages,
                                    const TrainOptions& options);
// The same, with real pairs joining the training cases: all of them together
// weigh a third of the loss (each at least as much as one synthetic case),
// their right element's own score is pulled above the lowest min_score, and
// the thresholds leave every real pair found correctly or asked, never wrong.
// The report's real_before/real_after ground the pairs trained on. kInvalidInput naming the pair's
// source when its answer is not one of its elements or its target names nothing.
Result<TrainReport> train_grounding(const std::vector<TrainingPage>& pages,
                                    const std::vector<LabelledPair>& real,
                                    const TrainOptions& options);

// <workspace>/.ergon/browser/picks.jsonl: one JSON object a line,
// {"target": fingerprint, "url": ..., "elements": [fingerprint...], "picked": N}.
std::string picks_path(const std::string& workspace_dir);
// Appends `pair` as one line with one write() on a file opened O_APPEND, so
// concurrent writers never interleave a line; creates the directory.
Status append_labelled_pair(const std::string& file, const LabelledPair& pair);
// Every pick of the workspace, in file order; empty when there is no file.
// A broken line is kInvalidInput "file:line: field: what is wrong".
Result<std::vector<LabelledPair>> training_pairs(const std::string& workspace_dir);

// <workspace>/.ergon/browser/grounding-model.json
std::string grounding_model_path(const std::string& workspace_dir);
Status save_grounding_model(const std::string& workspace_dir, const GroundingModel& model);
// nullopt when the workspace has none; kInvalidInput naming the file when broken.
Result<std::optional<GroundingModel>> load_grounding_model(const std::string& workspace_dir);

}  // namespace ergon
