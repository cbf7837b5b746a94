#include "tools/command.h"

namespace vdrt::cli {

std::vector<Command>& commands() {
  static std::vector<Command> all;
  return all;
}

CommandRegistrar::CommandRegistrar(std::string name, std::string description, Setup setup) {
  commands().push_back(Command{std::move(name), std::move(description), std::move(setup)});
}

}  // namespace vdrt::cli
