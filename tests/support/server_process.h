// ServerProcess: the real `litehouse serve` on a free loopback port with a fresh database directory,
// for C++ tests that talk to a server (the client library's behaviour suite). Stopped (SIGTERM,
// then waited for) when destroyed.
#pragma once

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <regex>
#include <string>
#include <thread>

namespace litehouse::testing {

class ServerProcess {
 public:
  // Starts `binary` serving `db_dir`; port() is 0 if it did not report listening within 10 s.
  ServerProcess(const std::string& binary, const std::string& db_dir) {
    int fds[2];
    if (pipe(fds) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      dup2(fds[1], 2);
      close(fds[0]);
      execl(binary.c_str(), binary.c_str(), "serve", "--db-path", db_dir.c_str(), "--http-listen-addr", "127.0.0.1:0",
            static_cast<char*>(nullptr));
      _exit(127);
    }
    close(fds[1]);
    stderr_fd_ = fds[0];
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    std::string log;
    std::regex listening("listening on http://127\\.0\\.0\\.1:(\\d+)");
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
  ~ServerProcess() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      int status = 0;
      waitpid(pid_, &status, 0);
    }
    if (drain_.joinable()) drain_.join();
    if (stderr_fd_ >= 0) close(stderr_fd_);
  }
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  pid_t pid_ = -1;
  int stderr_fd_ = -1;
  int port_ = 0;
  std::thread drain_;
};

}  // namespace litehouse::testing
