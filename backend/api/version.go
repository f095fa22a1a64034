package api

// Version is the release of this build of Talos, set by the linker (see the Makefile). Both
// binaries report it: the satellite in registration and heartbeats, the backend in /api/health.
var Version = "dev"
