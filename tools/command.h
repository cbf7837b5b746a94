#pragma once
// Subcommands of the `vdrt` CLI register themselves; each file adds one.
//   static CommandRegistrar reg("run", "Run a model on inputs", setup_run);
// `setup` declares options on the subcommand and returns the action to run
// once parsing succeeded; the action returns the process exit code.
#include <functional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace vdrt::cli {

using Action = std::function<int()>;
using Setup = std::function<Action(CLI::App& sub)>;

struct Command {
  std::string name, description;
  Setup setup;
};

std::vector<Command>& commands();

struct CommandRegistrar {
  CommandRegistrar(std::string name, std::string description, Setup setup);
};

// Exit codes shared by all subcommands.
inline constexpr int kExitOk = 0;
inline constexpr int kExitError = 1;        // the model or data is bad, or running failed
inline constexpr int kExitUsage = 2;        // bad command line
inline constexpr int kExitMismatch = 3;     // outputs differ from the expected ones

}  // namespace vdrt::cli
