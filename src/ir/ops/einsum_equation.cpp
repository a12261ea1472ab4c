// Einsum equation parser: explicit ("ij,jk->ik") and implicit ("ij,jk") forms, with ellipsis.
#include "ir/ops/einsum_equation.hpp"

#include <algorithm>
#include <map>

#include "core/error.hpp"

namespace kiln::ir {
namespace {

struct Term {
  std::vector<int> letters;  // letter index 0..51, or -1 for the ellipsis position
  bool has_ellipsis = false;
};

int letter_index(char c) {
  if (c >= 'a' && c <= 'z') return c - 'a';
  if (c >= 'A' && c <= 'Z') return 26 + (c - 'A');
  return -2;
}

Term parse_term(const std::string& text, const std::string& equation,
                const std::function<void(const std::string&)>& fail) {
  Term t;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text.compare(i, 3, "...") == 0) {
      if (t.has_ellipsis) fail(cat("equation '", equation, "' has two ellipses in one term"));
      t.has_ellipsis = true;
      t.letters.push_back(-1);
      i += 2;
      continue;
    }
    int l = letter_index(text[i]);
    if (l < 0) fail(cat("equation '", equation, "' has invalid character '", text[i], "'"));
    t.letters.push_back(l);
  }
  return t;
}

}  // namespace

EinsumEquation parse_einsum(const std::string& equation, const std::vector<int64_t>& ranks,
                            const std::function<void(const std::string&)>& fail) {
  std::string eq;
  for (char c : equation) {
    if (c != ' ') eq += c;
  }
  size_t arrow = eq.find("->");
  std::string lhs = arrow == std::string::npos ? eq : eq.substr(0, arrow);
  std::vector<Term> terms;
  for (size_t start = 0;;) {
    size_t comma = lhs.find(',', start);
    terms.push_back(parse_term(lhs.substr(start, comma - start), equation, fail));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  if (terms.size() != ranks.size()) {
    fail(cat("equation '", equation, "' has ", terms.size(), " input terms but the node has ",
             ranks.size(), " inputs"));
  }
  EinsumEquation r;
  std::vector<int> ellipsis_dims(terms.size(), 0);
  for (size_t k = 0; k < terms.size(); ++k) {
    auto letters = static_cast<int64_t>(terms[k].letters.size()) - (terms[k].has_ellipsis ? 1 : 0);
    if (terms[k].has_ellipsis) {
      if (ranks[k] < letters)
        fail(cat("equation '", equation, "' term ", k, " needs rank at least ", letters, ", input ",
                 k, " has rank ", ranks[k]));
      ellipsis_dims[k] = static_cast<int>(ranks[k] - letters);
      r.ellipsis_rank = std::max(r.ellipsis_rank, ellipsis_dims[k]);
    } else if (ranks[k] != letters) {
      fail(cat("equation '", equation, "' term ", k, " has ", letters, " labels, input ", k,
               " has rank ", ranks[k]));
    }
  }
  auto label_of = [&](int letter) { return r.ellipsis_rank + letter; };
  r.num_labels = r.ellipsis_rank + 52;
  std::map<int, int> letter_count;
  for (size_t k = 0; k < terms.size(); ++k) {
    std::vector<int> labels;
    for (int l : terms[k].letters) {
      if (l == -1) {
        for (int e = r.ellipsis_rank - ellipsis_dims[k]; e < r.ellipsis_rank; ++e)
          labels.push_back(e);
      } else {
        labels.push_back(label_of(l));
        ++letter_count[l];
      }
    }
    r.operands.push_back(std::move(labels));
  }
  if (arrow == std::string::npos) {
    // Implicit output: the broadcast dims, then every letter used once, in alphabetical order.
    for (int e = 0; e < r.ellipsis_rank; ++e) r.output.push_back(e);
    for (const auto& [l, n] : letter_count) {
      if (n == 1) r.output.push_back(label_of(l));
    }
    return r;
  }
  Term out = parse_term(eq.substr(arrow + 2), equation, fail);
  std::vector<bool> seen(static_cast<size_t>(r.num_labels), false);
  for (int l : out.letters) {
    if (l == -1) {
      for (int e = 0; e < r.ellipsis_rank; ++e) r.output.push_back(e);
      continue;
    }
    if (!letter_count.count(l))
      fail(cat("equation '", equation, "' has output label '",
               static_cast<char>(l < 26 ? 'a' + l : 'A' + l - 26), "' that no input uses"));
    if (seen[static_cast<size_t>(label_of(l))])
      fail(cat("equation '", equation, "' repeats an output label"));
    seen[static_cast<size_t>(label_of(l))] = true;
    r.output.push_back(label_of(l));
  }
  // An output without "..." sums over the broadcast dims, as numpy does.
  return r;
}

}  // namespace kiln::ir
