// acme-cloud: the in-memory model of the sample cloud provider.
#include "cloud.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>
#include <utility>

namespace acme {
namespace {

constexpr const char* kAccount = "acme-main";

// Price table: four families, each ordered smallest to largest.
const std::vector<Size>& price_table() {
  static const std::vector<Size> table = {
      {"t3.small", "t3", 0, 2, 2, 15},     {"t3.medium", "t3", 1, 2, 4, 30},
      {"t3.large", "t3", 2, 2, 8, 60},     {"m5.large", "m5", 0, 2, 8, 70},
      {"m5.xlarge", "m5", 1, 4, 16, 140},  {"m5.2xlarge", "m5", 2, 8, 32, 280},
      {"c5.large", "c5", 0, 2, 4, 62},     {"c5.xlarge", "c5", 1, 4, 8, 124},
      {"c5.2xlarge", "c5", 2, 8, 16, 248}, {"r5.large", "r5", 0, 2, 16, 92},
      {"r5.xlarge", "r5", 1, 4, 32, 184},  {"r5.2xlarge", "r5", 2, 8, 64, 365},
  };
  return table;
}

// The canonical fleet (seed 0). See README.md for what each instance is for.
const std::vector<Instance>& canonical_fleet() {
  static const std::vector<Instance> fleet = {
      // prod: busy, except a memory-bound cache and a disaster-recovery standby
      // that are quiet by design and must not be touched.
      {"i-0a1b2c", "web-prod-1", "m5.2xlarge", "running", "prod", "web", 46.8, 81.5, 62.0},
      {"i-0a1b3d", "web-prod-2", "m5.2xlarge", "running", "prod", "web", 44.1, 78.3, 60.4},
      {"i-0b2c4e", "api-prod-1", "c5.2xlarge", "running", "prod", "api", 55.3, 84.7, 48.9},
      {"i-0c3d5f", "db-prod-1", "r5.2xlarge", "running", "prod", "data", 41.7, 72.9, 81.3},
      {"i-0d4e6a", "cache-prod-1", "r5.xlarge", "running", "prod", "data", 6.8, 12.4, 79.5},
      {"i-0e5f7b", "dr-standby-prod-1", "m5.xlarge", "running", "prod", "platform", 1.2, 3.1, 18.6},
      // staging
      {"i-1a2b3c", "web-staging-1", "m5.xlarge", "running", "staging", "web", 14.2, 31.8, 34.0},
      {"i-1b3c4d", "api-staging-1", "c5.xlarge", "running", "staging", "api", 27.5, 47.2, 44.1},
      // dev
      {"i-2a3b4c", "batch-dev-1", "c5.xlarge", "running", "dev", "data", 0.9, 2.7, 12.3},
      {"i-2b4c5d", "notebook-dev-1", "t3.medium", "running", "dev", "ml", 1.1, 3.9, 22.5},
      {"i-2c5d6e", "build-dev-1", "t3.medium", "running", "dev", "api", 9.8, 27.4, 28.0},
      // test
      {"i-3a4b5c", "e2e-test-1", "t3.medium", "running", "test", "qa", 0.7, 1.8, 15.2},
      {"i-3b5c6d", "loadgen-test-1", "m5.large", "stopped", "test", "qa", 0.0, 0.0, 0.0},
  };
  return fleet;
}

// SplitMix64: a tiny, portable, deterministic generator.
std::uint64_t splitmix(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

std::string hex6(std::uint64_t v) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%06llx", static_cast<unsigned long long>(v & 0xFFFFFF));
  return buf;
}

double one_decimal(double v) {
  return std::round(v * 10.0) / 10.0;
}

// Jitters a canonical metric by ±10% while keeping it in the band that decides
// what a cost-cutting skill does with the instance.
double jitter_p95(double v, std::uint64_t r) {
  if (v == 0) return 0;
  double j = one_decimal(v * (0.9 + 0.2 * static_cast<double>(r % 10001) / 10000.0));
  if (v < 5) return std::clamp(j, 0.5, 4.8);
  if (v < 40) return std::clamp(j, 5.5, 38.0);
  return std::clamp(j, 42.0, 99.0);
}

double jitter(double v, std::uint64_t r) {
  return one_decimal(v * (0.9 + 0.2 * static_cast<double>(r % 10001) / 10000.0));
}

std::vector<Instance> fleet_for(std::uint64_t seed) {
  std::vector<Instance> fleet = canonical_fleet();
  if (seed == 0) return fleet;
  std::uint64_t s = splitmix(seed);
  std::set<std::string> ids;
  for (Instance& in : fleet) {
    do {
      s = splitmix(s);
      in.id = "i-" + hex6(s);
    } while (!ids.insert(in.id).second);
    if (in.state != "running") continue;
    in.cpu_p95 = jitter_p95(in.cpu_p95, s = splitmix(s));
    in.cpu_avg = std::min(jitter(in.cpu_avg, s = splitmix(s)), one_decimal(in.cpu_p95 * 0.8));
    in.mem_avg = std::min(jitter(in.mem_avg, s = splitmix(s)), 99.0);
  }
  return fleet;
}

double discount_rate(int term_months) {
  return term_months == 36 ? 0.50 : 0.35;
}

bool as_integer(const json& v, long long& out) {
  if (v.is_number_integer()) {
    out = v.get<long long>();
    return true;
  }
  if (v.is_number_float()) {
    double d = v.get<double>();
    if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 1e12) {
      out = static_cast<long long>(d);
      return true;
    }
  }
  if (v.is_string()) {  // "2" from a form or a string template
    const std::string& s = v.get_ref<const std::string&>();
    if (s.empty() || s.size() > 12) return false;
    if (!std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; })) return false;
    out = std::stoll(s);
    return true;
  }
  return false;
}

}  // namespace

