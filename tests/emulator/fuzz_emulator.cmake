# libFuzzer target over decode + emulate (fuzz_emulator.cpp says what it checks). Like
# fuzz_decoder it compiles the sources of vireo_emulator_host itself, so that the decoder,
# the ALU and the engine all carry libFuzzer's coverage instrumentation.
get_target_property(emulator_sources vireo_emulator_host SOURCES)
get_target_property(emulator_dir vireo_emulator_host SOURCE_DIR)
list(TRANSFORM emulator_sources PREPEND ${emulator_dir}/)
add_executable(fuzz_emulator fuzz_emulator.cpp ${emulator_sources})
target_include_directories(fuzz_emulator PRIVATE ${CMAKE_SOURCE_DIR})
target_compile_options(fuzz_emulator PRIVATE -std=c++20 -O1 -g -Wall -Wextra -Werror -fno-omit-frame-pointer
  -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all)
target_link_options(fuzz_emulator PRIVATE -fsanitize=fuzzer,address,undefined)
add_test(NAME emulator_fuzz_emulator
  COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/run_fuzzer.sh $<TARGET_FILE:fuzz_emulator>
          ${CMAKE_CURRENT_SOURCE_DIR}/corpus/emulator ${CMAKE_CURRENT_BINARY_DIR}/fuzz_emulator.run 20)
set_tests_properties(emulator_fuzz_emulator PROPERTIES LABELS emulator TIMEOUT 300)
