# The layers point one way: common/, proto/ and include/acexy/ below; the
# dataplane and the controlplane above, never including each other's
# headers. Run at configure time (included from the top-level
# CMakeLists.txt) and as the ctest "layers" (cmake -DACEXY_SOURCE_DIR=... -P).
#   acexy_check_layers(<source dir>) fails with every offending #include.
function(acexy_check_layers src)
  set(bad "")
  # <dir>=<headers it must not include>
  foreach(rule "controlplane=dataplane" "dataplane=controlplane"
               "common=dataplane|controlplane" "proto=dataplane|controlplane"
               "include=dataplane|controlplane")
    string(REPLACE "=" ";" parts "${rule}")
    list(GET parts 0 dir)
    list(GET parts 1 forbidden)
    file(GLOB_RECURSE files "${src}/${dir}/*.c" "${src}/${dir}/*.h")
    foreach(f ${files})
      file(STRINGS "${f}" hits REGEX "^[ \t]*#[ \t]*include[ \t]*[\"<](${forbidden})/")
      foreach(h ${hits})
        file(RELATIVE_PATH rel "${src}" "${f}")
        string(APPEND bad "\n  ${rel}: ${h}")
      endforeach()
    endforeach()
  endforeach()
  # the controlplane's modules reach cp.c only through their narrow
  # interfaces (no controlplane/cp.h); its pure core (acexy_cp_pure) neither
  # logs nor talks
  foreach(f orch.c orch_provision.c events.c engstat.c fallback.c lease.c orch_parse.c spool_record.c)
    set(forbidden "controlplane/cp\\.h")
    if(f MATCHES "^(lease|orch_parse|spool_record)\\.c$")
      set(forbidden "controlplane/cp\\.h|acexy/log\\.h|acexy/ipc\\.h|acexy/curl_ev\\.h")
    endif()
    if(EXISTS "${src}/controlplane/${f}")
      file(STRINGS "${src}/controlplane/${f}" hits
           REGEX "^[ \t]*#[ \t]*include[ \t]*[\"<](${forbidden})")
      foreach(h ${hits})
        string(APPEND bad "\n  controlplane/${f}: ${h}")
      endforeach()
    endif()
  endforeach()
  if(bad)
    message(FATAL_ERROR "layers: a module includes a header of a layer it must not see "
                        "(doc/ARCHITECTURE.md):${bad}")
  endif()
  # every test is registered from tests/*/CMakeLists.txt
  file(GLOB_RECURSE lists "${src}/common/*.cmake" "${src}/common/CMakeLists.txt"
       "${src}/proto/*.cmake" "${src}/proto/CMakeLists.txt" "${src}/dataplane/*.cmake"
       "${src}/dataplane/CMakeLists.txt" "${src}/controlplane/*.cmake"
       "${src}/controlplane/CMakeLists.txt")
  foreach(f ${lists} "${src}/CMakeLists.txt")
    file(RELATIVE_PATH rel "${src}" "${f}")
    file(STRINGS "${f}" hits REGEX "^[ \t]*(add_test|acexy_unit_test|acexy_fuzz_target)[ \t]*\\(")
    foreach(h ${hits})
      string(APPEND bad "\n  ${rel}: ${h}")
    endforeach()
  endforeach()
  if(bad)
    message(FATAL_ERROR "layers: tests are registered in tests/*/CMakeLists.txt only:${bad}")
  endif()
endfunction()

# The daemons' libraries link only what lies below them.
function(acexy_check_layer_links)
  foreach(pair "acexy_controlplane=acexy_dataplane|acexy_dp_pure"
               "acexy_dataplane=acexy_controlplane")
    string(REPLACE "=" ";" parts "${pair}")
    list(GET parts 0 tgt)
    list(GET parts 1 forbidden)
    get_target_property(libs ${tgt} LINK_LIBRARIES)
    foreach(l ${libs})
      if(l MATCHES "^(${forbidden})$")
        message(FATAL_ERROR "layers: ${tgt} links ${l} (doc/ARCHITECTURE.md)")
      endif()
    endforeach()
  endforeach()
endfunction()

if(CMAKE_SCRIPT_MODE_FILE)
  acexy_check_layers("${ACEXY_SOURCE_DIR}")
endif()
