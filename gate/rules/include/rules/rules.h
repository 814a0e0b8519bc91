// The rule DSL of the trading gate: compiler, evaluator and loader.
//
// A rule file holds one or more rules such as
//
//   rule spread_stress_no_entries v1 "Deny new entries while the spread is wide" {
//     from core
//     when market.spread > 25bps and not order.reduce_only
//     then deny "spread above 25bps"
//   }
//
// The language (docs/rule-dsl.md) has no loops, no recursion and no user
// functions; every rule compiles to a short straight-line program whose
// length is bounded by kEvaluationStepsMax, so evaluating a RuleSet takes
// bounded time. Arithmetic is ta::Decimal fixed point, never floating point.
//
// Typical use in the gate:
//
//   auto loaded = ta::rules::load_rules("rules/core", "rules/active");
//   if (!loaded.ok()) { log(loaded.render_errors()); keep the old set; }
//   ta::rules::RuleSet rules = loaded.value().rules;   // cheap to copy
//   ...
//   ta::rules::Facts facts;  // filled by decide() from the intent and state
//   ta::rules::Outcome outcome;  // keep and reuse it: once its vectors have
//   rules.evaluate(facts, outcome);  // grown, evaluate() does not allocate
//
// Thread safety: a RuleSet is immutable after compilation; evaluate() is const
// and may run on several threads, each with its own Outcome.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "proto/decimal.h"

