# Host build of the pure logic, for GoogleTest unit tests under ASan and UBSan.
set(VIREO_HOST_COMPILE_OPTIONS -std=c++20 -O1 -g -Wall -Wextra -Werror -fno-omit-frame-pointer
    -fsanitize=address,undefined -fno-sanitize-recover=all)
set(VIREO_HOST_LINK_OPTIONS -fsanitize=address,undefined)

function(vireo_host_library name)
  add_library(${name} STATIC ${ARGN})
  target_compile_options(${name} PUBLIC ${VIREO_HOST_COMPILE_OPTIONS})
  target_link_options(${name} PUBLIC ${VIREO_HOST_LINK_OPTIONS})
  target_include_directories(${name} PUBLIC ${CMAKE_SOURCE_DIR})
endfunction()
