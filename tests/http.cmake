# HTTP server tests (included by tests/CMakeLists.txt): cmocka units of the
# request parser and of the server in-process; the daemon over loopback;
# the request-parser corpus replayed, and with -DTROUPE_FUZZ=ON under
# clang the libFuzzer target itself.
foreach(t http_parse http_server)
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

