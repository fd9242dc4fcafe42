# Cluster tests (included by tests/CMakeLists.txt): cmocka units of the
# link handshake and frame sealing; their fuzz corpora and the heartbeat
# corpus replayed as regression tests; with -DTROUPE_FUZZ=ON under clang
# the libFuzzer targets themselves.
foreach(t handshake seal deliver)
  troupe_unit_test(${t})
endforeach()

set(TR_CLUSTER_FUZZ_DIR ${CMAKE_CURRENT_SOURCE_DIR}/fuzz)
set(TR_CLUSTER_FUZZ_TARGETS handshake frame)
# what the targets need of libtroupe, compiled into each of them: these
# three files and libsodium, nothing that does I/O
set(TR_CLUSTER_FUZZ_SOURCES ${PROJECT_SOURCE_DIR}/cluster/handshake.c
  ${PROJECT_SOURCE_DIR}/cluster/seal.c ${PROJECT_SOURCE_DIR}/cluster/identity.c)

# Every build replays each corpus through its target with a plain main
# (fuzz/replay.c), so the corpora run with gcc and under the sanitizers.
foreach(t ${TR_CLUSTER_FUZZ_TARGETS})
  add_executable(replay_${t} ${TR_CLUSTER_FUZZ_DIR}/fuzz_${t}.c ${TR_CLUSTER_FUZZ_DIR}/replay.c
    ${TR_CLUSTER_FUZZ_SOURCES})
  target_link_libraries(replay_${t} PRIVATE troupe_deps)
  add_test(NAME fuzz.${t}.corpus COMMAND replay_${t} ${TR_CLUSTER_FUZZ_DIR}/corpus/${t})
  set_tests_properties(fuzz.${t}.corpus PROPERTIES TIMEOUT 300)
endforeach()

# heartbeats (member.c): the membership code and the codec, with stubs for
# the three functions of other layers it reaches (in the target)
set(TR_GOSSIP_FUZZ_SOURCES ${PROJECT_SOURCE_DIR}/cluster/member.c ${PROJECT_SOURCE_DIR}/cluster/phi.c)
add_executable(replay_gossip ${TR_CLUSTER_FUZZ_DIR}/fuzz_gossip.c ${TR_CLUSTER_FUZZ_DIR}/replay.c
  ${TR_GOSSIP_FUZZ_SOURCES} $<TARGET_OBJECTS:troupe_codec_objs>)
target_link_libraries(replay_gossip PRIVATE troupe_deps)
add_test(NAME fuzz.gossip.corpus COMMAND replay_gossip ${TR_CLUSTER_FUZZ_DIR}/corpus/gossip)
set_tests_properties(fuzz.gossip.corpus PROPERTIES TIMEOUT 300)

# libFuzzer: fuzz_<target> compiles its own instrumented copy of the
# sources above. Run, e.g.:
#   nice -n 19 build/tests/fuzz_frame -max_total_time=600 tests/fuzz/corpus/frame
if(TROUPE_FUZZ AND CMAKE_C_COMPILER_ID STREQUAL "Clang")
  foreach(t ${TR_CLUSTER_FUZZ_TARGETS})
    add_executable(fuzz_${t} ${TR_CLUSTER_FUZZ_DIR}/fuzz_${t}.c ${TR_CLUSTER_FUZZ_SOURCES})
    target_compile_options(fuzz_${t} PRIVATE -fsanitize=fuzzer,address,undefined
      -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
    target_link_options(fuzz_${t} PRIVATE -fsanitize=fuzzer,address,undefined)
    target_link_libraries(fuzz_${t} PRIVATE troupe_deps)
  endforeach()
  add_executable(fuzz_gossip ${TR_CLUSTER_FUZZ_DIR}/fuzz_gossip.c ${TR_GOSSIP_FUZZ_SOURCES}
    $<TARGET_OBJECTS:troupe_codec_fuzz>)
  target_compile_options(fuzz_gossip PRIVATE -fsanitize=fuzzer,address,undefined
    -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
  target_link_options(fuzz_gossip PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_libraries(fuzz_gossip PRIVATE troupe_deps)
endif()
