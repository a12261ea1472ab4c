// The timing cache: which tactic won the auto-tuner's race for one layer signature on one GPU with
// one kiln version, kept in a file so that rebuilding an engine skips the timing. The file is
// untrusted input: reading it checks its size, header, every line and every field.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>

namespace kiln {

struct TimingEntry {
  std::string tactic;  // the winning candidate's name (library algorithm id, engine config...)
  double time_ms = 0;  // its median time
};

class TimingCache {
 public:
  static constexpr size_t kMaxEntries = 1 << 16;
  static constexpr size_t kMaxFieldLength = 4096;
  static constexpr size_t kMaxFileBytes = size_t{64} << 20;

  std::optional<TimingEntry> find(const std::string& key) const;
  // Adds or replaces an entry; past kMaxEntries the oldest entry goes.
  void put(const std::string& key, TimingEntry entry);
  size_t size() const;

  // The file text; parse() accepts exactly what serialize() writes. parse() throws
  // Error(kInvalidArgument) naming `source` and the line on anything else.
  std::string serialize() const;
  static TimingCache parse(const std::string& text, const std::string& source);

  // load() returns an empty cache when the file does not exist; throws like parse() (kIo when the
  // file cannot be read). save() writes a temporary file and renames it over `path`.
  static TimingCache load(const std::string& path);
  void save(const std::string& path) const;

  TimingCache() = default;
  TimingCache(TimingCache&& o) noexcept;
  TimingCache& operator=(TimingCache&& o) noexcept;

 private:
  struct Slot {
    TimingEntry entry;
    uint64_t age = 0;  // insertion order, for eviction
  };
  mutable std::mutex mutex_;
  std::map<std::string, Slot> entries_;
  uint64_t next_age_ = 0;
};

// A key or tactic name is storable when it is non-empty, at most kMaxFieldLength bytes and has no
// tab, newline or other control character.
bool is_timing_cache_field(const std::string& s);

}  // namespace kiln