namespace ta::rules {

// ---------------------------------------------------------------------------
// Limits. Each is enforced by the compiler or loader with a clear error and
// tested at the limit, one below and one above.

// Largest rule file, in bytes: a proposal carries a whole rule file inside
// one 64 KiB IPC frame (proto/framing.h), and a careful rule is a few hundred
// bytes, so 32 KiB leaves room for ~100 rules per file and for the envelope.
inline constexpr std::size_t kSourceSizeMax = 32 * 1024;
// Most rules in one RuleSet (all files together): the gate evaluates every
// rule on every intent, and 256 rules stay within a few microseconds.
inline constexpr std::size_t kRuleCountMax = 256;
// Most rule files loaded from the two directories together.
inline constexpr std::size_t kFileCountMax = 256;
// Deepest expression nesting (every operator, parenthesis, unary minus and
// 'not' adds a level). Bounds the compiler's recursion and keeps rules
// readable; real rules need fewer than ten.
inline constexpr std::size_t kExpressionDepthMax = 32;
// Most evaluation steps (instructions) one rule may compile to, condition
// and action value together. The code has no backward jumps, so this is also
// the most steps one evaluation of the rule can take.
inline constexpr std::size_t kEvaluationStepsMax = 128;
// Longest rule id, fact name part or other identifier, in characters.
inline constexpr std::size_t kIdentifierLengthMax = 64;
// Longest string literal (description, reason, message, product), in
// characters between the quotes: enough for a sentence, short enough for a
// log line and a Decision.detail.
inline constexpr std::size_t kStringLengthMax = 200;
// Most elements in an 'in [...]' list.
inline constexpr std::size_t kListLengthMax = 32;
// Highest rule version number.
inline constexpr std::uint32_t kVersionMax = 1'000'000;
// Most diagnostics collected from one compile or load; the rest are counted
// in one final "too many errors" line, so a junk file cannot flood the log.
inline constexpr std::size_t kDiagnosticCountMax = 50;
// Bounds of 'hold for approval within D': at least one minute so a person
// can react, at most one day so a held order is never acted on stale.
inline constexpr std::int64_t kHoldExpiryMin_s = 60;
inline constexpr std::int64_t kHoldExpiryMax_s = 24 * 60 * 60;

// ---------------------------------------------------------------------------
// Facts: everything a rule may read, filled by the gate for each intent.
// Plain data, no strings are looked up at evaluation time. The DSL name of
// each field is in the comment; docs/rule-dsl.md has the full table.

enum class Side : std::uint8_t { kBuy, kSell };
enum class OrderType : std::uint8_t { kMarket, kLimit, kStopLimit };
enum class Weekday : std::uint8_t { kMonday, kTuesday, kWednesday, kThursday, kFriday, kSaturday, kSunday };

struct Facts {
  struct Order {
    std::string_view product;  // order.product         string, "BTC-USD"
    Side side = Side::kBuy;    // order.side            buy | sell
    OrderType type = OrderType::kMarket;  // order.type market | limit | stop_limit
    Decimal quantity;          // order.quantity        quantity (base units)
    Decimal price;             // order.price           price (limit price; reference price for market orders)
    Decimal notional;          // order.notional        usd (quantity * price)
    bool reduce_only = false;  // order.reduce_only     bool
    std::string_view strategy; // order.strategy        string
  } order;
  struct Position {            // the position in order.product
    Decimal quantity;          // position.quantity        quantity, signed
    Decimal notional;          // position.notional        usd, signed (quantity * mark)
    Decimal average_cost;      // position.average_cost    price
    Decimal unrealized_pnl;    // position.unrealized_pnl  usd
  } position;
  struct Account {
    Decimal equity;            // account.equity          usd
    Decimal cash;              // account.cash            usd
    Decimal gross_exposure;    // account.gross_exposure  usd
    Decimal daily_pnl;         // account.daily_pnl       usd
    Decimal drawdown;          // account.drawdown        ratio: fraction of peak equity (0.05 = 5%)
  } account;
  struct Market {              // the gate's own view of order.product
    Decimal reference_price;   // market.reference_price  price
    Decimal spread;            // market.spread           ratio: (ask - bid) / mid (0.0025 = 25bps)
    Decimal realized_vol_1h;   // market.realized_vol_1h  ratio: stdev of 1-minute returns over 1 h
    Decimal realized_vol_24h;  // market.realized_vol_24h ratio: the same over 24 h
    Decimal volume_1h;         // market.volume_1h        quantity traded in the last hour
  } market;
  struct Time {                // decision time, UTC (from the gate's clock, never the wall clock here)
    std::int64_t utc_hour = 0;               // time.utc_hour            integer 0..23
    Weekday weekday = Weekday::kMonday;      // time.weekday             monday .. sunday
    std::int64_t since_last_stop_out_s = 0;  // time.since_last_stop_out duration; use kNeverStoppedOut_s if none
  } time;
  struct Stats {
    std::int64_t orders_last_minute = 0;     // stats.orders_last_minute integer
    std::int64_t consecutive_losses = 0;     // stats.consecutive_losses integer (closed trades)
    std::int64_t fills_today = 0;            // stats.fills_today        integer (UTC day)
  } stats;
};

// What the gate fills into time.since_last_stop_out_s when there has been no
// stop-out: ten years, longer than any rule could sensibly wait.
inline constexpr std::int64_t kNeverStoppedOut_s = 10LL * 365 * 24 * 60 * 60;

// ---------------------------------------------------------------------------
// Compiled rules.

enum class ActionKind : std::uint8_t {
  kDeny,             // deny "reason"
  kHalt,             // halt "reason": deny, and the gate enters HALTED
  kWarn,             // warn "message": recorded, no effect on the order
  kCapQuantity,      // cap quantity to EXPR
  kCapNotional,      // cap notional to EXPR
  kForceReduceOnly,  // force reduce_only
  kHold,             // hold for approval within DURATION
};

struct Provenance {
  enum class Kind : std::uint8_t { kCore, kProposal };
  Kind kind = Kind::kCore;
  std::string proposal_id;  // empty for kCore
  friend bool operator==(const Provenance&, const Provenance&) = default;
};

struct RuleInfo {
  std::string id;
  std::uint32_t version = 0;
  Provenance provenance;
  std::string description;
  bool enabled = true;        // 'enabled false' rules are compiled but never evaluated
  ActionKind action = ActionKind::kDeny;
  std::string message;        // deny/halt reason or warn message; empty otherwise
  std::int64_t hold_expiry_s = 0;  // kHold only
  std::string file;           // the file name given to the compiler
  std::uint32_t line = 0;     // line of the 'rule' keyword
  std::string canonical;      // the rule pretty-printed in canonical form
};

// An arithmetic fault while evaluating a rule. Such a rule counts as fired
// and denies the intent (fail closed): see docs/rule-dsl.md.
enum class FaultKind : std::uint8_t { kDivisionByZero, kOverflow };

struct RuleFault {
  std::uint32_t rule = 0;  // index into the RuleSet
  FaultKind kind = FaultKind::kOverflow;
  std::uint32_t line = 0;  // where the faulting operator is in the rule's file
  std::uint32_t column = 0;
};

// The combined effect of every rule that fired, in this order of strength:
// halt > deny (deny actions, faults, caps that leave nothing) > hold > allow.
enum class Verdict : std::uint8_t { kAllow, kHold, kDeny, kHalt };

// Why the verdict is what it is.
enum class Cause : std::uint8_t {
  kNone,              // kAllow (caps, reduce-only and warnings may still apply)
  kHaltAction,        // a rule's 'halt'
  kDenyAction,        // a rule's 'deny'
  kFault,             // a rule could not be evaluated (division by zero, overflow)
  kCapNotPositive,    // a cap evaluated to zero or less: nothing may be traded
  kHoldAction,        // a rule's 'hold for approval'
};

struct Outcome {
  Verdict verdict = Verdict::kAllow;
  Cause cause = Cause::kNone;
  // The rule behind verdict/cause: the first in rule order among those of the
  // winning strength. -1 when verdict is kAllow.
  std::int32_t deciding_rule = -1;
  // Minimum over every fired 'cap quantity' / 'cap notional'. The gate applies
  // them to the order (notional via its price) and rounds down to the
  // product's increment; they also apply to an order held for approval.
  std::optional<Decimal> quantity_cap;
  std::optional<Decimal> notional_cap;
  bool force_reduce_only = false;     // any fired 'force reduce_only'
  std::int64_t hold_expiry_s = 0;     // kHold: the shortest expiry among fired holds
  std::vector<std::uint32_t> fired;   // every rule that fired (faulted ones too), rule order
  std::vector<std::uint32_t> warnings;  // the fired 'warn' rules, rule order
  std::vector<RuleFault> faults;      // every fault, rule order

