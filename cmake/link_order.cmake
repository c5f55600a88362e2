# The order of the shared libraries every executable we link asks for (its NEEDED entries).
#
# PyTorch's wheels link a copy of libstdc++'s std::filesystem into libtorch_cpu.so and export it
# (pytorch/pytorch#133437). The dynamic loader binds each symbol to the first library of the
# search order that defines it, and the compiler driver appends libstdc++ after every library
# of the link line, so a binary that lists LibTorch first mixes torch's copy with the system's
# (crashes in fs::remove_all and directory iteration). Naming libstdc++ before any object or
# library puts it first. cmake/check_needed_order.cmake (CTest: libstdcxx_before_libtorch)
# reads the built binaries back.

# libstdc++ first in `target`'s NEEDED entries (kept even where the toolchain links --as-needed).
function(sam2amg_libstdcxx_first target)
  target_link_options(${target} BEFORE PRIVATE "LINKER:--push-state,--no-as-needed,-lstdc++,--pop-state")
endfunction()

# Every executable target defined in `dir` and below, into `out`.
function(sam2amg_collect_executables dir out)
  set(found "")
  get_property(targets DIRECTORY "${dir}" PROPERTY BUILDSYSTEM_TARGETS)
  foreach(t IN LISTS targets)
    get_target_property(type ${t} TYPE)
    if(type STREQUAL "EXECUTABLE")
      list(APPEND found ${t})
    endif()
  endforeach()
  get_property(subdirs DIRECTORY "${dir}" PROPERTY SUBDIRECTORIES)
  foreach(sub IN LISTS subdirs)
    sam2amg_collect_executables("${sub}" below)
    list(APPEND found ${below})
  endforeach()
  set(${out} ${found} PARENT_SCOPE)
endfunction()

# Applies sam2amg_libstdcxx_first to every executable of the project (call it last, after every
# add_subdirectory, so that new executables are covered without a line of their own) and, with
# tests, registers the check of the built binaries.
function(sam2amg_libstdcxx_first_everywhere)
  sam2amg_collect_executables("${PROJECT_SOURCE_DIR}" executables)
  set(files "")
  foreach(t IN LISTS executables)
    sam2amg_libstdcxx_first(${t})
    list(APPEND files "$<TARGET_FILE:${t}>")
  endforeach()
  if(SAM2AMG_BUILD_TESTS AND executables)
    if(CMAKE_READELF)
      set(SAM2AMG_READELF "${CMAKE_READELF}")
    else()
      find_program(SAM2AMG_READELF readelf)
    endif()
    list(JOIN files "|" file_list)
    add_test(NAME libstdcxx_before_libtorch
             COMMAND ${CMAKE_COMMAND} "-DREADELF=${SAM2AMG_READELF}" "-DFILES=${file_list}"
                     -P "${PROJECT_SOURCE_DIR}/cmake/check_needed_order.cmake")
    set_tests_properties(libstdcxx_before_libtorch PROPERTIES LABELS build)
  endif()
endfunction()
