#include "tools/shell.h"

#include <editline/readline.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <clocale>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <vector>

#include "tools/dump_compat.h"
#include "tools/import.h"
#include "tools/script.h"

namespace litehouse::tools {
namespace {

constexpr const char* kHelp =
    ".dump                  the database as SQL text (what `litehouse dump` writes)\n"
    ".exit, .quit           leave the shell\n"
    ".headers on|off        column names above results\n"
    ".help                  this list\n"
    ".mode MODE             output mode: table (the default on a terminal), list, csv, line, json\n"
    ".read FILE             run the SQL script FILE (batched, stops at its first error)\n"
    ".schema [PATTERN]      the CREATE statements, of tables LIKE PATTERN if given\n"
    ".tables [PATTERN]      the names of the tables and views, LIKE PATTERN if given\n"
    ".timer on|off          the time each statement takes\n";

std::vector<std::string> SplitArgs(const std::string& line) {
  std::vector<std::string> args;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && std::isspace(static_cast<unsigned char>(line[i]))) ++i;
    if (i >= line.size()) break;
    std::string arg;
    if (line[i] == '"' || line[i] == '\'') {
      char q = line[i++];
      while (i < line.size() && line[i] != q) arg.push_back(line[i++]);
      ++i;
    } else {
      while (i < line.size() && !std::isspace(static_cast<unsigned char>(line[i]))) arg.push_back(line[i++]);
    }
    args.push_back(arg);
  }
  return args;
}

bool ParseOnOff(const std::string& s, bool* out) {
  if (s == "on" || s == "1" || s == "yes" || s == "true") *out = true;
  else if (s == "off" || s == "0" || s == "no" || s == "false") *out = false;
  else return false;
  return true;
}

std::string Describe(const Status& s) {
  return s.code_name().empty() ? s.message() : s.message() + " (" + s.code_name() + ")";
}

bool SessionLost(const Status& s) {
  return s.code_name() == "STREAM_EXPIRED" || s.code_name() == "STREAM_CLOSED" || s.code_name() == "INVALID_BATON";
}

// Ctrl-C at the prompt drops the statement being typed instead of ending the shell (as sqlite3).
volatile std::sig_atomic_t interrupted = 0;
void OnInterrupt(int) { interrupted = 1; }

std::string HistoryPath() {
  const char* home = std::getenv("HOME");
  return home && *home ? std::string(home) + "/.litehouse_history" : std::string();
}

}  // namespace

Shell::Shell(Client* client, std::ostream& out, std::ostream& err)
    : client_(client), out_(out), err_(err), printer_(Printer::Mode::kList, false) {}

Shell::~Shell() = default;

Status Shell::EnsureSession() {
  if (session_) return Status::OK();
  auto session = client_->OpenSession();
  if (!session.ok()) return session.status();
  session_ = std::move(session).value();
  return Status::OK();
}

void Shell::RunStatement(const std::string& sql) {
  if (Status s = EnsureSession(); !s.ok()) {
    err_ << "Error: " << Describe(s) << "\n";
    return;
  }
  auto started = std::chrono::steady_clock::now();
  auto result = session_->Execute(Statement(sql));
  if (!result.ok() && SessionLost(result.status())) {
    // The server ends a stream left idle (sqld: after 10 s over HTTP). Outside a transaction
    // nothing is lost: carry on in a new one. Inside, the transaction is gone: say so.
    session_.reset();
    if (in_transaction_) {
      in_transaction_ = false;
      err_ << "Error: the server ended this idle session, and rolled back its open transaction\n";
      return;
    }
    if (Status s = EnsureSession(); !s.ok()) {
      err_ << "Error: " << Describe(s) << "\n";
      return;
    }
    result = session_->Execute(Statement(sql));
  }
  if (!result.ok()) {
    err_ << "Error: " << Describe(result.status()) << "\n";
  } else {
    // Kept from the keywords, for the message above only: a wrong guess costs a less precise note.
    switch (EffectOnTransaction(sql)) {
      case TransactionEffect::kOpens: in_transaction_ = true; break;
      case TransactionEffect::kCloses: in_transaction_ = false; break;
      case TransactionEffect::kNone: break;
    }
    printer_.Print(*result, out_);
  }
  if (timer_) PrintTime(std::chrono::steady_clock::now() - started);
  out_.flush();
}

