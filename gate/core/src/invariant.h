// Always-on assertions for the gate core: a broken invariant is a bug, not
// an error to handle, so it prints what broke and aborts (also in release
// builds). Never used on input from outside; that is validated instead.
#pragma once

#include <cstdio>
#include <cstdlib>

namespace ta::gate {

[[noreturn]] inline void invariant_failed(const char* what, const char* file, int line) {
  std::fprintf(stderr, "gate invariant broken at %s:%d: %s\n", file, line, what);
  std::fflush(stderr);
  std::abort();
}

}  // namespace ta::gate

#define TA_GATE_INVARIANT(condition) \
  ((condition) ? static_cast<void>(0) : ::ta::gate::invariant_failed(#condition, __FILE__, __LINE__))
