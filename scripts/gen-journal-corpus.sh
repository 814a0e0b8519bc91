#!/usr/bin/env bash
# Regenerates the seed corpus of the fuzz_journal_reader fuzz target
# (tests/fuzz/corpus/fuzz_journal_reader/) from make_journal_corpus, built
# in the dev preset. Commit the result.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake --preset dev >/dev/null
cmake --build build/dev --target make_journal_corpus
out=tests/fuzz/corpus/fuzz_journal_reader
rm -rf "$out"
build/dev/tests/fuzz/make_journal_corpus "$out"
ls -l "$out"