  void clear();  // back to the initial state, keeping vector capacity
};

// Per-rule hit counters, indexed like one RuleSet (make a new one for each
// loaded set: indices change when the rules do). Not thread-safe.
class HitCounters {
 public:
  explicit HitCounters(std::size_t rule_count) : hits_(rule_count, 0) {}
  void record(const Outcome& outcome);
  std::uint64_t hits(std::size_t rule) const;  // precondition: rule < size()
  std::size_t size() const { return hits_.size(); }

 private:
  std::vector<std::uint64_t> hits_;
};

// Stable lower-case names for logs and journals: "deny", "cap_quantity",
// "halt", "division_by_zero", "cap_not_positive", ...
const char* to_string(ActionKind kind);
const char* to_string(Verdict verdict);
const char* to_string(Cause cause);
const char* to_string(FaultKind kind);

struct Program;  // private: the flat compiled form

class RuleSet {
 public:
  RuleSet();  // empty: no rules, every evaluation allows
  // Copies share the immutable program. There are deliberately no move
  // operations: a "moved-from" RuleSet stays a valid copy, never an empty
  // shell that could crash evaluate().
  RuleSet(const RuleSet&) = default;
  RuleSet& operator=(const RuleSet&) = default;

  std::size_t size() const;
  const RuleInfo& rule(std::size_t index) const;  // precondition: index < size(); aborts otherwise
  std::optional<std::size_t> find(std::string_view id) const;

