// `litehouse promote URL`: asks a read replica to become the primary (POST /replication/promote),
// and prints where replication stands on it afterwards.
#include <boost/asio.hpp>

#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "server/primary_link.h"

namespace litehouse::cli {

Run RegisterPromote(CLI::App& app) {
  struct Flags {
    std::string url;
    std::string auth_token;
  };
  auto flags = std::make_shared<Flags>();
  CLI::App* cmd = app.add_subcommand("promote", "Turn a read replica into the primary, with a new history of its log");
  cmd->add_option("url", flags->url, "The replica's HTTP address (http://HOST:PORT)")->required();
  cmd->add_option("--auth-token", flags->auth_token, "A read-write token the replica accepts")->envname("LITEHOUSE_AUTH_TOKEN");
  return [flags]() -> int {
    auto target = server::PrimaryTarget::Parse(flags->url, flags->auth_token);
    if (!target.ok()) {
      std::cerr << "error: " << target.status().message() << "\n";
      return 2;
    }
    boost::asio::io_context io;
    Result<server::ForwardedReply> reply = Status::IoError("no answer");
    auto call = [&]() -> boost::asio::awaitable<void> {
      reply = co_await server::ForwardToPrimary(*target, "/replication/promote", {}, "", std::chrono::seconds(60));
    };
    boost::asio::co_spawn(io, call(), boost::asio::detached);
    io.run();
    if (!reply.ok()) {
      std::cerr << "error: " << reply.status().message() << "\n";
      return 1;
    }
    std::cout << reply->body << "\n";
    if (reply->status != 200) {
      std::cerr << "error: the replica answered HTTP " << reply->status << "\n";
      return 1;
    }
    return 0;
  };
}

}  // namespace litehouse::cli
