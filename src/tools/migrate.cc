#include "tools/migrate.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>

#include "tools/script.h"

namespace litehouse::tools {
namespace {

namespace fs = std::filesystem;

constexpr const char* kCreateTable =
    "CREATE TABLE IF NOT EXISTS _migrations(version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
    "applied_at TEXT NOT NULL DEFAULT (datetime('now')))";

Status Mismatch(std::string message) {
  return Status::WithCodeName(StatusCode::kInvalidArgument, "MIGRATION_MISMATCH", std::move(message));
}

// The statements of a migration file with their lines; refuses transaction control, since each
// migration already runs in a transaction of its own.
Result<std::vector<ScriptItem>> SplitMigration(const Migration& m) {
  std::vector<ScriptItem> items = SplitScript(m.sql);
  for (const auto& i : items) {
    if (i.kind == ScriptItem::Kind::kDotCommand) {
      return Status::InvalidArgument(m.file + " line " + std::to_string(i.line) + ": dot-commands are not SQL");
    }
    std::string word = FirstKeyword(i.text);
    if (word == "BEGIN" || word == "COMMIT" || word == "END" || word == "ROLLBACK" || word == "SAVEPOINT" ||
        word == "RELEASE") {
      return Status::InvalidArgument(m.file + " line " + std::to_string(i.line) + ": " + word +
                                     " is not allowed: each migration already runs in a transaction of its own");
    }
  }
  return items;
}

// version -> name, from the record (empty when the table does not exist yet).
Result<std::map<int64_t, std::string>> ReadRecord(Client& client) {
  std::map<int64_t, std::string> out;
  auto exists = client.Execute("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = '_migrations'");
  if (!exists.ok()) return exists.status();
  if (exists->rows.empty()) return out;
  auto rows = client.Execute("SELECT version, name FROM _migrations ORDER BY version");
  if (!rows.ok()) return rows.status();
  for (const auto& row : rows->rows) {
    const auto* v = std::get_if<int64_t>(&row[0]);
    const auto* n = std::get_if<std::string>(&row[1]);
    if (v) out[*v] = n ? *n : std::string();
  }
  return out;
}

}  // namespace

Result<std::vector<Migration>> LoadMigrations(const std::string& dir) {
  static const std::regex kName(R"(^([0-9]+)[-_]([A-Za-z0-9_.-]+)\.sql$)");
  std::error_code ec;
  fs::directory_iterator it(dir, ec);
  if (ec) return Status::NotFound("cannot read the migrations directory " + dir + ": " + ec.message());
  std::vector<Migration> out;
  for (const auto& entry : it) {
    std::string file = entry.path().filename().string();
    if (entry.path().extension() != ".sql" || !entry.is_regular_file()) continue;
    std::smatch m;
    if (!std::regex_match(file, m, kName)) {
      return Mismatch(dir + "/" + file + ": a migration is named NNN-name.sql (NNN its version)");
    }
    Migration mig;
    try {
      mig.version = std::stoll(m[1].str());
    } catch (const std::exception&) {
      return Mismatch(dir + "/" + file + ": the version is too large");
    }
    mig.name = m[2].str();
    mig.file = file;
    std::ifstream in(entry.path(), std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    if (!in) return Status::IoError("cannot read " + entry.path().string());
    mig.sql = text.str();
    out.push_back(std::move(mig));
  }
  std::sort(out.begin(), out.end(), [](const Migration& a, const Migration& b) { return a.version < b.version; });
  for (size_t i = 1; i < out.size(); ++i) {
    if (out[i].version == out[i - 1].version) {
      return Mismatch("two migrations have version " + std::to_string(out[i].version) + ": " + out[i - 1].file +
                      " and " + out[i].file);
    }
  }
  return out;
}

MigrateReport Migrate(Client& client, const std::vector<Migration>& migrations, const MigrateOptions& options) {
  MigrateReport report;
  auto log = [&](const std::string& line) {
    if (options.log) options.log(line);
  };
  auto fail = [&](MigrateOutcome outcome, Status status) {
    report.outcome = outcome;
    report.status = std::move(status);
    return report;
  };
  if (!options.dry_run) {
    if (auto made = client.Execute(kCreateTable); !made.ok()) return fail(MigrateOutcome::kFailed, made.status());
  }
  auto record = ReadRecord(client);
  if (!record.ok()) return fail(MigrateOutcome::kFailed, record.status());

  // The whole directory is checked against the record before anything runs.
  std::map<int64_t, const Migration*> by_version;
  for (const auto& m : migrations) by_version[m.version] = &m;
  for (const auto& [version, name] : *record) {
    auto it = by_version.find(version);
    if (it == by_version.end()) {
      log("note: version " + std::to_string(version) + " (" + name + ") is recorded but has no file here");
    } else if (it->second->name != name) {
      return fail(MigrateOutcome::kMismatch,
                  Mismatch("version " + std::to_string(version) + " is recorded as '" + name + "' but the file is " +
                           it->second->file + " (name '" + it->second->name + "')"));
    }
  }
  std::vector<std::pair<const Migration*, std::vector<ScriptItem>>> pending;
  for (const auto& m : migrations) {
    if (record->count(m.version)) continue;
    auto items = SplitMigration(m);
    if (!items.ok()) return fail(MigrateOutcome::kFailed, items.status());
    pending.emplace_back(&m, std::move(items).value());
  }
  if (pending.empty()) {
    log("migrations: up to date (" + std::to_string(record->size()) + " applied)");
    return report;
  }

  for (const auto& [m, items] : pending) {
    if (options.dry_run) {
      report.applied.push_back(m->file);
      continue;
    }
    auto session = client.OpenSession();
    if (!session.ok()) return fail(MigrateOutcome::kFailed, session.status());
    std::vector<Statement> steps;
    steps.emplace_back("BEGIN IMMEDIATE");
    steps.emplace_back("INSERT INTO _migrations(version, name, applied_at) VALUES (?, ?, datetime('now'))",
                       std::vector<Value>{m->version, m->name});
    for (const auto& item : items) steps.emplace_back(item.text);
    steps.emplace_back("COMMIT");
    SequenceResult result = (*session)->ExecuteInOrder(steps);
    if (result.status.ok()) {
      log("applied " + m->file);
      report.applied.push_back(m->file);
      continue;
    }
    (void)(*session)->Execute(Statement("ROLLBACK"));
    if (result.failed_index == 1 && result.status.code_name() == "SQLITE_CONSTRAINT") {
      // Applied meanwhile by another process: fine if under the same name.
      auto again = ReadRecord(client);
      if (!again.ok()) return fail(MigrateOutcome::kFailed, again.status());
      auto it = again->find(m->version);
      if (it != again->end() && it->second == m->name) {
        log(m->file + " was applied meanwhile by another process");
        continue;
      }
      if (it != again->end()) {
        return fail(MigrateOutcome::kMismatch, Mismatch("version " + std::to_string(m->version) + " is recorded as '" +
                                                        it->second + "' but the file is " + m->file));
      }
    }
    std::string where = m->file;
    if (result.failed_index && *result.failed_index >= 2 && *result.failed_index < steps.size() - 1) {
      where += " line " + std::to_string(items[*result.failed_index - 2].line);
    }
    return fail(MigrateOutcome::kFailed,
                Status::WithCodeName(result.status.code(), result.status.code_name(),
                                     where + ": " + result.status.message() + " (rolled back; nothing of it applied)"));
  }
  return report;
}

}  // namespace litehouse::tools