  // Evaluates every enabled rule against `facts` and combines the effects.
  // `out` is cleared first; reusing one Outcome avoids allocation. Takes at
  // most size() * kEvaluationStepsMax steps; never fails: arithmetic faults
  // are reported in out.faults and deny.
  void evaluate(const Facts& facts, Outcome& out) const;
  Outcome evaluate(const Facts& facts) const;

  // One line for people and Decision.detail, e.g.
  //   rule 'spread_stress_no_entries' v1 denied: spread above 25bps
  //   rule 'x' v2 could not be evaluated: division by zero at rules/active/x.rule:3:17
  // Empty for kAllow.
  std::string reason(const Outcome& outcome) const;

  // All rules in canonical form, in rule order, separated by blank lines.
  std::string canonical_text() const;

 private:
  friend struct ProgramAccess;
  std::shared_ptr<const Program> program_;
};

// ---------------------------------------------------------------------------
// Compiling and loading.

// One compiler error. render() gives the classic three-line form:
//   rules/core/x.rule:3:17: error: unknown fact 'market.sprad' (did you mean 'market.spread'?)
//     when market.sprad > 25bps
//          ^
struct Diagnostic {
  std::string file;
  std::uint32_t line = 0;    // 1-based; 0 when the error concerns the whole file
  std::uint32_t column = 0;  // 1-based byte column
  std::string message;
  std::string source_line;   // the offending line, empty when line is 0
  std::string render() const;
};

// A value or every diagnostic that prevented it. value() on a failed result
// is a bug and aborts, so a caller cannot run with a half-loaded rule set.
template <class T>
class [[nodiscard]] Compiled {
 public:
  Compiled(T value) : v_(std::move(value)) {}                          // NOLINT
  Compiled(std::vector<Diagnostic> errors) : v_(std::move(errors)) {}  // NOLINT
  bool ok() const { return v_.index() == 0; }
  const T& value() const& { check(); return std::get<0>(v_); }
  T value() && { check(); return std::get<0>(std::move(v_)); }  // by value: no dangling reference
  // Empty when ok().
  const std::vector<Diagnostic>& errors() const { return ok() ? kNoErrors : std::get<1>(v_); }
  // Every diagnostic rendered, one after the other.
  std::string render_errors() const {
    std::string out;
    for (const auto& d : errors()) out += d.render();
    return out;
  }

 private:
  void check() const {
    if (!ok()) std::abort();
  }
  static inline const std::vector<Diagnostic> kNoErrors{};
  std::variant<T, std::vector<Diagnostic>> v_;
};

// Where a source comes from, which fixes the provenance its rules must state:
// rules/core/ files say 'from core'; rules/active/ files and proposals say
// 'from proposal "ID"'. A rule cannot claim to be core from a proposal.
// There is no default: every caller names the origin it means.
class SourceOrigin {
 public:
  enum class Kind : std::uint8_t {
    kCore,         // every rule must say 'from core'
    kAnyProposal,  // every rule must say 'from proposal "..."' (rules/active)
    kProposal,     // every rule must say 'from proposal "<proposal_id>"'
  };
  static SourceOrigin core() { return SourceOrigin(Kind::kCore, ""); }
  static SourceOrigin any_proposal() { return SourceOrigin(Kind::kAnyProposal, ""); }
  // An empty id matches no rule ('from proposal ""' does not parse), so such
  // a source never compiles.
  static SourceOrigin proposal(std::string proposal_id) { return SourceOrigin(Kind::kProposal, std::move(proposal_id)); }

  Kind kind() const { return kind_; }
  const std::string& proposal_id() const { return proposal_id_; }