Reply error(int status, std::string code, std::string message) {
  return Reply{status, json{{"error", std::move(message)}, {"code", std::move(code)}}};
}

double cents(double usd) {
  return std::round(usd * 100.0) / 100.0;
}

Cloud::Cloud(std::uint64_t seed)
    : seed_(seed), sizes_(price_table()), instances_(fleet_for(seed)) {}

Instance* Cloud::find(const std::string& id) {
  for (Instance& in : instances_)
    if (in.id == id) return &in;
  return nullptr;
}

const Instance* Cloud::find(const std::string& id) const {
  for (const Instance& in : instances_)
    if (in.id == id) return &in;
  return nullptr;
}

const Size* Cloud::size_of(const std::string& name) const {
  for (const Size& s : sizes_)
    if (s.name == name) return &s;
  return nullptr;
}

json Cloud::instance_json(const Instance& in) const {
  const Size* s = size_of(in.size);
  double cost = (in.state == "running" && s) ? s->monthly_price : 0.0;
  return json{{"id", in.id},
              {"name", in.name},
              {"size", in.size},
              {"state", in.state},
              {"tags", {{"env", in.env}, {"team", in.team}}},
              {"monthly_cost", cents(cost)}};
}

json Cloud::reservation_json(const Reservation& r) const {
  return json{{"id", r.id},
              {"size", r.size},
              {"count", r.count},
              {"term_months", r.term_months},
              {"discount", r.discount_rate},
              {"upfront_cost", cents(r.upfront_cost)},
              {"monthly_savings", cents(r.monthly_savings)}};
}

json Cloud::bill_json() const {
  // Reserved capacity per size: one discount per reserved unit, best first.
  std::map<std::string, std::vector<double>> units;
  for (const Reservation& r : reservations_)
    for (int i = 0; i < r.count; ++i) units[r.size].push_back(r.discount_rate);
  for (auto& [size, rates] : units) std::sort(rates.rbegin(), rates.rend());

  // Running instances of a size take the reserved units in id order.
  std::vector<const Instance*> order;
  for (const Instance& in : instances_) order.push_back(&in);
  std::sort(order.begin(), order.end(),
            [](const Instance* a, const Instance* b) { return a->id < b->id; });
  std::map<std::string, double> discount;
  std::map<std::string, std::size_t> used;
  for (const Instance* in : order) {
    if (in->state != "running") continue;
    auto it = units.find(in->size);
    if (it == units.end()) continue;
    std::size_t& n = used[in->size];
    if (n >= it->second.size()) continue;
    discount[in->id] = cents(size_of(in->size)->monthly_price * it->second[n]);
    ++n;
  }

  json lines = json::array();
  double on_demand = 0, savings = 0;
  for (const Instance& in : instances_) {
    const Size* s = size_of(in.size);
    double cost = (in.state == "running" && s) ? s->monthly_price : 0.0;
    double d = discount.count(in.id) ? discount[in.id] : 0.0;
    on_demand += cost;
    savings += d;
    lines.push_back(json{{"instance", in.id},
                         {"name", in.name},
                         {"env", in.env},
                         {"size", in.size},
                         {"state", in.state},
                         {"monthly_cost", cents(cost)},
                         {"reserved_discount", cents(d)}});
  }
  return json{{"account", kAccount},
              {"currency", "USD"},
              {"on_demand_monthly", cents(on_demand)},
              {"reservations_monthly_savings", cents(savings)},
              {"projected_monthly", cents(on_demand - savings)},
              {"lines", std::move(lines)}};
}

