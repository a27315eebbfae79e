// care-portal: the model behind the CarePoint provider portal.
#include "portal.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>

namespace care {
namespace {

const std::vector<std::string> kSlotTimes = {"08:00", "09:15", "10:30", "11:45",
                                             "13:00", "14:15", "15:30", "16:45"};

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

// Lower case, surrounding blanks dropped, inner runs of blanks made one space.
std::string normalised(const std::string& s) {
  std::string out;
  bool blank = false;
  for (char c : s) {
    if (std::isspace(static_cast<unsigned char>(c))) {
      blank = !out.empty();
      continue;
    }
    if (blank) out += ' ';
    blank = false;
    out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

std::string trimmed(const std::string& s) {
  std::size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  std::size_t e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

bool all_digits(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isdigit(static_cast<unsigned char>(c)) != 0;
  });
}

bool member_id_shape(const std::string& id) {
  return id.size() == 10 && id.starts_with("MBR-") && all_digits(id.substr(4));
}

// ICD-10-CM: a letter, a digit, a digit or letter, then optionally a dot and
// one to four letters or digits ("M54.16", "R51.9", "G43909").
bool icd10_shape(const std::string& code) {
  auto alnum = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; };
  if (code.size() < 3 || !std::isalpha(static_cast<unsigned char>(code[0])) ||
      !std::isdigit(static_cast<unsigned char>(code[1])) || !alnum(code[2]))
    return false;
  std::string rest = code.substr(3);
  if (rest.empty()) return true;
  if (rest[0] == '.') rest = rest.substr(1);
  return !rest.empty() && rest.size() <= 4 && std::all_of(rest.begin(), rest.end(), alnum);
}

std::uint64_t fnv1a(std::uint64_t h, const std::string& s) {
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  h ^= 0xff;  // separator, so ("ab","c") and ("a","bc") differ
  h *= 0x100000001b3ULL;
  return h;
}

std::uint64_t mix(std::uint64_t z) {  // splitmix64's finaliser
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

}  // namespace

bool valid_date(const std::string& date) {
  if (date.size() != 10 || date[4] != '-' || date[7] != '-') return false;
  const std::string y = date.substr(0, 4), m = date.substr(5, 2), d = date.substr(8, 2);
  if (!all_digits(y) || !all_digits(m) || !all_digits(d)) return false;
  const std::chrono::year_month_day ymd{std::chrono::year{std::stoi(y)},
                                        std::chrono::month{static_cast<unsigned>(std::stoi(m))},
                                        std::chrono::day{static_cast<unsigned>(std::stoi(d))}};
  return ymd.ok();
}

Portal::Portal(std::uint64_t seed) : seed_(seed) {}

const std::vector<Member>& Portal::members() {
  static const std::vector<Member> kMembers = {
      {"MBR-123456", "Jane Doe", "1980-04-12", "02139"},
      {"MBR-204518", "Omar Haddad", "1975-09-30", "02143"},
      {"MBR-310772", "Mei Chen", "1991-01-22", "02115"},
      {"MBR-482913", "Carlos Rivera", "1968-11-05", "02446"},
      {"MBR-550127", "Priya Natarajan", "1987-06-14", "02139"},
  };
  return kMembers;
}

const std::vector<Procedure>& Portal::procedures() {
  static const std::vector<Procedure> kProcedures = {
      {"70551", "MRI brain w/o contrast"},
      {"70553", "MRI brain w/o & with contrast"},
      {"72148", "MRI lumbar spine w/o contrast"},
      {"73721", "MRI knee (lower extremity joint) w/o contrast"},
  };
  return kProcedures;
}

const std::vector<Facility>& Portal::facilities() {
  // The nearest facility to Cambridge is out of network, and so is the
  // sponsored listing every search shows first: neither "the first row" nor
  // "the nearest row" is the right pick.
  static const std::vector<Facility> kFacilities = {
      {"FAC-1017", "Atlantic Imaging Partners", "400 Atlantic Ave, Boston, MA 02110", 3.5, -1.0,
       false, true, "http://example.invalid/atlantic-imaging", "3T MRI"},
      {"FAC-1042", "Back Bay MRI Center", "220 Newbury St, Boston, MA 02116", 1.2, -1.6, true,
       false, "", "1.5T MRI"},
      {"FAC-1058", "Charles River Radiology", "55 Memorial Dr, Cambridge, MA 02142", 0.9, -0.4,
       true, false, "", "3T MRI"},
      {"FAC-1063", "Fenway Diagnostic Imaging", "1250 Boylston St, Boston, MA 02215", 0.3, -2.3,
       false, false, "", "1.5T MRI"},
      {"FAC-1071", "Harborview Open MRI", "75 Border St, East Boston, MA 02128", 5.0, 0.5, true,
       false, "", "1.2T Open MRI"},
      {"FAC-1086", "Kendall Square Imaging", "300 Main St, Cambridge, MA 02142", 0.4, -0.2, false,
       false, "", "3T MRI"},
      {"FAC-1094", "Longwood Medical Imaging", "330 Brookline Ave, Boston, MA 02215", 0.0, -2.9,
       true, false, "", "3T MRI"},
      {"FAC-1102", "Mystic Valley MRI", "40 Highland Ave, Somerville, MA 02143", 0.7, 1.8, true,
       false, "", "1.5T MRI"},
  };
  return kFacilities;
}

const std::vector<Place>& Portal::places() {
  static const std::vector<Place> kPlaces = {
      {"Cambridge", "02139", 0.0, 0.0},
      {"Boston", "02115", 1.5, -2.0},
      {"Somerville", "02143", 0.5, 2.0},
      {"Brookline", "02446", -0.5, -3.0},
  };
  return kPlaces;
}

const Procedure* Portal::procedure(const std::string& cpt) {
  for (const Procedure& p : procedures())
    if (p.cpt == cpt) return &p;
  return nullptr;
}

const Facility* Portal::facility(const std::string& id) {
  for (const Facility& f : facilities())
    if (f.id == id) return &f;
  return nullptr;
}

std::uint64_t Portal::hash(const std::vector<std::string>& parts) const {
  std::uint64_t h = 0xcbf29ce484222325ULL ^ mix(seed_);
  for (const std::string& p : parts) h = fnv1a(h, p);
  return mix(h);
}

Portal::Filed Portal::file_preauth(const PreauthForm& in) {
  Filed out;
  PreauthForm form = in;
  form.patient_name = trimmed(form.patient_name);
  form.member_id = upper(trimmed(form.member_id));
  form.dob = trimmed(form.dob);
  form.diagnosis = upper(trimmed(form.diagnosis));
  form.notes = trimmed(form.notes);
  if (form.urgency.empty()) form.urgency = "routine";

  const Member* member = nullptr;
  if (form.patient_name.empty()) out.errors.push_back("Enter the patient's name.");
  if (form.member_id.empty()) {
    out.errors.push_back("Enter the member ID from the insurance card.");
  } else if (!member_id_shape(form.member_id)) {
    out.errors.push_back("Member ID must look like MBR-123456.");
  } else {
    for (const Member& m : members())
      if (m.id == form.member_id) member = &m;
    if (member == nullptr) {
      out.errors.push_back("No member with ID " + form.member_id +
                           " — check the ID on the insurance card.");
    } else if (!form.patient_name.empty() &&
               normalised(form.patient_name) != normalised(member->name)) {
      out.errors.push_back("Member " + form.member_id + " is not " + form.patient_name +
                           " — check the name on the insurance card.");
    }
  }
  if (!form.dob.empty()) {
    if (!valid_date(form.dob)) {
      out.errors.push_back("Date of birth must be a date (YYYY-MM-DD).");
    } else if (member != nullptr && member->dob != form.dob) {
      out.errors.push_back("Date of birth does not match the member's record.");
    }
  }
  if (procedure(form.cpt) == nullptr) out.errors.push_back("Choose the procedure (CPT code).");
  if (form.diagnosis.empty()) {
    out.errors.push_back("Enter the diagnosis (ICD-10 code).");
  } else if (!icd10_shape(form.diagnosis)) {
    out.errors.push_back("Diagnosis must be an ICD-10 code such as M54.16.");
  }
  if (form.urgency != "routine" && form.urgency != "urgent")
    out.errors.push_back("Urgency must be routine or urgent.");
  if (form.notes.size() > 2000)
    out.errors.push_back("Clinical notes are limited to 2000 characters.");
  if (!form.attested) out.errors.push_back("Confirm that the information is accurate.");
  if (!out.errors.empty()) return out;

  for (const Preauth& p : preauths_) {
    if (p.form.member_id == form.member_id && p.form.cpt == form.cpt &&
        p.form.diagnosis == form.diagnosis) {
      out.preauth = p;
      out.existing = true;
      return out;
    }
  }
  Preauth p;
  p.id = next_preauth_++;
  p.status = "Approved";
  p.form = form;
  for (int attempt = 0;; ++attempt) {
    char digits[16];
    std::snprintf(digits, sizeof digits, "%08llu",
                  static_cast<unsigned long long>(
                      hash({form.member_id, form.cpt, form.diagnosis, std::to_string(attempt)}) %
                      100000000ULL));
    p.number = std::string("PA-") + digits;
    if (!preauth_by_number(p.number)) break;
  }
  preauths_.push_back(p);
  out.preauth = p;
  return out;
}

std::optional<Preauth> Portal::preauth(int id) const {
  for (const Preauth& p : preauths_)
    if (p.id == id) return p;
  return std::nullopt;
}

std::optional<Preauth> Portal::preauth_by_number(const std::string& number) const {
  const std::string wanted = upper(trimmed(number));
  for (const Preauth& p : preauths_)
    if (p.number == wanted) return p;
  return std::nullopt;
}

Portal::Search Portal::search(const std::string& query, bool in_network_only) const {
  Search out;
  std::string q = normalised(query);
  for (const char* suffix : {", ma", " ma", ","}) {
    if (q.size() > std::string(suffix).size() && q.ends_with(suffix))
      q.resize(q.size() - std::string(suffix).size());
  }
  for (const Place& place : places()) {
    if (q == place.zip || q == lower(place.city)) out.place = place;
  }
  if (!out.place) {
    out.error = "No location matches \"" + trimmed(query) +
                "\" — enter a ZIP code such as 02139 or a city such as Cambridge.";
    return out;
  }
  for (const Facility& f : facilities()) {
    if (in_network_only && !f.in_network && !f.sponsored) continue;
    const double d = std::hypot(f.x - out.place->x, f.y - out.place->y);
    out.results.push_back({&f, std::round(d * 10) / 10});
  }
  std::stable_sort(out.results.begin(), out.results.end(),
                   [](const SearchResult& a, const SearchResult& b) {
                     if (a.facility->sponsored != b.facility->sponsored)
                       return a.facility->sponsored;
                     return a.facility->name < b.facility->name;
                   });
  return out;
}

std::vector<Slot> Portal::slots(const std::string& facility_id, const std::string& date) const {
  std::vector<Slot> out;
  const Facility* f = facility(facility_id);
  if (f == nullptr || !valid_date(date)) return out;
  bool any_free = false;
  for (const std::string& time : kSlotTimes) {
    Slot s{time, f->scanner, "Available"};
    // The first slot of the day is always taken; others one time in four.
    if (time == kSlotTimes.front() || hash({"slot", facility_id, date, time}) % 4 == 0)
      s.status = "Unavailable";
    if (s.status == "Available") any_free = true;
    out.push_back(s);
  }
  if (!any_free) out[4].status = "Available";
  for (const Appointment& a : appointments_) {
    if (a.status != "Confirmed" || a.facility_id != facility_id || a.date != date) continue;
    for (Slot& s : out)
      if (s.time == a.time) s.status = "Booked";
  }
  return out;
}

Portal::Booking Portal::book(const std::string& facility_id, const std::string& auth_in,
                             const std::string& date, const std::string& time,
                             const std::string& today) {
  Booking out;
  auto refuse = [&](int status, std::string error) {
    out.status = status;
    out.error = std::move(error);
    return out;
  };
  const Facility* f = facility(facility_id);
  if (f == nullptr)
    return refuse(404, "No facility " + facility_id + " — choose one from the search.");
  if (!valid_date(date)) return refuse(422, "Choose a date (YYYY-MM-DD).");
  if (date < today) return refuse(422, "Appointments cannot be booked in the past.");
  const std::string auth = upper(trimmed(auth_in));
  if (auth.empty())
    return refuse(422, "An MRI needs a pre-authorisation: enter its number (PA-…) first.");
  const std::optional<Preauth> preauth = preauth_by_number(auth);
  if (!preauth || preauth->status != "Approved")
    return refuse(422, "Pre-authorisation " + auth + " was not found — check the number.");
  if (time.empty()) return refuse(422, "Choose a time.");
  const std::vector<Slot> day = slots(facility_id, date);
  auto slot = std::find_if(day.begin(), day.end(), [&](const Slot& s) { return s.time == time; });
  if (slot == day.end()) return refuse(422, "There is no " + time + " slot at " + f->name + ".");
  if (slot->status != "Available")
    return refuse(
        409, "The " + time + " slot on " + date + " is no longer available — choose another time.");
  for (const Appointment& a : appointments_) {
    if (a.status == "Confirmed" && a.auth == auth)
      return refuse(409, "Pre-authorisation " + auth + " is already used by appointment " +
                             a.confirmation + ".");
  }

  static constexpr char kAlphabet[] = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
  std::uint64_t h = hash({"appointment", facility_id, date, time, auth});
  Appointment a;
  a.id = next_appointment_++;
  a.confirmation = "CNF-";
  for (int i = 0; i < 6; ++i, h >>= 5) a.confirmation += kAlphabet[h % 32];
  a.facility_id = facility_id;
  a.date = date;
  a.time = time;
  a.auth = auth;
  a.patient = preauth->form.patient_name;
  a.member_id = preauth->form.member_id;
  a.cpt = preauth->form.cpt;
  a.status = "Confirmed";
  appointments_.push_back(a);
  out.appointment = a;
  return out;
}

std::string Portal::cancel(int id) {
  for (Appointment& a : appointments_) {
    if (a.id != id) continue;
    if (a.status == "Cancelled") return "Appointment " + a.confirmation + " is already cancelled.";
    a.status = "Cancelled";
    return "";
  }
  return "No appointment " + std::to_string(id) + ".";
}

std::optional<Appointment> Portal::appointment(int id) const {
  for (const Appointment& a : appointments_)
    if (a.id == id) return a;
  return std::nullopt;
}

json to_json(const Preauth& p) {
  return json{{"id", p.id},
              {"number", p.number},
              {"status", p.status},
              {"patient_name", p.form.patient_name},
              {"member_id", p.form.member_id},
              {"dob", p.form.dob},
              {"cpt", p.form.cpt},
              {"diagnosis", p.form.diagnosis},
              {"notes", p.form.notes},
              {"urgency", p.form.urgency}};
}

json to_json(const Appointment& a) {
  const Facility* f = Portal::facility(a.facility_id);
  return json{{"id", a.id},
              {"confirmation", a.confirmation},
              {"facility", a.facility_id},
              {"facility_name", f ? f->name : ""},
              {"in_network", f ? f->in_network : false},
              {"date", a.date},
              {"time", a.time},
              {"auth", a.auth},
              {"patient", a.patient},
              {"member_id", a.member_id},
              {"cpt", a.cpt},
              {"status", a.status}};
}

json Portal::dump() const {
  json preauths = json::array();
  for (const Preauth& p : preauths_) preauths.push_back(to_json(p));
  json appointments = json::array();
  for (const Appointment& a : appointments_) appointments.push_back(to_json(a));
  return json{{"preauths", std::move(preauths)}, {"appointments", std::move(appointments)}};
}

}  // namespace care
