// Shell: the `litehouse shell` session, on one Session of a Client (a file or a server alike).
//
// Interactive (stdin a terminal): libedit line editing and history (~/.litehouse_history), a
// continuation prompt while a statement is unfinished, each statement's rows as an aligned table,
// dot-commands; Ctrl-C drops the statement being typed, Ctrl-D leaves. Scripted (stdin a file or a pipe): the Importer (import.h) runs the input in batches
// and stops at the first error; rows a script's SELECTs return are printed in list mode; progress
// goes to stderr when stderr is a terminal.
//
// Dot-commands: .tables [LIKE], .schema [LIKE], .dump, .read FILE, .mode MODE, .headers on|off,
// .timer on|off, .help, .quit / .exit.
#pragma once

#include <chrono>
#include <iosfwd>
#include <memory>
#include <string>

#include "litehouse/client.h"
#include "tools/format.h"

namespace litehouse::tools {

class Shell {
 public:
  // `client` must outlive the shell. `out` takes results, `err` messages.
  Shell(Client* client, std::ostream& out, std::ostream& err);
  ~Shell();

  // The read-eval-print loop on the terminal, until .quit or end of input. Exit status: 0.
  int RunInteractive();
  // Runs the script `in`. Exit status: 0, or 1 at the first error.
  int RunScript(std::istream& in, bool progress);

 private:
  enum class DotOutcome { kOk, kError, kQuit };
  DotOutcome RunDot(const std::string& line);
  // One statement, typed at the prompt: runs it and prints what it returns.
  void RunStatement(const std::string& sql);
  Status EnsureSession();
  void PrintTime(std::chrono::steady_clock::duration elapsed);
  Status RunScriptStatus(std::istream& in, bool progress);

  Client* client_;
  std::ostream& out_;
  std::ostream& err_;
  std::unique_ptr<Session> session_;
  bool in_transaction_ = false;  // as far as the statements typed say
  Printer printer_;
  bool timer_ = false;
};

}  // namespace litehouse::tools
