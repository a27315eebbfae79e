// ergon record (placeholder until implemented).
#include "cli/commands.h"

namespace ergon::cli {

void register_record(CLI::App& app, Commands& commands) {
  (void)app;
  (void)commands;
}

}  // namespace ergon::cli
