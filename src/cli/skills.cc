// ergon skills (placeholder until implemented).
#include "cli/commands.h"

namespace ergon::cli {

void register_skills(CLI::App& app, Commands& commands) {
  (void)app;
  (void)commands;
}

}  // namespace ergon::cli