void Shell::PrintTime(std::chrono::steady_clock::duration elapsed) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "Run Time: real %.3f\n", std::chrono::duration<double>(elapsed).count());
  out_ << buf;
}

Status Shell::RunScriptStatus(std::istream& in, bool progress) {
  if (Status s = EnsureSession(); !s.ok()) return s;
  ImportOptions options;
  options.on_rows = [this](const ResultSet& rs) { printer_.Print(rs, out_); };
  auto last = std::chrono::steady_clock::now();
  if (progress) {
    options.progress = [this, &last](size_t statements, size_t bytes) {
      auto now = std::chrono::steady_clock::now();
      if (now - last < std::chrono::milliseconds(250)) return;
      last = now;
      char buf[96];
      std::snprintf(buf, sizeof buf, "\r%zu statements, %.1f MB", statements, static_cast<double>(bytes) / 1e6);
      err_ << buf << std::flush;
    };
  }
  Importer importer(session_.get(), options);
  ScriptSplitter splitter;
  std::vector<char> buf(1 << 20);
  ScriptItem item;
  auto handle = [&](ScriptItem& it) -> Status {
    if (it.kind == ScriptItem::Kind::kSql) {
      if (!timer_) return importer.Add(std::move(it.text), it.line);
      // .timer on: one statement per round trip, each timed, as sqlite3 reports them.
      auto started = std::chrono::steady_clock::now();
      Status s = importer.Add(std::move(it.text), it.line);
      if (s.ok()) s = importer.Flush();
      if (s.ok()) PrintTime(std::chrono::steady_clock::now() - started);
      return s;
    }
    if (Status s = importer.Flush(); !s.ok()) return s;
    switch (RunDot(it.text)) {
      case DotOutcome::kOk: return Status::OK();
      case DotOutcome::kQuit: return Status::Cancelled("quit");
      case DotOutcome::kError:
        return Status::InvalidArgument("line " + std::to_string(it.line) + ": the dot-command failed: " + it.text);
    }
    return Status::OK();
  };
  Status status;
  while (status.ok() && in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    if (in.gcount() <= 0) break;
    splitter.Feed(std::string_view(buf.data(), static_cast<size_t>(in.gcount())));
    while (status.ok() && splitter.Next(&item)) status = handle(item);
  }
  if (status.ok() && splitter.Finish(&item)) status = handle(item);
  if (status.code() == StatusCode::kCancelled) status = Status::OK();  // .quit: what ran stays
  if (!status.ok()) {
    importer.Abort();  // a dot-command failed inside the script's transaction: undo it too
    in_transaction_ = false;
  }
  if (status.ok()) status = importer.Finish();
  if (progress) err_ << "\r" << importer.statements() << " statements done.          \n";
  return status;
}

int Shell::RunScript(std::istream& in, bool progress) {
  Status s = RunScriptStatus(in, progress);
  out_.flush();
  if (s.ok()) return 0;
  err_ << "Error: " << Describe(s) << "\n";
  return 1;
}

