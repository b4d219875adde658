# Pure dataplane modules (no I/O, no logging), each with unit tests and a
# libFuzzer target. Included from dataplane/CMakeLists.txt.
add_library(acexy_dp_pure STATIC
  ${CMAKE_SOURCE_DIR}/dataplane/http_response.c
  ${CMAKE_SOURCE_DIR}/dataplane/query.c
  ${CMAKE_SOURCE_DIR}/dataplane/ring.c
  ${CMAKE_SOURCE_DIR}/dataplane/hls_playlist.c
  ${CMAKE_SOURCE_DIR}/dataplane/access_pure.c
  ${CMAKE_SOURCE_DIR}/dataplane/m3u_list.c
  ${CMAKE_SOURCE_DIR}/dataplane/ts_inspect.c)
target_include_directories(acexy_dp_pure PUBLIC ${CMAKE_SOURCE_DIR} ${CMAKE_SOURCE_DIR}/include)
target_link_libraries(acexy_dp_pure PUBLIC acexy_http_pure acexy_common acexy::http_parser acexy::jansson acexy::curl)

foreach(m http_response query ring hls_playlist access m3u_list ts_inspect)
  acexy_unit_test(test_dp_${m} SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_dp_${m}.c
    LIBS acexy_dp_pure)
  acexy_fuzz_target(fuzz_dp_${m} SOURCES ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_dp_${m}.c
    LIBS acexy_dp_pure CORPUS ${CMAKE_SOURCE_DIR}/tests/fuzz/corpus/dp_${m})
endforeach()
if(TARGET test_dp_ts_inspect)
  # the checker counts continuity errors of spliced streams; the sample is a real one
  target_link_libraries(test_dp_ts_inspect PRIVATE acexy_tscheck)
  target_compile_definitions(test_dp_ts_inspect PRIVATE
    ACEXY_SAMPLE_TS="${CMAKE_SOURCE_DIR}/tests/fixtures/media/sample.ts")
endif()
