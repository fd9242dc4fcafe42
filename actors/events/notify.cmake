# The notifier (notify.h): WebSocket and SSE clients of the event bus.
# Included by actors/CMakeLists.txt; the bus and the warehouse are built
# beside it.
add_library(troupe_events_notify STATIC ${CMAKE_CURRENT_LIST_DIR}/notify.c
  ${CMAKE_CURRENT_LIST_DIR}/notify_event.c)
target_link_libraries(troupe_events_notify PUBLIC troupe_http troupe_static troupe_deps)
