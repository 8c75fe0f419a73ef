// FakeClock: a Clock whose time moves only when a test calls Advance().
#pragma once

#include <atomic>

#include "common/clock.h"

namespace litehouse::testing {

class FakeClock final : public Clock {
 public:
  time_point Now() const override { return time_point(duration(ticks_.load())); }
  void Advance(duration d) { ticks_ += d.count(); }

 private:
  std::atomic<duration::rep> ticks_{1'000'000'000};
};

}  // namespace litehouse::testing
