# The Camunda REST API (actors/camunda; included by tests/CMakeLists.txt):
# a cmocka unit of its pure parts, the multipart parser's fuzz corpus
# replayed (and with -DTROUPE_FUZZ=ON under clang the libFuzzer target),
# and every endpoint against a real daemon over loopback.
add_executable(test_camunda ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_camunda.c)
target_link_libraries(test_camunda PRIVATE troupe_camunda PkgConfig::CMOCKA)
add_test(NAME unit.camunda COMMAND test_camunda)
set_tests_properties(unit.camunda PROPERTIES TIMEOUT 300)

# nice -n 19 build/tests/fuzz_multipart -max_total_time=600 tests/fuzz/corpus/multipart
set(TR_MP_FUZZ_SOURCES ${PROJECT_SOURCE_DIR}/actors/camunda/multipart.c)
add_executable(replay_multipart ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/fuzz_multipart.c
  ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/replay.c ${TR_MP_FUZZ_SOURCES})
target_include_directories(replay_multipart PRIVATE ${PROJECT_SOURCE_DIR} ${PROJECT_SOURCE_DIR}/include)
add_test(NAME fuzz.multipart.corpus COMMAND replay_multipart
  ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/corpus/multipart)
set_tests_properties(fuzz.multipart.corpus PROPERTIES TIMEOUT 300)
if(TROUPE_FUZZ AND CMAKE_C_COMPILER_ID STREQUAL "Clang")
  add_executable(fuzz_multipart ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/fuzz_multipart.c ${TR_MP_FUZZ_SOURCES})
  target_include_directories(fuzz_multipart PRIVATE ${PROJECT_SOURCE_DIR} ${PROJECT_SOURCE_DIR}/include)
  target_compile_options(fuzz_multipart PRIVATE -fsanitize=fuzzer,address,undefined
    -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
  target_link_options(fuzz_multipart PRIVATE -fsanitize=fuzzer,address,undefined)
endif()

add_test(NAME integration.camunda
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/integration/camunda.sh $<TARGET_FILE:troupe>
          ${CMAKE_CURRENT_SOURCE_DIR}/workflow/engine)
set_tests_properties(integration.camunda PROPERTIES TIMEOUT 300)

# durable timers across a kill -9 and a restart, nothing else waking them
add_test(NAME integration.camunda_timer
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/integration/camunda_timer.sh $<TARGET_FILE:troupe>)
set_tests_properties(integration.camunda_timer PROPERTIES TIMEOUT 300)
