// Package embed runs a whole director in-process: the model from package
// director, the userspace proxy engine and health checks, serving one
// virtual service in front of given realservers. It is what every probe's
// --via director path starts.
package embed
