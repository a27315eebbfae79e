// `model:` of ergon.yaml, and the accounting of model calls.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "core/internal/yaml_json.h"
#include "ergon/model.h"
#include "ergon/plan.h"

namespace ergon {
namespace {

using internal::pointer_append;
using internal::type_name;

const std::vector<std::string> kModelFields = {
    "kind",          "base_url",           "model",          "api_key_env", "timeout_ms",
    "max_retries",   "initial_backoff_ms", "max_backoff_ms", "temperature", "max_tokens",
    "repair_rounds", "agent_max_steps",    "prices"};
const std::vector<std::string> kPriceFields = {"prompt_per_1k", "completion_per_1k", "currency"};

std::unexpected<Error> field_error(const std::string& pointer, const std::string& what) {
  return fail(ErrorCode::kInvalidInput, pointer + ": " + what);
}

Status check_fields(const Json& object, const std::string& pointer,
                    const std::vector<std::string>& known) {
  for (const auto& [key, value] : object.items()) {
    if (std::find(known.begin(), known.end(), key) != known.end()) continue;
    std::string hint = closest_spelling(key, known);
    std::string all;
    for (const std::string& name : known) all += (all.empty() ? "" : ", ") + name;
    return field_error(pointer_append(pointer, key),
                       hint.empty() ? "unknown field — use " + all
                                    : "unknown field — did you mean '" + hint + "'?");
  }
  return {};
}

// Reads an optional string field into `out`.
Status read_string(const Json& object, const std::string& pointer, const std::string& key,
                   std::string& out) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return {};
  if (!it->is_string()) {
    return field_error(pointer_append(pointer, key), "expected a string, found " + type_name(*it));
  }
  out = it->get<std::string>();
  return {};
}

// Reads an optional whole number in [min, max] into `out`.
Status read_int(const Json& object, const std::string& pointer, const std::string& key, int min,
                int max, int& out) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return {};
  std::string at = pointer_append(pointer, key);
  std::string range =
      "a whole number from " + std::to_string(min) +
      (max == std::numeric_limits<int>::max() ? " up" : " to " + std::to_string(max));
  if (!it->is_number()) return field_error(at, "expected " + range + ", found " + type_name(*it));
  double value = it->get<double>();
  if (value != std::floor(value) || value < min || value > max) {
    return field_error(at, "expected " + range + ", found " + it->dump());
  }
  out = static_cast<int>(value);
  return {};
}

Status read_number(const Json& object, const std::string& pointer, const std::string& key,
                   double min, double max, const std::string& range, double& out) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return {};
  std::string at = pointer_append(pointer, key);
  if (!it->is_number()) return field_error(at, "expected " + range + ", found " + type_name(*it));
  double value = it->get<double>();
  if (!(value >= min && value <= max)) {
    return field_error(at, "expected " + range + ", found " + it->dump());
  }
  out = value;
  return {};
}

bool valid_env_name(const std::string& name) {
  if (name.empty() || std::isdigit(static_cast<unsigned char>(name[0]))) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
  });
}

Result<ModelPrices> prices_from_json(const Json& json, const std::string& pointer) {
  if (!json.is_object()) {
    return field_error(pointer,
                       "expected a mapping {prompt_per_1k, completion_per_1k, currency}, "
                       "found " +
                           type_name(json));
  }
  if (auto ok = check_fields(json, pointer, kPriceFields); !ok) return fail(ok.error());
  ModelPrices prices;
  const double kMax = std::numeric_limits<double>::max();
  if (auto ok = read_number(json, pointer, "prompt_per_1k", 0, kMax, "a price of 0 or more",
                            prices.prompt_per_1k);
      !ok) {
    return fail(ok.error());
  }
  if (auto ok = read_number(json, pointer, "completion_per_1k", 0, kMax, "a price of 0 or more",
                            prices.completion_per_1k);
      !ok) {
    return fail(ok.error());
  }
  if (auto ok = read_string(json, pointer, "currency", prices.currency); !ok)
    return fail(ok.error());
  if (prices.currency.empty()) {
    return field_error(pointer_append(pointer, "currency"),
                       "empty currency — write a code such as USD or EUR");
  }
  return prices;
}

}  // namespace

