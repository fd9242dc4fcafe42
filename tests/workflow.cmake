# Workflow model tests (included by tests/CMakeLists.txt): cmocka units of
# the expression language, the BPMN and YAML parsers; the realistic models
# in workflow/models/ checked by wfcheck; the fuzz corpora of the three
# parsers replayed; with -DTROUPE_FUZZ=ON under clang, the libFuzzer
# targets themselves.
foreach(t expr bpmn wfyaml)
  add_executable(test_${t} ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_${t}.c)
  target_link_libraries(test_${t} PRIVATE troupe_workflow PkgConfig::CMOCKA)
  target_compile_definitions(test_${t} PRIVATE
    TR_WF_MODELS="${CMAKE_CURRENT_SOURCE_DIR}/workflow/models")
  add_test(NAME unit.${t} COMMAND test_${t})
  set_tests_properties(unit.${t} PROPERTIES TIMEOUT 300)
endforeach()

# process definitions (actors/workflow/repo.c): deploy, versions, restart
add_executable(test_wfrepo ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_wfrepo.c)
target_link_libraries(test_wfrepo PRIVATE troupe_workflow_engine PkgConfig::CMOCKA)
target_compile_definitions(test_wfrepo PRIVATE
  TR_WF_MODELS="${CMAKE_CURRENT_SOURCE_DIR}/workflow/models")
add_test(NAME unit.wfrepo COMMAND test_wfrepo)
set_tests_properties(unit.wfrepo PROPERTIES TIMEOUT 300)

# process instances (actors/workflow/instance.c): runs, gateways, restart
add_executable(test_wfengine ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_wfengine.c)
target_link_libraries(test_wfengine PRIVATE troupe_workflow_engine PkgConfig::CMOCKA)
target_compile_definitions(test_wfengine PRIVATE
  TR_WF_ENGINE_MODELS="${CMAKE_CURRENT_SOURCE_DIR}/workflow/engine")
add_test(NAME unit.wfengine COMMAND test_wfengine)
set_tests_properties(unit.wfengine PROPERTIES TIMEOUT 300)

# the indexes (actors/workflow/index.h): user tasks, messages, history
add_executable(test_wfindex ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_wfindex.c)
target_link_libraries(test_wfindex PRIVATE troupe_workflow_engine PkgConfig::CMOCKA)
target_compile_definitions(test_wfindex PRIVATE
  TR_WF_MODELS="${CMAKE_CURRENT_SOURCE_DIR}/workflow/models")
add_test(NAME unit.wfindex COMMAND test_wfindex)
set_tests_properties(unit.wfindex PROPERTIES TIMEOUT 600)

# the engine's waits (user tasks, messages, timers, history, restart) and
# scopes (errors, subprocesses, call activities, mappings, inclusive
# gateways), against fakes of the index kinds (unit/wf_fakes.h)
foreach(t wfwaits wfscopes)
  add_executable(test_${t} ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_${t}.c)
  target_link_libraries(test_${t} PRIVATE troupe_workflow_engine PkgConfig::CMOCKA)
  target_compile_definitions(test_${t} PRIVATE
    TR_WF_ENGINE_MODELS="${CMAKE_CURRENT_SOURCE_DIR}/workflow/engine")
  add_test(NAME unit.${t} COMMAND test_${t})
  set_tests_properties(unit.${t} PROPERTIES TIMEOUT 600)
endforeach()

add_executable(wfcheck ${CMAKE_CURRENT_SOURCE_DIR}/workflow/wfcheck.c)
target_link_libraries(wfcheck PRIVATE troupe_workflow)
# every good model compiles (the bad_* ones are the units' business)
file(GLOB TR_WF_GOOD_MODELS ${CMAKE_CURRENT_SOURCE_DIR}/workflow/models/[!b]*.bpmn
  ${CMAKE_CURRENT_SOURCE_DIR}/workflow/models/[!b]*.yaml)
add_test(NAME workflow.models COMMAND wfcheck ${TR_WF_GOOD_MODELS})

# Fuzz targets of the three parsers. Every build replays the corpora with a
# plain main (fuzz/replay.c); the sources are compiled into each target, so
# the libFuzzer builds instrument all of them. Run, e.g.:
#   nice -n 19 build/tests/fuzz_bpmn -max_total_time=300 tests/fuzz/corpus/bpmn
set(TR_WF_FUZZ_DIR ${CMAKE_CURRENT_SOURCE_DIR}/fuzz)
foreach(t bpmn wfyaml expr)
  add_executable(replay_${t} ${TR_WF_FUZZ_DIR}/fuzz_${t}.c ${TR_WF_FUZZ_DIR}/replay.c
    ${TROUPE_WORKFLOW_SOURCES})
  target_link_libraries(replay_${t} PRIVATE troupe_deps PkgConfig::EXPAT PkgConfig::WFYAML)
  add_test(NAME fuzz.${t}.corpus COMMAND replay_${t} ${TR_WF_FUZZ_DIR}/corpus/${t})
  set_tests_properties(fuzz.${t}.corpus PROPERTIES TIMEOUT 300)
  if(TROUPE_FUZZ AND CMAKE_C_COMPILER_ID STREQUAL "Clang")
    add_executable(fuzz_${t} ${TR_WF_FUZZ_DIR}/fuzz_${t}.c ${TROUPE_WORKFLOW_SOURCES})
    target_compile_options(fuzz_${t} PRIVATE -fsanitize=fuzzer,address,undefined
      -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
    target_link_options(fuzz_${t} PRIVATE -fsanitize=fuzzer,address,undefined)
    target_link_libraries(fuzz_${t} PRIVATE troupe_deps PkgConfig::EXPAT PkgConfig::WFYAML)
  endif()
endforeach()

# the shared model cache (actors/workflow/mcache.c)
add_executable(test_mcache ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_mcache.c)
target_link_libraries(test_mcache PRIVATE troupe_workflow_engine PkgConfig::CMOCKA)
add_test(NAME unit.mcache COMMAND test_mcache)
