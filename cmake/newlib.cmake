# newlib's libc for the hypervisor, built from Debian's newlib-source by
# cmake/build-newlib.sh. The result is cached outside the build tree (VIREO_CACHE_DIR,
# default ~/.cache/vireo) so fresh build trees and fresh clones reuse it.
set(VIREO_NEWLIB_TARBALL "/usr/src/newlib/newlib-3.3.0.tar.xz" CACHE FILEPATH "newlib-source tarball")
if(DEFINED ENV{VIREO_CACHE_DIR})
  set(_vireo_cache "$ENV{VIREO_CACHE_DIR}")
elseif(DEFINED ENV{HOME})
  set(_vireo_cache "$ENV{HOME}/.cache/vireo")
else()
  set(_vireo_cache "${CMAKE_BINARY_DIR}/cache")
endif()
set(VIREO_NEWLIB_PREFIX "${_vireo_cache}/newlib-x86_64-elf-kernel-nosse" CACHE PATH "newlib install prefix")
if(NOT EXISTS "${VIREO_NEWLIB_TARBALL}")
  message(FATAL_ERROR "newlib source not found at ${VIREO_NEWLIB_TARBALL}: apt-get install newlib-source")
endif()

# Configure-time build: headers must exist before any kernel source compiles, and the
# script returns at once when the cached copy was built with the same flags.
execute_process(
  COMMAND "${CMAKE_SOURCE_DIR}/cmake/build-newlib.sh" "${VIREO_NEWLIB_TARBALL}" "${VIREO_NEWLIB_PREFIX}"
          "${CMAKE_C_COMPILER}" ""
  RESULT_VARIABLE _newlib_result)
if(NOT _newlib_result EQUAL 0)
  message(FATAL_ERROR "building newlib failed (see the output above)")
endif()

add_library(newlib_libc STATIC IMPORTED GLOBAL)
set_target_properties(newlib_libc PROPERTIES IMPORTED_LOCATION "${VIREO_NEWLIB_PREFIX}/lib/libc.a")
set(VIREO_NEWLIB_INCLUDE "${VIREO_NEWLIB_PREFIX}/include")
