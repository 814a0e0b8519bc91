// IntentMemory: slots, the byte ring, the id index and the compact
// encoding of a Decision (see gate/intent_memory.h).
#include "gate/intent_memory.h"

#include <algorithm>
#include <functional>

#include "invariant.h"
#include "proto/decimal.h"

namespace ta::gate {
namespace {

// Header bits of a compact entry.
constexpr std::uint64_t kAccepted = 1u << 0;
constexpr std::uint64_t kReduceOnly = 1u << 1;
constexpr std::uint64_t kReplayed = 1u << 2;
constexpr std::uint64_t kHasDetail = 1u << 3;
constexpr std::uint64_t kHasLimit = 1u << 4;
constexpr std::uint64_t kHasObserved = 1u << 5;
constexpr std::uint64_t kHasOrderId = 1u << 6;
constexpr std::uint64_t kHasQuantity = 1u << 7;

// The first byte after created_ts_ns says how the Decision is stored.
constexpr std::uint8_t kFormatCompact = 0;
constexpr std::uint8_t kFormatVerbatim = 1;  // serialized protobuf (unknown fields)

// Tags of an encoded value (a decimal string field); the low two bits of
// the first varint.
constexpr std::uint64_t kValueDecimal = 0;   // then zigzag(units)
constexpr std::uint64_t kValueText = 1;      // length in the upper bits, then the bytes
constexpr std::uint64_t kValueOrderId = 2;   // then N of "o-N"

constexpr std::size_t kIndexMin = 16;

void put_varint(std::string& out, std::uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

std::uint64_t zigzag(std::int64_t v) {
  return (static_cast<std::uint64_t>(v) << 1) ^ static_cast<std::uint64_t>(v >> 63);
}
std::int64_t unzigzag(std::uint64_t v) { return static_cast<std::int64_t>(v >> 1) ^ -static_cast<std::int64_t>(v & 1); }

void put_fixed64(std::string& out, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

// Reads what put_* wrote; any overrun makes ok() false.
class Reader {
 public:
  explicit Reader(std::string_view bytes) : bytes_(bytes) {}
  bool ok() const { return ok_; }
  bool at_end() const { return pos_ == bytes_.size(); }
  std::uint64_t varint() {
    std::uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ >= bytes_.size()) return fail();
      const auto b = static_cast<std::uint8_t>(bytes_[pos_++]);
      v |= static_cast<std::uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) return v;
    }
    return fail();
  }
  std::uint64_t fixed64() {
    if (bytes_.size() - pos_ < 8) return fail();
    std::uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= static_cast<std::uint64_t>(static_cast<std::uint8_t>(bytes_[pos_ + i])) << (8 * i);
    pos_ += 8;
    return v;
  }
  std::uint8_t byte() {
    if (pos_ >= bytes_.size()) return static_cast<std::uint8_t>(fail());
    return static_cast<std::uint8_t>(bytes_[pos_++]);
  }
  std::string_view take(std::uint64_t n) {
    if (n > bytes_.size() - pos_) {
      fail();
      return {};
    }
    const std::string_view s = bytes_.substr(pos_, n);
    pos_ += n;
    return s;
  }

