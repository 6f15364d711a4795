#pragma once
// Spreads the AEAD jobs of one batch over several cores, fork-join: the batch is cut into
// contiguous shares, worker threads take all but the first, the calling thread takes the
// first, and run() returns when every share is done. The device then sends or delivers the
// batch in its original order, so each peer's packets stay in order. One wake-up and one
// wait per batch; nothing per packet locks or allocates.
#include <atomic>
#include <cstdint>
#include <span>
#include <thread>
#include <vector>

#include "dataplane/chacha20poly1305.h"

namespace qvpn::core {

class CryptoPool {
 public:
  // `threads` counts the caller: 1 runs every batch on the calling thread.
  explicit CryptoPool(unsigned threads);
  ~CryptoPool();
  CryptoPool(const CryptoPool&) = delete;
  CryptoPool& operator=(const CryptoPool&) = delete;

  unsigned threads() const { return unsigned(workers_.size()) + 1; }
  void run(std::span<dataplane::AeadJob> jobs, bool seal);

 private:
  void work(unsigned index);
  static void run_share(std::span<dataplane::AeadJob> jobs, bool seal);

  std::vector<std::jthread> workers_;
  std::span<dataplane::AeadJob> jobs_;
  bool seal_ = false;
  size_t share_ = 0;
  std::atomic<uint32_t> generation_{0};  // bumped to hand out a batch
  std::atomic<uint32_t> pending_{0};     // worker shares not yet done
  std::atomic<bool> stopping_{false};
};

}  // namespace qvpn::core
