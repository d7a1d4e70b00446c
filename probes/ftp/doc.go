// Package ftp is the FTP bulk-copy probe: an embedded server (ftpserverlib
// over memory or a directory, uploads made atomic, or discarded as a sink)
// and a client that gets and puts file.N in passive mode (jlaffaye/ftp) or
// active mode (PORT/EPRT, which jlaffaye/ftp lacks), timing each whole
// transfer, data connection included, for the timing core.
package ftp
