// Synthetic redesigns of a page's element list, for measuring grounding (and
// later for learning its weights): the same page after a plausible release —
// ids and classes renamed, labels reworded, blocks moved, similar elements
// inserted, neighbouring text changed, attributes dropped — with the map from
// each original element to where it went, so a grounder's answer can be
// checked. Reproducible: the same page, options and seed give the same
// mutation on every platform (only std::mt19937's raw output is used).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ergon/grounding.h"

namespace ergon::browser {

// How much a redesign changes. Probabilities are per element unless a
// comment says otherwise; 0 turns a kind of change off.
struct MutationOptions {
  double rename_id = 0.35;        // prefix, another case convention, suffix, or generated
  double rename_name_attr = 0.1;  // as ids
  double rename_class = 0.35;     // per class token, the same new name page-wide
  // Labels (name, text, aria-label, alt) reworded by a synonym, a change of
  // case or of punctuation; decided once per template, so eight "Add to
  // cart" buttons change together.
  double reword = 0.25;
  double reword_placeholder = 0.25;
  double change_neighbor_text = 0.2;  // reworded, or a note added to it
  // One of id, name_attr, classes, aria_label, placeholder, alt, href
  // cleared; decided once per template.
  double drop_attribute = 0.1;
  // Per page, up to max_moved_blocks times: every element under one container
  // shifts by the same offset and the container's dom_path step changes (a
  // block inserted before it, or a new wrapper around it).
  double move_block = 0.7;
  int max_moved_blocks = 2;
  // Per interactive element: a control of the same kind beside it, with a
  // label new to the page; later elements reflow.
  double insert_sibling = 0.12;
  double remove_readable = 0.05;  // per non-interactive element

  // Every kind off: a starting point for switching on one kind at a time.
  static MutationOptions none();
};

struct Mutation {
  std::vector<Fingerprint> page;
  std::vector<int> moved_to;  // original index → index in `page`, -1 if removed
  std::string description;    // what changed, "; "-separated, for test failure messages
};

// A redesign of `page`. Interactive elements are never removed; elements
// inserted by the mutation have no original (no entry of moved_to points at
// them).
Mutation mutate(const std::vector<Fingerprint>& page, const MutationOptions& options,
                uint32_t seed);

// Whether a person acts on the element: links, buttons, form fields and
// widgets with such a role (computed role, or the tag's implicit one).
bool is_interactive(const Fingerprint& element);

}  // namespace ergon::browser
