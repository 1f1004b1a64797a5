# ctest -R layering: the store's public headers build for a layer that links
# the store, and one of its private headers does not; a source of
# store/redis/net does not see the store.
execute_process(COMMAND ${CMAKE_COMMAND} --build ${BUILD_DIR} --target layering_allowed RESULT_VARIABLE allowed
                OUTPUT_QUIET ERROR_QUIET)
if(NOT allowed EQUAL 0)
  message(FATAL_ERROR "the store's public headers do not build for a layer that links the store")
endif()

# Probe `target` must fail to build, and for not finding `header`.
function(expect_unreachable target header where)
  execute_process(COMMAND ${CMAKE_COMMAND} --build ${BUILD_DIR} --target ${target} RESULT_VARIABLE failed
                  OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(failed EQUAL 0)
    message(FATAL_ERROR "${header} was reachable from ${where}")
  endif()
  string(FIND "${out}" "${header}" found)
  if(found EQUAL -1)
    message(FATAL_ERROR "the ${target} probe failed for another reason:\n${out}")
  endif()
endfunction()

expect_unreachable(layering_forbidden store/lmdb/internal.h "outside the store")
expect_unreachable(layering_net_forbidden store/store.h store/redis/net)
message(STATUS "layering holds")