double Cloud::projected_monthly() const {
  return bill_json()["projected_monthly"].get<double>();
}

Reply Cloud::list_instances(const std::optional<std::string>& env,
                            const std::optional<std::string>& state) const {
  json out = json::array();
  for (const Instance& in : instances_) {
    if (env && in.env != *env) continue;
    if (state && in.state != *state) continue;
    out.push_back(instance_json(in));
  }
  return Reply{200, json{{"account", kAccount}, {"instances", std::move(out)}}};
}

Reply Cloud::get_instance(const std::string& id) const {
  const Instance* in = find(id);
  if (!in) return error(404, "not_found", "no instance with id '" + id + "'");
  return Reply{200, instance_json(*in)};
}

Reply Cloud::metrics(const std::optional<std::string>& instance) const {
  json out = json::array();
  for (const Instance& in : instances_) {
    if (instance && in.id != *instance) continue;
    out.push_back(json{{"instance", in.id},
                       {"cpu_avg", in.cpu_avg},
                       {"cpu_p95", in.cpu_p95},
                       {"mem_avg", in.mem_avg}});
  }
  return Reply{200, json{{"window", "14d"}, {"metrics", std::move(out)}}};
}

Reply Cloud::sizes() const {
  json out = json::array();
  for (const Size& s : sizes_)
    out.push_back(json{{"name", s.name},
                       {"family", s.family},
                       {"order", s.order},
                       {"vcpu", s.vcpu},
                       {"memory_gb", s.memory_gb},
                       {"monthly_price", s.monthly_price}});
  json terms = json::array({json{{"term_months", 12}, {"discount", discount_rate(12)}},
                            json{{"term_months", 36}, {"discount", discount_rate(36)}}});
  return Reply{200,
               json{{"currency", "USD"}, {"sizes", std::move(out)}, {"reservation_terms", terms}}};
}

Reply Cloud::bill() const {
  return Reply{200, bill_json()};
}

Reply Cloud::preview(const std::string& id, const std::function<void(Instance&)>& change) const {
  Cloud after = *this;
  change(*after.find(id));
  double before_bill = projected_monthly(), after_bill = after.projected_monthly();
  return Reply{200, json{{"dry_run", true},
                         {"before", instance_json(*find(id))},
                         {"after", after.instance_json(*after.find(id))},
                         {"monthly_delta", cents(after_bill - before_bill)},
                         {"projected_monthly_before", before_bill},
                         {"projected_monthly_after", after_bill}}};
}

Reply Cloud::set_state(const std::string& id, const std::string& to, bool dry_run) {
  Instance* in = find(id);
  if (!in) return error(404, "not_found", "no instance with id '" + id + "'");
  if (dry_run) return preview(id, [&](Instance& i) { i.state = to; });
  in->state = to;
  return Reply{200, instance_json(*in)};
}

Reply Cloud::stop(const std::string& id, bool dry_run) {
  return set_state(id, "stopped", dry_run);
}

Reply Cloud::start(const std::string& id, bool dry_run) {
  return set_state(id, "running", dry_run);
}

Reply Cloud::resize(const std::string& id, const json& body, bool dry_run) {
  Instance* in = find(id);
  if (!in) return error(404, "not_found", "no instance with id '" + id + "'");
  if (!body.is_object() || !body.contains("size") || !body["size"].is_string())
    return error(400, "invalid_argument", "body must be a JSON object with a string field 'size'");
  const std::string& to = body["size"].get_ref<const std::string&>();
  const Size* target = size_of(to);
  if (!target) return error(400, "unknown_size", "unknown size '" + to + "' (see GET /v1/sizes)");
  const Size* current = size_of(in->size);
  if (target->family != current->family)
    return error(400, "family_mismatch",
                 "cannot resize " + in->size + " to " + to +
                     ": sizes must be in the same family (" + current->family + ")");
  if (dry_run) return preview(id, [&](Instance& i) { i.size = to; });
  in->size = to;
  return Reply{200, instance_json(*in)};
}

