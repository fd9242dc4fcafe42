# Event bus and warehouse (actors/events): the unit test, and the
# integration test with a real daemon (HTTP, troupectl, the engine's events).
add_executable(test_events ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_events.c)
target_link_libraries(test_events PRIVATE troupe_events troupe_static troupe_deps PkgConfig::CMOCKA)
add_test(NAME unit.events COMMAND test_events)
set_tests_properties(unit.events PROPERTIES TIMEOUT 300)

add_test(NAME integration.events
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/integration/events.sh $<TARGET_FILE:troupe>
          $<TARGET_FILE:troupectl> ${CMAKE_CURRENT_SOURCE_DIR}/workflow/engine)
set_tests_properties(integration.events PROPERTIES TIMEOUT 300)
