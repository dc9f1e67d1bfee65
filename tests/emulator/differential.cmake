# Differential tests: instructions run natively on the host CPU and through
# decode_instruction + emulate_instruction (and the ALU alone against native
# register-form instructions), registers, flags, memory and vector registers compared.
# x86-64 hosts only; the seed is printed and can be set with VIREO_DIFF_SEED.
if(NOT CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|AMD64|amd64")
  return()
endif()
find_package(GTest REQUIRED)
add_executable(differential_tests
  differential_native.cpp
  differential_case.cpp
  differential_alu_test.cpp
  differential_emulator_test.cpp)
target_link_libraries(differential_tests PRIVATE vireo_emulator_host GTest::gtest GTest::gtest_main)
add_test(NAME emulator_differential COMMAND differential_tests --gtest_brief=1)
set_tests_properties(emulator_differential PROPERTIES LABELS emulator TIMEOUT 120)