Reply Cloud::reserve(const json& body, const std::optional<std::string>& idempotency_key,
                     bool dry_run) {
  if (!body.is_object())
    return error(400, "invalid_argument",
                 "body must be a JSON object {\"size\", \"count\", \"term_months\"}");
  if (!body.contains("size") || !body["size"].is_string())
    return error(400, "invalid_argument", "'size' is required and must be a string");
  const std::string size = body["size"].get<std::string>();
  const Size* s = size_of(size);
  if (!s) return error(400, "unknown_size", "unknown size '" + size + "' (see GET /v1/sizes)");
  long long count = 0;
  if (!body.contains("count") || !as_integer(body["count"], count))
    return error(400, "invalid_argument", "'count' is required and must be an integer");
  if (count < 1 || count > 1000)
    return error(400, "invalid_count", "'count' must be between 1 and 1000");
  long long term = 12;
  if (body.contains("term_months") && !body["term_months"].is_null() &&
      !as_integer(body["term_months"], term))
    return error(400, "invalid_term", "'term_months' must be 12 or 36");
  if (term != 12 && term != 36) return error(400, "invalid_term", "'term_months' must be 12 or 36");

  Reservation r;
  r.size = size;
  r.count = static_cast<int>(count);
  r.term_months = static_cast<int>(term);
  r.discount_rate = discount_rate(r.term_months);
  r.upfront_cost = cents(r.count * s->monthly_price * (1.0 - r.discount_rate) * r.term_months);
  r.monthly_savings = cents(r.count * s->monthly_price * r.discount_rate);

  // The same Idempotency-Key again: the same reservation, nothing charged.
  const Reservation* existing = nullptr;
  if (idempotency_key && !idempotency_key->empty()) {
    auto it = idempotency_.find(*idempotency_key);
    if (it != idempotency_.end()) {
      for (const Reservation& e : reservations_)
        if (e.id == it->second) existing = &e;
      if (existing && (existing->size != r.size || existing->count != r.count ||
                       existing->term_months != r.term_months))
        return error(409, "idempotency_key_reused",
                     "Idempotency-Key '" + *idempotency_key + "' was used for reservation " +
                         existing->id + " with different parameters");
    }
  }

  double before_bill = projected_monthly();
  if (dry_run) {
    json preview;
    double after_bill = before_bill;
    if (existing) {
      preview = reservation_json(*existing);
    } else {
      Cloud after = *this;
      after.reservations_.push_back(r);
      after_bill = after.projected_monthly();
      preview = reservation_json(r);
      preview.erase("id");
    }
    return Reply{200, json{{"dry_run", true},
                           {"replay", existing != nullptr},
                           {"reservation", preview},
                           {"monthly_delta", cents(after_bill - before_bill)},
                           {"projected_monthly_before", before_bill},
                           {"projected_monthly_after", after_bill}}};
  }
  if (existing) return Reply{200, reservation_json(*existing)};

  do {
    r.id = "ri-" + hex6(splitmix(seed_ * 0x100000001B3ULL + ++reservation_counter_));
  } while (std::any_of(reservations_.begin(), reservations_.end(),
                       [&](const Reservation& e) { return e.id == r.id; }));
  if (idempotency_key && !idempotency_key->empty()) {
    r.idempotency_key = *idempotency_key;
    idempotency_[*idempotency_key] = r.id;
  }
  reservations_.push_back(r);
  return Reply{201, reservation_json(r)};
}

Reply Cloud::list_reservations() const {
  json out = json::array();
  for (const Reservation& r : reservations_) out.push_back(reservation_json(r));
  return Reply{200, json{{"reservations", std::move(out)}}};
}

Reply Cloud::get_reservation(const std::string& id) const {
  for (const Reservation& r : reservations_)
    if (r.id == id) return Reply{200, reservation_json(r)};
  return error(404, "not_found", "no reservation with id '" + id + "'");
}

json Cloud::dump() const {
  json instances = json::array();
  for (const Instance& in : instances_) {
    json j = instance_json(in);
    j["metrics"] = {{"cpu_avg", in.cpu_avg}, {"cpu_p95", in.cpu_p95}, {"mem_avg", in.mem_avg}};
    instances.push_back(std::move(j));
  }
  json reservations = json::array();
  for (const Reservation& r : reservations_) {
    json j = reservation_json(r);
    j["idempotency_key"] = r.idempotency_key.empty() ? json(nullptr) : json(r.idempotency_key);
    reservations.push_back(std::move(j));
  }
  json b = bill_json();
  return json{{"account", kAccount},
              {"seed", seed_},
              {"instances", std::move(instances)},
              {"reservations", std::move(reservations)},
              {"projected_monthly", b["projected_monthly"]},
              {"reservations_monthly_savings", b["reservations_monthly_savings"]}};
}

}  // namespace acme
