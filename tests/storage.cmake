# storage: cmocka units (ctest unit.storage*), including the kill -9 crash
# test and the stale-reader test, which fork children of their own. Included
# from tests/CMakeLists.txt.
foreach(t storage storage_writer storage_journal storage_kv storage_crash)
  troupe_unit_test(${t})
endforeach()

# a quick throughput/latency probe of the group-commit writer (not run by
# ctest; see docs/storage.md)
add_executable(storage_probe ${CMAKE_CURRENT_SOURCE_DIR}/storage/store_probe.c)
target_link_libraries(storage_probe PRIVATE troupe_static troupe_deps)
