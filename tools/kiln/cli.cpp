// kiln_main: the command-line front end shared by the executable and the tests. Every failure ends
// as one line on stderr and an exit code; nothing escapes as an exception.
#include <exception>
#include <new>

#include "commands.hpp"
#include "kiln/kiln.hpp"
#include "quote.hpp"

namespace kiln::tools {

int kiln_main(int argc, const char* const* argv, std::ostream& out, std::ostream& err) {
  CLI::App app{
      "kiln: build, run, inspect, benchmark, compare and edit optimized inference engines from "
      "ONNX models",
      "kiln"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string(version()));
  app.footer(
      "Examples:\n"
      "  kiln build model.onnx -o model.plan\n"
      "  kiln run model.plan --input x=x.npy --output-dir out\n"
      "  kiln inspect model.onnx --json\n"
      "  kiln bench model.onnx --backend cuda --fp16 --graph --shape x=8x3x224x224\n"
      "  kiln compare model.onnx --runners kiln-cpu,ort --layerwise\n"
      "  kiln surgeon fold-bn model.onnx -o folded.onnx\n"
      "Run 'kiln SUBCOMMAND --help' for the options of each.");
  BuildOptions build_opts;
  RunOptions run_opts;
  InspectOptions inspect_opts;
  BenchOptions bench_opts;
  CompareOptions compare_opts;
  SurgeonOptions surgeon_opts;
  CLI::App* build = add_build_command(app, build_opts);
  CLI::App* run = add_run_command(app, run_opts);
  CLI::App* inspect = add_inspect_command(app, inspect_opts);
  CLI::App* bench = add_bench_command(app, bench_opts);
  CLI::App* compare = add_compare_command(app, compare_opts);
  CLI::App* surgeon = add_surgeon_command(app, surgeon_opts);

  try {
    app.parse(argc, const_cast<char**>(argv));
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success)) {
      return app.exit(e, out, err);  // --help, --version
    }
    std::string who = "kiln";
    for (const CLI::App* sub : app.get_subcommands()) who += " " + sub->get_name();
    err << who << ": usage error: " << shorten_quoted_parts(e.what()) << "\nRun '" << who
        << " --help' for usage.\n";
    return 2;
  }

  std::string who = "kiln";
  try {
    if (build->parsed()) {
      who = "kiln build";
      build_command(build_opts, out, err);
    } else if (run->parsed()) {
      who = "kiln run";
      run_command(run_opts, out, err);
    } else if (inspect->parsed()) {
      who = "kiln inspect";
      inspect_command(inspect_opts, out, err);
    } else if (bench->parsed()) {
      who = "kiln bench";
      bench_command(bench_opts, out, err);
    } else if (compare->parsed()) {
      who = "kiln compare";
      compare_command(compare_opts, out, err);
    } else if (surgeon->parsed()) {
      who = "kiln surgeon " + surgeon_opts.action;
      surgeon_command(surgeon_opts, out, err);
    }
  } catch (const Error& e) {
    // The library quotes names and attribute values from the model in full; a hostile model can
    // make them 100 KB long.
    err << who << ": error: " << shorten_quoted_parts(e.what()) << "\n";
    return 1;
  } catch (const std::bad_alloc&) {
    err << who << ": error: out of memory\n";
    return 1;
  } catch (const std::exception& e) {
    // Library code throws kiln::Error; anything else (filesystem, streams) still gets one line.
    err << who << ": error: " << shorten_quoted_parts(e.what()) << "\n";
    return 1;
  }
  return 0;
}

}  // namespace kiln::tools
