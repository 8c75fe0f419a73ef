// Clock: where the engine and the server read the time, so that tests can move it themselves.
//
// Everything that expires or times out (idle streams, idle transactions, the write lock's holder)
// asks a Clock, never std::chrono directly. Production code uses Clock::Steady(); a test hands in a
// fake whose time only moves when the test says (tests/support/fake_clock.h), so lock stealing and
// expiry are tested without sleeping.
//
// Thread safety: Now() may be called from any thread.
#pragma once

#include <chrono>

namespace litehouse {

class Clock {
 public:
  using time_point = std::chrono::steady_clock::time_point;
  using duration = std::chrono::steady_clock::duration;
  virtual ~Clock() = default;
  virtual time_point Now() const = 0;

  // The process's monotonic clock (std::chrono::steady_clock).
  static const Clock& Steady() {
    struct SteadyClock final : Clock {
      time_point Now() const override { return std::chrono::steady_clock::now(); }
    };
    static const SteadyClock clock;
    return clock;
  }
};

}  // namespace litehouse
