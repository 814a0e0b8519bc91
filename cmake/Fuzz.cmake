# ta_add_fuzz_target(NAME SOURCES ... LIBS ... CORPUS DIR)
#
# Each fuzz target defines LLVMFuzzerTestOneInput. In every build its seed
# corpus runs as an ordinary ctest (NAME_corpus) through
# tests/fuzz/corpus_runner.cpp, so the corpus is regression-tested under
# ASan/UBSan without clang. With -DTA_FUZZ=ON (the fuzz preset, clang) the
# same sources also build a real libFuzzer binary NAME:
#   cp -r tests/fuzz/corpus/NAME /tmp/NAME-corpus   # libFuzzer adds to its first dir
#   build/fuzz/tests/fuzz/NAME /tmp/NAME-corpus -max_total_time=60
# Under TA_FUZZ every library is built with coverage instrumentation (but
# without libFuzzer's main), so the fuzzer sees edges in the code under test
# and not only in the target's own file.
if(TA_FUZZ)
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined)
  add_link_options(-fsanitize=address,undefined)
endif()

function(ta_add_fuzz_target name)
  cmake_parse_arguments(F "" "CORPUS" "SOURCES;LIBS" ${ARGN})
  if(TA_BUILD_TESTS)
    add_executable(${name}_corpus ${F_SOURCES} ${PROJECT_SOURCE_DIR}/tests/fuzz/corpus_runner.cpp)
    target_link_libraries(${name}_corpus PRIVATE ${F_LIBS})
    ta_target_defaults(${name}_corpus)
    add_test(NAME ${name}_corpus COMMAND ${name}_corpus ${F_CORPUS})
    set_tests_properties(${name}_corpus PROPERTIES LABELS fuzz-corpus TIMEOUT 300)
  endif()
  if(TA_FUZZ)
    add_executable(${name} ${F_SOURCES})
    target_link_libraries(${name} PRIVATE ${F_LIBS})
    target_compile_options(${name} PRIVATE -fsanitize=fuzzer,address,undefined)
    target_link_options(${name} PRIVATE -fsanitize=fuzzer,address,undefined)
  endif()
endfunction()
