// tasks: a to-do list on the Litehouse client library, the shape of the app in the Turso migration
// plan: storage behind execute/batch/transactions, the backend chosen by configuration (a file in
// development, a server in production: LIBSQL_URL or TURSO_DATABASE_URL, with TURSO_AUTH_TOKEN),
// and versioned migrations recorded in _migrations before anything else runs.
//
//   tasks add TITLE | tasks list | tasks done ID
#include <litehouse/client.h>

#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

namespace {

struct Migration {
  int64_t version;
  const char* name;
  std::vector<litehouse::Statement> statements;
};

const std::vector<Migration> kMigrations = {
    {1, "create-tasks", {"CREATE TABLE tasks(id INTEGER PRIMARY KEY, title TEXT NOT NULL)"}},
    {2, "add-done", {"ALTER TABLE tasks ADD COLUMN done INTEGER NOT NULL DEFAULT 0"}},
};

// Applies each migration not yet recorded, in its own transaction with its record: all or nothing.
litehouse::Status Migrate(litehouse::Client& db) {
  auto made = db.Execute("CREATE TABLE IF NOT EXISTS _migrations(version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
                         "applied_at TEXT NOT NULL DEFAULT (datetime('now')))");
  if (!made.ok()) return made.status();
  for (const Migration& m : kMigrations) {
    auto seen = db.Execute({"SELECT name FROM _migrations WHERE version = ?", {m.version}});
    if (!seen.ok()) return seen.status();
    if (!seen->rows.empty()) continue;
    std::vector<litehouse::Statement> batch = m.statements;
    batch.push_back({"INSERT INTO _migrations(version, name) VALUES (?, ?)", {m.version, std::string(m.name)}});
    auto applied = db.Batch(batch, litehouse::TransactionMode::kWrite);
    if (!applied.ok()) return applied.status();
    std::cerr << "applied migration " << m.version << " " << m.name << "\n";
  }
  return litehouse::Status::OK();
}

int Fail(const litehouse::Status& s) {
  std::cerr << "error: " << s.code_name() << ": " << s.message() << "\n";
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: tasks add TITLE | tasks list | tasks done ID\n";
    return 2;
  }
  auto db = litehouse::Client::OpenFromEnv("tasks.db");
  if (!db.ok()) return Fail(db.status());
  if (auto s = Migrate(**db); !s.ok()) return Fail(s);
  std::string cmd = argv[1];
  if (cmd == "add" && argc == 3) {
    auto rs = (*db)->Execute({"INSERT INTO tasks(title) VALUES (?)", {std::string(argv[2])}});
    if (!rs.ok()) return Fail(rs.status());
    std::cout << *rs->last_insert_rowid << "\n";
  } else if (cmd == "list") {
    auto rs = (*db)->Execute("SELECT id, title, done FROM tasks ORDER BY id");
    if (!rs.ok()) return Fail(rs.status());
    for (const auto& row : rs->rows) {
      std::cout << std::get<int64_t>(*row.Get("id")) << " [" << (std::get<int64_t>(*row.Get("done")) ? "x" : " ") << "] "
                << std::get<std::string>(*row.Get("title")) << "\n";
    }
  } else if (cmd == "done" && argc == 3) {
    auto rs = (*db)->Execute({"UPDATE tasks SET done = 1 WHERE id = ?", {int64_t{std::stoll(argv[2])}}});
    if (!rs.ok()) return Fail(rs.status());
    if (rs->rows_affected != 1) {
      std::cerr << "no task " << argv[2] << "\n";
      return 1;
    }
  } else {
    std::cerr << "usage: tasks add TITLE | tasks list | tasks done ID\n";
    return 2;
  }
  return 0;
}
