# What `cmake --install` installs, and the Debian package CPack makes of it (cpack -G DEB).
# `bash cmake/setup.sh package` builds the package and tests/package/check_package.sh checks
# it. The package's paths are Debian's: configure with -DCMAKE_INSTALL_PREFIX=/usr, so that
# GNUInstallDirs puts the config in /etc (the unit names /usr/sbin and /etc/shido).
#
# Installed: the two programs, their man pages and bash completions, the unit, the config,
# and the documentation. Never the libraries, the tests or the benchmarks.

install(TARGETS shido-server RUNTIME DESTINATION "${CMAKE_INSTALL_SBINDIR}")  # a daemon
install(TARGETS shido-client RUNTIME DESTINATION "${CMAKE_INSTALL_BINDIR}")

# Debian ships man pages and changelogs compressed (gzip -9n: no name or time stamp in the
# header, so that the same source makes the same package).
set(shido_gzipped "${PROJECT_BINARY_DIR}/gzipped")
set(shido_gzip_outputs "")
function(shido_gzip source output)
  add_custom_command(OUTPUT "${shido_gzipped}/${output}"
    COMMAND "${CMAKE_COMMAND}" -E make_directory "${shido_gzipped}"
    COMMAND gzip -9n -c "${source}" > "${shido_gzipped}/${output}"
    DEPENDS "${source}" VERBATIM)
  set(shido_gzip_outputs ${shido_gzip_outputs} "${shido_gzipped}/${output}" PARENT_SCOPE)
endfunction()
shido_gzip("${PROJECT_SOURCE_DIR}/docs/man/shido-server.8" shido-server.8.gz)
shido_gzip("${PROJECT_SOURCE_DIR}/docs/man/shido-client.1" shido-client.1.gz)
configure_file("${PROJECT_SOURCE_DIR}/cmake/debian/changelog" "${PROJECT_BINARY_DIR}/changelog" @ONLY)
shido_gzip("${PROJECT_BINARY_DIR}/changelog" changelog.gz)
# Built by `all` (cpack builds `all` before it installs), never by `setup.sh server`'s targets.
add_custom_target(shido_gzipped_docs ALL DEPENDS ${shido_gzip_outputs})

install(FILES "${shido_gzipped}/shido-server.8.gz" DESTINATION "${CMAKE_INSTALL_MANDIR}/man8")
install(FILES "${shido_gzipped}/shido-client.1.gz" DESTINATION "${CMAKE_INSTALL_MANDIR}/man1")
install(FILES "${PROJECT_SOURCE_DIR}/server/shido-server.bash-completion"
  DESTINATION "${CMAKE_INSTALL_DATADIR}/bash-completion/completions" RENAME shido-server)
install(FILES "${PROJECT_SOURCE_DIR}/client/shido-client.bash-completion"
  DESTINATION "${CMAKE_INSTALL_DATADIR}/bash-completion/completions" RENAME shido-client)

# /usr/lib/systemd/system, where Debian looks first (lintian accepts it and /lib).
install(FILES "${PROJECT_SOURCE_DIR}/server/shido-server.service"
  DESTINATION "${CMAKE_INSTALL_PREFIX}/lib/systemd/system")
# 0644: every option in it is public (the --help text); a code-command's secrets belong in
# the command's own files, readable by _shido only.
install(FILES "${PROJECT_SOURCE_DIR}/server/shido-server.conf"
  DESTINATION "${CMAKE_INSTALL_FULL_SYSCONFDIR}/shido")

install(FILES "${PROJECT_SOURCE_DIR}/README.md" "${PROJECT_SOURCE_DIR}/docs/BENCHMARKS.md"
  "${PROJECT_SOURCE_DIR}/docs/FUZZING.md" "${PROJECT_SOURCE_DIR}/docs/PROTOCOL.md"
  "${PROJECT_SOURCE_DIR}/docs/STORAGE.md" "${shido_gzipped}/changelog.gz"
  "${PROJECT_SOURCE_DIR}/cmake/debian/copyright"
  DESTINATION "${CMAKE_INSTALL_DOCDIR}")
# No LICENSE here: Debian's copyright file (above) carries the licence and points to the
# system's copy of the Apache-2.0 text, /usr/share/common-licenses/Apache-2.0; lintian flags
# a second copy (extra-license-file).

# The Debian package.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME shido)
set(CPACK_PACKAGE_VENDOR "Shido")
set(CPACK_PACKAGE_CONTACT "Shido maintainers <maintainers@shido.example>" CACHE STRING
  "The package's Maintainer field")
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${CPACK_PACKAGE_CONTACT}")
set(CPACK_PACKAGE_DIRECTORY "${PROJECT_BINARY_DIR}/package")
set(CPACK_PACKAGING_INSTALL_PREFIX "${CMAKE_INSTALL_PREFIX}")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # shido_<version>_<arch>.deb
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "self-hostable end-to-end-encrypted messenger")
# The long description (CPack indents it, and puts the summary above it as the synopsis).
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION "Shido is a small end-to-end-encrypted messenger: shido-server, a server
anyone can run as a system service, and shido-client, a terminal client.
People register with a phone number and a code sent out of band, log in
by proving that code with their private key, and send each other messages
that only the recipient can read (ECDH P-256, HKDF-SHA256, AES-256,
HMAC-SHA256), over TLS 1.3 pinned to the server's key.

The package runs shido-server as the _shido system user, with its data in
/var/lib/shido and its options in /etc/shido/shido-server.conf.")
# Depends: the shared libraries the two programs link (dpkg-shlibdeps), and adduser for the
# system user that postinst makes.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA "${PROJECT_SOURCE_DIR}/cmake/debian/conffiles"
  "${PROJECT_SOURCE_DIR}/cmake/debian/postinst" "${PROJECT_SOURCE_DIR}/cmake/debian/prerm"
  "${PROJECT_SOURCE_DIR}/cmake/debian/postrm")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)  # scripts 0755, the rest 0644
# Directories 0755 and files as installed, whatever the umask of whoever builds.
set(CPACK_INSTALL_DEFAULT_DIRECTORY_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE
  GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
include(CPack)
