// Per-call latency of a point SELECT through the Litehouse C++ client library, one call at a time,
// for a fixed time: the library's side of the comparison with @libsql/client (client_latency.mjs).
//
//   client_latency URL SECONDS      (the table `bench` with ids 1..10000 must exist)
//   prints: RESULT calls=N seconds=S p50_us=X p99_us=Y errors=E
#include <litehouse/client.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s URL SECONDS\n", argv[0]);
    return 2;
  }
  auto client = litehouse::Client::Open({argv[1]});
  if (!client.ok()) {
    std::fprintf(stderr, "open: %s\n", client.status().ToString().c_str());
    return 1;
  }
  using Clock = std::chrono::steady_clock;
  auto start = Clock::now();
  auto end = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(std::atof(argv[2])));
  std::mt19937 rng(1);
  std::uniform_int_distribution<int64_t> key(1, 10000);
  std::vector<uint32_t> latencies;
  uint64_t errors = 0;
  while (Clock::now() < end) {
    auto t0 = Clock::now();
    auto rs = (*client)->Execute({"SELECT id, name, value FROM bench WHERE id = ?", {key(rng)}});
    latencies.push_back(static_cast<uint32_t>(std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0).count()));
    if (!rs.ok() || rs->rows.size() != 1) ++errors;
  }
  double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  std::sort(latencies.begin(), latencies.end());
  auto pct = [&](double p) { return latencies.empty() ? 0u : latencies[std::min(latencies.size() - 1, static_cast<size_t>(p * latencies.size()))]; };
  std::printf("RESULT calls=%zu seconds=%.3f p50_us=%u p99_us=%u errors=%llu\n", latencies.size(), elapsed, pct(0.5), pct(0.99),
              static_cast<unsigned long long>(errors));
  return errors ? 1 : 0;
}
