#include "core/crypto_pool.h"

#include <algorithm>

namespace qvpn::core {
namespace {

// Below this many jobs per thread, waking another thread costs more than it saves.
constexpr size_t kMinJobsPerThread = 8;

}  // namespace

CryptoPool::CryptoPool(unsigned threads) {
  for (unsigned i = 1; i < std::max(threads, 1u); ++i) {
    workers_.emplace_back([this, i] { work(i); });
  }
}

CryptoPool::~CryptoPool() {
  stopping_.store(true);
  generation_.fetch_add(1);
  generation_.notify_all();
  workers_.clear();  // joins
}

void CryptoPool::run_share(std::span<dataplane::AeadJob> jobs, bool seal) {
  if (seal) {
    dataplane::chacha20poly1305_seal(jobs);
  } else {
    dataplane::chacha20poly1305_open(jobs);
  }
}

void CryptoPool::run(std::span<dataplane::AeadJob> jobs, bool seal) {
  const size_t helpers = std::min(workers_.size(), jobs.size() / kMinJobsPerThread);
  if (helpers == 0) {
    run_share(jobs, seal);
    return;
  }
  jobs_ = jobs;
  seal_ = seal;
  share_ = (jobs.size() + helpers) / (helpers + 1);
  // Workers past the last share find an empty span and only report back.
  pending_.store(uint32_t(workers_.size()));
  generation_.fetch_add(1, std::memory_order_release);
  generation_.notify_all();
  run_share(jobs.first(std::min(share_, jobs.size())), seal);
  for (uint32_t left = pending_.load(); left != 0; left = pending_.load()) pending_.wait(left);
}

void CryptoPool::work(unsigned index) {
  uint32_t seen = 0;
  for (;;) {
    generation_.wait(seen);
    seen = generation_.load(std::memory_order_acquire);
    if (stopping_.load()) return;
    const size_t begin = std::min(share_ * index, jobs_.size());
    const size_t end = std::min(begin + share_, jobs_.size());
    if (begin < end) run_share(jobs_.subspan(begin, end - begin), seal_);
    if (pending_.fetch_sub(1) == 1) pending_.notify_one();
  }
}

}  // namespace qvpn::core
