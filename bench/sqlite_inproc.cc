// The in-process baseline for bench/run.sh: the same point SELECT and single-row INSERT that the
// server benchmark sends over HTTP, run directly on SQLite (the same build, the same pragmas:
// WAL, synchronous=NORMAL) with statements prepared once, the best case for an embedded app.
//
//   sqlite_inproc DB_FILE select|insert THREADS SECONDS
// prints: ops_per_sec=<n>
// Readers use one connection per thread; writers share the file and serialize on SQLite's lock
// (busy_timeout), as several writer threads in one process would.
#include <sqlite3.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace {

sqlite3* Open(const char* path) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr) != SQLITE_OK) {
    std::fprintf(stderr, "open: %s\n", sqlite3_errmsg(db));
    std::exit(1);
  }
  sqlite3_busy_timeout(db, 10000);
  sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", nullptr, nullptr, nullptr);
  return db;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: %s DB_FILE select|insert THREADS SECONDS\n", argv[0]);
    return 2;
  }
  const char* path = argv[1];
  bool select = std::strcmp(argv[2], "select") == 0;
  int threads = std::atoi(argv[3]);
  double seconds = std::atof(argv[4]);
  std::atomic<uint64_t> ops{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      sqlite3* db = Open(path);
      sqlite3_stmt* stmt = nullptr;
      const char* sql = select ? "SELECT id, name, value FROM bench WHERE id = ?" : "INSERT INTO bench_ins(name, value) VALUES (?, ?)";
      if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr) != SQLITE_OK) {
        std::fprintf(stderr, "prepare: %s\n", sqlite3_errmsg(db));
        std::exit(1);
      }
      std::mt19937 rng(static_cast<unsigned>(t + 1));
      std::uniform_int_distribution<int> key(1, 10000);
      uint64_t local = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        if (select) {
          sqlite3_bind_int64(stmt, 1, key(rng));
        } else {
          sqlite3_bind_text(stmt, 1, "name", 4, SQLITE_STATIC);
          sqlite3_bind_double(stmt, 2, 1.5);
        }
        int rc;
        while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
          // Read the columns as a server would, to encode them.
          (void)sqlite3_column_int64(stmt, 0);
          (void)sqlite3_column_text(stmt, 1);
          (void)sqlite3_column_double(stmt, 2);
        }
        if (rc != SQLITE_DONE) {
          std::fprintf(stderr, "step: %s\n", sqlite3_errmsg(db));
          std::exit(1);
        }
        sqlite3_reset(stmt);
        ++local;
      }
      ops += local;
      sqlite3_finalize(stmt);
      sqlite3_close(db);
    });
  }
  auto start = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& w : workers) w.join();
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("ops_per_sec=%.0f\n", static_cast<double>(ops.load()) / elapsed);
  return 0;
}
