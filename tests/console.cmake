# Admin console tests (included by tests/CMakeLists.txt): the endpoint
# driven through troupectl's own client code, the troupectl binary with its
# exit codes, and the console's parsers under fuzz (corpus replayed in every
# build; with -DTROUPE_FUZZ=ON under clang, the libFuzzer target too).
troupe_unit_test(console)
target_link_libraries(test_console PRIVATE troupectl_client)
target_compile_definitions(test_console PRIVATE TROUPECTL_BIN="$<TARGET_FILE:troupectl>")
target_include_directories(test_console PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/unit)
add_dependencies(test_console troupectl)

set(TR_CONSOLE_FUZZ_DIR ${CMAKE_CURRENT_SOURCE_DIR}/fuzz)
add_executable(replay_console ${TR_CONSOLE_FUZZ_DIR}/fuzz_console.c ${TR_CONSOLE_FUZZ_DIR}/replay.c)
target_link_libraries(replay_console PRIVATE troupe_static troupe_deps)
add_test(NAME fuzz.console.corpus COMMAND replay_console ${TR_CONSOLE_FUZZ_DIR}/corpus/console)
set_tests_properties(fuzz.console.corpus PROPERTIES TIMEOUT 300)

# libFuzzer: its own instrumented console.c, the rest of libtroupe as built.
# Run, e.g.:
#   nice -n 19 build/tests/fuzz_console -max_total_time=600 tests/fuzz/corpus/console
if(TROUPE_FUZZ AND CMAKE_C_COMPILER_ID STREQUAL "Clang")
  add_executable(fuzz_console ${TR_CONSOLE_FUZZ_DIR}/fuzz_console.c
    ${PROJECT_SOURCE_DIR}/cluster/console.c)
  target_compile_options(fuzz_console PRIVATE -fsanitize=fuzzer,address,undefined
    -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
  target_link_options(fuzz_console PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_libraries(fuzz_console PRIVATE troupe_static troupe_deps)
endif()
