# Camunda 7 REST API tests with Camunda's own JavaScript client (included by
# tests/CMakeLists.txt). tests/clients/camunda pins the client in its
# package-lock.json; the scripts run `npm ci` there when node_modules is
# missing or older than the lock file. Both need node and npm and fail
# without them (tools/setup.sh installs them).
#
# order.bpmn, 1,000 instances: BPMN error boundary, failure and retry, an
# expired lock, typed variables, the history checked at the end
add_test(NAME integration.camunda_client
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/integration/camunda_client.sh $<TARGET_FILE:troupe>)
set_tests_properties(integration.camunda_client PROPERTIES TIMEOUT 600)
# 1,000 one-task instances, the daemon killed with SIGKILL after 300
# completions and restarted: each completed exactly once, none lost
add_test(NAME integration.camunda_kill
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/integration/camunda_kill.sh $<TARGET_FILE:troupe>)
set_tests_properties(integration.camunda_kill PROPERTIES TIMEOUT 600)