 private:
  SourceOrigin(Kind kind, std::string proposal_id) : kind_(kind), proposal_id_(std::move(proposal_id)) {}
  Kind kind_;
  std::string proposal_id_;
};

// Compiles one source text; `name` is used in diagnostics (a path, or
// "proposal:ID"). Used for proposals before they are approved, and by the
// loader for each file.
Compiled<RuleSet> compile_source(std::string_view text, std::string_view name, const SourceOrigin& origin);

// The canonical form of a source (every rule pretty-printed, comments
// dropped): what the gate journals for a proposal and shows to the approver.
Compiled<std::string> format_source(std::string_view text, std::string_view name);

struct RuleFile {
  std::string path;    // as found: core_dir/x.rule or active_dir/y.rule
  std::string sha256;  // lowercase hex of the file's bytes
  std::size_t size_bytes = 0;
};

struct LoadedRules {
  RuleSet rules;                // core rules first, then active, each by file name
  std::vector<RuleFile> files;  // in load order
};

// Loads every "*.rule" in core_dir, then in active_dir, each directory sorted
// by file name (other files are ignored; a missing active_dir counts as empty,
// a missing core_dir is an error). All or nothing: any error in any file, a
// rule id defined twice, or a limit exceeded returns every diagnostic and no
// rules, so the caller keeps its previous RuleSet.
Compiled<LoadedRules> load_rules(const std::string& core_dir, const std::string& active_dir);

// One file seen differently from the disk while loading, for tools that
// judge a file before it is in place ("tradectl rules check FILE" and
// "rules test FILE"): the file `file_name` of core_dir (core) or of
// active_dir is read as `text` instead of from disk, and is added in its
// name order if the directory has no such file; with no text it is left
// out as if it did not exist. Its diagnostics and its LoadedRules::files
// entry use `display_name` (the path the user gave).
struct FileOverride {
  bool core = false;
  std::string file_name;              // a name in that directory, "x.rule"
  std::string display_name;
  std::optional<std::string> text;
};

// load_rules() with one file overridden; otherwise identical (the same
// order, limits and all-or-nothing result). Refuses a file_name that is
// empty or holds a '/'.
Compiled<LoadedRules> load_rules(const std::string& core_dir, const std::string& active_dir,
                                 const FileOverride& override_file);

// ---------------------------------------------------------------------------
// Installing and removing approved rules: the only functions of this library
// that write files. Both keep rules/active consistent with what loads:
//
// * The file of a rule installed from a proposal is active_dir/<rule_id>.rule.
// * A new file is written to a temporary name in active_dir that the loader
//   ignores (".<rule_id>.rule.tmp"), fsynced, renamed over the target, and
//   the directory is fsynced; a removed file is renamed aside
//   (".<rule_id>.rule.retired") the same way. A crash therefore leaves the
//   old file or the new one, never a torn one.
// * Then core_dir and active_dir are reloaded with load_rules(). If that
//   fails, the change is undone (the previous file is written back, or the
//   new one removed; a removed file is renamed back) and the reload's
//   diagnostics are returned: on failure the directory is as before.
//
// Errors that concern the file system (an unusable active_dir, a failed
// write) are diagnostics with line 0 naming the path.

// lower_snake_case, 1 to kIdentifierLengthMax characters: a rule id as the
// grammar allows it (so it is also a safe file name).
bool is_rule_id(std::string_view id);

// active_dir + "/" + rule_id + ".rule".
std::string active_rule_path(const std::string& active_dir, std::string_view rule_id);

// Installs `text` as active_dir/<rule_id>.rule (creating active_dir if it is
// missing; replacing an existing file) and returns the reloaded rules.
// `text` should be one rule with that id, from a proposal; the reload is
// the judge. Refuses an invalid rule_id and a text above kSourceSizeMax
// before touching anything.
Compiled<LoadedRules> install_active_rule(const std::string& core_dir, const std::string& active_dir,
                                          std::string_view rule_id, std::string_view text);

// Removes active_dir/<rule_id>.rule and returns the reloaded rules. Refuses
// an invalid rule_id or a missing file.
Compiled<LoadedRules> remove_active_rule(const std::string& core_dir, const std::string& active_dir,
                                         std::string_view rule_id);

}  // namespace ta::rules
