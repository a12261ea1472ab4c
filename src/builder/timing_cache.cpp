// Timing cache: a bounded key -> winning tactic map and its line-based file format
//   kiln-timing-cache 1
//   <key>\t<tactic>\t<median ms>
// Reading never trusts the file: sizes, field characters and numbers are all checked.
#include "builder/timing_cache.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "core/error.hpp"

namespace kiln {
namespace {

constexpr const char* kHeader = "kiln-timing-cache 1";

std::vector<std::string> split_tabs(const std::string& line) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    size_t tab = line.find('\t', start);
    parts.push_back(line.substr(start, tab - start));
    if (tab == std::string::npos) return parts;
    start = tab + 1;
  }
}

// A finite, non-negative decimal written by serialize(); strtod alone would accept "inf", hex
// and trailing junk.
std::optional<double> parse_time(const std::string& s) {
  if (s.empty() || s.size() > 32) return std::nullopt;
  for (char c : s) {
    if (!std::isdigit(static_cast<unsigned char>(c)) && c != '.' && c != 'e' && c != 'E' &&
        c != '-' && c != '+') {
      return std::nullopt;
    }
  }
  errno = 0;
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (errno != 0 || end != s.c_str() + s.size() || !std::isfinite(v) || v < 0) return std::nullopt;
  return v;
}

}  // namespace

bool is_timing_cache_field(const std::string& s) {
  if (s.empty() || s.size() > TimingCache::kMaxFieldLength) return false;
  return std::none_of(s.begin(), s.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f;
  });
}

TimingCache::TimingCache(TimingCache&& o) noexcept {
  std::lock_guard lock(o.mutex_);
  entries_ = std::move(o.entries_);
  next_age_ = o.next_age_;
}

TimingCache& TimingCache::operator=(TimingCache&& o) noexcept {
  if (this == &o) return *this;
  std::scoped_lock lock(mutex_, o.mutex_);
  entries_ = std::move(o.entries_);
  next_age_ = o.next_age_;
  return *this;
}

std::optional<TimingEntry> TimingCache::find(const std::string& key) const {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return std::nullopt;
  return it->second.entry;
}

void TimingCache::put(const std::string& key, TimingEntry entry) {
  if (!is_timing_cache_field(key) || !is_timing_cache_field(entry.tactic) ||
      !std::isfinite(entry.time_ms) || entry.time_ms < 0) {
    fail(ErrorCode::kInternal, "timing cache entry for '", key.substr(0, 200),
         "' has an unstorable key, tactic name or time");
  }
  std::lock_guard lock(mutex_);
  auto it = entries_.find(key);
  if (it == entries_.end() && entries_.size() >= kMaxEntries) {
    auto oldest =
        std::min_element(entries_.begin(), entries_.end(),
                         [](const auto& a, const auto& b) { return a.second.age < b.second.age; });
    entries_.erase(oldest);
  }
  entries_[key] = Slot{std::move(entry), next_age_++};
}

size_t TimingCache::size() const {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

std::string TimingCache::serialize() const {
  std::lock_guard lock(mutex_);
  // Oldest first, so a reader that keeps the newest entries keeps the same ones.
  std::vector<const std::pair<const std::string, Slot>*> order;
  for (const auto& e : entries_) order.push_back(&e);
  std::sort(order.begin(), order.end(),
            [](const auto* a, const auto* b) { return a->second.age < b->second.age; });
  std::ostringstream os;
  os << kHeader << '\n';
  char time[64];
  for (const auto* e : order) {
    std::snprintf(time, sizeof(time), "%.6g", e->second.entry.time_ms);
    os << e->first << '\t' << e->second.entry.tactic << '\t' << time << '\n';
  }
  return os.str();
}

TimingCache TimingCache::parse(const std::string& text, const std::string& source) {
  auto bad = [&](size_t line, const auto&... why) {
    fail(ErrorCode::kInvalidArgument, "timing cache '", source, "' line ", line, ": ", why...,
         "; delete the file to rebuild it");
  };
  if (text.size() > kMaxFileBytes) {
    fail(ErrorCode::kInvalidArgument, "timing cache '", source, "' is ", text.size(),
         " bytes, more than the ", kMaxFileBytes, " a timing cache can be");
  }
  TimingCache cache;
  std::istringstream in(text);
  std::string line;
  size_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (number == 1) {
      if (line != kHeader) bad(1, "not a kiln timing cache (expected the header '", kHeader, "')");
      continue;
    }
    std::vector<std::string> fields = split_tabs(line);
    if (fields.size() != 3) bad(number, "expected 3 tab-separated fields, got ", fields.size());
    if (!is_timing_cache_field(fields[0]))
      bad(number, "the key is empty, too long or has control characters");
    if (!is_timing_cache_field(fields[1]))
      bad(number, "the tactic name is empty, too long or has control characters");
    std::optional<double> t = parse_time(fields[2]);
    if (!t)
      bad(number, "the time '", fields[2].substr(0, 40), "' is not a finite non-negative number");
    if (cache.entries_.size() >= kMaxEntries && !cache.entries_.count(fields[0])) {
      bad(number, "more than ", kMaxEntries, " entries");
    }
    cache.entries_[fields[0]] = Slot{TimingEntry{fields[1], *t}, cache.next_age_++};
  }
  if (number == 0) bad(1, "the file is empty");
  if (!text.empty() && text.back() != '\n') bad(number, "the last line is cut off");
  return cache;
}

TimingCache TimingCache::load(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return TimingCache();
  auto size = std::filesystem::file_size(path, ec);
  if (ec) fail(ErrorCode::kIo, "cannot read timing cache '", path, "': ", ec.message());
  if (size > kMaxFileBytes) {
    fail(ErrorCode::kInvalidArgument, "timing cache '", path, "' is ", size,
         " bytes, more than the ", kMaxFileBytes, " a timing cache can be");
  }
  std::ifstream f(path, std::ios::binary);
  if (!f) fail(ErrorCode::kIo, "cannot open timing cache '", path, "'");
  std::string text(static_cast<size_t>(size), '\0');
  f.read(text.data(), static_cast<std::streamsize>(size));
  if (f.gcount() != static_cast<std::streamsize>(size)) {
    fail(ErrorCode::kIo, "cannot read timing cache '", path, "'");
  }
  return parse(text, path);
}

void TimingCache::save(const std::string& path) const {
  std::string text = serialize();
  std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    if (!f) fail(ErrorCode::kIo, "cannot open '", tmp, "' to write the timing cache");
    f.write(text.data(), static_cast<std::streamsize>(text.size()));
    if (!f) fail(ErrorCode::kIo, "cannot write the timing cache to '", tmp, "'");
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) fail(ErrorCode::kIo, "cannot replace timing cache '", path, "': ", ec.message());
}

}  // namespace kiln
