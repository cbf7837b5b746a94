// The `vdrt` command line: one subcommand per job (see `vdrt --help`).
#include <cstdio>
#include <map>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "graph/error.h"
#include "tools/command.h"
#include "tools/common_options.h"

int main(int argc, char** argv) {
  using namespace vdrt::cli;
  CLI::App app{"vdrt: compiler and runtime for autoregressive video diffusion models"};
  app.set_version_flag("--version", "vdrt 0.1.0");
  app.require_subcommand(1);
  // The last of a repeated option wins, as in git or ffmpeg: a wrapper script's
  // defaults (scripts/demo.sh's --seconds 3) can be overridden from its command line.
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  bool verbose = false, quiet = false;
  app.add_flag("-v,--verbose", verbose, "Log details (debug level)");
  app.add_flag("-q,--quiet", quiet, "Log only errors (no progress line)");

  std::map<CLI::App*, Action> actions;
  for (const Command& c : commands()) {
    CLI::App* sub = app.add_subcommand(c.name, c.description);
    // -v/-q are accepted before and after the subcommand.
    sub->add_flag("-v,--verbose", verbose, "Log details (debug level)");
    sub->add_flag("-q,--quiet", quiet, "Log only errors (no progress line)");
    actions[sub] = c.setup(*sub);
  }
  // The first word that is not a flag names the subcommand: say which one is unknown.
  for (int i = 1; i < argc; ++i) {
    const std::string word = argv[i];
    if (word.empty() || word[0] == '-') continue;
    bool known = false;
    std::string names;
    for (const Command& c : commands()) {
      known = known || c.name == word;
      names += (names.empty() ? "" : ", ") + c.name;
    }
    if (!known) {
      std::fprintf(stderr, "vdrt: unknown subcommand '%s' (subcommands: %s; see vdrt --help)\n", word.c_str(),
                   names.c_str());
      return kExitUsage;
    }
    break;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? kExitOk : kExitUsage;
  }
  auto logger = spdlog::stderr_color_mt("vdrt");
  spdlog::set_default_logger(logger);
  spdlog::set_pattern("%^[%l]%$ %v");
  spdlog::set_level(verbose ? spdlog::level::debug : quiet ? spdlog::level::err : spdlog::level::info);

  for (auto& [sub, action] : actions) {
    if (!sub->parsed()) continue;
    try {
      return action();
    } catch (const UsageError& e) {
      std::fprintf(stderr, "vdrt %s: %s\n", sub->get_name().c_str(), e.what());
      return kExitUsage;
    } catch (const vdrt::OutOfMemory& e) {
      std::fprintf(stderr, "vdrt: out of memory: %s\n", e.what());
      return kExitError;
    } catch (const vdrt::Error& e) {
      std::fprintf(stderr, "vdrt: error: %s\n", e.what());
      return kExitError;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "vdrt: internal error: %s\n", e.what());
      return kExitError;
    }
  }
  return kExitUsage;
}
