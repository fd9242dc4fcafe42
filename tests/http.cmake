# HTTP server tests (included by tests/CMakeLists.txt): cmocka units of the
# request parser and of the server in-process; the daemon over loopback;
# the request-parser corpus replayed, and with -DTROUPE_FUZZ=ON under
# clang the libFuzzer target itself.
foreach(t http_parse http_server ws)
  add_executable(test_${t} ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_${t}.c)
  target_link_libraries(test_${t} PRIVATE troupe_http PkgConfig::CMOCKA)
  add_test(NAME unit.${t} COMMAND test_${t})
  set_tests_properties(unit.${t} PROPERTIES TIMEOUT 300)
endforeach()

# the daemon over loopback, driven by a small raw client
add_executable(httpc ${CMAKE_CURRENT_SOURCE_DIR}/http/httpc.c)
add_test(NAME integration.http
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/integration/http.sh $<TARGET_FILE:troupe>
          $<TARGET_FILE:httpc>)
set_tests_properties(integration.http PROPERTIES TIMEOUT 300)

# the request parser and the request message: replayed in every build,
# a libFuzzer target with -DTROUPE_FUZZ=ON under clang. Run, e.g.:
#   nice -n 19 build/tests/fuzz_http -max_total_time=600 tests/fuzz/corpus/http
set(TR_HTTP_FUZZ_SOURCES ${PROJECT_SOURCE_DIR}/actors/http/parse.c
  ${PROJECT_SOURCE_DIR}/actors/http/message.c)
add_executable(replay_http ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/fuzz_http.c
  ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/replay.c ${TR_HTTP_FUZZ_SOURCES}
  $<TARGET_OBJECTS:troupe_codec_objs>)
target_link_libraries(replay_http PRIVATE troupe_deps troupe_http_parser)
add_test(NAME fuzz.http.corpus COMMAND replay_http ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/corpus/http)
set_tests_properties(fuzz.http.corpus PROPERTIES TIMEOUT 300)
if(TROUPE_FUZZ AND CMAKE_C_COMPILER_ID STREQUAL "Clang")
  add_executable(fuzz_http ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/fuzz_http.c ${TR_HTTP_FUZZ_SOURCES}
    $<TARGET_OBJECTS:troupe_codec_fuzz>)
  target_compile_options(fuzz_http PRIVATE -fsanitize=fuzzer,address,undefined
    -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
  target_link_options(fuzz_http PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_libraries(fuzz_http PRIVATE troupe_deps troupe_http_parser)
endif()

# the events notifier against a fake bus (tests/events/fake_bus.h)
add_executable(test_notify ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_notify.c)
target_link_libraries(test_notify PRIVATE troupe_events_notify PkgConfig::CMOCKA)
add_test(NAME unit.notify COMMAND test_notify)
set_tests_properties(unit.notify PROPERTIES TIMEOUT 300)
# the notifier over the fake bus in a process of its own, for the npm
# clients (tests/integration/events_client.sh)
add_executable(notify_server ${CMAKE_CURRENT_SOURCE_DIR}/events/notify_server.c)
target_link_libraries(notify_server PRIVATE troupe_events_notify)
# real clients from npm (ws, eventsource) against it, and against the
# daemon with the real bus (events/<topic>: durable, resumed from its store)
add_test(NAME integration.events_client
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/integration/events_client.sh
          $<TARGET_FILE:notify_server>)
set_tests_properties(integration.events_client PROPERTIES TIMEOUT 300)
add_test(NAME integration.events_daemon
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/integration/events_client.sh $<TARGET_FILE:troupe>)
set_tests_properties(integration.events_daemon PROPERTIES TIMEOUT 300)
# the engine's own events (topic engine) with the same npm clients:
# instances worked through the Camunda REST API, subscribers filtered,
# dropped and resumed, each checked against the warehouse
add_test(NAME integration.events_engine
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/integration/events_client.sh $<TARGET_FILE:troupe>
          engine.js)
set_tests_properties(integration.events_engine PROPERTIES TIMEOUT 300)

# what clients send to the notifier and what the bus hands it (frames
# through wslay as ws.c configures it, filters, events, the handshake
# check): replayed in every build, libFuzzer with -DTROUPE_FUZZ=ON
# (the HTTP library itself is linked uninstrumented: the notifier's
# parsing and the frame path's wslay configuration are what is fuzzed)
add_executable(replay_events ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/fuzz_events.c
  ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/replay.c ${PROJECT_SOURCE_DIR}/actors/events/notify_event.c)
target_link_libraries(replay_events PRIVATE troupe_http)
add_test(NAME fuzz.events.corpus COMMAND replay_events ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/corpus/events)
set_tests_properties(fuzz.events.corpus PROPERTIES TIMEOUT 300)
if(TROUPE_FUZZ AND CMAKE_C_COMPILER_ID STREQUAL "Clang")
  add_executable(fuzz_events ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/fuzz_events.c
    ${PROJECT_SOURCE_DIR}/actors/events/notify_event.c)
  target_compile_options(fuzz_events PRIVATE -fsanitize=fuzzer,address,undefined
    -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
  target_link_options(fuzz_events PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_libraries(fuzz_events PRIVATE troupe_http)
endif()