Result<ModelConfig> model_config_from_json(const Json& json) {
  if (!json.is_object()) {
    return fail(ErrorCode::kInvalidInput, "expected a mapping with base_url and model, found " +
                                              type_name(json) + " — see docs/model.md");
  }
  if (auto ok = check_fields(json, "", kModelFields); !ok) return fail(ok.error());
  ModelConfig config;

  if (auto ok = read_string(json, "", "kind", config.kind); !ok) return fail(ok.error());
  if (config.kind != "openai") {
    return field_error("/kind", "unknown kind '" + config.kind +
                                    "' — use openai (any OpenAI-compatible chat-completions "
                                    "endpoint: llama.cpp server, vLLM, Ollama, a hosted API)");
  }

  if (auto ok = read_string(json, "", "base_url", config.base_url); !ok) return fail(ok.error());
  if (config.base_url.empty()) {
    return field_error("/base_url",
                       "missing — set it to the server's OpenAI-compatible endpoint up to /v1, "
                       "e.g. http://127.0.0.1:8080/v1");
  }
  if (!config.base_url.starts_with("http://") && !config.base_url.starts_with("https://")) {
    return field_error("/base_url", "'" + config.base_url +
                                        "' is not an http:// or https:// URL — write e.g. "
                                        "http://127.0.0.1:8080/v1");
  }
  while (config.base_url.ends_with('/')) config.base_url.pop_back();
  if (config.base_url.ends_with("/chat/completions")) {
    return field_error("/base_url", "'" + config.base_url +
                                        "' names the endpoint itself — stop before "
                                        "/chat/completions (ergon appends it)");
  }

  if (auto ok = read_string(json, "", "model", config.model); !ok) return fail(ok.error());
  if (config.model.empty()) {
    return field_error("/model",
                       "missing — set it to the model name the server serves (GET "
                       "<base_url>/models lists them)");
  }

  if (auto ok = read_string(json, "", "api_key_env", config.api_key_env); !ok) {
    return fail(ok.error());
  }
  if (!config.api_key_env.empty() && !valid_env_name(config.api_key_env)) {
    return field_error("/api_key_env",
                       "'" + config.api_key_env +
                           "' is not an environment variable name — write the variable's name "
                           "(letters, digits, '_'), not the key itself");
  }

  const int kAny = std::numeric_limits<int>::max();
  struct IntField {
    const char* key;
    int min;
    int* out;
  };
  for (const IntField& field : {IntField{"timeout_ms", 1, &config.timeout_ms},
                                IntField{"max_retries", 0, &config.max_retries},
                                IntField{"initial_backoff_ms", 0, &config.initial_backoff_ms},
                                IntField{"max_backoff_ms", 0, &config.max_backoff_ms},
                                IntField{"max_tokens", 0, &config.max_tokens},
                                IntField{"repair_rounds", 0, &config.repair_rounds},
                                IntField{"agent_max_steps", 1, &config.agent_max_steps}}) {
    if (auto ok = read_int(json, "", field.key, field.min, kAny, *field.out); !ok) {
      return fail(ok.error());
    }
  }
  if (config.max_retries > 100) {
    return field_error("/max_retries", "at most 100 retries — write a smaller number");
  }
  if (auto ok =
          read_number(json, "", "temperature", 0, 2, "a number from 0 to 2", config.temperature);
      !ok) {
    return fail(ok.error());
  }
  if (auto it = json.find("prices"); it != json.end() && !it->is_null()) {
    auto prices = prices_from_json(*it, "/prices");
    if (!prices) return fail(prices.error());
    config.prices = *prices;
  }
  return config;
}

ModelUsage& ModelUsage::operator+=(const ModelUsage& other) {
  calls += other.calls;
  attempts += other.attempts;
  prompt_tokens += other.prompt_tokens;
  completion_tokens += other.completion_tokens;
  latency_ms += other.latency_ms;
  cost += other.cost;
  return *this;
}

Json to_json(const ModelUsage& usage) {
  return Json{{"calls", usage.calls},
              {"attempts", usage.attempts},
              {"prompt_tokens", usage.prompt_tokens},
              {"completion_tokens", usage.completion_tokens},
              {"latency_ms", usage.latency_ms},
              {"cost", usage.cost}};
}

ModelUsage usage_from_json(const Json& json) {
  ModelUsage usage;
  if (!json.is_object()) return usage;
  auto integer = [&](const char* key) -> int64_t {
    auto it = json.find(key);
    return it != json.end() && it->is_number() ? it->get<int64_t>() : 0;
  };
  usage.calls = integer("calls");
  usage.attempts = integer("attempts");
  usage.prompt_tokens = integer("prompt_tokens");
  usage.completion_tokens = integer("completion_tokens");
  usage.latency_ms = integer("latency_ms");
  auto cost = json.find("cost");
  usage.cost = cost != json.end() && cost->is_number() ? cost->get<double>() : 0;
  return usage;
}

}  // namespace ergon
