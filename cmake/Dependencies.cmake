# Dependencies: Debian 12 packages only (scripts/deps installs them).
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)
pkg_check_modules(LIBUV REQUIRED IMPORTED_TARGET libuv)
pkg_check_modules(MSGPACK REQUIRED IMPORTED_TARGET msgpack)
pkg_check_modules(JANSSON REQUIRED IMPORTED_TARGET jansson)
pkg_check_modules(LMDB REQUIRED IMPORTED_TARGET lmdb)
pkg_check_modules(SODIUM REQUIRED IMPORTED_TARGET libsodium)
# libnng-dev ships a CMake package, not a .pc file
find_package(nng CONFIG REQUIRED)

# Everything component code links against, in one interface target.
add_library(troupe_deps INTERFACE)
target_link_libraries(troupe_deps INTERFACE PkgConfig::LIBUV PkgConfig::MSGPACK
  PkgConfig::JANSSON PkgConfig::LMDB PkgConfig::SODIUM nng::nng Threads::Threads m)
target_include_directories(troupe_deps INTERFACE ${PROJECT_SOURCE_DIR}/include ${PROJECT_SOURCE_DIR})

# http-parser (libhttp-parser-dev) ships neither a .pc file nor a CMake
# package: the header and the library by name.
find_path(HTTP_PARSER_INCLUDE_DIR http_parser.h REQUIRED)
find_library(HTTP_PARSER_LIBRARY http_parser REQUIRED)
add_library(troupe_http_parser INTERFACE)
target_include_directories(troupe_http_parser INTERFACE ${HTTP_PARSER_INCLUDE_DIR})
target_link_libraries(troupe_http_parser INTERFACE ${HTTP_PARSER_LIBRARY})
