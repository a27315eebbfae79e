// End to end, issue 4's care-portal example: a scripted person books two MRIs
// on the portal (layout v1) while `ergon record` watches; `ergon skills
// induce` turns the two demonstrations into a skill; `ergon run` books a third
// patient with it on v1, and after the portal's redesign (layout v2) a fourth
// and a fifth on other dates — no hand-written skill in the workspace.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <iostream>
#include <regex>
#include <string>
#include <vector>

#include "ergon/json.h"
#include "support/care_portal.h"
#include "support/process.h"

namespace ergon {
namespace {

namespace fs = std::filesystem;
using testing::bin;
using testing::CarePortal;
using testing::days_from_today;
using testing::random_password;
using testing::RunOptions;
using testing::RunResult;
using testing::TempDir;

constexpr const char* kFacility = "FAC-1058";  // nearest in-network around 02139

struct Booking {
  std::string patient, member, cpt, diagnosis, date, time;

  std::string instruction() const {
    return fmt::format("Book an MRI {} for {} ({}), diagnosis {}, on {} at {}", cpt, patient,
                       member, diagnosis, date, time);
  }
};

class LearnCareTest : public ::testing::Test {
 protected:
  LearnCareTest() : password_(random_password()) {
    workspace_ = dir_.file("ws");
    testing::copy_tree(testing::source_path("examples/care-portal"), workspace_);
    fs::remove_all(workspace_ + "/.ergon");
    fs::remove_all(workspace_ + "/skills");  // only what is learned here
    portal_ = std::make_unique<CarePortal>(
        std::vector<std::string>{},
        std::map<std::string, std::string>{{"CARE_PORTAL_PASSWORD", password_}});
  }

  RunResult ergon(std::vector<std::string> args) const {
    args.insert(args.begin(), {bin("ergon"), "-w", workspace_});
    RunOptions o;
    o.env = {{"CARE_PORTAL_URL", portal_->url()}, {"CARE_PORTAL_PASSWORD", password_}};
    return testing::run(args, o);
  }

  // The second free time of the day at the facility: a real person's pick,
  // known only once the portal is running.
  std::string free_time(const std::string& date) const {
    Json slots =
        portal_->get("/_control/slots?facility=" + std::string(kFacility) + "&date=" + date).json();
    std::vector<std::string> free;
    for (const Json& slot : slots["slots"]) {
      if (slot["status"] == "Available") free.push_back(slot["time"].get<std::string>());
    }
    if (free.empty()) return "";
    return free.size() > 1 ? free[1] : free[0];
  }

  // What the person does for one booking, on layout v1, reading the page as a
  // person would (labels and button texts).
  std::string person_script(const Booking& b) const {
    return fmt::format(R"(- click: Reject all
- type: dr.lee
  into: Username
- type_secret: CARE_PORTAL_PASSWORD
  into: Password
- click: Sign in
- click: New pre-authorisation
- type: {patient}
  into: Patient name
- type: {member}
  into: Member ID
- select: "{cpt}"
  in: Procedure (CPT)
- type: {diagnosis}
  into: Diagnosis (ICD-10)
- type: Referral from Dr. Lee; conservative treatment failed.
  into: Clinical notes
- check: I attest the information is accurate
- click: Submit request
- wait_for: Approved
- click: Find a facility
- type: "02139"
  into: ZIP code or city
- check: In-network only
- click: Search
- click: Select
  in_row: {facility}
- type: "{date}"
  into: Date
- click: Show times
- click: "{time}"
- click: Confirm appointment
- wait_for: Confirmed
)",
                       fmt::arg("patient", b.patient), fmt::arg("member", b.member),
                       fmt::arg("cpt", b.cpt), fmt::arg("diagnosis", b.diagnosis),
                       fmt::arg("facility", kFacility), fmt::arg("date", b.date),
                       fmt::arg("time", b.time));
  }

