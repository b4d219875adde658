# Pure dataplane modules (no I/O, no logging), each with unit tests and a
# libFuzzer target (registered in tests/unit and tests/fuzz). Included from
# dataplane/CMakeLists.txt.
add_library(acexy_dp_pure STATIC
  ${CMAKE_SOURCE_DIR}/dataplane/http_response.c
  ${CMAKE_SOURCE_DIR}/dataplane/query.c
  ${CMAKE_SOURCE_DIR}/dataplane/ring.c
  ${CMAKE_SOURCE_DIR}/dataplane/hls_playlist.c
  ${CMAKE_SOURCE_DIR}/dataplane/access_pure.c
  ${CMAKE_SOURCE_DIR}/dataplane/m3u_list.c
  ${CMAKE_SOURCE_DIR}/dataplane/ts_inspect.c
  ${CMAKE_SOURCE_DIR}/dataplane/hello_chunk.c)
target_include_directories(acexy_dp_pure PUBLIC ${CMAKE_SOURCE_DIR} ${CMAKE_SOURCE_DIR}/include)
target_link_libraries(acexy_dp_pure PUBLIC acexy_proto acexy_http_pure acexy_common acexy::http_parser acexy::jansson acexy::curl)
