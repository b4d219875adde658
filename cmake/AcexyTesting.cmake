# Test helpers shared by every directory.
#
# acexy_unit_test(NAME SOURCES... LIBS ...)
#   A cmocka test executable registered with ctest (label "unit").
#
# acexy_fuzz_target(NAME SOURCES... LIBS ... CORPUS dir)
#   A libFuzzer entry point (LLVMFuzzerTestOneInput). With ACEXY_FUZZ it links
#   -fsanitize=fuzzer; otherwise a small driver replays files. Either way ctest
#   replays every file of the seed corpus (and tests/fuzz/regressions/NAME).
set(ACEXY_FUZZ_DRIVER ${CMAKE_SOURCE_DIR}/tests/fuzz/replay_driver.c)

function(acexy_unit_test name)
  if(NOT ACEXY_TESTS)
    return()
  endif()
  cmake_parse_arguments(T "" "" "SOURCES;LIBS" ${ARGN})
  add_executable(${name} ${T_SOURCES} ${T_UNPARSED_ARGUMENTS})
  target_link_libraries(${name} PRIVATE ${T_LIBS} acexy::cmocka)
  add_test(NAME ${name} COMMAND ${name})
  set_tests_properties(${name} PROPERTIES LABELS unit TIMEOUT 120)
endfunction()

function(acexy_fuzz_target name)
  if(NOT ACEXY_TESTS)
    return()
  endif()
  cmake_parse_arguments(T "" "CORPUS" "SOURCES;LIBS" ${ARGN})
  set(srcs ${T_SOURCES} ${T_UNPARSED_ARGUMENTS})
  if(ACEXY_FUZZ)
    add_executable(${name} ${srcs})
    target_link_options(${name} PRIVATE -fsanitize=fuzzer)
  else()
    add_executable(${name} ${srcs} ${ACEXY_FUZZ_DRIVER})
  endif()
  target_link_libraries(${name} PRIVATE ${T_LIBS})
  set(dirs ${T_CORPUS})
  set(reg ${CMAKE_SOURCE_DIR}/tests/fuzz/regressions/${name})
  if(EXISTS ${reg})
    list(APPEND dirs ${reg})
  endif()
  add_test(NAME ${name}_replay
           COMMAND ${CMAKE_SOURCE_DIR}/tests/fuzz/replay.sh $<TARGET_FILE:${name}> ${dirs})
  set_tests_properties(${name}_replay PROPERTIES LABELS fuzz TIMEOUT 300)
endfunction()
