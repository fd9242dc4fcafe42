# Dependencies: Debian 12 packages only (scripts/deps installs them).
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)
pkg_check_modules(LIBUV REQUIRED IMPORTED_TARGET libuv)

# Everything component code links against, in one interface target.
add_library(troupe_deps INTERFACE)
target_link_libraries(troupe_deps INTERFACE PkgConfig::LIBUV Threads::Threads m)
target_include_directories(troupe_deps INTERFACE ${PROJECT_SOURCE_DIR}/include ${PROJECT_SOURCE_DIR})
