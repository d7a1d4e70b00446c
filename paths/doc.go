// Package paths starts the path a probe's traffic takes: direct to one
// in-process server, or through the embedded director to N in-process
// realservers. Every probe's --via flag goes through Start, so direct and
// director runs of any probe are set up the same way and record their path
// the same way.
package paths