Shell::DotOutcome Shell::RunDot(const std::string& line) {
  std::vector<std::string> args = SplitArgs(line.substr(1));
  if (args.empty()) return DotOutcome::kOk;
  const std::string& cmd = args[0];
  auto fail = [&](const std::string& message) {
    err_ << "Error: " << message << "\n";
    return DotOutcome::kError;
  };
  if (cmd == "quit" || cmd == "exit" || cmd == "q") return DotOutcome::kQuit;
  if (cmd == "help") {
    out_ << kHelp;
    return DotOutcome::kOk;
  }
  if (cmd == "mode") {
    Printer::Mode mode;
    if (args.size() != 2 || !Printer::ParseMode(args[1], &mode)) return fail("usage: .mode table|list|csv|line|json");
    printer_.set_mode(mode);
    return DotOutcome::kOk;
  }
  if (cmd == "headers" || cmd == "header") {
    bool on;
    if (args.size() != 2 || !ParseOnOff(args[1], &on)) return fail("usage: .headers on|off");
    printer_.set_headers(on);
    return DotOutcome::kOk;
  }
  if (cmd == "timer") {
    if (args.size() != 2 || !ParseOnOff(args[1], &timer_)) return fail("usage: .timer on|off");
    return DotOutcome::kOk;
  }
  if (cmd == "tables" || cmd == "schema") {
    if (args.size() > 2) return fail("usage: ." + cmd + " [PATTERN]");
    if (Status s = EnsureSession(); !s.ok()) return fail(Describe(s));
    bool tables = cmd == "tables";
    std::string sql = tables ? "SELECT name FROM sqlite_schema WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'"
                             : "SELECT sql FROM sqlite_schema WHERE sql NOT NULL";
    std::vector<Value> params;
    if (args.size() == 2) {
      sql += tables ? " AND name LIKE ?" : " AND tbl_name LIKE ?";
      params.emplace_back(args[1]);
    }
    sql += tables ? " ORDER BY name" : " ORDER BY tbl_name = 'sqlite_sequence', rowid";
    auto rs = session_->Execute(Statement(sql, params));
    if (!rs.ok()) return fail(Describe(rs.status()));
    if (!tables) {
      for (const auto& row : rs->rows) out_ << DisplayText(row[0]) << ";\n";
      return DotOutcome::kOk;
    }
    // Names in columns, as sqlite3 lays them out.
    size_t width = 0;
    for (const auto& row : rs->rows) width = std::max(width, DisplayText(row[0]).size());
    size_t per_line = std::max<size_t>(1, 80 / (width + 2));
    for (size_t i = 0; i < rs->rows.size(); ++i) {
      std::string name = DisplayText(rs->rows[i][0]);
      bool last = (i + 1) % per_line == 0 || i + 1 == rs->rows.size();
      out_ << name << (last ? "\n" : std::string(width + 2 - name.size(), ' '));
    }
    return DotOutcome::kOk;
  }
  if (cmd == "dump") {
    if (args.size() != 1) return fail("usage: .dump");
    DumpWarnings warnings;
    Status s = client_->Dump([this, &warnings](std::string_view chunk) {
      warnings.Feed(chunk);
      out_.write(chunk.data(), static_cast<std::streamsize>(chunk.size()));
      return out_ ? Status::OK() : Status::IoError("cannot write the dump");
    });
    out_.flush();
    for (const auto& warning : warnings.warnings()) err_ << "Warning: " << warning << "\n";
    return s.ok() ? DotOutcome::kOk : fail(Describe(s));
  }
  if (cmd == "read") {
    if (args.size() != 2) return fail("usage: .read FILE");
    std::ifstream file(args[1], std::ios::binary);
    if (!file) return fail("cannot open " + args[1]);
    Status s = RunScriptStatus(file, false);
    return s.ok() ? DotOutcome::kOk : fail(args[1] + ": " + Describe(s));
  }
  return fail("unknown command or invalid arguments: \"" + cmd + "\". Enter \".help\" for help");
}

int Shell::RunInteractive() {
  std::setlocale(LC_CTYPE, "");  // libedit reads multibyte (UTF-8) input only under the user's locale
  printer_.set_mode(Printer::Mode::kTable);
  printer_.set_headers(true);
  std::string history = HistoryPath();
  using_history();
  if (!history.empty()) read_history(history.c_str());
  out_ << "litehouse shell. Enter \".help\" for usage hints; statements end with \";\".\n";
  // No SA_RESTART: the signal ends libedit's read, readline returns null, and the flag tells that
  // apart from the end of input.
  struct sigaction on_interrupt {}, previous {};
  on_interrupt.sa_handler = OnInterrupt;
  sigemptyset(&on_interrupt.sa_mask);
  sigaction(SIGINT, &on_interrupt, &previous);
  ScriptSplitter splitter;
  ScriptItem item;
  bool quit = false;
  while (!quit) {
    out_.flush();
    interrupted = 0;
    char* raw = readline(splitter.in_statement() ? "      ...> " : "litehouse> ");
    if (!raw && interrupted) {
      out_ << "^C\n";
      splitter.Reset();
      continue;
    }
    if (!raw) {
      out_ << "\n";
      break;
    }
    std::string line(raw);
    std::free(raw);
    if (line.find_first_not_of(" \t") != std::string::npos) add_history(line.c_str());
    splitter.Feed(line);
    splitter.Feed("\n");
    while (!quit && splitter.Next(&item)) {
      if (item.kind == ScriptItem::Kind::kDotCommand) quit = RunDot(item.text) == DotOutcome::kQuit;
      else RunStatement(item.text);
    }
  }
  sigaction(SIGINT, &previous, nullptr);
  if (!history.empty()) {
    stifle_history(1000);
    write_history(history.c_str());
  }
  out_.flush();
  return 0;
}

}  // namespace litehouse::tools
