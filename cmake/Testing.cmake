# Real market data shared beside the repository (../shared/data). A git
# worktree elsewhere can point at it with -DTA_SHARED_DATA=/path/to/shared/data.
set(TA_SHARED_DATA "${PROJECT_SOURCE_DIR}/../shared/data" CACHE PATH "Directory of the shared market-data CSVs")

# ta_add_test(NAME SOURCES ... LIBS ... [LABELS ...] [TIMEOUT s])
# One GoogleTest executable = one ctest entry. Tests find the source tree
# and the shared data through TA_SOURCE_DIR and TA_SHARED_DATA.
function(ta_add_test name)
  cmake_parse_arguments(T "" "TIMEOUT" "SOURCES;LIBS;LABELS" ${ARGN})
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE ${T_LIBS} GTest::gtest GTest::gmock GTest::gtest_main)
  ta_target_defaults(${name})
  add_test(NAME ${name} COMMAND ${name})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 300)
  endif()
  set_tests_properties(${name} PROPERTIES
    LABELS "${T_LABELS}"
    TIMEOUT ${T_TIMEOUT}
    ENVIRONMENT "TA_SOURCE_DIR=${PROJECT_SOURCE_DIR};TA_SHARED_DATA=${TA_SHARED_DATA};TA_BINARY_DIR=${PROJECT_BINARY_DIR}")
endfunction()
