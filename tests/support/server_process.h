// ChildProcess: a program that reports "listening on ...:PORT" (or "listening on PORT") on stderr,
// such as the real `litehouse serve` on a free loopback port, for C++ tests that talk to a server
// (the client library's behaviour suite). Stopped (SIGTERM, then waited for) when destroyed.
#pragma once

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <regex>
#include <string>
#include <thread>
#include <vector>

namespace litehouse::testing {

class ChildProcess {
 public:
  // Starts argv[0] (looked up in PATH) with `argv`; port() is 0 if it did not report listening within 10 s.
  explicit ChildProcess(const std::vector<std::string>& argv) {
    int fds[2];
    if (argv.empty() || pipe(fds) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      dup2(fds[1], 2);
      close(fds[0]);
      std::vector<char*> args;
      for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
      args.push_back(nullptr);
      execvp(args[0], args.data());
      _exit(127);
    }
    close(fds[1]);
    stderr_fd_ = fds[0];
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    std::string log;
    std::regex listening("listening on (?:http://127\\.0\\.0\\.1:)?(\\d+)");
    char buf[4096];
    while (std::chrono::steady_clock::now() < deadline) {
      ssize_t n = read(stderr_fd_, buf, sizeof buf);
      if (n <= 0) break;
      log.append(buf, static_cast<size_t>(n));
      std::smatch m;
      if (std::regex_search(log, m, listening)) {
        port_ = std::stoi(m[1]);
        break;
      }
    }
    // Keep draining the server's stderr so it never blocks on a full pipe; ends at the server's exit.
    drain_ = std::thread([fd = stderr_fd_] {
      char sink[4096];
      while (read(fd, sink, sizeof sink) > 0) {
      }
    });
  }
  ~ChildProcess() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      int status = 0;
      waitpid(pid_, &status, 0);
    }
    if (drain_.joinable()) drain_.join();
    if (stderr_fd_ >= 0) close(stderr_fd_);
  }
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  pid_t pid_ = -1;
  int stderr_fd_ = -1;
  int port_ = 0;
  std::thread drain_;
};

// The real server serving `db_dir` on 127.0.0.1, any free port.
class ServerProcess : public ChildProcess {
 public:
  ServerProcess(const std::string& binary, const std::string& db_dir)
      : ChildProcess({binary, "serve", "--db-path", db_dir, "--http-listen-addr", "127.0.0.1:0"}) {}
};

}  // namespace litehouse::testing
