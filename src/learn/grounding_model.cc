// The learned grounding model on disk: one JSON file a person can read,
//   {"format": "ergon-grounding-model/1", "weights": {...}, "min_score": ..,
//    "min_margin": .., "meta": {...}}
// written atomically, read strictly (unknown fields and bad values are errors
// naming the file and the field).
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

#include "ergon/learn.h"

namespace ergon {
namespace {

namespace fs = std::filesystem;

constexpr const char* kFormat = "ergon-grounding-model/1";

Error broken(const std::string& path, const std::string& what) {
  return Error{ErrorCode::kInvalidInput,
               path + ": " + what + " — fix the file, or delete it and run `ergon train` again"};
}

Result<double> threshold(const Json& doc, const char* key, const std::string& path) {
  if (!doc.contains(key)) return fail(broken(path, std::string("missing field '") + key + "'"));
  const Json& v = doc[key];
  if (!v.is_number() || !std::isfinite(v.get<double>()) || v.get<double>() < 0 ||
      v.get<double>() > 1) {
    return fail(broken(path, std::string("field '") + key + "' must be a number between 0 and 1"));
  }
  return v.get<double>();
}

}  // namespace

std::string grounding_model_path(const std::string& workspace_dir) {
  return (fs::path(workspace_dir) / ".ergon" / "browser" / "grounding-model.json").string();
}

Status save_grounding_model(const std::string& workspace_dir, const GroundingModel& model) {
  const std::string path = grounding_model_path(workspace_dir);
  Json doc = Json::object();
  doc["format"] = kFormat;
  doc["weights"] = to_json(model.options.weights);
  doc["min_score"] = model.options.min_score;
  doc["min_margin"] = model.options.min_margin;
  doc["meta"] = model.meta.is_object() ? model.meta : Json::object();

  std::error_code ec;
  fs::create_directories(fs::path(path).parent_path(), ec);
  if (ec) {
    return fail(ErrorCode::kInternal,
                "cannot create " + fs::path(path).parent_path().string() + ": " + ec.message());
  }
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << doc.dump(2) << "\n";
    if (!out) return fail(ErrorCode::kInternal, "cannot write " + tmp);
  }
  fs::rename(tmp, path, ec);
  if (ec) return fail(ErrorCode::kInternal, "cannot write " + path + ": " + ec.message());
  return {};
}

Result<std::optional<GroundingModel>> load_grounding_model(const std::string& workspace_dir) {
  const std::string path = grounding_model_path(workspace_dir);
  std::error_code ec;
  if (!fs::exists(path, ec)) return std::optional<GroundingModel>{};
  std::ifstream in(path);
  if (!in) return fail(ErrorCode::kInvalidInput, path + ": cannot be read");
  std::stringstream text;
  text << in.rdbuf();
  Json doc = Json::parse(text.str(), nullptr, false);
  if (doc.is_discarded()) return fail(broken(path, "not valid JSON"));
  if (!doc.is_object()) return fail(broken(path, "expected a JSON object"));
  for (const auto& [key, value] : doc.items()) {
    if (key != "format" && key != "weights" && key != "min_score" && key != "min_margin" &&
        key != "meta") {
      return fail(broken(path, "unknown field '" + key +
                                   "' (known: format, weights, min_score, min_margin, meta)"));
    }
  }
  if (doc.contains("format") && doc["format"] != kFormat) {
    return fail(broken(path, "field 'format' must be \"" + std::string(kFormat) + "\""));
  }
  if (!doc.contains("weights")) return fail(broken(path, "missing field 'weights'"));
  auto weights = grounding_weights_from_json(doc["weights"]);
  if (!weights) return fail(broken(path, weights.error().message));
  const auto w = weight_vector(*weights);
  double sum = 0;
  for (double x : w) sum += x;
  if (sum <= 0) return fail(broken(path, "weights: at least one weight must be positive"));

  GroundingModel model;
  model.options.weights = *weights;
  auto min_score = threshold(doc, "min_score", path);
  if (!min_score) return fail(min_score.error());
  auto min_margin = threshold(doc, "min_margin", path);
  if (!min_margin) return fail(min_margin.error());
  model.options.min_score = *min_score;
  model.options.min_margin = *min_margin;
  if (doc.contains("meta")) {
    if (!doc["meta"].is_object()) return fail(broken(path, "field 'meta' must be an object"));
    model.meta = doc["meta"];
  }
  return std::optional<GroundingModel>(std::move(model));
}

}  // namespace ergon
