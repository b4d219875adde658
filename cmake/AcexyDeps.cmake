# Finds the Debian packages acexy links against and exposes each as an imported
# target acexy::<name>. libev, nng and http-parser ship no pkg-config file.
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)

function(acexy_find_plain name header lib)
  find_path(${name}_INCLUDE_DIR ${header} REQUIRED)
  find_library(${name}_LIBRARY ${lib} REQUIRED)
  add_library(acexy::${name} UNKNOWN IMPORTED)
  set_target_properties(acexy::${name} PROPERTIES
    IMPORTED_LOCATION "${${name}_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${${name}_INCLUDE_DIR}")
endfunction()

acexy_find_plain(ev ev.h ev)
acexy_find_plain(nng nng/nng.h nng)
acexy_find_plain(http_parser http_parser.h http_parser)
set_property(TARGET acexy::nng APPEND PROPERTY INTERFACE_LINK_LIBRARIES Threads::Threads)

# msgpack-c >= 6 names its pkg-config file msgpack-c.pc; Debian 12's 4.0 msgpack.pc
pkg_search_module(MSGPACK REQUIRED IMPORTED_TARGET msgpack-c msgpack)
pkg_check_modules(CURL REQUIRED IMPORTED_TARGET libcurl)
pkg_check_modules(YAML REQUIRED IMPORTED_TARGET yaml-0.1)
pkg_check_modules(JANSSON REQUIRED IMPORTED_TARGET jansson)
add_library(acexy::msgpack ALIAS PkgConfig::MSGPACK)
add_library(acexy::curl ALIAS PkgConfig::CURL)
add_library(acexy::yaml ALIAS PkgConfig::YAML)
add_library(acexy::jansson ALIAS PkgConfig::JANSSON)

if(ACEXY_TESTS)
  pkg_check_modules(CMOCKA REQUIRED IMPORTED_TARGET cmocka)
  add_library(acexy::cmocka ALIAS PkgConfig::CMOCKA)
endif()