 private:
  std::uint64_t fail() {
    ok_ = false;
    pos_ = bytes_.size();
    return 0;
  }
  std::string_view bytes_;
  std::size_t pos_ = 0;
  bool ok_ = true;
};

// "o-N" with N a canonical decimal number (no sign, no leading zero).
std::optional<std::uint64_t> order_number(std::string_view id) {
  if (id.size() < 3 || id.size() > 22 || id.substr(0, 2) != "o-") return std::nullopt;
  const std::string_view digits = id.substr(2);
  if (digits[0] == '0') return std::nullopt;
  std::uint64_t n = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
    const auto d = static_cast<std::uint64_t>(c - '0');
    if (n > (UINT64_MAX - d) / 10) return std::nullopt;
    n = n * 10 + d;
  }
  return n;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// The units of a decimal string exactly as Decimal::to_string() prints
// them (an optional '-' for a negative value, the whole part without
// leading zeros, then '.' and one to eight digits without a trailing zero
// when there is a fraction), or nullopt for any other text. Without
// allocating: it runs for every value of every remembered decision.
std::optional<std::int64_t> canonical_units(std::string_view t) {
  std::size_t i = 0;
  const bool negative = !t.empty() && t[0] == '-';
  if (negative) i = 1;
  const std::size_t whole_begin = i;
  while (i < t.size() && is_digit(t[i])) ++i;
  const std::size_t whole_digits = i - whole_begin;
  // INT64_MAX units is 92233720368.54775807: at most 11 whole digits.
  if (whole_digits == 0 || whole_digits > 11 || (whole_digits > 1 && t[whole_begin] == '0')) return std::nullopt;
  Int128 units = 0;
  for (std::size_t k = whole_begin; k < i; ++k) units = units * 10 + (t[k] - '0');
  units *= Decimal::kScale;
  if (i < t.size()) {
    if (t[i] != '.') return std::nullopt;
    const std::size_t frac_begin = ++i;
    while (i < t.size() && is_digit(t[i])) ++i;
    const std::size_t frac_digits = i - frac_begin;
    if (i != t.size() || frac_digits == 0 || frac_digits > 8 || t[i - 1] == '0') return std::nullopt;
    std::int64_t frac = 0;
    for (std::size_t k = frac_begin; k < i; ++k) frac = frac * 10 + (t[k] - '0');
    for (std::size_t k = frac_digits; k < 8; ++k) frac *= 10;
    units += frac;
  }
  if (negative) {
    if (units == 0) return std::nullopt;  // "-0" is not how zero prints
    units = -units;
  }
  if (units > INT64_MAX || units < INT64_MIN) return std::nullopt;
  return static_cast<std::int64_t>(units);
}

}  // namespace

IntentMemory::IntentMemory(std::size_t capacity) : capacity_(std::max<std::size_t>(capacity, 1)) {
  index_.assign(kIndexMin, 0);
}

std::uint64_t IntentMemory::hash_id(std::string_view intent_id) { return std::hash<std::string_view>{}(intent_id); }

std::size_t IntentMemory::bucket_of(std::uint64_t id_hash) const {
  // Fibonacci hashing spreads the (already mixed) hash over the table.
  return static_cast<std::size_t>((id_hash * 0x9e3779b97f4a7c15ull) >> 1) & (index_.size() - 1);
}

namespace {

std::uint64_t tag_of(std::uint64_t id_hash) { return (id_hash >> 32) | 1; }  // never 0: 0 marks an empty bucket
std::uint64_t bucket_value(std::uint64_t id_hash, std::uint64_t seq) {
  return (tag_of(id_hash) << 32) | static_cast<std::uint32_t>(seq);
}

}  // namespace

// Sequence numbers are kept modulo 2^32; slots_ holds at most 2 x capacity
// slots (each id replaced at most once), far fewer than 2^32.
std::size_t IntentMemory::slot_of(std::uint64_t bucket) const {
  return static_cast<std::uint32_t>(static_cast<std::uint32_t>(bucket) - static_cast<std::uint32_t>(front_seq_));
}

std::uint64_t IntentMemory::begin_of(std::size_t slot) const {
  return ring_begin_ + static_cast<std::uint32_t>(slots_[slot].begin - static_cast<std::uint32_t>(ring_begin_));
}

std::size_t IntentMemory::find_slot(std::string_view intent_id) const {
  const std::uint64_t h = hash_id(intent_id);
  const std::uint64_t tag = tag_of(h);
  for (std::size_t b = bucket_of(h);; b = (b + 1) & (index_.size() - 1)) {
    const std::uint64_t entry = index_[b];
    if (entry == 0) return kNoSlot;
    if ((entry >> 32) != tag) continue;
    const std::size_t slot = slot_of(entry);
    if (slots_[slot].id_hash() == h) return slot;
  }
}

bool IntentMemory::indexed(std::uint64_t id_hash, std::uint64_t seq) const {
  const std::uint64_t want = bucket_value(id_hash, seq);
  for (std::size_t b = bucket_of(id_hash);; b = (b + 1) & (index_.size() - 1)) {
    if (index_[b] == 0) return false;
    if (index_[b] == want) return true;
  }
}