  void record(const std::string& name, const Booking& b) {
    std::string script = dir_.file(name + ".yaml");
    testing::write_file(script, person_script(b));
    RunResult run =
        ergon({"record", "--headless", "--person", script, "--name", name, b.instruction()});
    ASSERT_EQ(run.exit_code, 0) << run.out << run.err;
  }

  // `ergon run --yes`; each question about an element is answered as a person
  // who knows both layouts would: by the v2 label of what the v1 step did.
  // Returns the last run; `asked` counts the questions.
  RunResult run_with_a_person(const std::string& goal, const std::string& time) {
    const std::vector<std::pair<std::string, std::string>> v2_label = {
        {"search", "'Find facilities'"},
        {"select", "'Choose' near 'Charles River Radiology"},
        {"new_pre", "'Request prior authorization"},
        {"find_a_facility", "'Choose an imaging center'"},
        {"show_times", "'Update times'"},
        {"confirm", "'Book this slot'"},
        {"radio", "'" + time + "'"},
        {"attest", "'I confirm"},
        {"sign_in", "'Log in'"},
        {"username", "'Email or username'"},
        {"password", "'Your password'"},
        {"patient_name", "'Member's full name'"},
        {"member_id", "'Member ID number'"},
        {"procedure", "'CPT procedure code'"},
        {"diagnosis", "'Diagnosis code (ICD-10)'"},
        {"notes", "'Supporting clinical information'"},
        {"zip", "'Location (ZIP or city)'"},
        {"in_network", "'Show in-network only'"},
        {"date", "'Appointment date'"},
    };
    RunResult run = ergon({"run", goal, "--yes"});
    for (int round = 0; round < 8 && run.exit_code == 3; ++round) {
      std::smatch waiting;
      if (!std::regex_search(run.out, waiting,
                             std::regex(R"(waiting for: (person:([a-z0-9_]+)) — ([^\n]*))"))) {
        break;
      }
      std::string slot = waiting[1], step = waiting[2], question = waiting[3];
      std::string pick;
      for (const auto& [part, label] : v2_label) {
        if (step.find(part) == std::string::npos) continue;
        std::smatch candidate;
        std::string rest = question;
        while (pick.empty() &&
               std::regex_search(rest, candidate, std::regex(R"((\d)\) \[\d+\] ([^(]*))"))) {
          if (candidate[2].str().find(label) != std::string::npos) pick = candidate[1];
          rest = candidate.suffix();
        }
      }
      if (pick.empty()) break;  // a question no person could answer from this: fail below
      ++asked_;
      std::cout << "a person picked " << pick << " for step " << step << "\n";
      std::smatch session;
      if (!std::regex_search(run.out, session, std::regex(R"(Session (s-[0-9a-f]+): waiting)"))) {
        break;
      }
      run = ergon({"resume", session[1], "--slot", slot + "=" + pick, "--yes"});
    }
    return run;
  }

  // Appointments of the portal's state for `patient`.
  std::vector<Json> appointments_of(const std::string& patient) const {
    std::vector<Json> out;
    Json state = portal_->state();
    for (const Json& a : state["appointments"]) {
      if (a.dump().find(patient) != std::string::npos) out.push_back(a);
    }
    return out;
  }

