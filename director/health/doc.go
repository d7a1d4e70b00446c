// Package health checks realservers the way ldirectord does: a TCP connect
// per realserver on an interval. After Fall consecutive failures a
// realserver is quiesced (weight 0) or removed, and after Rise consecutive
// successes it gets its weight back.
package health