void IntentMemory::index_insert(std::uint64_t id_hash, std::uint64_t seq) {
  std::size_t b = bucket_of(id_hash);
  while (index_[b] != 0) b = (b + 1) & (index_.size() - 1);
  index_[b] = bucket_value(id_hash, seq);
}

// Backward-shift deletion keeps linear probing's chains unbroken.
void IntentMemory::index_erase(std::uint64_t id_hash, std::uint64_t seq) {
  const std::size_t mask = index_.size() - 1;
  const std::uint64_t want = bucket_value(id_hash, seq);
  std::size_t b = bucket_of(id_hash);
  while (index_[b] != want) {
    TA_GATE_INVARIANT(index_[b] != 0);  // the slot is indexed
    b = (b + 1) & mask;
  }
  std::size_t hole = b;
  for (std::size_t next = (hole + 1) & mask; index_[next] != 0; next = (next + 1) & mask) {
    const std::size_t home = bucket_of(slots_[slot_of(index_[next])].id_hash());
    // Move the entry back into the hole unless its home lies cyclically in (hole, next].
    const bool stays = hole <= next ? (home > hole && home <= next) : (home > hole || home <= next);
    if (!stays) {
      index_[hole] = index_[next];
      hole = next;
    }
  }
  index_[hole] = 0;
}

void IntentMemory::grow_index() {
  std::vector<std::uint64_t> old(index_.size() * 2, 0);
  old.swap(index_);
  for (std::uint64_t entry : old) {
    if (entry == 0) continue;
    const std::size_t slot = slot_of(entry);
    index_insert(slots_[slot].id_hash(), front_seq_ + slot);
  }
}

std::uint64_t IntentMemory::end_of(std::size_t slot) const {
  return slot + 1 < slots_.size() ? begin_of(slot + 1) : ring_begin_ + ring_.size();
}

std::int64_t IntentMemory::created_of(std::size_t slot) const {
  const auto from = ring_.begin() + static_cast<std::ptrdiff_t>(begin_of(slot) - ring_begin_);
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= static_cast<std::uint64_t>(from[i]) << (8 * i);
  return static_cast<std::int64_t>(v);
}

// Drops the oldest slot and its bytes; a slot that is still indexed is a
// remembered id, which is thereby forgotten. (A slot that is not was
// replaced by a newer one.)
void IntentMemory::pop_front_slot() {
  const std::uint64_t id_hash = slots_.front().id_hash();
  const std::uint64_t end = end_of(0);
  if (indexed(id_hash, front_seq_)) {
    const std::int64_t ts = created_of(0);
    forgotten_created_max_ns_ = std::max(forgotten_created_max_ns_.value_or(ts), ts);
    index_erase(id_hash, front_seq_);
    --live_;
  }
  ring_.erase(ring_.begin(), ring_.begin() + static_cast<std::ptrdiff_t>(end - ring_begin_));
  ring_begin_ = end;
  slots_.pop_front();
  ++front_seq_;
}

void IntentMemory::evict_oldest() {
  const std::size_t before = live_;
  while (!slots_.empty() && live_ == before) pop_front_slot();
}

void IntentMemory::append(std::uint64_t id_hash, std::uint64_t fingerprint, std::int64_t created_ts_ns,
                          const ipc::Decision& decision) {
  scratch_.clear();
  encode(created_ts_ns, decision, scratch_);
  const std::uint64_t seq = front_seq_ + slots_.size();
  TA_GATE_INVARIANT(ring_.size() + scratch_.size() < (std::uint64_t{1} << 32));  // positions are kept modulo 2^32
  slots_.push_back(Slot{static_cast<std::uint32_t>(id_hash), static_cast<std::uint32_t>(id_hash >> 32),
                        static_cast<std::uint32_t>(fingerprint), static_cast<std::uint32_t>(fingerprint >> 32),
                        static_cast<std::uint32_t>(ring_begin_ + ring_.size())});
  ring_.insert(ring_.end(), scratch_.begin(), scratch_.end());
  if (5 * (live_ + 1) > 4 * index_.size()) grow_index();
  index_insert(id_hash, seq);
  ++live_;
}

