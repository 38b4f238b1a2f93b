# The layering rule, checked before a folder's library is compiled (CMakeLists.txt runs it):
#   cmake -DROOT=<source dir> -DFOLDER=<folder> -DALLOWED=net,model -DSTAMP=<file> -P check-layers.cmake
# Every quoted #include in <folder>/*.c and <folder>/*.h must name a file of the same folder, or
# the API header <f>/<f>.h of a folder f listed in ALLOWED (the folders below it). Anything else
# (an upward or sideways include, another folder's internal header, a path outside the tree or
# one that does not resolve) fails the build with one line per offending include. On success the
# stamp file is touched, so the check reruns only when the folder's files change.
cmake_minimum_required(VERSION 3.18)
string(REPLACE "," ";" allowed "${ALLOWED}")
file(GLOB files "${ROOT}/${FOLDER}/*.c" "${ROOT}/${FOLDER}/*.h")
set(errors "")
foreach(f IN LISTS files)
  file(RELATIVE_PATH where "${ROOT}" "${f}")
  get_filename_component(dir "${f}" DIRECTORY)
  file(STRINGS "${f}" lines REGEX "^[ \t]*#[ \t]*include[ \t]*\"")
  foreach(line IN LISTS lines)
    string(REGEX REPLACE "^[ \t]*#[ \t]*include[ \t]*\"([^\"]*)\".*" "\\1" inc "${line}")
    get_filename_component(target "${dir}/${inc}" ABSOLUTE)
    file(RELATIVE_PATH rel "${ROOT}" "${target}")
    string(REGEX MATCH "^[^/]+" to "${rel}")
    if(rel MATCHES "^\\.\\./" OR NOT rel MATCHES "/")
      list(APPEND errors "${where}: #include \"${inc}\" leaves the folders of the tree")
    elseif(NOT EXISTS "${target}")
      list(APPEND errors "${where}: #include \"${inc}\" does not resolve from ${FOLDER}/")
    elseif(to STREQUAL FOLDER)
      # the folder's own files
    elseif(NOT to IN_LIST allowed)
      string(REPLACE ";" ", " below "${allowed}")
      if(below STREQUAL "")
        set(below "nothing")
      endif()
      list(APPEND errors
           "${where}: #include \"${inc}\": ${FOLDER}/ may use ${below} (${to}/ is not below it)")
    elseif(NOT rel STREQUAL "${to}/${to}.h")
      list(APPEND errors "${where}: #include \"${inc}\": ${to}/'s API is ${to}/${to}.h")
    endif()
  endforeach()
endforeach()
if(errors)
  string(REPLACE ";" "\n  " text "${errors}")
  message(FATAL_ERROR "layering (CMakeLists.txt, SG_BELOW_${FOLDER}):\n  ${text}")
endif()
file(WRITE "${STAMP}" "")