  TempDir dir_;
  std::string password_;
  std::string workspace_;
  std::unique_ptr<CarePortal> portal_;
  int asked_ = 0;
};

TEST_F(LearnCareTest, TwoDemonstrationsTeachASkillThatBooksOtherPatientsOnV1AndAfterARedesign) {
  Booking jane{"Jane Doe", "MBR-123456", "72148", "M54.16", days_from_today(8), ""};
  Booking omar{"Omar Haddad", "MBR-204518", "70551", "R51.9", days_from_today(11), ""};
  Booking mei{"Mei Chen", "MBR-310772", "73721", "M25.561", days_from_today(15), ""};
  for (Booking* b : {&jane, &omar, &mei}) {
    b->time = free_time(b->date);
    ASSERT_FALSE(b->time.empty()) << b->date;
  }

  record("jane", jane);
  record("omar", omar);
  // The person really booked both.
  ASSERT_EQ(appointments_of("MBR-123456").size(), 1u) << portal_->state().dump();
  ASSERT_EQ(appointments_of("MBR-204518").size(), 1u) << portal_->state().dump();

  RunResult induced = ergon({"skills", "induce", "book-mri", "jane", "omar"});
  ASSERT_EQ(induced.exit_code, 0) << induced.out << induced.err;
  RunResult accepted = ergon({"skills", "accept", "book-mri"});
  ASSERT_EQ(accepted.exit_code, 0) << accepted.out << accepted.err;
  std::string skill = testing::read_file(workspace_ + "/skills/book-mri.yaml");
  // What differs between the demonstrations and what the instructions say
  // became slots; the password stayed a vault reference.
  EXPECT_NE(skill.find("${slots."), std::string::npos) << skill;
  EXPECT_NE(skill.find("secret: CARE_PORTAL_PASSWORD"), std::string::npos) << skill;
  EXPECT_EQ(skill.find(password_), std::string::npos);
  EXPECT_EQ(skill.find("Omar"), std::string::npos) << skill;
  EXPECT_EQ(skill.find("MBR-204518"), std::string::npos) << skill;

  // On the layout it was shown on, the skill books another patient with nobody's help.
  Booking carlos{"Carlos Rivera", "MBR-482913", "70553", "G43.909", days_from_today(13), ""};
  carlos.time = free_time(carlos.date);
  ASSERT_FALSE(carlos.time.empty());
  RunResult on_v1 = run_with_a_person(carlos.instruction(), carlos.time);
  ASSERT_EQ(on_v1.exit_code, 0) << on_v1.out << on_v1.err;
  EXPECT_EQ(asked_, 0) << on_v1.out;
  std::vector<Json> carlos_booked = appointments_of("MBR-482913");
  ASSERT_EQ(carlos_booked.size(), 1u) << portal_->state().dump();
  EXPECT_NE(carlos_booked[0].dump().find(carlos.time), std::string::npos) << carlos_booked[0];

  // The portal is redesigned; a new patient, procedure, date and time. Where
  // the redesign changed an element beyond what grounding may safely guess,
  // the session waits and a person (the test) picks it from the candidates;
  // the pick is remembered.
  portal_->set_layout("v2");
  RunResult run = run_with_a_person(mei.instruction(), mei.time);
  ASSERT_EQ(run.exit_code, 0) << run.out << run.err;

  std::vector<Json> booked = appointments_of("MBR-310772");
  ASSERT_EQ(booked.size(), 1u) << portal_->state().dump();
  std::string appointment = booked[0].dump();
  EXPECT_NE(appointment.find(mei.date), std::string::npos) << appointment;
  EXPECT_NE(appointment.find(mei.time), std::string::npos) << appointment;
  EXPECT_NE(appointment.find(kFacility), std::string::npos) << appointment;
  // Nobody else was booked or requested twice.
  EXPECT_EQ(portal_->state()["appointments"].size(), 4u) << portal_->state().dump();
  EXPECT_EQ(portal_->state()["preauths"].size(), 4u) << portal_->state().dump();
  std::cout << "questions on the redesigned portal: " << asked_ << "\n";

  // What the person picked was remembered: the next booking on v2 needs nobody.
  Booking priya{"Priya Natarajan", "MBR-550127", "70553", "G43.909", days_from_today(18), ""};
  priya.time = free_time(priya.date);
  ASSERT_FALSE(priya.time.empty());
  int before = asked_;
  RunResult again = run_with_a_person(priya.instruction(), priya.time);
  ASSERT_EQ(again.exit_code, 0) << again.out << again.err;
  EXPECT_EQ(asked_, before) << again.out;
  ASSERT_EQ(appointments_of("MBR-550127").size(), 1u) << portal_->state().dump();
}

}  // namespace
}  // namespace ergon