void IntentMemory::add(std::string_view intent_id, std::uint64_t fingerprint, std::int64_t created_ts_ns,
                       const ipc::Decision& decision) {
  TA_GATE_INVARIANT(!contains(intent_id));
  if (live_ >= capacity_) evict_oldest();
  append(hash_id(intent_id), fingerprint, created_ts_ns, decision);
#ifndef NDEBUG
  const auto back = find(intent_id);
  TA_GATE_INVARIANT(back && back->decision.SerializeAsString() == decision.SerializeAsString());
#endif
}

bool IntentMemory::replace(std::string_view intent_id, const ipc::Decision& decision) {
  const std::size_t slot = find_slot(intent_id);
  if (slot == kNoSlot) return false;
  const Slot old = slots_[slot];
  const std::int64_t created_ts_ns = created_of(slot);
  index_erase(old.id_hash(), front_seq_ + slot);  // the old slot stays as garbage until it is the oldest
  --live_;
  append(old.id_hash(), old.fingerprint(), created_ts_ns, decision);
  return true;
}

std::optional<RememberedIntent> IntentMemory::find(std::string_view intent_id) const {
  const std::size_t slot = find_slot(intent_id);
  if (slot == kNoSlot) return std::nullopt;
  const auto from = ring_.begin() + static_cast<std::ptrdiff_t>(begin_of(slot) - ring_begin_);
  const auto to = ring_.begin() + static_cast<std::ptrdiff_t>(end_of(slot) - ring_begin_);
  const std::string bytes(from, to);
  RememberedIntent out;
  out.fingerprint = slots_[slot].fingerprint();
  TA_GATE_INVARIANT(decode(bytes, out.decision));  // this memory wrote the bytes
  out.decision.set_intent_id(std::string(intent_id));
  return out;
}

std::optional<std::int64_t> IntentMemory::forgotten_created_max_ns() const { return forgotten_created_max_ns_; }

std::size_t IntentMemory::memory_bytes() const {
  std::size_t texts = 0;
  for (const std::string& t : texts_) texts += 2 * t.size();  // the table and the lookup's keys
  return slots_.size() * sizeof(Slot) + ring_.size() + index_.size() * sizeof(std::uint64_t) + texts;
}

// ---------------------------------------------------------------- encoding

std::optional<std::uint32_t> IntentMemory::intern(std::string_view text) {
  if (auto it = text_numbers_.find(text); it != text_numbers_.end()) return it->second;
  if (texts_.size() >= kInternedTextsMax || text.size() > kInternedTextLengthMax) return std::nullopt;
  const auto number = static_cast<std::uint32_t>(texts_.size());
  texts_.emplace_back(text);
  text_numbers_.emplace(std::string(text), number);
  return number;
}

// A text: varint (number << 1 | 1) when interned, else (length << 1) and the bytes.
void IntentMemory::encode_text(std::string_view text, bool may_intern, std::string& out) {
  if (may_intern) {
    if (auto n = intern(text)) {
      put_varint(out, (static_cast<std::uint64_t>(*n) << 1) | 1);
      return;
    }
  }
  put_varint(out, static_cast<std::uint64_t>(text.size()) << 1);
  out.append(text);
}

void IntentMemory::encode_value(std::string_view value, std::string& out) {
  if (auto units = canonical_units(value)) {
    put_varint(out, kValueDecimal);
    put_varint(out, zigzag(*units));
  } else if (auto n = order_number(value)) {
    put_varint(out, kValueOrderId);
    put_varint(out, *n);
  } else {
    put_varint(out, (static_cast<std::uint64_t>(value.size()) << 2) | kValueText);
    out.append(value);
  }
}

