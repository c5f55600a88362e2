#include "image_loop.h"

#include <spdlog/spdlog.h>

#include <condition_variable>
#include <deque>
#include <exception>
#include <future>
#include <mutex>
#include <thread>

#include "image_failure.h"

namespace sam2amg::cli {

ModelOptions model_options(const IoOptions& io) {
  ModelOptions m;
  m.device = io.device;
  m.precision = io.precision;
  m.threads = io.threads;
  m.decoder = io.decoder;
  m.matmul_tf32 = io.matmul_tf32;
  return m;
}

ReadOptions read_options(const IoOptions& io) {
  return {io.exif == ExifMode::kApply, io.max_image_pixels, io.accept_corrupt_images};
}

MaskGenerator make_generator(const RunConfig& config) {
  MaskGenerator generator(config.io.model, config.amg, model_options(config.io));
  generator.set_postprocess(config.io.postprocess);
  generator.set_warning_handler([](const std::string& w) { spdlog::warn("{}", w); });
  spdlog::debug("runtime: {}", generator.runtime());
  return generator;
}

void log_skipped(const InputFile& input, const ImageError& error) {
  if (dynamic_cast<const ImageReadError*>(&error))
    spdlog::warn("skipped: {}", error.what());  // the message names the file
  else
    spdlog::warn("skipped '{}': {}", printable(input.path), error.what());
}

void log_read_warnings(const InputFile& input, const std::vector<ReadWarning>& warnings) {
  for (const ReadWarning& w : warnings) {
    if (w.damage)
      spdlog::warn("'{}': {} (read anyway: --accept-corrupt-images)", printable(input.path), w.message);
    else
      spdlog::debug("'{}': {}", printable(input.path), w.message);
  }
}

namespace {

// Images decoded ahead of the model, and commits queued for the writer: enough to hide a
// decode or a write behind one model call, small enough to bound memory.
constexpr size_t kDecodeAhead = 2;
constexpr size_t kCommitQueue = 2;

// One writer thread that runs commits in the order they were pushed.
class CommitQueue {
 public:
  CommitQueue() : thread_([this] { run(); }) {}
  // Writes what was handed over (finished images are never lost), then stops.
  ~CommitQueue() {
    {
      std::lock_guard<std::mutex> lock(m_);
      closing_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  CommitQueue(const CommitQueue&) = delete;
  CommitQueue& operator=(const CommitQueue&) = delete;

  // Blocks while the queue is full; rethrows a commit's failure.
  void push(Commit c) {
    std::unique_lock<std::mutex> lock(m_);
    cv_.wait(lock, [&] { return queue_.size() < kCommitQueue || error_; });
    if (error_) std::rethrow_exception(error_);
    queue_.push_back(std::move(c));
    cv_.notify_all();
  }
  // Waits until every commit ran; rethrows a commit's failure.
  void drain() {
    std::unique_lock<std::mutex> lock(m_);
    cv_.wait(lock, [&] { return (queue_.empty() && !busy_) || error_; });
    if (error_) std::rethrow_exception(error_);
  }

 private:
  void run() {
    std::unique_lock<std::mutex> lock(m_);
    for (;;) {
      cv_.wait(lock, [&] { return !queue_.empty() || closing_; });
      if (queue_.empty()) return;
      Commit c = std::move(queue_.front());
      queue_.pop_front();
      if (error_) continue;  // after a failed write nothing more is written
      busy_ = true;
      lock.unlock();
      try {
        c();
      } catch (...) {
        lock.lock();
        error_ = std::current_exception();
        busy_ = false;
        cv_.notify_all();
        continue;
      }
      lock.lock();
      busy_ = false;
      cv_.notify_all();
    }
  }

  std::mutex m_;
  std::condition_variable cv_;
  std::deque<Commit> queue_;
  bool closing_ = false, busy_ = false;
  std::exception_ptr error_;
  std::thread thread_;
};

}  // namespace

LoopCounts for_each_image(const std::vector<InputFile>& inputs, const ReadOptions& read, const ImageLoopHooks& hooks) {
  LoopCounts n;
  // Resume state is what earlier runs wrote: decided for every input before this run writes.
  std::vector<char> skip(inputs.size(), 0);
  if (hooks.already_done)
    for (size_t i = 0; i < inputs.size(); ++i) skip[i] = hooks.already_done(inputs[i]);

  // Decoded (and prepared) on worker threads; the decoder's messages are logged here, in input
  // order.
  struct Decoded {
    PreparedImage image;
    std::vector<ReadWarning> warnings;
    std::exception_ptr prepare_failed;  // raised after the warnings are logged
  };
  std::deque<std::pair<size_t, std::future<Decoded>>> ahead;
  size_t next = 0;
  auto decode_ahead = [&] {
    for (; next < inputs.size() && ahead.size() < kDecodeAhead; ++next)
      if (!skip[next])
        ahead.emplace_back(next, std::async(std::launch::async, [&read, &hooks, path = inputs[next].path] {
                             Decoded d;
                             auto image = std::make_shared<const ImageU8>(read_image_rgb(path, read, &d.warnings));
                             d.image = PreparedImage(image);
                             try {
                               if (hooks.prepare) d.image = hooks.prepare(std::move(image));
                             } catch (...) {
                               d.prepare_failed = std::current_exception();
                             }
                             return d;
                           }));
  };
  CommitQueue writer;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (hooks.stop && hooks.stop()) break;
    if (skip[i]) {
      ++n.done_before;
    } else {
      decode_ahead();
      std::future<Decoded> decoded = std::move(ahead.front().second);
      ahead.pop_front();
      decode_ahead();
      try {
        Decoded d = decoded.get();
        if (!d.warnings.empty() && hooks.before_warning) hooks.before_warning();
        log_read_warnings(inputs[i], d.warnings);
        if (d.prepare_failed) std::rethrow_exception(d.prepare_failed);
        if (Commit c = hooks.process(inputs[i], d.image)) writer.push(std::move(c));
      } catch (const ImageError& e) {
        ++n.unreadable;
        n.unreadable_inputs.push_back({inputs[i].path, e.what()});
        if (hooks.before_warning) hooks.before_warning();
        log_skipped(inputs[i], e);
      } catch (const std::exception& e) {
        const std::optional<ImageError> failure = per_image_failure(e);  // e.g. this image needs too much memory
        if (!failure) throw;
        ++n.unreadable;
        n.unreadable_inputs.push_back({inputs[i].path, failure->what()});
        if (hooks.before_warning) hooks.before_warning();
        log_skipped(inputs[i], *failure);
      }
    }
    ++n.handled;
    if (hooks.after_each) hooks.after_each(n);
  }
  writer.drain();
  return n;
}

}  // namespace sam2amg::cli
