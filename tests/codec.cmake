# Codec tests (included by tests/CMakeLists.txt): cmocka units, the fuzz
# corpora replayed as regression tests, and with -DTROUPE_FUZZ=ON under
# clang the libFuzzer targets themselves.
foreach(t codec_pack codec_unpack codec_envelope codec_json)
  troupe_unit_test(${t})
endforeach()

set(TR_FUZZ_DIR ${CMAKE_CURRENT_SOURCE_DIR}/fuzz)
set(TR_FUZZ_TARGETS envelope payload json)

# Every build replays each corpus through its target with a plain main
# (fuzz/replay.c), so the corpora run with gcc and under the sanitizers.
foreach(t ${TR_FUZZ_TARGETS})
  add_executable(replay_${t} ${TR_FUZZ_DIR}/fuzz_${t}.c ${TR_FUZZ_DIR}/replay.c
    $<TARGET_OBJECTS:troupe_codec_objs>)
  target_link_libraries(replay_${t} PRIVATE troupe_deps)
  add_test(NAME fuzz.${t}.corpus COMMAND replay_${t} ${TR_FUZZ_DIR}/corpus/${t})
  set_tests_properties(fuzz.${t}.corpus PROPERTIES TIMEOUT 300)
endforeach()

# libFuzzer: fuzz_<target> links only the instrumented codec objects
# (codec/CMakeLists.txt). Run, e.g.:
#   nice -n 19 build/tests/fuzz_envelope -max_total_time=600 tests/fuzz/corpus/envelope
if(TROUPE_FUZZ)
  if(NOT CMAKE_C_COMPILER_ID STREQUAL "Clang")
    message(WARNING "TROUPE_FUZZ needs clang (CC=clang): fuzz targets not built")
  else()
    foreach(t ${TR_FUZZ_TARGETS})
      add_executable(fuzz_${t} ${TR_FUZZ_DIR}/fuzz_${t}.c $<TARGET_OBJECTS:troupe_codec_fuzz>)
      target_compile_options(fuzz_${t} PRIVATE -fsanitize=fuzzer,address,undefined
        -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
      target_link_options(fuzz_${t} PRIVATE -fsanitize=fuzzer,address,undefined)
      target_link_libraries(fuzz_${t} PRIVATE troupe_deps)
    endforeach()
  endif()
endif()
