// ergon call (placeholder until implemented).
#include "cli/commands.h"

namespace ergon::cli {

void register_call(CLI::App& app, Commands& commands) {
  (void)app;
  (void)commands;
}

}  // namespace ergon::cli
