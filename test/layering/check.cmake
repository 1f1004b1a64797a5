# ctest -R layering: the store's public headers build for a layer that links
# the store, and one of its private headers does not; a source of
# store/redis/net does not see the store.
execute_process(COMMAND ${CMAKE_COMMAND} --build ${BUILD_DIR} --target layering_allowed RESULT_VARIABLE allowed
                OUTPUT_QUIET ERROR_QUIET)
if(NOT allowed EQUAL 0)
  message(FATAL_ERROR "the store's public headers do not build for a layer that links the store")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} --build ${BUILD_DIR} --target layering_forbidden RESULT_VARIABLE forbidden
                OUTPUT_VARIABLE out ERROR_VARIABLE out)
if(forbidden EQUAL 0)
  message(FATAL_ERROR "store/lmdb/internal.h was reachable from outside the store")
endif()
string(FIND "${out}" "store/lmdb/internal.h" found)
if(found EQUAL -1)
  message(FATAL_ERROR "the forbidden probe failed for another reason:\n${out}")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} --build ${BUILD_DIR} --target layering_net_forbidden RESULT_VARIABLE forbidden
                OUTPUT_VARIABLE out ERROR_VARIABLE out)
if(forbidden EQUAL 0)
  message(FATAL_ERROR "store/store.h was reachable from store/redis/net")
endif()
string(FIND "${out}" "store/store.h" found)
if(found EQUAL -1)
  message(FATAL_ERROR "the store/redis/net probe failed for another reason:\n${out}")
endif()
message(STATUS "layering holds")
