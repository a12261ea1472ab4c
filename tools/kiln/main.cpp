// kiln command-line tool entry point; the subcommands live in the kiln_cli library.
#include <iostream>

#include "commands.hpp"

int main(int argc, char** argv) {
  return kiln::tools::kiln_main(argc, argv, std::cout, std::cerr);
}
