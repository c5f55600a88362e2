# The source tree's git revision for `sam2-amg --version`, captured at configure time: the short
# commit hash, "-dirty" when tracked files differ from it, or "unknown" outside a git checkout
# (a release tarball, also one unpacked inside some other repository).
#   include(): sam2amg_git_revision(<var> <source dir>), which also re-runs the configure step
#              when HEAD moves, so a commit does not leave a stale revision in the binary.
#   script:    cmake -DSOURCE_DIR=<dir> -P git_revision.cmake   prints the revision.
function(sam2amg_git_revision out_var source_dir)
  set(revision "unknown")
  find_program(SAM2AMG_GIT git)
  if(SAM2AMG_GIT)
    execute_process(COMMAND "${SAM2AMG_GIT}" -C "${source_dir}" rev-parse --show-toplevel
                    OUTPUT_VARIABLE top RESULT_VARIABLE rc OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
    # Only the project's own repository counts: a tarball unpacked inside another repository
    # must not report that repository's commit.
    if(rc EQUAL 0)
      get_filename_component(top "${top}" REALPATH)
      get_filename_component(src "${source_dir}" REALPATH)
    endif()
    if(rc EQUAL 0 AND top STREQUAL src)
      execute_process(COMMAND "${SAM2AMG_GIT}" -C "${source_dir}" rev-parse --short=12 HEAD
                      OUTPUT_VARIABLE hash RESULT_VARIABLE rc OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
      if(rc EQUAL 0 AND hash)
        set(revision "${hash}")
        execute_process(COMMAND "${SAM2AMG_GIT}" -C "${source_dir}" diff --quiet HEAD --
                        RESULT_VARIABLE dirty OUTPUT_QUIET ERROR_QUIET)
        if(NOT dirty EQUAL 0)
          string(APPEND revision "-dirty")
        endif()
        if(NOT CMAKE_SCRIPT_MODE_FILE)
          foreach(ref IN ITEMS HEAD logs/HEAD)
            execute_process(COMMAND "${SAM2AMG_GIT}" -C "${source_dir}" rev-parse --git-path ${ref}
                            OUTPUT_VARIABLE path OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
            if(path AND NOT IS_ABSOLUTE "${path}")
              set(path "${source_dir}/${path}")
            endif()
            if(path AND EXISTS "${path}")
              set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${path}")
            endif()
          endforeach()
        endif()
      endif()
    endif()
  endif()
  set(${out_var} "${revision}" PARENT_SCOPE)
endfunction()

if(CMAKE_SCRIPT_MODE_FILE AND SOURCE_DIR)
  sam2amg_git_revision(revision "${SOURCE_DIR}")
  message("${revision}")
endif()
