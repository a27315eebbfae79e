#include "ergon/action.h"

#include "ergon/connector.h"

namespace ergon {

const char* to_string(Effect effect) {
  switch (effect) {
    case Effect::kRead: return "read";
    case Effect::kWrite: return "write";
    case Effect::kIrreversible: return "irreversible";
  }
  return "irreversible";
}

Result<Effect> parse_effect(const std::string& text) {
  if (text == "read") return Effect::kRead;
  if (text == "write") return Effect::kWrite;
  if (text == "irreversible") return Effect::kIrreversible;
  return fail(ErrorCode::kInvalidInput,
              "unknown effect '" + text + "': use read, write or irreversible");
}

Result<std::pair<std::string, std::string>> split_action_name(const std::string& name) {
  auto dot = name.find('.');
  if (dot == std::string::npos || dot == 0 || dot + 1 == name.size()) {
    return fail(ErrorCode::kInvalidInput,
                "action '" + name + "' is not of the form <connector>.<action>");
  }
  return std::pair{name.substr(0, dot), name.substr(dot + 1)};
}

Result<Json> Connector::inspect(const ActionCall&) {
  return Json::object();
}
void Connector::begin_session(const std::string&) {}
void Connector::end_session(const std::string&, bool) {}

void ConnectorSet::add(std::unique_ptr<Connector> connector) {
  std::string name = connector->name();
  connectors_[name] = std::move(connector);
}

Connector* ConnectorSet::connector(const std::string& name) const {
  auto it = connectors_.find(name);
  return it == connectors_.end() ? nullptr : it->second.get();
}

Result<std::pair<Connector*, const ActionSpec*>> ConnectorSet::find(
    const std::string& action) const {
  auto parts = split_action_name(action);
  if (!parts) return fail(parts.error());
  Connector* connector = this->connector(parts->first);
  if (connector == nullptr) {
    return fail(ErrorCode::kNotFound,
                "unknown connector '" + parts->first + "' in action '" + action + "'");
  }
  for (const ActionSpec& spec : connector->actions()) {
    if (spec.name == action) return std::pair{connector, &spec};
  }
  return fail(ErrorCode::kNotFound,
              "connector '" + parts->first + "' has no action '" + parts->second + "'");
}

std::vector<const ActionSpec*> ConnectorSet::all_actions() const {
  std::vector<const ActionSpec*> out;
  for (const auto& [name, connector] : connectors_) {
    for (const ActionSpec& spec : connector->actions()) out.push_back(&spec);
  }
  return out;
}

std::vector<Connector*> ConnectorSet::all() const {
  std::vector<Connector*> out;
  for (const auto& [name, connector] : connectors_) out.push_back(connector.get());
  return out;
}

}  // namespace ergon
