// glibc keeps freed blocks in a cache per thread (tcache, up to 7 of each size) so that the
// next malloc of that size needs no lock. With a thread per connection those caches are
// about 6 KiB per idle connection, after a login's cryptography has filled them: a third of
// what the connection costs (docs/BENCHMARKS.md, "Connections"). The cache can only be
// turned off through GLIBC_TUNABLES, which glibc reads before main(); so the server sets
// it and starts itself again, once, as the same process. A GLIBC_TUNABLES that already
// names tcache_count is left alone (that is how to keep the caches), and a setuid or
// file-capability binary, whose tunables glibc ignores, runs as it is.
#pragma once

namespace shido::server {

// Returns only when no restart is needed or it could not be done (then the server runs
// with the caches); otherwise the process image is replaced.
void restart_without_thread_caches(char** argv);

}  // namespace shido::server
