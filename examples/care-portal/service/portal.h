// care-portal: the model behind the CarePoint provider portal — the insurer's
// members, MRI procedures and pre-authorisations, the imaging facilities and
// their slots, and the appointments booked. It knows nothing of HTTP or HTML;
// both layouts (v1 and v2) show the same Portal.
//
// Deterministic: the same seed and the same requests give the same
// authorisation and confirmation numbers and the same free slots.
// Not thread-safe; the server serialises access.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace care {

using json = nlohmann::json;

struct Member {
  std::string id;  // MBR-123456
  std::string name;
  std::string dob;  // YYYY-MM-DD
  std::string zip;
};

struct Procedure {
  std::string cpt;  // "70551"
  std::string label;
};

struct Facility {
  std::string id;  // FAC-1058
  std::string name;
  std::string address;
  double x = 0, y = 0;  // miles on a local grid
  bool in_network = false;
  bool sponsored = false;  // listed first in every search, whatever the filter
  std::string website;     // "" when none
  std::string scanner;
};

// A place a search can be centred on.
struct Place {
  std::string city;
  std::string zip;
  double x = 0, y = 0;
  std::string label() const { return city + ", MA " + zip; }
};

// What the pre-authorisation form sends.
struct PreauthForm {
  std::string patient_name;
  std::string member_id;
  std::string dob;  // optional
  std::string cpt;
  std::string diagnosis;  // ICD-10
  std::string notes;
  std::string urgency;  // routine | urgent
  bool attested = false;
};

struct Preauth {
  int id = 0;
  std::string number;  // PA-12345678
  std::string status;  // Approved
  PreauthForm form;
};

struct Slot {
  std::string time;  // "09:15"
  std::string scanner;
  std::string status;  // Available | Unavailable | Booked
};

struct Appointment {
  int id = 0;
  std::string confirmation;  // CNF-7K2Q9D
  std::string facility_id;
  std::string date;  // YYYY-MM-DD
  std::string time;  // HH:MM
  std::string auth;  // PA-…
  std::string patient;
  std::string member_id;
  std::string cpt;
  std::string status;  // Confirmed | Cancelled
};

struct SearchResult {
  const Facility* facility = nullptr;
  double distance = 0;  // miles, one decimal
};

class Portal {
 public:
  explicit Portal(std::uint64_t seed);

  static const std::vector<Member>& members();
  static const std::vector<Procedure>& procedures();
  static const std::vector<Facility>& facilities();
  static const std::vector<Place>& places();
  static const Procedure* procedure(const std::string& cpt);
  static const Facility* facility(const std::string& id);

  // Validates a request and files it. The insurer approves every valid
  // request; an identical one (member, procedure, diagnosis) already on file
  // is returned instead of a second authorisation (`existing`).
  struct Filed {
    std::vector<std::string> errors;  // empty on success
    std::optional<Preauth> preauth;
    bool existing = false;
  };
  Filed file_preauth(const PreauthForm& form);
  std::optional<Preauth> preauth(int id) const;
  std::optional<Preauth> preauth_by_number(const std::string& number) const;
  const std::vector<Preauth>& preauths() const { return preauths_; }

  // Facilities around a ZIP code or city, sponsored listings first, then by
  // name. `error` is set when the place is unknown.
  struct Search {
    std::optional<Place> place;
    std::vector<SearchResult> results;
    std::string error;
  };
  Search search(const std::string& query, bool in_network_only) const;

  // The day's slots at a facility; `date` must be a valid YYYY-MM-DD.
  std::vector<Slot> slots(const std::string& facility_id, const std::string& date) const;

  // Books a slot. `status` is 200 on success, 404 for an unknown facility,
  // 409 when the slot or the authorisation is taken, 422 for invalid input.
  struct Booking {
    int status = 200;
    std::string error;
    std::optional<Appointment> appointment;
  };
  Booking book(const std::string& facility_id, const std::string& auth, const std::string& date,
               const std::string& time, const std::string& today);
  // Cancels a confirmed appointment; "" or the reason it cannot be.
  std::string cancel(int id);
  std::optional<Appointment> appointment(int id) const;
  const std::vector<Appointment>& appointments() const { return appointments_; }

  json dump() const;

 private:
  std::uint64_t hash(const std::vector<std::string>& parts) const;

  std::uint64_t seed_;
  std::vector<Preauth> preauths_;
  std::vector<Appointment> appointments_;
  int next_preauth_ = 1001;
  int next_appointment_ = 5001;
};

// "YYYY-MM-DD" naming a real calendar day.
bool valid_date(const std::string& date);
json to_json(const Preauth& preauth);
json to_json(const Appointment& appointment);

}  // namespace care
