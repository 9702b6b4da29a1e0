// A FileSystem in memory for the disk store's tests, with the two powers a real disk will
// not lend a test:
// - fail(): the chosen call of a kind (append, sync, rename, create...) fails with kIo, as
//   a full disk or an I/O error would;
// - power_cut(): every file falls back to what its last sync covered, and every directory
//   entry to what the last sync of its directory covered, as after a power loss (kill -9
//   keeps the page cache, so it cannot show this).
// Paths are plain strings: "dir/name" lives in directory "dir".
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "server/file_system.h"

namespace shido::server::test {

class FakeFileSystem final : public FileSystem {
 public:
  enum class Call { kCreate, kOpen, kAppend, kSync, kRename, kRemove, kSyncDirectory, kTruncate };

  // The nth call of `call` from now on (1 = the next) fails, and so does every later one of
  // that kind when `sticky` (a disk that stays broken).
  void fail(Call call, int nth = 1, bool sticky = false) {
    std::lock_guard lock(mutex_);
    failures_[call] = Failure{count_[call] + nth, sticky};
  }
  void heal() {
    std::lock_guard lock(mutex_);
    failures_.clear();
  }
  // How many calls of a kind were made.
  int count(Call call) const {
    std::lock_guard lock(mutex_);
    auto it = count_.find(call);
    return it == count_.end() ? 0 : it->second;
  }
  // Runs before every sync of a file (outside the lock): a test can hold a sync there.
  void on_sync(std::function<void()> hook) {
    std::lock_guard lock(mutex_);
    on_sync_ = std::move(hook);
  }

  // What survives a power loss: synced bytes, synced directory entries.
  void power_cut() {
    std::lock_guard lock(mutex_);
    entries_ = durable_entries_;
    for (auto& [name, file] : entries_) file->content.resize(file->synced);
  }

  // What a power cut now would leave, as a new file system; this one goes on unchanged (its
  // files may still be written by a store that runs on).
  std::unique_ptr<FakeFileSystem> after_power_cut() const {
    std::lock_guard lock(mutex_);
    auto copy = std::make_unique<FakeFileSystem>();
    for (const auto& [name, node] : durable_entries_) {
      auto kept = std::make_shared<Node>();
      kept->content.assign(node->content.begin(),
                           node->content.begin() + static_cast<std::ptrdiff_t>(node->synced));
      kept->synced = node->synced;
      copy->entries_[name] = kept;
      copy->durable_entries_[name] = kept;
    }
    return copy;
  }

  // Every file's name, and all their bytes (to look for what must not be there).
  std::vector<std::string> names() const {
    std::lock_guard lock(mutex_);
    std::vector<std::string> out;
    for (const auto& [name, node] : entries_) out.push_back(name);
    return out;
  }

  // The current bytes of a file (for tests to look at, or to damage).
  std::optional<Bytes> contents(const std::string& path) const {
    std::lock_guard lock(mutex_);
    auto it = entries_.find(path);
    if (it == entries_.end()) return std::nullopt;
    return it->second->content;
  }
  void overwrite(const std::string& path, Bytes content) {
    std::lock_guard lock(mutex_);
    auto& file = entries_[path];
    if (!file) file = std::make_shared<Node>();
    file->content = std::move(content);
    file->synced = file->content.size();
    durable_entries_[path] = file;
  }

  // Preallocation is the POSIX file's business; here files hold what was appended.
  Result<std::unique_ptr<WritableFile>> create(const std::string& path,
                                               std::uint64_t /*preallocate*/ = 0) override {
    std::lock_guard lock(mutex_);
    if (auto failed = take_failure(Call::kCreate, path)) return *failed;
    auto node = std::make_shared<Node>();
    entries_[path] = node;
    return std::unique_ptr<WritableFile>(std::make_unique<File>(*this, path, node));
  }

  Result<std::unique_ptr<WritableFile>> open_for_append(
      const std::string& path, std::uint64_t /*preallocate*/ = 0) override {
    std::lock_guard lock(mutex_);
    if (auto failed = take_failure(Call::kOpen, path)) return *failed;
    auto it = entries_.find(path);
    if (it == entries_.end()) return Error{Errc::kNotFound, "no file " + path};
    return std::unique_ptr<WritableFile>(std::make_unique<File>(*this, path, it->second));
  }

