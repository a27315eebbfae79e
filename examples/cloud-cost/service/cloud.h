// acme-cloud: the in-memory model of the sample cloud provider (no HTTP here).
//
// One account ("acme-main"), a fixed fleet of instances with 14-day metrics, a
// price table and reservations. Every operation returns a Reply: an HTTP status
// and a JSON body. The class is not thread-safe; the server holds one mutex
// around it.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace acme {

using nlohmann::json;

struct Size {
  std::string name;    // "m5.large"
  std::string family;  // "m5"
  int order = 0;       // rank within the family, 0 = smallest
  int vcpu = 0;
  double memory_gb = 0;
  double monthly_price = 0;  // USD per month, on demand
};

struct Instance {
  std::string id;     // "i-0a1b2c"
  std::string name;   // "web-prod-1"
  std::string size;   // a Size::name
  std::string state;  // "running" | "stopped"
  std::string env;    // "prod" | "staging" | "dev" | "test"
  std::string team;
  double cpu_avg = 0;  // 14-day window, percent
  double cpu_p95 = 0;
  double mem_avg = 0;
};

struct Reservation {
  std::string id;  // "ri-5e2f10"
  std::string size;
  int count = 0;
  int term_months = 12;
  double discount_rate = 0;  // 0.35 for 12 months, 0.50 for 36
  double upfront_cost = 0;
  double monthly_savings = 0;  // nominal: count * price * discount_rate
  std::string idempotency_key;
};

struct Reply {
  int status = 200;
  json body;
};

// Error body in the service's one format: {"error": message, "code": code}.
Reply error(int status, std::string code, std::string message);

// Rounds money to cents.
double cents(double usd);

class Cloud {
 public:
  // seed 0 is the canonical fleet documented in the README; other seeds keep
  // names, sizes, tags, states and every savings figure but change instance ids
  // and jitter the metrics within their bands.
  explicit Cloud(std::uint64_t seed = 0);

  Reply list_instances(const std::optional<std::string>& env,
                       const std::optional<std::string>& state) const;
  Reply get_instance(const std::string& id) const;
  Reply metrics(const std::optional<std::string>& instance) const;
  Reply sizes() const;
  Reply bill() const;
  Reply stop(const std::string& id, bool dry_run);
  Reply start(const std::string& id, bool dry_run);
  Reply resize(const std::string& id, const json& body, bool dry_run);
  Reply reserve(const json& body, const std::optional<std::string>& idempotency_key, bool dry_run);
  Reply list_reservations() const;
  Reply get_reservation(const std::string& id) const;

  // Everything, for /_control/state.
  json dump() const;

  std::uint64_t seed() const { return seed_; }

 private:
  Instance* find(const std::string& id);
  const Instance* find(const std::string& id) const;
  const Size* size_of(const std::string& name) const;
  json instance_json(const Instance& in) const;
  json reservation_json(const Reservation& r) const;
  json bill_json() const;
  double projected_monthly() const;
  // Sets an instance's state, or previews it on a copy of the state (dry run).
  Reply set_state(const std::string& id, const std::string& to, bool dry_run);
  // A dry run: the instance and bill before and after `change`, applied to a copy.
  Reply preview(const std::string& id, const std::function<void(Instance&)>& change) const;

  std::uint64_t seed_;
  std::vector<Size> sizes_;
  std::vector<Instance> instances_;
  std::vector<Reservation> reservations_;
  std::map<std::string, std::string> idempotency_;  // key -> reservation id
  std::uint64_t reservation_counter_ = 0;
};

}  // namespace acme
