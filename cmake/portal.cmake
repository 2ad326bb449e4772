# SPDX-License-Identifier: Apache-2.0
# The portal (web/portal/**: plain HTML, CSS and JavaScript, no build step of its own) is embedded
# into crosskeyd at build time: portal_embed.cmake turns every file into a byte array of a
# generated C file, with its path under /portal/ and an ETag (the first 16 hex digits of its
# SHA-256). crosskeyd then serves the portal without reading the file system at run time, so
# nothing needs installing beside the binary and no request path can reach another file.
# Editing a portal file rebuilds crosskeyd; adding or removing one re-runs CMake (CONFIGURE_DEPENDS).
function(ck_embed_portal target)
  set(dir ${CMAKE_SOURCE_DIR}/web/portal)
  file(GLOB_RECURSE files CONFIGURE_DEPENDS ${dir}/*)
  set(out ${CMAKE_CURRENT_BINARY_DIR}/portal_files.c)
  add_custom_command(
    OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -DCK_PORTAL_DIR=${dir} -DCK_PORTAL_OUT=${out}
            -P ${CMAKE_SOURCE_DIR}/cmake/portal_embed.cmake
    DEPENDS ${files} ${CMAKE_SOURCE_DIR}/cmake/portal_embed.cmake
    COMMENT "Embedding the portal (web/portal) into ${target}"
    VERBATIM)
  target_sources(${target} PRIVATE ${out})
endfunction()
