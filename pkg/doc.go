// Package pkg is the root of the module holding pipa's generated API code (gen/) and the
// libraries every service shares, each in a package named for its job.
package pkg