void IntentMemory::encode(std::int64_t created_ts_ns, const ipc::Decision& d, std::string& out) {
  put_fixed64(out, static_cast<std::uint64_t>(created_ts_ns));
  if (!d.GetReflection()->GetUnknownFields(d).empty()) {
    out.push_back(static_cast<char>(kFormatVerbatim));
    out.append(d.SerializeAsString());
    return;
  }
  out.push_back(static_cast<char>(kFormatCompact));
  std::uint64_t flags = 0;
  if (d.accepted()) flags |= kAccepted;
  if (d.reduce_only()) flags |= kReduceOnly;
  if (d.replayed()) flags |= kReplayed;
  if (!d.detail().empty()) flags |= kHasDetail;
  if (!d.limit().empty()) flags |= kHasLimit;
  if (!d.observed().empty()) flags |= kHasObserved;
  if (!d.order_id().empty()) flags |= kHasOrderId;
  if (!d.quantity().empty()) flags |= kHasQuantity;
  put_varint(out, flags);
  put_varint(out, static_cast<std::uint64_t>(static_cast<std::uint32_t>(d.reason())));
  // Wrapping subtraction; decode adds it back the same way.
  put_varint(out, zigzag(static_cast<std::int64_t>(static_cast<std::uint64_t>(d.decided_ts_ns()) -
                                                   static_cast<std::uint64_t>(created_ts_ns))));
  if (flags & kHasDetail) encode_text(d.detail(), true, out);
  if (flags & kHasLimit) encode_value(d.limit(), out);
  if (flags & kHasObserved) encode_value(d.observed(), out);
  if (flags & kHasOrderId) encode_value(d.order_id(), out);
  if (flags & kHasQuantity) encode_value(d.quantity(), out);
  put_varint(out, static_cast<std::uint64_t>(d.fields_size()));
  for (const ipc::DecisionField& f : d.fields()) {
    encode_text(f.name(), true, out);
    encode_value(f.value(), out);
  }
  put_varint(out, static_cast<std::uint64_t>(d.rules_fired_size()));
  for (const std::string& rule : d.rules_fired()) encode_text(rule, true, out);
}

bool IntentMemory::decode(std::string_view bytes, ipc::Decision& out) const {
  Reader r(bytes);
  const auto created = static_cast<std::int64_t>(r.fixed64());
  const std::uint8_t format = r.byte();
  if (!r.ok()) return false;
  if (format == kFormatVerbatim) return out.ParseFromArray(bytes.data() + 9, static_cast<int>(bytes.size() - 9));
  if (format != kFormatCompact) return false;
  const auto text = [&](std::string* to) {
    const std::uint64_t k = r.varint();
    if (k & 1) {
      const std::uint64_t n = k >> 1;
      if (n >= texts_.size()) return false;
      *to = texts_[static_cast<std::size_t>(n)];
    } else {
      *to = std::string(r.take(k >> 1));
    }
    return r.ok();
  };
  const auto value = [&](std::string* to) {
    const std::uint64_t k = r.varint();
    switch (k & 3) {
      case kValueDecimal:
        *to = Decimal::from_units(unzigzag(r.varint())).to_string();
        break;
      case kValueOrderId:
        *to = "o-" + std::to_string(r.varint());
        break;
      case kValueText:
        *to = std::string(r.take(k >> 2));
        break;
      default:
        return false;
    }
    return r.ok();
  };
  const std::uint64_t flags = r.varint();
  out.set_accepted((flags & kAccepted) != 0);
  out.set_reduce_only((flags & kReduceOnly) != 0);
  out.set_replayed((flags & kReplayed) != 0);
  const auto reason = static_cast<int>(r.varint());
  if (!ipc::DenyReason_IsValid(reason)) return false;
  out.set_reason(static_cast<ipc::DenyReason>(reason));
  out.set_decided_ts_ns(
      static_cast<std::int64_t>(static_cast<std::uint64_t>(created) + static_cast<std::uint64_t>(unzigzag(r.varint()))));
  if ((flags & kHasDetail) && !text(out.mutable_detail())) return false;
  if ((flags & kHasLimit) && !value(out.mutable_limit())) return false;
  if ((flags & kHasObserved) && !value(out.mutable_observed())) return false;
  if ((flags & kHasOrderId) && !value(out.mutable_order_id())) return false;
  if ((flags & kHasQuantity) && !value(out.mutable_quantity())) return false;
  const std::uint64_t fields = r.varint();
  for (std::uint64_t i = 0; i < fields && r.ok(); ++i) {
    ipc::DecisionField* f = out.add_fields();
    if (!text(f->mutable_name()) || !value(f->mutable_value())) return false;
  }
  const std::uint64_t rules = r.varint();
  for (std::uint64_t i = 0; i < rules && r.ok(); ++i) {
    if (!text(out.add_rules_fired())) return false;
  }
  return r.ok() && r.at_end();
}

}  // namespace ta::gate