  Result<Bytes> read(const std::string& path) override {
    std::lock_guard lock(mutex_);
    auto it = entries_.find(path);
    if (it == entries_.end()) return Error{Errc::kNotFound, "no file " + path};
    return it->second->content;
  }

  Status truncate(const std::string& path, std::uint64_t size) override {
    std::lock_guard lock(mutex_);
    if (auto failed = take_failure(Call::kTruncate, path)) return *failed;
    auto it = entries_.find(path);
    if (it == entries_.end()) return Error{Errc::kNotFound, "no file " + path};
    it->second->content.resize(size);
    it->second->synced = it->second->content.size();  // truncate syncs
    return {};
  }

  Status rename(const std::string& from, const std::string& to) override {
    std::lock_guard lock(mutex_);
    if (auto failed = take_failure(Call::kRename, from)) return *failed;
    auto it = entries_.find(from);
    if (it == entries_.end()) return Error{Errc::kNotFound, "no file " + from};
    entries_[to] = it->second;
    entries_.erase(it);
    return {};
  }

  Status remove(const std::string& path) override {
    std::lock_guard lock(mutex_);
    if (auto failed = take_failure(Call::kRemove, path)) return *failed;
    if (entries_.erase(path) == 0) return Error{Errc::kNotFound, "no file " + path};
    return {};
  }

  Status sync_directory(const std::string& directory) override {
    std::lock_guard lock(mutex_);
    if (auto failed = take_failure(Call::kSyncDirectory, directory)) return *failed;
    const std::string prefix = directory + "/";
    std::erase_if(durable_entries_, [&](const auto& entry) { return in(entry.first, prefix); });
    for (const auto& [path, node] : entries_) {
      if (in(path, prefix)) durable_entries_[path] = node;
    }
    return {};
  }

  Result<std::vector<std::string>> list(const std::string& directory) override {
    std::lock_guard lock(mutex_);
    std::vector<std::string> names;
    const std::string prefix = directory + "/";
    for (const auto& [path, node] : entries_) {
      if (in(path, prefix)) names.push_back(path.substr(prefix.size()));
    }
    return names;  // std::map: already sorted
  }

 private:
  struct Node {
    Bytes content;
    std::size_t synced = 0;  // bytes a power cut keeps
  };
  struct Failure {
    int at = 0;
    bool sticky = false;
  };

  class File final : public WritableFile {
   public:
    File(FakeFileSystem& fs, std::string path, std::shared_ptr<Node> node)
        : fs_(fs), path_(std::move(path)), node_(std::move(node)) {}
    Status append(ByteView data) override {
      std::lock_guard lock(fs_.mutex_);
      if (auto failed = fs_.take_failure(Call::kAppend, path_)) {
        // As a disk that fills up mid-write: part of it may land.
        const ByteView half = data.first(data.size() / 2);
        node_->content.insert(node_->content.end(), half.begin(), half.end());
        return *failed;
      }
      node_->content.insert(node_->content.end(), data.begin(), data.end());
      return {};
    }
    Status sync() override {
      std::function<void()> hook;
      {
        std::lock_guard lock(fs_.mutex_);
        hook = fs_.on_sync_;
      }
      if (hook) hook();
      std::lock_guard lock(fs_.mutex_);
      if (auto failed = fs_.take_failure(Call::kSync, path_)) return *failed;
      node_->synced = node_->content.size();
      return {};
    }

   private:
    FakeFileSystem& fs_;
    std::string path_;
    std::shared_ptr<Node> node_;
  };

  static bool in(const std::string& path, const std::string& prefix) {
    return path.rfind(prefix, 0) == 0 && path.find('/', prefix.size()) == std::string::npos;
  }

  // Counts the call; the error when it is one that must fail. Holds mutex_.
  std::optional<Error> take_failure(Call call, const std::string& path) {
    const int number = ++count_[call];
    auto it = failures_.find(call);
    if (it == failures_.end()) return std::nullopt;
    if (number == it->second.at || (it->second.sticky && number > it->second.at)) {
      return Error{Errc::kIo, "injected failure on " + path};
    }
    return std::nullopt;
  }

  mutable std::mutex mutex_;
  std::map<std::string, std::shared_ptr<Node>> entries_;          // what the directory holds now
  std::map<std::string, std::shared_ptr<Node>> durable_entries_;  // what a power cut leaves
  std::map<Call, int> count_;
  std::map<Call, Failure> failures_;
  std::function<void()> on_sync_;
};

}  // namespace shido::server::test
