# the node configuration loader (tools/troupe/config.c): ctest unit.config.
# Included from tests/CMakeLists.txt; its own executable because it also
# links troupe_config.
add_executable(test_config ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_config.c)
target_link_libraries(test_config PRIVATE troupe_config troupe_static troupe_deps PkgConfig::CMOCKA)
add_test(NAME unit.config COMMAND test_config)
set_tests_properties(unit.config PROPERTIES TIMEOUT 60)
