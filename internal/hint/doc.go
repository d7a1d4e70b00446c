// Package hint says what to check after a network error, by the error's
// kind: a name that does not resolve, a refused connection, a timeout, a
// reset. lvsperf prints the hint under the error, so the hint matches what
// failed instead of always asking whether the server runs.
package hint
